"""Supernet settings and the definition of a NAS study's objective: plain data, torch-free.

* :class:`TrainConfig` -- how a supernet trains (optimizer, schedule, clipping, budget, path
  sampler); every field is validated once, in its constructor.
* :class:`EvalConfig` -- how trials are measured.
* :class:`SupernetDefinition` -- what a study file's ``objective: {type: supernet, ...}``
  says (:func:`parse_supernet_definition`), its JSON form stored in the study, and the hash of
  everything the trained weights depend on. :class:`~nas.supernet.SupernetObjective` adds the
  study adapter (training, checkpoints, trials) on top.

The study-file form::

    objective:
      type: supernet
      space: ../search_spaces/digits_cnn.yaml   # a `supernet:` YAML, or the mapping inline
      dataset: digits                           # or cifar10 (with root: the batches' folder)
      device: cpu                               # cuda, cuda:N where available
      train: {epochs: 30, sampler: pada}        # TrainConfig fields + checkpoint_every
      eval: {calibration: 512}                  # BN recalibration images; latency settings
      encoding: auto                            # conditional | flat | auto
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from nas.exceptions import NasError, StudyConfigError
from nas.space import ArchSpace

__all__ = [
    "AUGMENTATIONS",
    "EvalConfig",
    "OptionError",
    "QuantTrainConfig",
    "SplitConfig",
    "SupernetDefinition",
    "TrainConfig",
    "parse_supernet_definition",
]

#: Data augmentations of supernet (and stand-alone) training.
AUGMENTATIONS = ("none", "shift")


class OptionError(NasError, ValueError):
    """A settings value of the wrong type or out of range.

    Attributes:
        section: ``train`` or ``eval``.
        option: the option's name.
        rule: what it must be.
        value: what it was.
    """

    def __init__(self, section: str, option: str, rule: str, value: Any) -> None:
        super().__init__(f"{section} option {option!r} must be {rule}, got {value!r}")
        self.section, self.option, self.rule, self.value = section, option, rule, value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


#: Values of ``train.splits.restart`` and ``train.splits.budget``.
RESTARTS = ("final", "none")
BUDGETS = ("shared", "per_leaf")


def _fields_of(cls: type, value: Any, key: str) -> dict[str, Any]:
    """The keyword arguments of dataclass ``cls`` in a study file's ``train.<key>`` mapping.

    Raises:
        OptionError: not a mapping, or a key that is not a field (named with the valid ones).
    """
    if not isinstance(value, Mapping):
        raise OptionError("train", key, "a mapping", value)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(map(str, value)) - known)
    if unknown:
        rule = "absent (valid: " + ", ".join(sorted(known)) + ")"
        raise OptionError("train", f"{key}.{unknown[0]}", rule, value[unknown[0]])
    return {str(k): v for k, v in value.items()}


@dataclass(frozen=True)
class SplitConfig:
    """How a supernet is split into a family of sub-supernets (``train.splits`` of a study
    file; :mod:`nas.supernet._splits` and :mod:`nas.supernet._family`).

    Attributes:
        policy: a name of :data:`~nas.supernet.SPLIT_POLICIES` (``none``, ``exhaustive``,
            ``random``, ``gm``).
        at_epochs: the epochs (of the whole family's budget, counted in full epochs of
            optimizer steps) after which every leaf splits, strictly increasing, ``>= 1``.
        branches: children per split (``exhaustive``: one per choice), ``>= 2``.
        repeats: minibatches over which ``gm`` averages its gradient distances, ``>= 1``.
        restart: ``final`` (children of the last split start from new weights, optimizer and
            a restarted schedule, as GM-NAS's ``restart=final``) or ``none`` (every split
            copies the parent's training state).
        budget: ``shared`` (the training budget counts the steps of all leaves together, and
            gradient scoring is charged to it: methods compare at equal cost) or ``per_leaf``
            (the papers' protocol: every leaf trains a full epoch per epoch, so the cost grows
            with the leaves; scoring is counted but not charged; needs a budget in epochs).

    Raises:
        OptionError: a value of the wrong type or out of range (option ``splits.<name>``).
    """

    policy: str = "none"
    at_epochs: tuple[int, ...] = ()
    branches: int = 2
    repeats: int = 16
    restart: str = "final"
    budget: str = "shared"

    def __post_init__(self) -> None:
        from nas.supernet._plugins import SPLIT_POLICIES

        at = self.at_epochs
        if isinstance(at, list | tuple) and all(_is_int(e) for e in at):
            object.__setattr__(self, "at_epochs", tuple(int(e) for e in at))
        rules: list[tuple[str, bool, str]] = [
            (
                "policy",
                isinstance(self.policy, str) and self.policy in SPLIT_POLICIES,
                "one of " + ", ".join(SPLIT_POLICIES.names()),
            ),
            (
                "at_epochs",
                isinstance(self.at_epochs, tuple)
                and all(_is_int(e) and e >= 1 for e in self.at_epochs)
                and all(a < b for a, b in zip(self.at_epochs, self.at_epochs[1:], strict=False)),
                "a strictly increasing list of integers >= 1",
            ),
            ("branches", _is_int(self.branches) and self.branches >= 2, "an integer >= 2"),
            ("repeats", _is_int(self.repeats) and self.repeats >= 1, "an integer >= 1"),
            ("restart", self.restart in RESTARTS, " or ".join(RESTARTS)),
            ("budget", self.budget in BUDGETS, " or ".join(BUDGETS)),
        ]
        for name, ok, rule in rules:
            if not ok:
                raise OptionError("train", f"splits.{name}", rule, getattr(self, name))
        if self.policy != "none" and not self.at_epochs:
            raise OptionError(
                "train", "splits.at_epochs", f"given for policy {self.policy!r}", self.at_epochs
            )

    @classmethod
    def from_value(cls, value: Any) -> SplitConfig:
        """From a study file's ``train.splits`` mapping (or a :class:`SplitConfig`).

        Raises:
            OptionError: not a mapping of the fields, or a bad value.
        """
        if isinstance(value, SplitConfig):
            return value
        return cls(**_fields_of(cls, value, "splits"))

    def to_dict(self) -> dict[str, Any]:
        """The study-file form."""
        return {
            "policy": self.policy,
            "at_epochs": list(self.at_epochs),
            "branches": self.branches,
            "repeats": self.repeats,
            "restart": self.restart,
            "budget": self.budget,
        }


@dataclass(frozen=True)
class QuantTrainConfig:
    """How an elastically quantized supernet trains (``train.quant`` of a study file;
    :mod:`nas.supernet._quant_train`). Used, with these defaults, whenever the architecture
    space has quantization choices.

    Attributes:
        gpg: progressive guidance (H teaches R, R teaches L); ``false``: every path learns the
            labels alone (the ablation).
        gpg_lambda: the weight of the KL term, in ``[0, 1]``.
        wdr: the WDR loss on the latent weights.
        wdr_skew, wdr_kurt: the weights of its skewness and kurtosis terms, ``>= 0``.
        paths: ``hrl`` (three settings per step: highest, random, lowest bits) or ``single``
            (one random setting per step: static LSQ QAT when the space allows one setting).

    Raises:
        OptionError: a value of the wrong type or out of range (option ``quant.<name>``).
    """

    gpg: bool = True
    gpg_lambda: float = 0.5
    wdr: bool = True
    wdr_skew: float = 1.0
    wdr_kurt: float = 0.015
    paths: str = "hrl"

    def __post_init__(self) -> None:
        rules: list[tuple[str, bool, str]] = [
            ("gpg", isinstance(self.gpg, bool), "true or false"),
            (
                "gpg_lambda",
                _is_number(self.gpg_lambda) and 0 <= self.gpg_lambda <= 1,
                "a number in [0, 1]",
            ),
            ("wdr", isinstance(self.wdr, bool), "true or false"),
            ("wdr_skew", _is_number(self.wdr_skew) and self.wdr_skew >= 0, "a number >= 0"),
            ("wdr_kurt", _is_number(self.wdr_kurt) and self.wdr_kurt >= 0, "a number >= 0"),
            ("paths", self.paths in ("hrl", "single"), "hrl or single"),
        ]
        for name, ok, rule in rules:
            if not ok:
                raise OptionError("train", f"quant.{name}", rule, getattr(self, name))

    @classmethod
    def from_value(cls, value: Any) -> QuantTrainConfig:
        """From a study file's ``train.quant`` mapping (or a :class:`QuantTrainConfig`).

        Raises:
            OptionError: not a mapping of the fields, or a bad value.
        """
        if isinstance(value, QuantTrainConfig):
            return value
        return cls(**_fields_of(cls, value, "quant"))


@dataclass(frozen=True)
class TrainConfig:
    """Supernet training settings.

    Attributes:
        epochs: passes over the (possibly resampled) training set, ``>= 1``.
        steps: the training budget in optimizer steps (``None``: ``epochs`` full epochs).
            Extra forward/backward passes a method spends outside the steps (e.g. gradient
            scoring) are charged to it (:meth:`SupernetTrainer.charge`), so methods compare at
            an equal budget. Training ends when the budget is spent, mid-epoch if need be.
        batch_size: examples per step, ``>= 1``.
        optimizer: ``sgd`` (momentum, optional Nesterov) or ``adam``.
        lr: initial learning rate, ``> 0``.
        momentum: SGD momentum in ``[0, 1)``.
        nesterov: Nesterov momentum (SGD).
        weight_decay: L2 penalty, ``>= 0``.
        schedule: ``cosine`` (annealed to 0 over the budget) or ``constant``.
        schedule_unit: ``epoch`` (the rate changes once per epoch) or ``step``.
        grad_clip: the clipping threshold, ``> 0``.
        clip_mode: ``norm`` (the global gradient norm) or ``value`` (each element).
        augment: ``none`` or ``shift`` (random translation by up to one pixel, zero padded).
        sampler: a name of :data:`~nas.supernet.PATH_SAMPLERS`.
        sampler_options: keyword options of the sampler.
        splits: how the supernet splits into a family of sub-supernets (:class:`SplitConfig`;
            a mapping is converted); ``None``: one supernet, trained by
            :class:`~nas.supernet.SupernetTrainer` (a family with policy ``none`` trains the
            same weights).
        quant: how an elastically quantized supernet trains (:class:`QuantTrainConfig`; a
            mapping is converted); ``None``: the defaults where the space is quantized.
        seed: seeds the initial weights (with :func:`~nas.supernet.build_supernet`) and every
            draw of training.
        device: ``cpu`` or ``cuda[:N]``.

    Raises:
        OptionError: a value of the wrong type or out of range (a ``ValueError`` naming the
            option and the rule).
    """

    epochs: int = 20
    steps: int | None = None
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 2.5e-4
    schedule: str = "cosine"
    schedule_unit: str = "epoch"
    grad_clip: float = 5.0
    clip_mode: str = "norm"
    augment: str = "none"
    sampler: str = "uniform"
    sampler_options: Mapping[str, Any] = field(default_factory=dict)
    splits: SplitConfig | None = None
    quant: QuantTrainConfig | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.splits is not None:
            object.__setattr__(self, "splits", SplitConfig.from_value(self.splits))
        if self.quant is not None:
            object.__setattr__(self, "quant", QuantTrainConfig.from_value(self.quant))
        rules: list[tuple[str, bool, str]] = [
            ("epochs", _is_int(self.epochs) and self.epochs >= 1, "an integer >= 1"),
            (
                "steps",
                self.steps is None or (_is_int(self.steps) and self.steps >= 1),
                "an integer >= 1 (or absent)",
            ),
            ("batch_size", _is_int(self.batch_size) and self.batch_size >= 1, "an integer >= 1"),
            ("optimizer", self.optimizer in ("sgd", "adam"), "sgd or adam"),
            ("lr", _is_number(self.lr) and self.lr > 0, "a number > 0"),
            ("momentum", _is_number(self.momentum) and 0 <= self.momentum < 1, "in [0, 1)"),
            ("nesterov", isinstance(self.nesterov, bool), "true or false"),
            (
                "weight_decay",
                _is_number(self.weight_decay) and self.weight_decay >= 0,
                "a number >= 0",
            ),
            ("schedule", self.schedule in ("cosine", "constant"), "cosine or constant"),
            ("schedule_unit", self.schedule_unit in ("epoch", "step"), "epoch or step"),
            ("grad_clip", _is_number(self.grad_clip) and self.grad_clip > 0, "a number > 0"),
            ("clip_mode", self.clip_mode in ("norm", "value"), "norm or value"),
            ("augment", self.augment in AUGMENTATIONS, " or ".join(AUGMENTATIONS)),
            ("sampler", isinstance(self.sampler, str) and bool(self.sampler), "a sampler name"),
            ("sampler_options", isinstance(self.sampler_options, Mapping), "a mapping"),
            ("seed", _is_int(self.seed) and self.seed >= 0, "an integer >= 0"),
            ("device", isinstance(self.device, str) and bool(self.device), "a device name"),
        ]
        for name, ok, rule in rules:
            if not ok:
                raise OptionError("train", name, rule, getattr(self, name))
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise OptionError(
                "train", "nesterov", "false unless optimizer is sgd with momentum > 0", True
            )
        if self.splits is not None and self.splits.budget == "per_leaf" and self.steps is not None:
            raise OptionError(
                "train", "splits.budget", "shared with a budget in steps", self.splits.budget
            )
        if self.splits is not None and self.steps is None:
            late = [e for e in self.splits.at_epochs if e >= self.epochs]
            if late:
                raise OptionError(
                    "train", "splits.at_epochs", f"epochs before the last ({self.epochs})", late
                )

    def budget(self, n_train: int) -> int:
        """The budget in optimizer steps for ``n_train`` training examples."""
        return (
            self.steps if self.steps is not None else self.epochs * self.steps_per_epoch(n_train)
        )

    def steps_per_epoch(self, n_train: int) -> int:
        """Optimizer steps of one full epoch."""
        return max(1, -(-n_train // self.batch_size))


#: Keys of ``objective.train`` in a study file: :class:`TrainConfig` fields the study does not
#: set itself, and ``checkpoint_every``.
TRAIN_KEYS = frozenset(f.name for f in fields(TrainConfig)) - {"seed", "device"} | {
    "checkpoint_every"
}


@dataclass(frozen=True)
class EvalConfig:
    """How trials are measured.

    Attributes:
        calibration: training images used to recalibrate batch norm per architecture, ``>= 1``.
        latency_batch: images per timed forward pass, ``>= 1``.
        latency_warmup: untimed passes first, ``>= 0``.
        latency_repeats: timed passes (the median is reported), ``>= 1``.
        latency_device: where latency is measured (the deployment target), e.g. ``cpu``.

    Raises:
        OptionError: a value of the wrong type or out of range.
    """

    calibration: int = 512
    latency_batch: int = 1
    latency_warmup: int = 5
    latency_repeats: int = 30
    latency_device: str = "cpu"

    def __post_init__(self) -> None:
        for name, low in (
            ("calibration", 1),
            ("latency_batch", 1),
            ("latency_warmup", 0),
            ("latency_repeats", 1),
        ):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                raise OptionError("eval", name, f"an integer >= {low}", value)
        if not isinstance(self.latency_device, str) or not self.latency_device:
            raise OptionError("eval", "latency_device", "a device name", self.latency_device)


EVAL_KEYS = frozenset(f.name for f in fields(EvalConfig))
_KEYS = frozenset(
    {"type", "space", "dataset", "root", "split_seed", "device", "train", "eval", "encoding"}
)
ENCODINGS = ("auto", "conditional", "flat")
DATASETS = ("digits", "cifar10")


@dataclass(frozen=True)
class SupernetDefinition:
    """What a NAS study's objective is (module docstring); build it with
    :func:`parse_supernet_definition` or directly.

    Attributes:
        space: the architecture space.
        dataset: ``digits`` or ``cifar10``.
        root: the data set's directory (``cifar10``).
        split_seed: seeds the train / validation / test split.
        device: where the supernet trains and trials are evaluated.
        train: :class:`TrainConfig` fields (``seed`` and ``device`` excluded: the study's seed
            and :attr:`device` are used), as given.
        checkpoint_every: epochs between checkpoints, ``>= 1``.
        eval: how trials are measured.
        encoding: the study's search space: ``conditional``
            (:attr:`ArchSpace.conditional_search_space`: one assignment per network, for
            searchers that take conditional parameters), ``flat`` (:attr:`ArchSpace.search_space`,
            every dimension always present: for all searchers), or ``auto`` (the study file
            picks conditional when its searcher takes it). Trials accept either.

    Raises:
        StudyConfigError: an unknown encoding or data set, or train options that do not make
            a :class:`TrainConfig`.
    """

    #: The ``type`` of this objective in study files and stored definitions.
    type_name = "supernet"

    space: ArchSpace
    dataset: str = "digits"
    root: str | None = None
    split_seed: int = 0
    device: str = "cpu"
    train: Mapping[str, Any] = field(default_factory=dict)
    checkpoint_every: int = 1
    eval: EvalConfig = field(default_factory=EvalConfig)
    encoding: str = "auto"

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise StudyConfigError(
                f"objective.encoding: must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}"
            )
        if self.dataset not in DATASETS:
            raise StudyConfigError(
                f"objective.dataset: must be one of {', '.join(DATASETS)}, got {self.dataset!r}"
            )
        try:
            config = self.train_config(0)
        except (TypeError, ValueError) as e:
            raise StudyConfigError(f"objective.train: {e}") from None
        _check_quant(self.space, config)

    @property
    def search_space(self) -> Any:
        """The study's search space under :attr:`encoding` (``auto`` counts as ``flat``)."""
        if self.encoding == "conditional":
            return self.space.conditional_search_space
        return self.space.search_space

    def train_config(self, seed: int) -> TrainConfig:
        """The :class:`TrainConfig` of a study with seed ``seed``.

        Raises:
            ValueError: the train options do not make one (unknown key, bad value).
        """
        options = {k: v for k, v in self.train.items() if k != "checkpoint_every"}
        return TrainConfig(**options, seed=seed, device=self.device)

    # ------------------------------------------------------------------ stored form

    def definition(self) -> dict[str, Any]:
        """JSON form stored in the study, with its ``type``; :meth:`from_definition` inverts
        it."""
        return {
            "type": self.type_name,
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
    def from_definition(cls, data: Mapping[str, Any], device: str | None = None) -> Any:
        """Rebuild from :meth:`definition` (also the form stored before definitions had a
        ``type``), optionally on another ``device``.

        Raises:
            StudyConfigError: not such a definition.
        """
        try:
            return cls(
                space=ArchSpace.from_dict(data["space"], source="stored objective definition"),
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

    def identity(self, seed: int) -> dict[str, Any]:
        """What the study's trial values depend on: the definition without where things run
        (device, the data set's directory, the latency device), plus the seed."""
        d = self.definition()
        for key in ("type", "device", "root"):
            d.pop(key)
        d["eval"].pop("latency_device")
        d["seed"] = seed
        return d

    def weights_key(self, seed: int) -> str:
        """Names the trained supernet: a hash of everything its weights depend on."""
        d = self.identity(seed)
        for key in ("eval", "checkpoint_every", "encoding"):
            d.pop(key)
        text = json.dumps(d, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def differences(self, stored: Mapping[str, Any], seed: int) -> list[str]:
        """The keys of :meth:`identity` in which a stored definition differs from this one
        (empty: the same objective)."""
        mine = self.identity(seed)
        theirs = type(self).from_definition(stored).identity(seed)
        return sorted(k for k in mine if mine[k] != theirs.get(k))

    def check_objectives(self, objectives: Mapping[str, str], where: str = "objectives") -> None:
        """Refuse objectives that are not metrics (:data:`~nas.supernet.METRICS`) or go the
        wrong way.

        Raises:
            StudyConfigError: the message names the objective and the valid ones.
        """
        from nas.supernet._metrics import METRICS

        for name, direction in objectives.items():
            if name not in METRICS:
                raise StudyConfigError(
                    f"{where}: {name!r} is not a metric of a supernet objective; "
                    f"choose among {', '.join(METRICS.names())}"
                )
            wanted = METRICS.get(name).direction
            if direction != wanted:
                raise StudyConfigError(f"{where}: {name!r} must be {wanted}d, got {direction!r}")

    def check_constraints(self, metrics: Sequence[str], where: str = "constraints") -> None:
        """Refuse constraints on anything but metrics (:data:`~nas.supernet.METRICS`): a trial
        of a supernet study returns its objectives and the metrics its constraints name.

        Raises:
            StudyConfigError: the message names the constraint and the valid metrics.
        """
        from nas.supernet._metrics import METRICS

        for name in metrics:
            if name not in METRICS:
                raise StudyConfigError(
                    f"{where}: {name!r} is not a metric of a supernet objective; "
                    f"choose among {', '.join(METRICS.names())}"
                )


# ---------------------------------------------------------------------------- parsing


def _fail(source: str, key: str, message: str) -> StudyConfigError:
    return StudyConfigError(f"{source}: objective.{key}: {message}")


def _int(value: Any, source: str, key: str, low: int) -> int:
    if not _is_int(value) or value < low:
        raise _fail(source, key, f"must be an integer >= {low}, got {value!r}")
    return int(value)


def _section(
    data: Mapping[str, Any], key: str, allowed: frozenset[str], source: str
) -> dict[str, Any]:
    """The optional sub-mapping ``objective.<key>`` (``{}`` when absent), keys checked."""
    raw = data.get(key) or {}
    if not isinstance(raw, Mapping):
        raise _fail(source, key, f"must be a mapping, got {raw!r}")
    bad = sorted(set(map(str, raw)) - allowed)
    if bad:
        raise _fail(source, f"{key}.{bad[0]}", f"unknown key; valid: {', '.join(sorted(allowed))}")
    return {str(k): v for k, v in raw.items()}


def parse_supernet_definition(
    data: Mapping[str, Any], *, source: str = "<dict>", base_dir: Path | None = None
) -> SupernetDefinition:
    """Validate the ``objective:`` mapping of a NAS study (module docstring); every value is
    checked here, once.

    ``space`` is a path (relative to ``base_dir``, else the current directory) of a YAML file
    with a ``supernet`` key, or that key's mapping inline.

    Raises:
        StudyConfigError: unknown or missing key, or a bad value (the message names
            ``objective.<key>`` and the rule).
        SpaceError: the architecture space is invalid.
    """
    from nas.space import load_space
    from nas.supernet._plugins import PATH_SAMPLERS

    unknown = sorted(set(map(str, data)) - _KEYS)
    if unknown:
        raise _fail(source, unknown[0], f"unknown key; valid keys: {', '.join(sorted(_KEYS))}")
    if data.get("type") != SupernetDefinition.type_name:
        raise _fail(source, "type", f"must be 'supernet', got {data.get('type')!r}")
    if "space" not in data:
        raise _fail(source, "space", "missing (a supernet YAML path or mapping)")
    space = load_space(data["space"], source=source, key="objective.space", base_dir=base_dir)
    if not isinstance(space, ArchSpace):
        raise _fail(source, "space", "must be an architecture space (a `supernet:` mapping)")
    dataset = data.get("dataset", "digits")
    if dataset not in DATASETS:
        raise _fail(source, "dataset", f"must be one of {', '.join(DATASETS)}, got {dataset!r}")
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

    train = _section(data, "train", TRAIN_KEYS, source)
    checkpoint_every = _int(train.get("checkpoint_every", 1), source, "train.checkpoint_every", 1)
    try:
        config = TrainConfig(**{k: v for k, v in train.items() if k != "checkpoint_every"})
    except OptionError as e:
        raise _fail(source, f"train.{e.option}", f"must be {e.rule}, got {e.value!r}") from None
    try:
        PATH_SAMPLERS.get(config.sampler).check_options(space, config.sampler_options)
    except ValueError as e:
        raise _fail(source, "train.sampler", str(e)) from None
    ev = _section(data, "eval", EVAL_KEYS, source)
    try:
        eval_config = EvalConfig(**ev)
    except OptionError as e:
        raise _fail(source, f"eval.{e.option}", f"must be {e.rule}, got {e.value!r}") from None
    encoding = data.get("encoding", "auto")
    if encoding not in ENCODINGS:
        raise _fail(source, "encoding", f"must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    train.pop("checkpoint_every", None)
    return SupernetDefinition(
        space=space,
        dataset=dataset,
        root=root,
        split_seed=split_seed,
        device=device,
        train=train,
        checkpoint_every=checkpoint_every,
        eval=eval_config,
        encoding=encoding,
    )


def _check_quant(space: ArchSpace, config: TrainConfig) -> None:
    """Refuse ``train.quant`` for a space without quantization choices, and a multi-path
    sampler for one with them (quantization trains three settings of one path).

    Raises:
        StudyConfigError: naming the key and the fix.
    """
    from nas.supernet._samplers import create_sampler

    if not space.quant_sites:
        if config.quant is not None:
            raise StudyConfigError(
                "objective.train.quant: the architecture space has no quantization choices; "
                "add `quant:` under `supernet:` or drop train.quant"
            )
        return
    import numpy as np

    sampler = create_sampler(config.sampler, space, 1, **dict(config.sampler_options))
    n = len(sampler.paths(np.random.default_rng(0)))
    if n != 1:
        raise StudyConfigError(
            f"objective.train.sampler: {config.sampler!r} draws {n} paths per step; an "
            "elastically quantized supernet trains three settings of one path: use uniform or pada"
        )
