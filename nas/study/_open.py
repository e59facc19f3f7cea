"""One way into a study: a study file or a study name, plus overrides, to a study ready to run.

``nas run FILE``, ``nas worker FILE|NAME``, ``python -m nas.supernet.train FILE`` and
:func:`~nas.study.create_study_from_config` all go through :func:`open_study` (or its two
halves, :func:`plan_study` then :meth:`StudyPlan.open`):

1. **Plan** -- nothing is written. The study file is read (:mod:`nas.study._config`) and every
   override (storage, n_trials, seed, timeout, device, max_restarts) is validated once
   (:mod:`nas.study._values`; an error names the override as given, ``--timeout`` from the
   command line). The objective is resolved: imported (``package.module:function``), or the
   typed objective of the file moved to ``device`` and checked against this machine
   (``validate()``: the device exists, the data set loads). The searcher is built once, or the
   one built while the file was read is kept, and handed to the study.
2. **Open** -- a new study is created with its run attributes -- :data:`RUN_ATTR` (how to run
   it, so that ``nas worker NAME`` can join it without the file) and the typed objective's
   pinned definition (:data:`~nas.study.OBJECTIVE_ATTR`) -- in the transaction that creates its
   row: no crash leaves a study that ``nas worker NAME`` refuses. An existing study is reopened
   when its definition and pinned objective are the same (else
   :class:`~nas.exceptions.IncompatibleStudyError`, before any write), and its
   :data:`RUN_ATTR` and pinned definition are brought up to date (a definition may differ
   in what its trials do not depend on, e.g. where it runs; ``nas worker NAME`` uses the
   newest).

A study opened by name is read, not written: its objective and total come from its
:data:`RUN_ATTR` (:func:`stored_objective`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas._attrs import RUN_ATTR
from nas.exceptions import NasError, StudyConfigError
from nas.storage import RDBStorage, get_storage
from nas.study._config import StudyConfig, read_study_config, resolve_objective
from nas.study._objectives import (
    OBJECTIVE_ATTR,
    check_pinned,
    objective_from_definition,
    stored_definition,
)
from nas.study._study import (
    DEFAULT_STORAGE,
    Callback,
    Study,
    StudyDefinition,
    load_study,
    open_or_create,
)
from nas.study._values import (
    check_max_restarts,
    check_n_trials,
    check_seed,
    check_storage_url,
    check_timeout,
)

if TYPE_CHECKING:
    from nas.searchers import Searcher

__all__ = [
    "RUN_ATTR",
    "OpenedStudy",
    "StudyPlan",
    "create_study_from_config",
    "open_study",
    "plan_study",
    "stored_objective",
]

# RUN_ATTR (nas._attrs): how the study is run (objective spec -- ``package.module:function``,
# or ``{"type": T}`` for a typed objective whose definition is pinned --, total, timeout and the
# study file), written with the study by :func:`open_study`, so that ``nas worker NAME`` can
# join it without the file.


@dataclass
class OpenedStudy:
    """A study opened by :func:`open_study`, with how to run it.

    Attributes:
        study: the study (it uses the searcher built while it was opened).
        objective: the resolved objective (a function, or a typed objective on ``device``).
        n_trials: the study's total number of trials (``None``: no limit).
        timeout: seconds after which no trial starts (``None``: no limit).
        max_restarts: re-queues of a trial whose worker died before it is marked FAILED.
        plot: the file's ``plot`` (``None``: none, or opened by name).
        source: the study file (``None``: opened by name).
        device: the device override it was opened with (``None``: none).
        created: whether this call created the study.
    """

    study: Study
    objective: Any
    n_trials: int | None
    timeout: float | None
    max_restarts: int = 3
    plot: Path | None = None
    source: Path | None = None
    device: str | None = None
    created: bool = False

    def prepare(self, **hooks: Any) -> None:
        """What the objective needs before the first trial -- e.g. train or load a supernet
        (``objective.prepare(study, **hooks)``); nothing for a plain function."""
        prepare = getattr(self.objective, "prepare", None)
        if callable(prepare):
            prepare(self.study, **hooks)

    def optimize(self, *, callbacks: Sequence[Callback] = ()) -> None:
        """Run trials in this process until the study's total (:meth:`Study.optimize` with the
        values validated when the study was opened).

        Raises:
            KeyboardInterrupt: after the running trial was put back as WAITING.
        """
        self.study._optimize(
            self.objective,
            self.n_trials,
            self.timeout,
            callbacks=callbacks,
            max_restarts=self.max_restarts,
        )


@dataclass(frozen=True)
class StudyPlan:
    """Everything :meth:`open` needs, validated; nothing written yet (:func:`plan_study`).

    Attributes:
        name: the study name.
        storage: where it lives (a URL or a storage).
        objective, n_trials, timeout, max_restarts, plot, source, device: as in
            :class:`OpenedStudy`.
    """

    name: str
    storage: str | RDBStorage
    objective: Any
    n_trials: int | None
    timeout: float | None
    max_restarts: int
    plot: Path | None
    source: Path | None
    device: str | None
    definition: StudyDefinition | None = field(default=None, repr=False)
    searcher: Searcher | None = field(default=None, repr=False)
    run: dict[str, Any] | None = field(default=None, repr=False)
    pinned: Any = field(default=None, repr=False)
    study: Study | None = field(default=None, repr=False)

    def open(self, *, record: bool = True) -> OpenedStudy:
        """Create the study, or reopen it (a study file's), or return the study found by name.

        Args:
            record: write :data:`RUN_ATTR` and pin the typed objective (``False``: only check
                the pinned objective, e.g. on the data-parallel processes that do not write).
                A study created with ``record`` gets both in the transaction that creates it.

        Raises:
            IncompatibleStudyError: it exists with another definition or another pinned
                objective (nothing written).
            StorageError: the database cannot be reached.
        """
        if self.study is not None:  # opened by name: read, not written
            return self._opened(self.study, created=False)
        assert self.definition is not None and self.searcher is not None and self.run
        attrs: dict[str, Any] | None = None
        if record:
            attrs = {RUN_ATTR: self.run}
            if self.pinned is not None:
                attrs[OBJECTIVE_ATTR] = self.pinned.definition()
        study, created = open_or_create(
            get_storage(self.storage),
            self.definition,
            self.searcher,
            load_if_exists=True,
            user_attrs=attrs,
        )
        if not created:
            self._update(study, record)
        return self._opened(study, created=created)

    def _update(self, study: Study, record: bool) -> None:
        """Check an existing study's pinned objective, then bring its attributes up to date."""
        attrs = study.user_attrs
        if self.pinned is not None:
            stored = stored_definition(attrs)
            if stored is not None:
                check_pinned(stored, self.pinned, study_name=study.name, seed=study.seed)
            mine = self.pinned.definition()
            if record and stored != mine:  # compatible: how and where it runs may change
                study.set_user_attr(OBJECTIVE_ATTR, mine)
        if record and attrs.get(RUN_ATTR) != self.run:
            study.set_user_attr(RUN_ATTR, self.run)

    def _opened(self, study: Study, *, created: bool) -> OpenedStudy:
        return OpenedStudy(
            study=study,
            objective=self.objective,
            n_trials=self.n_trials,
            timeout=self.timeout,
            max_restarts=self.max_restarts,
            plot=self.plot,
            source=self.source,
            device=self.device,
            created=created,
        )


def open_study(
    target: str | Path | StudyConfig,
    *,
    storage: str | RDBStorage | None = None,
    n_trials: int | None = None,
    seed: int | None = None,
    timeout: float | None = None,
    device: str | None = None,
    max_restarts: int = 3,
    record: bool = True,
    flags: bool = False,
) -> OpenedStudy:
    """The one way into a study: validate everything, then create or reopen it.

    ``plan_study(...).open(record=record)``; see :func:`plan_study` for the arguments.

    Example:
        >>> opened = nas.study.open_study("studies/branin.yaml", n_trials=20)  # doctest: +SKIP
        >>> opened.optimize()  # doctest: +SKIP

    Raises:
        StudyConfigError, SpaceError, UnknownSearcherError, SearcherConfigError: a bad file or
            override (nothing written).
        StudyNotFoundError: opened by name, and no such study.
        IncompatibleStudyError: the study exists with another definition (nothing written).
        NasError: the objective cannot run here (e.g. ``DeviceError``, ``DatasetError``).
    """
    plan = plan_study(
        target,
        storage=storage,
        n_trials=n_trials,
        seed=seed,
        timeout=timeout,
        device=device,
        max_restarts=max_restarts,
        flags=flags,
    )
    return plan.open(record=record)


def plan_study(
    target: str | Path | StudyConfig,
    *,
    storage: str | RDBStorage | None = None,
    n_trials: int | None = None,
    seed: int | None = None,
    timeout: float | None = None,
    device: str | None = None,
    max_restarts: int = 3,
    flags: bool = False,
) -> StudyPlan:
    """Validate a study file (or find a study by name) and the overrides; write nothing.

    The first half of :func:`open_study`, for callers that must check everything on every
    process before a collective step (the torchrun entry opens the plan on rank 0 first).

    Args:
        target: a study file -- a :class:`~pathlib.Path`, or a string that ends in ``.yaml``
            / ``.yml`` or names an existing file --, a loaded :class:`StudyConfig`, or else the
            name of a study started from a file (its objective and total are read from
            :data:`RUN_ATTR`).
        storage: database URL or storage; default: the file's ``storage``, else
            :data:`~nas.study.DEFAULT_STORAGE`.
        n_trials: the study's total (overrides the file's or the stored one; ``0`` creates
            the study and runs nothing).
        seed: the study seed (overrides the file's; a study opened by name keeps its own).
        timeout: seconds after which no trial starts (overrides the file's or the stored one).
        device: where a typed objective trains and evaluates (overrides ``objective.device``);
            refused for a plain function.
        max_restarts: re-queues of a trial whose worker died before it is marked FAILED.
        flags: name overrides in errors as command-line flags (``--timeout``), else as the
            keyword arguments (``timeout``).

    Raises:
        StudyConfigError: a bad file, override or stored run attribute; each one line naming
            the value and the rule.
        SpaceError, UnknownSearcherError, SearcherConfigError: a bad space or searcher.
        StudyNotFoundError: by name, and no such study.
        NasError: the objective cannot run here (``validate()``: device, data set).
    """

    def label(key: str) -> str:
        return "--" + key.replace("_", "-") if flags else key

    n_trials = check_n_trials(n_trials, label("n_trials"))
    timeout = check_timeout(timeout, label("timeout"))
    max_restarts = check_max_restarts(max_restarts, label("max_restarts"))
    seed = None if seed is None else check_seed(seed, label("seed"))
    if not isinstance(storage, RDBStorage):
        storage = check_storage_url(storage, label("storage"))
    if device is not None and (not isinstance(device, str) or not device.strip()):
        raise StudyConfigError(
            f"{label('device')}: must be a device such as cpu, cuda or cuda:1, got {device!r}"
        )
    options = _Overrides(storage, n_trials, seed, timeout, device, max_restarts, label)
    if isinstance(target, StudyConfig):
        return _plan_config(target, None, options)
    if isinstance(target, Path) or _is_file(target):
        path = Path(target)
        return _plan_config(read_study_config(path, searcher_seed=seed), path, options)
    if not isinstance(target, str) or not target:
        raise StudyConfigError(
            f"a study file or a study name is needed, got {type(target).__name__} {target!r}"
        )
    return _plan_name(target, options)


def create_study_from_config(
    cfg: StudyConfig,
    *,
    storage: str | RDBStorage | None = None,
    seed: int | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    record: bool = True,
) -> Study:
    """Create (or reopen) the study a validated study file defines, through
    :func:`open_study` (its objective is resolved and checked first).

    Args:
        cfg: from :func:`~nas.study.load_study_config`.
        storage: overrides ``cfg.storage`` (else :data:`~nas.study.DEFAULT_STORAGE`).
        seed / n_trials / timeout: override the file's values.
        record: write :data:`RUN_ATTR` and pin a typed objective, with the study when it is
            created.

    Raises:
        IncompatibleStudyError: the study exists with another definition or another typed
            objective (and the errors of :func:`open_study`).
    """
    opened = open_study(
        cfg, storage=storage, seed=seed, n_trials=n_trials, timeout=timeout, record=record
    )
    return opened.study


def stored_objective(study: Study, device: str | None = None) -> Any:
    """The objective :func:`open_study` recorded for ``study`` (:data:`RUN_ATTR`): the typed
    objective rebuilt from its pinned definition (on ``device`` if given), or the function
    imported again (relative to the study file's folder, then the current directory).

    Raises:
        StudyConfigError: the study was not opened from a file (created with
            :func:`~nas.create_study`), its typed objective is not pinned, or the function
            cannot be imported; ``device`` given for a function.
    """
    return _stored_objective(study, _stored_run(study), device, lambda key: key)


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Overrides:
    """The validated overrides of one :func:`plan_study` call, and how errors name them."""

    storage: str | RDBStorage | None
    n_trials: int | None
    seed: int | None
    timeout: float | None
    device: str | None
    max_restarts: int
    label: Callable[[str], str]  # key -> the override's name in messages


def _is_file(target: Any) -> bool:
    return isinstance(target, str) and (
        target.endswith((".yaml", ".yml")) or Path(target).is_file()
    )


def _plan_config(cfg: StudyConfig, path: Path | None, o: _Overrides) -> StudyPlan:
    seed = cfg.seed if o.seed is None else o.seed
    typed = not isinstance(cfg.objective, str)
    objective = _checked(
        _with_device(resolve_objective(cfg.objective, cfg.base_dir), o.device, o.label),
        o.device,
        o.label,
    )
    definition = StudyDefinition(
        cfg.name,
        cfg.space,
        cfg.objectives,
        cfg.searcher,
        cfg.searcher_options,
        seed,
        cfg.constraints,
        cfg.pruner,
    )
    searcher = cfg.searcher_instance
    if searcher is None or cfg.searcher_seed != seed:
        searcher = definition.build_searcher()
    total = cfg.n_trials if o.n_trials is None else o.n_trials
    limit = cfg.timeout if o.timeout is None else o.timeout
    file = Path(cfg.source)
    spec: Any = cfg.objective
    if typed:
        spec = {"type": cfg.objective.definition()["type"]}  # type: ignore[union-attr]
    run = {
        "objective": spec,
        # ``--n-trials 0`` creates the study and runs nothing here: the total it keeps for
        # `nas worker NAME` and `nas ask` is the file's.
        "n_trials": cfg.n_trials if o.n_trials == 0 else total,
        "timeout": limit,
        "file": str(file.resolve()) if file.is_file() else cfg.source,
    }
    return StudyPlan(
        name=cfg.name,
        storage=o.storage or cfg.storage or DEFAULT_STORAGE,
        objective=objective,
        n_trials=total,
        timeout=limit,
        max_restarts=o.max_restarts,
        plot=cfg.plot,
        source=path if path is not None else (file if file.is_file() else None),
        device=o.device,
        definition=definition,
        searcher=searcher,
        run=run,
        pinned=cfg.objective if typed else None,
    )


def _plan_name(name: str, o: _Overrides) -> StudyPlan:
    study = load_study(name, o.storage or DEFAULT_STORAGE)
    if o.seed is not None:
        raise StudyConfigError(
            f"{o.label('seed')}: study {name!r} keeps its seed ({study.seed}); leave it out "
            "when joining a study by name"
        )
    run = _stored_run(study)
    objective = _checked(_stored_objective(study, run, o.device, o.label), o.device, o.label)
    total = run.get("n_trials") if o.n_trials is None else o.n_trials
    limit = run.get("timeout") if o.timeout is None else o.timeout
    return StudyPlan(
        name=name,
        storage=study.storage,
        objective=objective,
        n_trials=total,  # stored by open_study, validated then
        timeout=limit,
        max_restarts=o.max_restarts,
        plot=None,
        source=None,
        device=o.device,
        study=study,
    )


def _stored_run(study: Study) -> Mapping[str, Any]:
    how = study.user_attrs.get(RUN_ATTR)
    if not isinstance(how, Mapping):
        raise StudyConfigError(
            f"study {study.name!r} was not started by `nas run FILE` or `nas worker FILE`, so "
            "its objective is unknown here; pass the study file instead of the name"
        )
    return how


def _stored_objective(
    study: Study, run: Mapping[str, Any], device: str | None, label: Callable[[str], str]
) -> Any:
    spec = run.get("objective")
    if isinstance(spec, Mapping) or spec == "supernet":  # a typed one ("supernet": earlier)
        definition = stored_definition(study.user_attrs)
        if definition is None:
            raise StudyConfigError(
                f"study {study.name!r}: its objective is not defined yet; start it with its file"
            )
        return objective_from_definition(definition, device=device)
    if not isinstance(spec, str):
        raise StudyConfigError(
            f"study {study.name!r}: {RUN_ATTR}.objective is {spec!r}, not an objective; "
            "start it with its file"
        )
    source = Path(str(run.get("file", "")))
    objective = resolve_objective(spec, source.parent if source.name else None)
    return _with_device(objective, device, label)


def _with_device(objective: Any, device: str | None, label: Callable[[str], str]) -> Any:
    if device is None:
        return objective
    with_device = getattr(objective, "with_device", None)
    if not callable(with_device):
        raise StudyConfigError(
            f"{label('device')} {device}: only a supernet objective (objective: {{type: "
            "supernet}) or another typed objective with a device has one; set it inside your "
            "objective function instead"
        )
    return with_device(device)


def _checked(objective: Any, device: str | None, label: Callable[[str], str]) -> Any:
    """``objective`` after its machine checks (``validate()``: device, data set), if any.

    An error about the device names the override when ``device`` was given."""
    validate = getattr(objective, "validate", None)
    if not callable(validate):
        return objective
    try:
        validate()
    except NasError as e:
        prefix = "objective.device:"
        if device is None or not str(e).startswith(prefix):
            raise
        raise type(e)(f"{label('device')}:{str(e).removeprefix(prefix)}") from None
    return objective
