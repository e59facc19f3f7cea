"""NAS studies: the study adapter that turns "evaluate this architecture" into an objective.

A study file whose ``objective`` is ``{type: supernet, ...}`` (:mod:`nas.supernet._config` for
the keys) searches an architecture space with any searcher; :class:`SupernetObjective` is the
registered ``supernet`` objective type (:data:`nas.study.OBJECTIVE_TYPES`).

Before the first trial (:meth:`SupernetObjective.prepare`, called by ``Study.optimize`` and
``nas run``) the supernet is trained once, seeded by the study's seed, or loaded when the study
already has it. It is stored **in the study's database** (:mod:`nas.supernet._store`): a
checkpoint artifact every ``checkpoint_every`` epochs (everything the next epoch depends on, see
:meth:`SupernetTrainer.state_dict`), then the final weights. A process killed at any moment
resumes from the last checkpoint and ends with the same weights as an uninterrupted run (bit for
bit on the same machine and device), so every trial value is the same too.

A trial maps its params to an architecture (:meth:`ArchSpace.arch`) and scores it through the
evaluation interface (:class:`~nas.supernet.ArchEvaluator`: the supernet with the architecture
active and its batch norm recalibrated on ``eval.calibration`` training images); it returns the
metrics the study asks for (:data:`~nas.supernet.METRICS`). Every metric that is not on demand,
the test accuracy (never used by the search) and the canonical architecture are stored as trial
user attributes.

The definition is pinned in the study (:func:`nas.study.pin_objective`); running the study again
with a different definition (anything but where it runs) is refused, since its trials were
measured with another supernet.

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
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._attrs import ARCH_ATTR, FAMILY_ATTR, LEAF_ATTR
from nas.exceptions import NasError, StudyConfigError
from nas.space import Arch
from nas.supernet._config import SupernetDefinition, parse_supernet_definition
from nas.supernet._store import (
    CHECKPOINT_KIND,
    LEASE_NAME,
    WAIT_POLL_SECONDS,
    WEIGHTS_KIND,
    LeaseKeeper,
    delete_artifacts,
    last_artifact,
    store_checkpoint,
    try_lease,
)

if TYPE_CHECKING:
    import torch

    from nas._types import Objective
    from nas.space import SearchSpace
    from nas.study import Study, Trial
    from nas.supernet._data import ImageDataset
    from nas.supernet._evaluate import ArchEvaluator
    from nas.supernet._network import Supernet
    from nas.supernet._splits import Family

__all__ = [
    "FAMILY_ATTR",
    "LEAF_ATTR",
    "SupernetNotTrainedError",
    "SupernetObjective",
    "parse_supernet_objective",
]


class SupernetNotTrainedError(NasError, RuntimeError):
    """The study has no trained supernet yet (run the study first)."""


@dataclass(frozen=True)
class SupernetObjective(SupernetDefinition):
    """The objective of a NAS study (module docstring); build it with
    :func:`parse_supernet_objective`, :meth:`from_definition` or directly (the fields of
    :class:`~nas.supernet.SupernetDefinition`)."""

    #: Trials of its studies carry an architecture (the dashboard shows them).
    produces_architectures: ClassVar[bool] = True

    # Per-study trained state, keyed by (storage URL, study id); not part of the value.
    _state: dict[tuple[str, int], _Prepared] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _data: list[ImageDataset] = field(default_factory=list, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ the objective type

    @classmethod
    def parse(
        cls, data: Mapping[str, Any], *, source: str = "<dict>", base_dir: Path | None = None
    ) -> SupernetObjective:
        """The objective of a study file's ``objective:`` mapping
        (:func:`~nas.supernet.parse_supernet_definition`)."""
        d = parse_supernet_definition(data, source=source, base_dir=base_dir)
        return cls(**{f.name: getattr(d, f.name) for f in fields(SupernetDefinition)})

    def with_device(self, device: str) -> SupernetObjective:
        """The same objective training and evaluating on ``device``."""
        return dataclasses.replace(self, device=device)

    def study_space(
        self,
        *,
        space: SearchSpace | None,
        searcher: str,
        searcher_options: Mapping[str, Any],
        objectives: Sequence[Objective],
        source: str,
        build: Callable[[SearchSpace], Any] | None = None,
    ) -> tuple[SupernetObjective, SearchSpace]:
        """Fix :attr:`encoding` and return the study's search space.

        ``auto`` becomes ``conditional`` when the searcher declares it takes conditional
        parameters (:meth:`~nas.searchers.Searcher.unsupported`), else ``flat``; an explicit study
        ``space`` must be one of the two encodings of the architecture space and decides it.

        Args:
            build: builds the study's searcher over the chosen encoding (the study file loader
                passes one that keeps the searcher for the study); a refusal of its options is
                left to whoever builds the study.

        Raises:
            StudyConfigError: ``space`` is not an encoding of the architecture space, or
                contradicts ``encoding``.
        """
        from nas.exceptions import SearcherConfigError
        from nas.searchers import searcher_class

        arch = self.space
        encodings = {"conditional": arch.conditional_search_space, "flat": arch.search_space}
        if space is not None:
            matching = [e for e, s in encodings.items() if s == space]
            if not matching:
                raise StudyConfigError(
                    f"{source}: space: differs from the architecture space of objective.space; "
                    "leave `space` out for a supernet objective"
                )
            if self.encoding not in ("auto", matching[0]):
                raise StudyConfigError(
                    f"{source}: space: is the {matching[0]} encoding, objective.encoding says "
                    f"{self.encoding}"
                )
            chosen = matching[0]
        elif self.encoding != "auto":
            chosen = self.encoding
        else:
            # The searcher's declared capabilities decide (an unknown name raises here); the
            # searcher is built once, over the chosen encoding (bad options: reported later).
            refuses = searcher_class(searcher).unsupported(
                encodings["conditional"], len(objectives)
            )
            chosen = "conditional" if refuses is None else "flat"
            if build is not None:
                with contextlib.suppress(SearcherConfigError):
                    build(encodings[chosen])
        resolved = dataclasses.replace(self, encoding=chosen)
        return resolved, encodings[chosen]

    # ------------------------------------------------------------------ training

    def validate(self) -> ImageDataset:
        """Check what only this machine can tell -- the device exists, the data set loads and
        fits the space -- before anything is written; returns the data set (loaded once).

        Raises:
            DeviceError: the device is not available.
            DatasetError: the data set cannot be loaded.
            StudyConfigError: its images or classes do not fit the architecture space, or
                ``train.splits`` leaves the last split's leaves without training.
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
        from nas.supernet._family import check_split_budget

        try:
            check_split_budget(self.space, self.train_config(0), len(data.y_train))
        except ValueError as e:
            raise StudyConfigError(f"objective.{e}") from None
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
        study trains (:mod:`nas.supernet._store`); any other process calls ``on_wait(holder)``
        once and waits for the final weights, taking the training over (from the last
        checkpoint) if the holder dies.

        Raises:
            IncompatibleStudyError: the study holds another objective definition.
            StudyConfigError: the study's objectives are not metrics of this objective.
            SupernetNotTrainedError: ``train=False`` and the study has no final weights.
            DatasetError, DeviceError: the data set or device cannot be used.
        """
        from nas.study._objectives import pin_objective
        from nas.supernet._distributed import is_main_process, main_first

        with self._lock:
            if _study_key(study) in self._state:
                return
            self.check_objectives({o.name: o.direction for o in study.objectives})
            if study.constraints is not None:
                self.check_constraints(study.constraints.metrics)
            self.validate()
            # Rank 0 writes the definition; the others then find and compare it.
            main_first(lambda: pin_objective(study, self, write=is_main_process()))
            self._state[_study_key(study)] = self._load_or_train(study, on_epoch, train, on_wait)

    def _load_or_train(
        self,
        study: Study,
        on_epoch: Callable[[int, int, Mapping[str, float]], None] | None,
        train: bool,
        on_wait: Callable[[str], None] | None = None,
    ) -> _Prepared:
        import torch

        from nas.study._worker import new_worker_id
        from nas.supernet._checkpoint import checkpoint_from_bytes
        from nas.supernet._distributed import barrier, is_main_process, on_main
        from nas.supernet._family import family_from_weights
        from nas.supernet._train import build_supernet, check_device

        data = self.validate()
        device = check_device(self.device, "objective.device")
        storage, seed = study.storage, study.seed
        study_id = study.study_id
        prefix = f"supernet/{self.weights_key(seed)}/"
        # With several processes, rank 0 answers (on_main) and every process reads that artifact.
        owner = on_main(new_worker_id)  # one identity for all the processes of a group
        waited = False
        while True:
            final_id = on_main(lambda: last_artifact(storage, study_id, WEIGHTS_KIND, prefix))
            if final_id is not None:
                state = checkpoint_from_bytes(storage.read_artifact(final_id))
                family, nets = family_from_weights(
                    self.space, state, lambda: build_supernet(self.space, seed)
                )
                for net in nets.values():
                    net.to(device)
                break
            if not train:
                raise SupernetNotTrainedError(
                    f"study {study.name!r} has no trained supernet yet; run the study "
                    "(`nas run FILE`) first"
                )
            # One trainer per study: whoever holds the lease trains, the others wait for the
            # final weights (and take over if the holder dies).
            holder = on_main(lambda: try_lease(storage, study_id, owner))
            if holder == owner:
                try:
                    with LeaseKeeper(storage, study_id, owner) as keeper:
                        family, nets = self._train(study, data, prefix, on_epoch, keeper)
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
        on_main(lambda: delete_artifacts(storage, study_id, CHECKPOINT_KIND, prefix, keep=None))
        barrier()
        for net in nets.values():
            net.eval()
        if family.splits and is_main_process():
            tree = family.to_dict()
            if study.user_attrs.get(FAMILY_ATTR) != tree:
                study.set_user_attr(FAMILY_ATTR, tree)
        perm = np.random.default_rng(
            np.random.SeedSequence([self.split_seed, 0xCA11B])
        ).permutation(len(data.y_train))
        calib = data.x_train[torch.as_tensor(perm[: self.eval.calibration])].to(device)
        return _Prepared(family=family, nets=nets, data=data, calibration=calib)

    def _train(
        self,
        study: Study,
        data: ImageDataset,
        prefix: str,
        on_epoch: Callable[[int, int, Mapping[str, float]], None] | None,
        keeper: LeaseKeeper,
    ) -> tuple[Family, dict[str, Supernet]]:
        """Train the family (one supernet unless ``train.splits`` splits it), resuming from
        the study's last checkpoint, and store the final weights (with the training history
        and, for a split family, the tree). Called by the lease holder only; returns the tree
        and each leaf's supernet."""
        from nas.supernet._checkpoint import checkpoint_from_bytes, checkpoint_to_bytes
        from nas.supernet._distributed import on_main
        from nas.supernet._family import FamilyTrainer

        storage, study_id = study.storage, study.study_id
        trainer = FamilyTrainer(self.space, data, self.train_config(study.seed))
        total = trainer.planned_epochs
        checkpoint_id = on_main(lambda: last_artifact(storage, study_id, CHECKPOINT_KIND, prefix))
        if checkpoint_id is not None:
            trainer.load_state_dict(checkpoint_from_bytes(storage.read_artifact(checkpoint_id)))
            if on_epoch is not None and trainer.history:
                on_epoch(trainer.epoch, total, trainer.history[-1])
        while not trainer.done:
            record = trainer.train_epoch()
            done = trainer.epoch
            if on_epoch is not None:
                on_epoch(done, total, record)
            if on_main(lambda: keeper.lost):
                raise NasError(
                    f"study {study.name!r}: this process lost the supernet-training lease "
                    "(presumed dead by another worker, which now trains); its work is dropped"
                )
            if not trainer.done and done % self.checkpoint_every == 0:
                # Rank 0 writes; every process goes on once it is stored.
                on_main(
                    lambda: store_checkpoint(
                        storage, study_id, prefix, trainer.state_dict(), trainer.epoch
                    )
                )
        final = trainer.weights()
        on_main(
            lambda: storage.store_artifact(
                study_id, WEIGHTS_KIND, f"{prefix}final.pt", checkpoint_to_bytes(final)
            )
        )
        return trainer.family, {leaf.id: trainer.net(leaf.id) for leaf in trainer.leaves}

    # ------------------------------------------------------------------ trials

    def _prepared(self, study: Study) -> _Prepared:
        try:
            return self._state[_study_key(study)]
        except KeyError:
            raise RuntimeError(
                f"SupernetObjective.prepare(study) was not called for study {study.name!r}"
            ) from None

    def evaluator(self, study: Study) -> ArchEvaluator:
        """The study's weights behind the evaluation interface (after :meth:`prepare`).

        Raises:
            RuntimeError: :meth:`prepare` was not called for this study.
        """
        from nas.supernet._family import FamilyEvaluator

        prepared = self._prepared(study)
        return FamilyEvaluator(prepared.family, prepared.nets, prepared.calibration)

    def family(self, study: Study) -> Family:
        """The study's family of sub-supernets (one root leaf unless ``train.splits`` split
        it; after :meth:`prepare`)."""
        return self._prepared(study).family

    def supernet(self, study: Study, arch: Arch | None = None) -> Supernet:
        """The study's trained supernet (after :meth:`prepare`): the one that owns ``arch``
        (:meth:`Family.leaf_for`), or the only one.

        Raises:
            ValueError: no ``arch`` and the family has several leaves.
        """
        prepared = self._prepared(study)
        if arch is not None:
            return prepared.nets[prepared.family.leaf_for(arch).id]
        if len(prepared.nets) != 1:
            raise ValueError(
                f"study {study.name!r} has {len(prepared.nets)} sub-supernets; name an "
                "architecture to get the one that owns it"
            )
        return next(iter(prepared.nets.values()))

    def data(self, study: Study) -> ImageDataset:
        """The study's data set (after :meth:`prepare`)."""
        return self._prepared(study).data

    def calibrated(self, study: Study, arch: Arch) -> Supernet:
        """The study's supernet with ``arch`` active and its batch norm recalibrated."""
        self.evaluator(study).network(arch)
        return self.supernet(study, arch)

    def measure(self, study: Study, arch: Arch, metrics: set[str]) -> dict[str, float]:
        """Every metric that is not on demand, those of ``metrics``, and ``test_accuracy``
        (:func:`~nas.supernet._metrics.compute_metrics`)."""
        from nas.supernet._metrics import MetricContext, compute_metrics

        ctx = MetricContext(self.evaluator(study), arch, self.data(study), self.eval)
        return compute_metrics(ctx, set(metrics))

    def __call__(self, trial: Trial) -> dict[str, float]:
        """Evaluate the trial's architecture; returns the study's objectives and the metrics
        its constraints name."""
        study = trial.study
        self.prepare(study)
        arch = self.space.arch(trial.params)
        wanted = {o.name for o in study.objectives}
        if study.constraints is not None:
            wanted |= set(study.constraints.metrics)
        metrics = self.measure(study, arch, wanted)
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr(ARCH_ATTR, self.space.canonical(arch).to_dict())
        trial.set_user_attr(LEAF_ATTR, self._prepared(study).family.leaf_for(arch).id)
        return {name: metrics[name] for name in wanted}


@dataclass
class _Prepared:
    family: Family
    nets: dict[str, Supernet]
    data: ImageDataset
    calibration: torch.Tensor


def _study_key(study: Study) -> tuple[str, int]:
    return (study.storage.url, study.study_id)


def parse_supernet_objective(
    data: Mapping[str, Any], *, source: str = "<dict>", base_dir: Path | None = None
) -> SupernetObjective:
    """:meth:`SupernetObjective.parse` (the objective of a study file's mapping).

    Raises:
        StudyConfigError: unknown or missing key, or a bad value (the message names
            ``objective.<key>`` and the rule).
        SpaceError: the architecture space is invalid.
    """
    return SupernetObjective.parse(data, source=source, base_dir=base_dir)
