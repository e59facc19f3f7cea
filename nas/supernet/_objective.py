"""NAS studies: an objective that evaluates architectures with the weights of one supernet.

A study file whose ``objective`` is a mapping with ``type: supernet`` searches an architecture
space with any searcher::

    name: digits_nas
    objective:
      type: supernet
      space: ../search_spaces/digits_cnn.yaml   # a `supernet:` YAML, or the mapping inline
      dataset: digits                           # or cifar10 (with root: the batches' folder)
      device: cpu                               # cuda, cuda:N where available
      train: {epochs: 30, sampler: pada}        # TrainConfig fields + checkpoint_every
      eval: {calibration: 512}                  # BN recalibration images; latency settings
    objectives: {accuracy: maximize, mflops: minimize}
    searcher: evolution

Before the first trial (:meth:`SupernetObjective.prepare`, called by ``Study.optimize`` and
``nas run``) the supernet is trained once, seeded by the study's seed, or loaded when the study
already has it. It is stored **in the study's database**: a checkpoint artifact every
``checkpoint_every`` epochs (everything the next epoch depends on, see
:meth:`SupernetTrainer.state_dict`), then the final weights. A process killed at any moment
resumes from the last checkpoint and ends with the same weights as an uninterrupted run (bit for
bit on the same machine and device), so every trial value is the same too.

A trial maps its params to an architecture (:meth:`ArchSpace.arch`), recalibrates the
batch-norm statistics on ``eval.calibration`` training images, and returns the metrics the
study asks for (:data:`METRICS`): ``accuracy`` / ``error`` on the validation split, ``mflops``
(multiply-accumulates x 2, in millions), ``params`` (count) and ``latency_ms`` (median forward
time of the extracted network at ``eval.latency_batch`` images on ``eval.latency_device``; the
only metric that is not a pure function of the architecture and the seed). Every metric, the
test accuracy (never used by the search) and the canonical architecture are stored as trial
user attributes.

The definition is stored as the study user attribute ``nas.supernet``; running the study again
with a different definition (anything but ``device``) is refused, since its trials were measured
with another supernet.

Several processes (``torchrun``, :mod:`nas.supernet.train`): when a ``torch.distributed``
process group of more than one process is initialised, :meth:`SupernetObjective.prepare` is a
collective. Every process trains (data-parallel, :class:`~nas.supernet.SupernetTrainer`); only
rank 0 reads which artifacts exist (the others get its answer, so all load the same final
weights or resume from the same checkpoint) and writes the definition, checkpoints and final
weights; the others wait for each write before going on, so after :meth:`prepare` every process
holds the same weights and the database the same artifacts as after a run in one process. A
study trained with several processes is found by ``nas run`` / ``nas worker`` like any other
(the weights' key does not depend on the number of processes; resuming a checkpoint with another
number of processes works but is not bitwise an uninterrupted run).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas._paths import locate
from nas.exceptions import IncompatibleStudyError, NasError, StudyConfigError
from nas.supernet._arch import Arch, ArchSpace

if TYPE_CHECKING:
    import torch

    from nas.study import Study, Trial
    from nas.supernet._data import ImageDataset
    from nas.supernet._network import Supernet

__all__ = [
    "METRICS",
    "STUDY_ATTR",
    "SupernetNotTrainedError",
    "SupernetObjective",
    "parse_supernet_objective",
]

#: Metrics a supernet study may optimise, with the only direction that makes sense for each.
METRICS: dict[str, str] = {
    "accuracy": "maximize",
    "error": "minimize",
    "mflops": "minimize",
    "params": "minimize",
    "latency_ms": "minimize",
}
#: Study user attribute holding the objective's definition.
STUDY_ATTR = "nas.supernet"
#: Artifact kinds in the study's storage.
CHECKPOINT_KIND = "supernet-checkpoint"
WEIGHTS_KIND = "supernet"

_TRAIN_KEYS = {
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "grad_clip",
    "sampler",
    "sampler_options",
    "checkpoint_every",
}
_EVAL_KEYS = {
    "calibration",
    "latency_batch",
    "latency_warmup",
    "latency_repeats",
    "latency_device",
}
_KEYS = {"type", "space", "dataset", "root", "split_seed", "device", "train", "eval", "encoding"}


class SupernetNotTrainedError(NasError, RuntimeError):
    """The study has no trained supernet yet (run the study first)."""


@dataclass(frozen=True)
class EvalConfig:
    """How trials are measured.

    Attributes:
        calibration: training images used to recalibrate batch norm per architecture, ``>= 1``.
        latency_batch: images per timed forward pass, ``>= 1``.
        latency_warmup: untimed passes first, ``>= 0``.
        latency_repeats: timed passes (the median is reported), ``>= 1``.
        latency_device: where latency is measured (the deployment target), e.g. ``cpu``.
    """

    calibration: int = 512
    latency_batch: int = 1
    latency_warmup: int = 5
    latency_repeats: int = 30
    latency_device: str = "cpu"


@dataclass(frozen=True)
class SupernetObjective:
    """The objective of a NAS study (module docstring); build it with
    :func:`parse_supernet_objective` or directly.

    Attributes:
        space: the architecture space.
        dataset: ``digits`` or ``cifar10``.
        root: the data set's directory (``cifar10``).
        split_seed: seeds the train / validation / test split.
        device: where the supernet trains and trials are evaluated.
        train: :class:`~nas.supernet.TrainConfig` fields (``seed`` and ``device`` excluded: the
            study's seed and :attr:`device` are used).
        checkpoint_every: epochs between checkpoints, ``>= 1``.
        eval: how trials are measured.
        encoding: the study's search space: ``conditional``
            (:attr:`ArchSpace.conditional_search_space`: one assignment per network, for
            searchers that take conditional parameters), ``flat`` (:attr:`ArchSpace.search_space`,
            every dimension always present: for all searchers), or ``auto`` (the study file
            picks conditional when its searcher takes it). Trials accept either.
    """

    def __post_init__(self) -> None:
        if self.encoding not in ("auto", "conditional", "flat"):
            raise StudyConfigError(
                f"objective.encoding: must be auto, conditional or flat, got {self.encoding!r}"
            )

    @property
    def search_space(self) -> Any:
        """The study's search space under :attr:`encoding` (``auto`` counts as ``flat``)."""
        if self.encoding == "conditional":
            return self.space.conditional_search_space
        return self.space.search_space

    space: ArchSpace
    dataset: str = "digits"
    root: str | None = None
    split_seed: int = 0
    device: str = "cpu"
    train: Mapping[str, Any] = field(default_factory=dict)
    checkpoint_every: int = 1
    eval: EvalConfig = field(default_factory=EvalConfig)
    encoding: str = "auto"
    # Per-study trained state, keyed by (storage URL, study id); not part of the value.
    _state: dict[tuple[str, int], _Prepared] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _data: list[ImageDataset] = field(default_factory=list, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ definition

    def definition(self) -> dict[str, Any]:
        """JSON form stored in the study (``nas.supernet``); :meth:`from_definition` inverts it."""
        return {
            "space": self.space.to_dict(),
            "dataset": self.dataset,
            "root": self.root,
            "split_seed": self.split_seed,
            "device": self.device,
            "train": dict(self.train),
            "checkpoint_every": self.checkpoint_every,
            "eval": {f.name: getattr(self.eval, f.name) for f in fields(self.eval)},
            "encoding": self.encoding,
        }

    @classmethod
    def from_definition(
        cls, data: Mapping[str, Any], device: str | None = None
    ) -> SupernetObjective:
        """Rebuild from :meth:`definition` (e.g. a study's ``nas.supernet`` attribute),
        optionally on another ``device``.

        Raises:
            StudyConfigError: not such a definition.
        """
        try:
            return cls(
                space=ArchSpace.from_dict(data["space"], source="study attribute nas.supernet"),
                dataset=str(data["dataset"]),
                root=data.get("root"),
                split_seed=int(data["split_seed"]),
                device=device or str(data["device"]),
                train=dict(data["train"]),
                checkpoint_every=int(data["checkpoint_every"]),
                eval=EvalConfig(**data["eval"]),
                encoding=str(data.get("encoding", "flat")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise StudyConfigError(f"not a supernet objective definition ({e!r})") from None

    def _identity(self, seed: int) -> dict[str, Any]:
        d = self.definition()
        d.pop("device")
        d.pop("root")  # where the data set lives, not what it is
        d["eval"].pop("latency_device")
        d["seed"] = seed
        return d

    def weights_key(self, seed: int) -> str:
        """Names the trained supernet: a hash of everything its weights depend on."""
        d = self._identity(seed)
        d.pop("eval")
        d.pop("checkpoint_every")
        d.pop("encoding")
        text = json.dumps(d, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def train_config(self, seed: int) -> Any:
        """The :class:`~nas.supernet.TrainConfig` of a study with seed ``seed``."""
        from nas.supernet._train import TrainConfig

        return TrainConfig(**dict(self.train), seed=seed, device=self.device)

    def check_objectives(self, objectives: Mapping[str, str], where: str = "objectives") -> None:
        """Refuse objectives that are not :data:`METRICS` or go the wrong way.

        Raises:
            StudyConfigError: the message names the objective and the valid ones.
        """
        for name, direction in objectives.items():
            if name not in METRICS:
                raise StudyConfigError(
                    f"{where}: {name!r} is not a metric of a supernet objective; "
                    f"choose among {', '.join(METRICS)}"
                )
            if direction != METRICS[name]:
                raise StudyConfigError(
                    f"{where}: {name!r} must be {METRICS[name]}d, got {direction!r}"
                )

    # ------------------------------------------------------------------ training

    def validate(self) -> ImageDataset:
        """Check what only this machine can tell -- the device exists, the data set loads and
        fits the space -- before anything is written; returns the data set (loaded once).

        Raises:
            DeviceError: the device is not available.
            DatasetError: the data set cannot be loaded.
            StudyConfigError: its images or classes do not fit the architecture space.
        """
        from nas.supernet._data import load_image_dataset
        from nas.supernet._train import check_device

        check_device(self.device, "objective.device")
        check_device(self.eval.latency_device, "objective.eval.latency_device")
        if self._data:
            return self._data[0]
        data = load_image_dataset(self.dataset, self.root, seed=self.split_seed)
        if data.input_shape != (self.space.in_channels, self.space.height, self.space.width):
            raise StudyConfigError(
                f"objective.space: expects {self.space.in_channels}x{self.space.height}x"
                f"{self.space.width} images, dataset {self.dataset!r} has "
                f"{'x'.join(map(str, data.input_shape))}"
            )
        if data.classes != self.space.classes:
            raise StudyConfigError(
                f"objective.space: classes is {self.space.classes}, dataset {self.dataset!r} "
                f"has {data.classes}"
            )
        self._data.append(data)
        return data

    def prepare(
        self,
        study: Study,
        *,
        on_epoch: Callable[[int, int, Mapping[str, float]], None] | None = None,
        train: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """Load the study's supernet, or train it (resuming from its last checkpoint).

        Idempotent per study. ``on_epoch(done, total, record)`` is called after every epoch
        trained here (and once with the epochs already done when resuming). One process per
        study trains: it holds the study's ``supernet-training`` lease (renewed every
        15 s, expiring 60 s after its holder stops, at once when the holder was a process of
        this host that died); any other process calls ``on_wait(holder)`` once and waits for
        the final weights, taking the training over (from the last checkpoint) if the holder
        dies.

        Raises:
            IncompatibleStudyError: the study holds another supernet definition.
            StudyConfigError: the study's objectives are not metrics of this objective.
            SupernetNotTrainedError: ``train=False`` and the study has no final weights.
            DatasetError, DeviceError: the data set or device cannot be used.
        """
        from nas.supernet._distributed import main_first

        with self._lock:
            if _study_key(study) in self._state:
                return
            self.check_objectives({o.name: o.direction for o in study.objectives})
            self.validate()
            # Rank 0 writes the definition; the others then find and compare it.
            main_first(lambda: self._pin_definition(study))
            self._state[_study_key(study)] = self._load_or_train(study, on_epoch, train, on_wait)

    def _pin_definition(self, study: Study) -> None:
        from nas.supernet._distributed import is_main_process

        stored = study.user_attrs.get(STUDY_ATTR)
        if stored is None:
            if is_main_process():  # always true unless rank 0 failed to store it
                study.set_user_attr(STUDY_ATTR, self.definition())
            return
        mine = self._identity(study.seed)
        theirs = SupernetObjective.from_definition(stored)._identity(study.seed)
        if mine != theirs:
            changed = sorted(k for k in mine if mine[k] != theirs.get(k))
            raise IncompatibleStudyError(
                f"study {study.name!r} was run with another supernet objective (differs in "
                f"{', '.join(changed)}); its trials were measured with that supernet. Use a new "
                f"study name, or `nas delete {study.name}`"
            )

    def _load_or_train(
        self,
        study: Study,
        on_epoch: Callable[[int, int, Mapping[str, float]], None] | None,
        train: bool,
        on_wait: Callable[[str], None] | None = None,
    ) -> _Prepared:
        import torch

        from nas.study._worker import new_worker_id
        from nas.supernet._checkpoint import checkpoint_from_bytes, checkpoint_to_bytes
        from nas.supernet._distributed import barrier, is_main_process, on_main
        from nas.supernet._train import build_supernet, check_device

        data = self.validate()
        device = check_device(self.device, "objective.device")
        storage, seed = study.storage, study.seed
        study_id = study.study_id
        key = self.weights_key(seed)
        prefix = f"supernet/{key}/"
        net = build_supernet(self.space, seed)
        # With several processes, rank 0 answers (on_main) and every process reads that artifact.
        owner = on_main(new_worker_id)  # one identity for all the processes of a group
        waited = False
        while True:
            final_id = on_main(lambda: _last_id(storage, study_id, WEIGHTS_KIND, prefix))
            if final_id is not None:
                state = checkpoint_from_bytes(storage.read_artifact(final_id))
                net.load_state_dict(state["net"])
                net.to(device)
                break
            if not train:
                raise SupernetNotTrainedError(
                    f"study {study.name!r} has no trained supernet yet; run the study "
                    "(`nas run FILE`) first"
                )
            # One trainer per study: whoever holds the lease trains, the others wait for the
            # final weights (and take over if the holder dies).
            holder = on_main(lambda: _try_lease(storage, study_id, owner))
            if holder == owner:
                try:
                    with _LeaseKeeper(storage, study_id, owner) as keeper:
                        self._train(
                            study, net, data, prefix, on_epoch, keeper, checkpoint_to_bytes
                        )
                finally:  # also on an error or Ctrl-C: the next process resumes at once
                    if is_main_process():
                        with contextlib.suppress(NasError):
                            storage.release_lease(study_id, LEASE_NAME, owner)
                break
            if on_wait is not None and not waited:
                on_wait(holder)
            waited = True
            time.sleep(WAIT_POLL_SECONDS)
        # Checkpoints are only needed until the final weights exist.
        on_main(lambda: _delete(storage, study_id, CHECKPOINT_KIND, prefix, keep=None))
        barrier()
        net.eval()
        perm = np.random.default_rng(
            np.random.SeedSequence([self.split_seed, 0xCA11B])
        ).permutation(len(data.y_train))
        calib = data.x_train[torch.as_tensor(perm[: self.eval.calibration])].to(device)
        return _Prepared(net=net, data=data, calibration=calib)

    def _train(
        self,
        study: Study,
        net: Supernet,
        data: ImageDataset,
        prefix: str,
        on_epoch: Callable[[int, int, Mapping[str, float]], None] | None,
        keeper: _LeaseKeeper,
        to_bytes: Callable[[Mapping[str, Any]], bytes],
    ) -> None:
        """Train (resuming from the study's last checkpoint) and store the final weights (with
        the training history). Called by the lease holder only."""
        from nas.supernet._checkpoint import checkpoint_from_bytes
        from nas.supernet._distributed import on_main
        from nas.supernet._train import SupernetTrainer

        storage, study_id = study.storage, study.study_id
        config = self.train_config(study.seed)
        trainer = SupernetTrainer(net, data, config)
        checkpoint_id = on_main(lambda: _last_id(storage, study_id, CHECKPOINT_KIND, prefix))
        if checkpoint_id is not None:
            trainer.load_state_dict(checkpoint_from_bytes(storage.read_artifact(checkpoint_id)))
            if on_epoch is not None and trainer.history:
                on_epoch(trainer.epoch, config.epochs, trainer.history[-1])
        while trainer.epoch < config.epochs:
            record = trainer.train_epoch()
            done = trainer.epoch
            if on_epoch is not None:
                on_epoch(done, config.epochs, record)
            if on_main(lambda: keeper.lost):
                raise NasError(
                    f"study {study.name!r}: this process lost the supernet-training lease "
                    "(presumed dead by another worker, which now trains); its work is dropped"
                )
            if done < config.epochs and done % self.checkpoint_every == 0:
                # Rank 0 writes; every process goes on once it is stored.
                on_main(lambda: _store_checkpoint(storage, study_id, prefix, trainer))
        final = {"net": net.state_dict(), "history": list(trainer.history)}
        on_main(
            lambda: storage.store_artifact(
                study_id, WEIGHTS_KIND, f"{prefix}final.pt", to_bytes(final)
            )
        )

    # ------------------------------------------------------------------ trials

    def supernet(self, study: Study) -> Supernet:
        """The study's trained supernet (after :meth:`prepare`).

        Raises:
            RuntimeError: :meth:`prepare` was not called for this study.
        """
        return self._prepared(study).net

    def data(self, study: Study) -> ImageDataset:
        """The study's data set (after :meth:`prepare`)."""
        return self._prepared(study).data

    def _prepared(self, study: Study) -> _Prepared:
        try:
            return self._state[_study_key(study)]
        except KeyError:
            raise RuntimeError(
                f"SupernetObjective.prepare(study) was not called for study {study.name!r}"
            ) from None

    def calibrated(self, study: Study, arch: Arch) -> Supernet:
        """The study's supernet with ``arch`` active and its batch norm recalibrated."""
        from nas.supernet._train import recalibrate_bn

        prepared = self._prepared(study)
        recalibrate_bn(prepared.net, arch, prepared.calibration)
        return prepared.net

    def measure(self, study: Study, arch: Arch, metrics: set[str]) -> dict[str, float]:
        """The requested metrics of ``arch`` plus ``test_accuracy`` and the cost counts.

        Args:
            metrics: names from :data:`METRICS`; ``latency_ms`` is only measured when asked.
        """
        from nas.supernet._cost import arch_cost, measure_latency
        from nas.supernet._train import evaluate_arch

        prepared = self._prepared(study)
        net = self.calibrated(study, arch)
        data = prepared.data
        val = evaluate_arch(net, arch, data.x_val, data.y_val)
        test = evaluate_arch(net, arch, data.x_test, data.y_test)
        cost = arch_cost(self.space, arch)
        out = {
            "accuracy": val,
            "error": 1.0 - val,
            "test_accuracy": test,
            "mflops": cost.mflops,
            "params": float(cost.params),
        }
        if "latency_ms" in metrics:
            e = self.eval
            out["latency_ms"] = measure_latency(
                net.extract(arch),
                (e.latency_batch, *data.input_shape),
                warmup=e.latency_warmup,
                repeats=e.latency_repeats,
                device=e.latency_device,
            )
        return out

    def __call__(self, trial: Trial) -> dict[str, float]:
        """Evaluate the trial's architecture; returns the study's objectives."""
        study = trial.study
        self.prepare(study)
        arch = self.space.arch(trial.params)
        wanted = {o.name for o in study.objectives}
        metrics = self.measure(study, arch, wanted)
        canonical = self.space.canonical(arch)
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr(
            "arch",
            {
                "depths": list(canonical.depths),
                "layers": [
                    [[c.op, c.kernel, c.width] for c in stage] for stage in canonical.layers
                ],
            },
        )
        return {name: metrics[name] for name in wanted}


@dataclass
class _Prepared:
    net: Supernet
    data: ImageDataset
    calibration: torch.Tensor


#: The study lease whose holder trains the supernet, and its timings (seconds).
LEASE_NAME = "supernet-training"
LEASE_TTL_SECONDS = 60.0
LEASE_RENEW_SECONDS = 15.0
WAIT_POLL_SECONDS = 1.0


def _try_lease(storage: Any, study_id: int, owner: str) -> str:
    """Take the training lease for ``owner`` if free, expired, or held by a dead process of
    this host; returns the holder afterwards (``owner`` when taken)."""
    from datetime import UTC, datetime

    from nas.study._worker import is_worker_dead

    current = storage.get_lease(study_id, LEASE_NAME)
    take_from = None
    if current is not None:
        holder = current[0]
        # Same host and its pid gone: dead now. Remote holders are trusted until expiry.
        if holder != owner and is_worker_dead(
            holder or None, datetime.now(UTC), grace=LEASE_TTL_SECONDS
        ):
            take_from = holder
    if storage.acquire_lease(study_id, LEASE_NAME, owner, LEASE_TTL_SECONDS, take_from=take_from):
        return owner
    current = storage.get_lease(study_id, LEASE_NAME)
    return current[0] if current is not None else ""


class _LeaseKeeper:
    """Renews the training lease every 15 s while training runs (main process only; the
    others share its answers through the collectives); :attr:`lost` turns True if a renewal
    is refused (another process took over)."""

    def __init__(self, storage: Any, study_id: int, owner: str) -> None:
        from nas.study._worker import Renewal
        from nas.supernet._distributed import is_main_process

        self._renewal = (
            Renewal(
                lambda: storage.acquire_lease(study_id, LEASE_NAME, owner, LEASE_TTL_SECONDS),
                LEASE_RENEW_SECONDS,
                name="nas-lease",
            )
            if is_main_process()
            else None
        )

    @property
    def lost(self) -> bool:
        return self._renewal is not None and self._renewal.lost

    def __enter__(self) -> _LeaseKeeper:
        if self._renewal is not None:
            self._renewal.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._renewal is not None:
            self._renewal.__exit__(*exc)


def _study_key(study: Study) -> tuple[str, int]:
    return (study.storage.url, study.study_id)


def _artifacts(storage: Any, study_id: int, kind: str, prefix: str) -> list[Any]:
    """The study's artifacts of ``kind`` whose name starts with ``prefix``, oldest first."""
    return [a for a in storage.get_artifacts(study_id, kind=kind) if a.path.startswith(prefix)]


def _last_id(storage: Any, study_id: int, kind: str, prefix: str) -> int | None:
    """The newest of :func:`_artifacts` (its id), or ``None``."""
    found = _artifacts(storage, study_id, kind, prefix)
    return int(found[-1].artifact_id) if found else None


def _store_checkpoint(storage: Any, study_id: int, prefix: str, trainer: Any) -> None:
    """Store ``trainer``'s state as the checkpoint of its epoch, then drop the older ones (a
    kill in between leaves an extra checkpoint, never none)."""
    from nas.supernet._checkpoint import checkpoint_to_bytes

    new = storage.store_artifact(
        study_id,
        CHECKPOINT_KIND,
        f"{prefix}epoch-{trainer.epoch:05d}.pt",
        checkpoint_to_bytes(trainer.state_dict()),
    )
    _delete(storage, study_id, CHECKPOINT_KIND, prefix, keep=new)


def _delete(storage: Any, study_id: int, kind: str, prefix: str, keep: int | None) -> None:
    for a in _artifacts(storage, study_id, kind, prefix):
        if a.artifact_id != keep:
            storage.delete_artifact(a.artifact_id)


# ---------------------------------------------------------------------------- parsing


def _fail(source: str, key: str, message: str) -> StudyConfigError:
    return StudyConfigError(f"{source}: objective.{key}: {message}")


def _int(value: Any, source: str, key: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(source, key, f"must be an integer >= {low}, got {value!r}")
    return value


def _section(data: Mapping[str, Any], key: str, allowed: set[str], source: str) -> dict[str, Any]:
    """The optional sub-mapping ``objective.<key>`` (``{}`` when absent), keys checked."""
    raw = data.get(key) or {}
    if not isinstance(raw, Mapping):
        raise _fail(source, key, f"must be a mapping, got {raw!r}")
    bad = sorted(set(map(str, raw)) - allowed)
    if bad:
        raise _fail(source, f"{key}.{bad[0]}", f"unknown key; valid: {', '.join(sorted(allowed))}")
    return {str(k): v for k, v in raw.items()}


def parse_supernet_objective(
    data: Mapping[str, Any], *, source: str = "<dict>", base_dir: Path | None = None
) -> SupernetObjective:
    """Validate the ``objective:`` mapping of a NAS study (module docstring).

    ``space`` is a path (relative to ``base_dir``, else the current directory) of a YAML file
    with a ``supernet`` key, or that key's mapping inline.

    Raises:
        StudyConfigError: unknown or missing key, or a bad value (the message names
            ``objective.<key>`` and the rule).
        SpaceError: the architecture space is invalid.
    """
    unknown = sorted(set(map(str, data)) - _KEYS)
    if unknown:
        raise _fail(source, unknown[0], f"unknown key; valid keys: {', '.join(sorted(_KEYS))}")
    if data.get("type") != "supernet":
        raise _fail(source, "type", f"must be 'supernet', got {data.get('type')!r}")
    if "space" not in data:
        raise _fail(source, "space", "missing (a supernet YAML path or mapping)")
    space = _load_arch_space(data["space"], source, base_dir or Path.cwd())
    dataset = data.get("dataset", "digits")
    if dataset not in ("digits", "cifar10"):
        raise _fail(source, "dataset", f"must be 'digits' or 'cifar10', got {dataset!r}")
    root = data.get("root")
    if root is not None:
        if not isinstance(root, str) or not root:
            raise _fail(source, "root", f"must be a directory path, got {root!r}")
        p = Path(root).expanduser()
        root = str(p if p.is_absolute() else (base_dir or Path.cwd()) / p)
    if dataset == "cifar10" and root is None:
        raise _fail(source, "root", "dataset cifar10 needs root: the folder of its binary batches")
    split_seed = _int(data.get("split_seed", 0), source, "split_seed", 0)
    device = data.get("device", "cpu")
    if not isinstance(device, str) or not device:
        raise _fail(source, "device", f"must be a device name like cpu or cuda, got {device!r}")

    train = _section(data, "train", _TRAIN_KEYS, source)
    checkpoint_every = _int(train.pop("checkpoint_every", 1), source, "train.checkpoint_every", 1)
    from nas.supernet._samplers import create_sampler
    from nas.supernet._train import TrainConfig

    try:
        config = TrainConfig(**train)
    except (TypeError, ValueError) as e:
        raise _fail(source, "train", str(e)) from None
    for name, kind in (
        ("epochs", int),
        ("batch_size", int),
        ("lr", float),
        ("momentum", float),
        ("weight_decay", float),
        ("grad_clip", float),
    ):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int if kind is int else int | float):
            raise _fail(source, f"train.{name}", f"must be a number, got {value!r}")
    if not isinstance(config.sampler_options, Mapping):
        raise _fail(source, "train.sampler_options", "must be a mapping")
    try:
        create_sampler(config.sampler, space, 1000, **dict(config.sampler_options))
    except (TypeError, ValueError) as e:
        raise _fail(source, "train.sampler", str(e)) from None

    ev = _section(data, "eval", _EVAL_KEYS, source)
    for key, low in (
        ("calibration", 1),
        ("latency_batch", 1),
        ("latency_warmup", 0),
        ("latency_repeats", 1),
    ):
        if key in ev:
            _int(ev[key], source, f"eval.{key}", low)
    if "latency_device" in ev and (
        not isinstance(ev["latency_device"], str) or not ev["latency_device"]
    ):
        raise _fail(
            source, "eval.latency_device", f"must be a device name, got {ev['latency_device']!r}"
        )
    encoding = data.get("encoding", "auto")
    if encoding not in ("auto", "conditional", "flat"):
        raise _fail(source, "encoding", f"must be auto, conditional or flat, got {encoding!r}")
    return SupernetObjective(
        encoding=encoding,
        space=space,
        dataset=dataset,
        root=root,
        split_seed=split_seed,
        device=device,
        train=train,
        checkpoint_every=checkpoint_every,
        eval=EvalConfig(**ev),
    )


def _load_arch_space(value: Any, source: str, base: Path) -> ArchSpace:
    if isinstance(value, Mapping):
        inner = value.get("supernet", value) if set(value) == {"supernet"} else value
        return ArchSpace.from_dict(inner, source=f"{source} (objective.space)")
    if not isinstance(value, str) or not value:
        raise _fail(
            source, "space", f"must be a path to a supernet YAML or a mapping, got {value!r}"
        )
    found, tried = locate(value, base)
    if found is not None:
        return ArchSpace.from_yaml(found)
    raise _fail(
        source, "space", f"file {value!r} not found (looked in {', '.join(str(t) for t in tried)})"
    )
