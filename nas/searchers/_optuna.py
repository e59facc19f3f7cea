"""Optuna adapter: any Optuna sampler, driven through ask/tell on a study rebuilt from the history.

Optuna users keep their sampler (TPE, CMA-ES, GP, NSGA-II, QMC, ...) and get the platform's SQL
persistence, exact resume and parallel workers. The adapter is stateless like every searcher: each
call gives the sampler an in-memory Optuna study holding exactly the history, then asks it for
proposals. Optuna is an optional dependency (``pip install 'nas[optuna]'``); it is imported only
when an ``optuna`` searcher is built.

How the history becomes an Optuna study (one Optuna trial per history trial, in history order, so
the ``k``-th trial has Optuna number and trial id ``k``):

* directions come from the objectives;
* distributions from the space: ``float`` -> ``FloatDistribution(low, high, log)``, ``int`` ->
  ``IntDistribution(low, high, log, step)``, ``categorical`` -> ``CategoricalDistribution`` over
  the choices (over the choice *indices* when Optuna's ``==``-based lookup cannot tell two
  choices apart, e.g. ``1`` and ``True``); ``fixed`` parameters are **not** given to Optuna
  (nothing to sample; they are added to every proposal, and conditions on them are evaluated
  on our side);
* COMPLETE trials (with a finite value per objective) become COMPLETE with their values; FAILED
  ones FAIL; PRUNED ones PRUNED, with their intermediate values and, as ``study.tell`` does, the
  last intermediate value as value (one objective only: Optuna has no intermediate values for
  several); WAITING and RUNNING trials become RUNNING, so samplers that handle pending trials
  (TPE's ``constant_liar``) see them. A COMPLETE trial without a finite value for every
  objective, or whose params do not validate against the space, becomes FAIL (the latter
  without params);
* what the sampler stored on a trial while proposing it (``trial.system_attrs``: CMA-ES's
  optimizer state, NSGA-II's generation, TPE's relative params) and what it changed in the
  study's system attributes (QMC's sample counter, NSGA-II's parent cache) travel in the
  proposal's ``info`` (keys ``optuna_trial_attrs`` and ``optuna_study_attrs``, JSON) and are
  restored on every rebuild, in history order. This is what lets stateful samplers progress
  across calls, processes and crashes exactly as in a long-lived Optuna study.

Constraints: in a constrained study a COMPLETE trial's stored signed constraint values become
the Optuna trial's ``constraints`` system attribute (where ``after_trial`` would store a
``constraints_func``'s values), and a sampler that takes ``constraints_func`` (TPE, NSGA-II,
NSGA-III, GP) gets one that reads them back (:func:`stored_constraints`); Optuna's constraint
handling then applies unchanged. Samplers without it (random, CMA-ES, QMC, grid) ignore the
constraints. A pending trial that finishes in a constrained study changes its attributes, so
the cached study is rebuilt on that call.

Each proposal is ``study.ask()`` followed by ``trial.suggest_*`` for every active parameter of
the space in topological order ("define-by-run": a conditional parameter is suggested only when
the values drawn so far activate it). The asked trial stays RUNNING, so the next ask of the same
call sees it as pending. A proposal that repeats the params of a trial of the history (any
state) or of an earlier proposal of the call is marked FAIL in the in-memory study and the
sampler is asked again, at most ``max_retries`` times; then a non-repeating random draw is used
(at most ``max_retries`` draws), and as a last resort the repeat is accepted (the space is
exhausted).

Seeds: the sampler is built afresh on every call with ``seed = sampler_seed(history)``, derived
from the study seed *and* the history length (a constant seed would replay the same random stream
on every call). ``QMCSampler`` is the exception: its seed fixes the scrambled sequence, which must
stay the same for the whole study, so it gets a seed derived from the study seed only and a
``RandomSampler(seed=sampler_seed(history))`` as its independent sampler. State a sampler keeps
inside the Python object between asks of a long-lived study (e.g. ``GPSampler``'s warm start of
its kernel hyperparameters) is therefore not carried from one call to the next; everything it
stores in the study is.

Cost: a rebuild copies every trial into Optuna, ``O(n)`` per call (measured with multivariate
TPE on Hartmann6, 2 shared cores: 23 / 65 / 165 ms per proposal at 100 / 500 / 1000 trials,
against 2 / 9 / 8-20 ms for a plain Optuna ask). An instance therefore keeps the study it built
and, on the next call, checks the history against it by object identity (as
:mod:`nas.searchers._memo` does) and by content where an object changed, updates in place the
pending trials that finished, appends the new ones, and rebuilds from scratch whenever the
cached study is not exactly what a rebuild would give (a changed or removed trial, a proposal
that did not make it into the history, a rejected repeat): 3 / 7 / 13 ms per proposal at
100 / 500 / 1000 trials. A fresh instance and a long-lived one propose exactly the same. What
remains above plain Optuna is mostly the sampler's own per-study caches (TPE's intersection
search space), recomputed because the sampler is new on every call.

Known limits: Optuna's logging verbosity is process-wide, so calls of every ``optuna`` searcher
in a process are serialised by one lock while they silence it. ``CmaEsSampler`` stores its
optimizer as a pickle that includes a buffer ``cmaes`` allocates with ``np.empty``: the unused
bytes of that buffer differ from run to run, so the ``info`` of its proposals is not
byte-identical across processes, while the proposed params are.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import json
import math
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import compress
from operator import is_not
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import SearcherConfigError, SpaceError
from nas.searchers._base import Searcher
from nas.searchers._memo import HistoryMemo, SeenKeys
from nas.searchers._operators import check_int_option, rank_vector, sample_unique
from nas.searchers._registry import register_searcher
from nas.space import CategoricalParam, FixedParam, FloatParam, IntParam, Param, Scalar

if TYPE_CHECKING:
    from nas.space import SearchSpace

__all__ = ["OptunaSearcher"]

#: ``Proposal.info`` key of the system attributes the sampler set on the proposed trial.
INFO_TRIAL_ATTRS = "optuna_trial_attrs"
#: ``Proposal.info`` key of the study system attributes the sampler changed while proposing.
INFO_STUDY_ATTRS = "optuna_study_attrs"

_MISSING_OPTUNA = "the optuna searcher needs Optuna: pip install 'nas[optuna]'"

#: ``rng`` streams: the sampler seed, the random fallback, QMC's study-wide scrambling seed.
_SEED_STREAM = 0
_FALLBACK_STREAM = 1
_SEQUENCE_STREAM = 2
_SEED_HIGH = 2**31 - 1

#: Samplers of ``optuna.samplers`` this adapter cannot drive, with the reason.
_UNSUPPORTED = {
    "PartialFixedSampler": "it wraps another sampler object, which options given as JSON cannot "
    "express (use a fixed parameter of the space instead)",
}
#: Samplers that optimize a single objective only.
_SINGLE_OBJECTIVE = frozenset({"CmaEsSampler"})
#: Samplers whose seed defines a deterministic sequence that must stay fixed for the study.
_SEQUENCE_SEEDED = frozenset({"QMCSampler"})
#: Modules a sampler imports lazily (at its first sample), checked when the searcher is built.
_SAMPLER_MODULES = {"CmaEsSampler": "cmaes", "GPSampler": "torch", "QMCSampler": "scipy"}
#: Markers of constructor annotations that JSON cannot express (callables, objects, arrays).
_NON_JSON_MARKERS = ("Callable", "Sampler", "Mutation", "Crossover", "FrozenTrial", "ndarray")

_QUIET_LOCK = threading.RLock()


def _import_optuna() -> ModuleType:
    """The ``optuna`` module.

    Raises:
        SearcherConfigError: Optuna is not installed.
    """
    try:
        import optuna
    except ImportError as e:
        raise SearcherConfigError(_MISSING_OPTUNA) from e
    return optuna


@contextmanager
def _quiet(optuna: ModuleType) -> Iterator[None]:
    """Silence Optuna's logging and its experimental/future warnings inside the block.

    ``optuna.logging.set_verbosity`` is process-wide: the previous verbosity is restored on exit,
    and a lock keeps two threads from interleaving their save/restore (which would leave Optuna
    silenced). ``warnings.catch_warnings`` restores the warning filters the same way.
    """
    with _QUIET_LOCK:
        previous = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # Deprecated sampler options warn once, when the searcher is built (not here).
                warnings.simplefilter("ignore", FutureWarning)
                yield
        finally:
            optuna.logging.set_verbosity(previous)


# --------------------------------------------------------------------------- JSON helpers


def _is_json_value(value: object) -> bool:
    """Whether ``value`` is plain JSON: None, bool, int, finite float, str, list, dict by str."""
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_value(v) for k, v in value.items())
    return False


def _normalized(value: Any) -> Any:
    """``value`` after a strict JSON round trip (tuples become lists).

    Raises:
        ValueError: NaN or infinity inside ``value``.
        TypeError: ``value`` holds something JSON cannot express.
    """
    return json.loads(json.dumps(value, allow_nan=False))


def _exact(value: Any) -> str:
    """Exact, type-aware text of a JSON-like value (``1``, ``1.0`` and ``true`` differ; floats
    are written with ``repr``, so two floats give the same text iff they are the same float)."""
    return json.dumps(value, sort_keys=True, allow_nan=True, default=repr)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class _Codec:
    """How one searchable parameter of the space is presented to Optuna.

    Attributes:
        param: the parameter (float, int or categorical).
        distribution: the Optuna distribution every trial uses for it.
        choices: for a categorical parameter, the Optuna choices (the choices themselves, or
            their indices when Optuna could not tell two of them apart); else empty.
        by_index: whether ``choices`` are indices.
    """

    param: Param
    distribution: Any
    choices: tuple[Any, ...] = ()
    by_index: bool = False

    def to_optuna(self, value: Scalar) -> Any:
        """Our (validated) value -> Optuna's external representation."""
        if isinstance(self.param, CategoricalParam):
            return self.choices[self.param.index(value)]
        return value

    def from_optuna(self, value: Any) -> Scalar:
        """Optuna's value -> ours (not yet validated)."""
        if isinstance(self.param, CategoricalParam):
            index = self.choices.index(value) if self.by_index else self.param.index(value)
            return self.param.choices[index]
        return value  # type: ignore[no-any-return]

    def suggest(self, trial: Any) -> Any:
        """Ask ``trial`` (an ``optuna.Trial``) for a value; Optuna's representation."""
        p = self.param
        if isinstance(p, FloatParam):
            return trial.suggest_float(p.name, p.low, p.high, log=p.log)
        if isinstance(p, IntParam):
            return trial.suggest_int(p.name, p.low, p.high, step=p.step, log=p.log)
        return trial.suggest_categorical(p.name, list(self.choices))


def _codec(optuna: ModuleType, param: Param) -> _Codec | None:
    """The codec of ``param``; ``None`` for a fixed parameter (never given to Optuna)."""
    dists = optuna.distributions
    if isinstance(param, FloatParam):
        return _Codec(param, dists.FloatDistribution(param.low, param.high, log=param.log))
    if isinstance(param, IntParam):
        dist = dists.IntDistribution(param.low, param.high, log=param.log, step=param.step)
        return _Codec(param, dist)
    if isinstance(param, CategoricalParam):
        real = dists.CategoricalDistribution(list(param.choices))
        # Optuna finds a choice with list.index (==), so 1 and True, or 0 and False, collide.
        if [real.to_internal_repr(c) for c in param.choices] == list(range(len(param.choices))):
            return _Codec(param, real, tuple(param.choices), by_index=False)
        indices = tuple(range(len(param.choices)))
        return _Codec(param, dists.CategoricalDistribution(list(indices)), indices, by_index=True)
    if isinstance(param, FixedParam):
        return None
    raise SearcherConfigError(  # a new parameter kind nobody taught the adapter
        f"optuna: parameter {param.name!r} has kind {param.kind!r}, which the adapter cannot map "
        f"to an Optuna distribution"
    )


# --------------------------------------------------------------------------- history entries


@dataclass(frozen=True, eq=False)
class _Entry:
    """How one history trial is given to Optuna, with an exact identity.

    ``static`` is the exact text of what can never change on an Optuna trial once created
    (params, system attributes, and the study attributes replayed after it); ``state`` and
    ``outcome`` (the exact text of values and intermediate values) may change on a RUNNING
    Optuna trial through the storage API. Two entries with the same :attr:`key` produce
    identical Optuna trials.
    """

    state: str  # an optuna TrialState member name
    params: dict[str, Any]
    distributions: dict[str, Any]
    values: list[float] | None
    intermediate: dict[int, float]
    trial_attrs: dict[str, Any]
    study_attrs: dict[str, Any]
    static: str
    outcome: str

    @property
    def key(self) -> tuple[str, str, str]:
        """The exact identity ``(state, static, outcome)``."""
        return (self.state, self.static, self.outcome)


def _attrs_of(trial: FrozenTrial, key: str) -> dict[str, Any]:
    """``trial.system_attrs[key]`` when it is a str-keyed dict, else ``{}``."""
    attrs = trial.system_attrs.get(key)
    if isinstance(attrs, dict) and all(isinstance(k, str) for k in attrs):
        return attrs
    return {}


#: Optuna's trial system attribute holding a ``constraints_func``'s values.
_OPTUNA_CONSTRAINTS_KEY = "constraints"


def stored_constraints(trial: Any) -> list[float]:
    """The ``constraints_func`` given to a constrained Optuna sampler: the signed constraint
    values stored with the nas trial (mirrored as Optuna's ``constraints`` attribute); nas
    evaluated them when the trial finished, so the sampler never evaluates anything itself."""
    return list(trial.system_attrs.get(_OPTUNA_CONSTRAINTS_KEY, ()))


# --------------------------------------------------------------------------- the cached study


class _Rebuilt:
    """An in-memory Optuna study that mirrors a history, and what each of its trials mirrors.

    Attributes:
        storage: the study's ``InMemoryStorage`` (owned: nothing else writes to it).
        study: the ``optuna.Study``.
        study_id: its id in ``storage``.
        sources: per Optuna trial, the history trial object it was built from (``None`` for a
            trial asked during a call: it is compared by content when it comes back).
        entries: per Optuna trial, the :class:`_Entry` it is identical to, or ``None`` when no
            history trial can reproduce it (a rejected repeat, an attribute JSON cannot carry):
            the cache is then rebuilt at the next call.
    """

    def __init__(self, optuna: ModuleType, directions: Sequence[str], sampler: Any) -> None:
        self.storage = optuna.storages.InMemoryStorage()
        self.study = optuna.create_study(
            storage=self.storage, directions=list(directions), sampler=sampler
        )
        self.study_id: int = self.storage.get_study_id_from_name(self.study.study_name)
        self.sources: list[FrozenTrial | None] = []
        self.entries: list[_Entry | None] = []

    def __len__(self) -> int:
        return len(self.entries)

    def trial_id(self, position: int) -> int:
        """Storage id of the Optuna trial at ``position`` (== its number)."""
        return int(self.storage.get_trial_id_from_study_id_trial_number(self.study_id, position))

    def append(self, optuna: ModuleType, entry: _Entry, source: FrozenTrial | None) -> None:
        """Add the Optuna trial of ``entry`` and replay its study attributes."""
        frozen = optuna.trial.create_trial(
            state=getattr(optuna.trial.TrialState, entry.state),
            values=entry.values,
            params=entry.params,
            distributions=entry.distributions,
            intermediate_values=entry.intermediate,
            system_attrs=entry.trial_attrs,
        )
        self.storage.create_new_trial(self.study_id, template_trial=frozen)  # deep-copies
        for key, value in entry.study_attrs.items():
            self.storage.set_study_system_attr(self.study_id, key, copy.deepcopy(value))
        self.sources.append(source)
        self.entries.append(entry)

    def update(self, optuna: ModuleType, position: int, entry: _Entry) -> bool:
        """Bring the RUNNING Optuna trial at ``position`` to ``entry`` in place, if possible.

        Returns:
            ``False`` (nothing changed) when the trial is not RUNNING, ``entry`` differs in
            what cannot change (params, attributes), or drops an intermediate step.
        """
        old = self.entries[position]
        if old is None or old.state != "RUNNING" or old.static != entry.static:
            return False
        if not set(old.intermediate) <= set(entry.intermediate):
            return False
        trial_id = self.trial_id(position)
        for step, value in entry.intermediate.items():
            if step not in old.intermediate or _exact(old.intermediate[step]) != _exact(value):
                self.storage.set_trial_intermediate_value(trial_id, step, value)
        if entry.state != "RUNNING":
            state = getattr(optuna.trial.TrialState, entry.state)
            self.storage.set_trial_state_values(trial_id, state, entry.values)
        self.entries[position] = entry
        return True


# --------------------------------------------------------------------------- the searcher


@register_searcher("optuna")
class OptunaSearcher(Searcher):
    """Any sampler of ``optuna.samplers``, driven through ask/tell (see the module docstring).

    Args:
        space: the search space (every kind and conditions are supported; ``BruteForceSampler``
            refuses float parameters, ``GridSampler`` needs a grid over every non-fixed one).
        objectives: any number for most samplers; ``CmaEsSampler`` takes exactly one.
        seed: the study seed (the sampler's seed is derived from it, see :meth:`sampler_seed`).
        sampler: name of a sampler class in ``optuna.samplers``: ``"TPESampler"`` (default),
            ``"CmaEsSampler"``, ``"GPSampler"``, ``"NSGAIISampler"``, ``"NSGAIIISampler"``,
            ``"QMCSampler"``, ``"RandomSampler"``, ``"GridSampler"``, ``"BruteForceSampler"``.
        sampler_options: keyword arguments of that sampler, JSON values only (e.g.
            ``{"multivariate": true, "n_startup_trials": 10}``); not ``seed`` (the study seed
            is used), nor arguments that take callables or objects (``gamma``,
            ``constraints_func``, ``independent_sampler``, ``mutation``, ...).
        max_retries: times the sampler is asked again when it proposes the params of an
            existing trial (any state) or of an earlier proposal of the call, ``>= 0`` (default
            10); then up to as many random draws are tried before a repeat is accepted.

    Raises:
        SearcherConfigError: Optuna is not installed; an unknown or unsupported sampler (the
            message lists the valid names); an option that is not JSON, unknown to the sampler,
            ``seed``, not expressible in JSON, or rejected by the sampler's constructor (each
            named); a required option missing; more objectives than the sampler handles; a
            space the sampler cannot handle.
    """

    max_objectives: ClassVar[int | None] = None
    #: PRUNED trials reach the sampler PRUNED with their last value (TPE weighs them).
    pruned_as_failed: ClassVar[bool] = False

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        sampler: str = "TPESampler",
        sampler_options: Mapping[str, Any] | None = None,
        max_retries: int = 10,
    ) -> None:
        super().__init__(space, objectives, seed)
        optuna = _import_optuna()
        self.sampler_name = _check_sampler_name(optuna, sampler)
        self._sampler_cls = getattr(optuna.samplers, self.sampler_name)
        self._takes_constraints = (
            "constraints_func" in inspect.signature(self._sampler_cls).parameters
        )
        module = _SAMPLER_MODULES.get(self.sampler_name)
        if module is not None and importlib.util.find_spec(module) is None:
            raise SearcherConfigError(
                f"optuna: {self.sampler_name} needs the {module!r} package, which is not "
                f"installed: pip install {module}"
            )
        self.sampler_options = _check_sampler_options(
            self._sampler_cls, self.sampler_name, sampler_options
        )
        self.max_retries = check_int_option("optuna", "max_retries", max_retries, 0)
        if self.sampler_name in _SINGLE_OBJECTIVE and len(self.objectives) != 1:
            raise SearcherConfigError(
                f"optuna: {self.sampler_name} optimizes exactly 1 objective, got "
                f"{len(self.objectives)} ({', '.join(o.name for o in self.objectives)}); use "
                f"TPESampler, GPSampler or NSGAIISampler for several objectives"
            )
        codecs = [(p, _codec(optuna, p)) for p in space.params]
        self._codecs: tuple[tuple[Param, _Codec | None], ...] = tuple(codecs)
        self._by_name = {p.name: c for p, c in codecs if c is not None}
        self._check_space()
        # Build the sampler once now, so that bad option values fail here, not mid-study.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self._make_sampler(optuna, ())
        except (TypeError, ValueError) as e:
            raise SearcherConfigError(
                f"optuna: {self.sampler_name} rejected sampler_options "
                f"{json.dumps(self.sampler_options, sort_keys=True)}: {e}"
            ) from e
        self._directions = [o.direction for o in self.objectives]
        self._lock = threading.RLock()
        self._memo = HistoryMemo(self.objectives, self.space.key)
        self._cache: _Rebuilt | None = None

    # Pickling and deep copies drop the cached study (rebuilt on the next call) and the lock.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock")
        state["_cache"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return (
            f"OptunaSearcher(sampler={self.sampler_name!r}, "
            f"sampler_options={self.sampler_options!r}, seed={self.seed})"
        )

    # ---- construction helpers ---------------------------------------------------------------

    def _check_space(self) -> None:
        """Refuse spaces the chosen sampler cannot handle (with the reason)."""
        if self.sampler_name == "BruteForceSampler":
            floats = [p.name for p in self.space.params if isinstance(p, FloatParam)]
            if floats:
                raise SearcherConfigError(
                    f"optuna: BruteForceSampler enumerates finite spaces, but float parameter(s) "
                    f"{', '.join(floats)} are continuous; use int or categorical parameters"
                )
        if self.sampler_name == "GridSampler":
            grid = self.sampler_options.get("search_space")
            if not isinstance(grid, dict):
                raise SearcherConfigError(
                    f"optuna: GridSampler needs sampler_options.search_space, a mapping from "
                    f"parameter name to a list of values, got {grid!r}"
                )
            wanted = [n for n in self.space.names if n in self._by_name]
            missing = [n for n in wanted if n not in grid]
            unknown = [n for n in grid if n not in self._by_name]
            if missing or unknown:
                raise SearcherConfigError(
                    f"optuna: GridSampler's search_space must list exactly the non-fixed "
                    f"parameters of the space ({', '.join(wanted)}); missing: {missing}, "
                    f"unknown or fixed: {unknown}"
                )
            for name, values in grid.items():
                param = self.space[name]
                if (
                    not isinstance(values, list)
                    or not values
                    or not all(param.contains(v) for v in values)
                ):
                    raise SearcherConfigError(
                        f"optuna: GridSampler's search_space.{name} must be a non-empty list of "
                        f"values in {param.describe_domain()}, got {values!r}"
                    )

    def sampler_seed(self, trials: Sequence[FrozenTrial]) -> int:
        """The seed the sampler is built with for a call on ``trials``.

        ``int(self.rng(trials, 0).integers(0, 2**31 - 1))``: a function of the study seed and
        the history length only (for ``QMCSampler`` this seeds its independent sampler; its own
        seed is :meth:`sequence_seed`).
        """
        return int(self.rng(trials, _SEED_STREAM).integers(0, _SEED_HIGH))

    def sequence_seed(self) -> int:
        """The study-wide seed of samplers whose seed fixes a sequence (``QMCSampler``).

        ``int(self.rng((), 2).integers(0, 2**31 - 1))``: a function of the study seed only.
        """
        return int(self.rng((), _SEQUENCE_STREAM).integers(0, _SEED_HIGH))

    def _make_sampler(self, optuna: ModuleType, trials: Sequence[FrozenTrial]) -> Any:
        """A new sampler for a call on ``trials`` (see the module docstring for seeds)."""
        kwargs = copy.deepcopy(self.sampler_options)
        seed = self.sampler_seed(trials)
        if self.sampler_name in _SEQUENCE_SEEDED:
            kwargs["independent_sampler"] = optuna.samplers.RandomSampler(seed=seed)
            seed = self.sequence_seed()
        if self._takes_constraints and any(t.constraint_values for t in trials):
            kwargs["constraints_func"] = stored_constraints
        if self.sampler_name == "GridSampler":
            kwargs["search_space"] = {
                name: [
                    self._by_name[name].to_optuna(self.space[name].validate_value(v))
                    for v in values
                ]
                for name, values in kwargs["search_space"].items()
            }
        return self._sampler_cls(seed=seed, **kwargs)

    # ---- history -> Optuna ------------------------------------------------------------------

    def _entry(self, trial: FrozenTrial) -> _Entry:
        """The :class:`_Entry` of a history trial (see the module docstring for the mapping)."""
        trial_attrs = _attrs_of(trial, INFO_TRIAL_ATTRS)
        study_attrs = _attrs_of(trial, INFO_STUDY_ATTRS)
        try:
            ours = self.space.validate(trial.params)
        except (SpaceError, TypeError):
            ours = None
        params: dict[str, Any] = {}
        if ours is not None:
            for name, value in ours.items():
                codec = self._by_name.get(name)
                if codec is not None:
                    params[name] = codec.to_optuna(value)
        values: list[float] | None = None
        intermediate: dict[int, float] = {}
        if len(self.objectives) == 1:
            reported = trial.intermediate_values.get(self.objectives[0].name, {})
            intermediate = {int(s): float(v) for s, v in sorted(reported.items())}
        if ours is None:
            state, params, intermediate, trial_attrs = "FAIL", {}, {}, {}
        elif trial.state == TrialState.COMPLETE:
            row = rank_vector(trial, self.objectives)
            if row is None:
                state = "FAIL"
            else:
                state = "COMPLETE"
                values = [float(trial.values[o.name]) for o in self.objectives]
                if trial.constraint_values:
                    # Where Optuna's after_trial stores constraints_func's values: what its
                    # constrained samplers read. Not evaluable (inf): the largest float.
                    trial_attrs = {
                        **trial_attrs,
                        _OPTUNA_CONSTRAINTS_KEY: [
                            min(v, sys.float_info.max) for v in trial.constraint_values
                        ],
                    }
        elif trial.state == TrialState.PRUNED:
            state = "PRUNED"
            if intermediate:  # as study.tell(state=PRUNED): the last reported value, if not NaN
                last = intermediate[max(intermediate)]
                values = None if math.isnan(last) else [last]
        elif trial.state == TrialState.FAILED:
            state = "FAIL"
        else:  # WAITING or RUNNING: pending
            state = "RUNNING"
        static = _exact([list(params.items()), trial_attrs, study_attrs])
        outcome = _exact([values, list(intermediate.items())])
        distributions = {name: self._by_name[name].distribution for name in params}
        return _Entry(
            state,
            params,
            distributions,
            values,
            intermediate,
            trial_attrs,
            study_attrs,
            static,
            outcome,
        )

    def _sync(self, optuna: ModuleType, trials: Sequence[FrozenTrial], sampler: Any) -> _Rebuilt:
        """The cached study brought up to ``trials``, or a new one built from them."""
        cache = self._cache
        if cache is not None and self._refresh(optuna, cache, trials):
            cache.study.sampler = sampler
            return cache
        self._cache = None
        cache = _Rebuilt(optuna, self._directions, sampler)
        for trial in trials:
            cache.append(optuna, self._entry(trial), trial)
        self._cache = cache
        return cache

    def _refresh(self, optuna: ModuleType, cache: _Rebuilt, trials: Sequence[FrozenTrial]) -> bool:
        """Update ``cache`` to mirror ``trials`` exactly; ``False`` if it cannot (rebuild)."""
        if len(trials) < len(cache):
            return False  # trials cannot be removed from an Optuna study
        common = len(cache)
        changed = list(compress(range(common), map(is_not, trials, cache.sources)))
        for pos in changed:
            entry = self._entry(trials[pos])
            old = cache.entries[pos]
            if old is None:
                return False
            if entry.key != old.key and not cache.update(optuna, pos, entry):
                return False
            cache.entries[pos] = entry
            cache.sources[pos] = trials[pos]
        for pos in range(common, len(trials)):
            cache.append(optuna, self._entry(trials[pos]), trials[pos])
        return True

    # ---- proposing --------------------------------------------------------------------------

    def _suggest(self, trial: Any) -> tuple[dict[str, Scalar], dict[str, Any]]:
        """Sample every active parameter through ``trial``, in topological order.

        Returns:
            ``(ours, theirs)``: the validated assignment, and the Optuna values suggested.
        """
        ours: dict[str, Scalar] = {}
        theirs: dict[str, Any] = {}
        for param, codec in self._codecs:
            cond = param.condition
            if cond is not None and not (
                cond.parent in ours and cond.satisfied_by(ours[cond.parent])
            ):
                continue  # inactive under the values drawn so far
            if codec is None:  # a fixed parameter: not given to Optuna
                ours[param.name] = param.value if isinstance(param, FixedParam) else None
                continue
            value = codec.suggest(trial)
            theirs[param.name] = value
            ours[param.name] = codec.from_optuna(value)
        return self.space.validate(ours), theirs

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """``max(n, 0)`` proposals from the sampler; see the module docstring.

        ``info`` of a proposal holds the sampler's attributes for later rebuilds (keys
        ``optuna_trial_attrs``, ``optuna_study_attrs``; absent when empty) and
        ``{"origin": "random"}`` for a random draw taken after ``max_retries`` repeats.
        """
        count = max(int(n), 0)
        if count == 0:
            return []
        optuna = _import_optuna()
        with self._lock, _quiet(optuna):
            try:
                return self._propose(optuna, trials, count)
            except BaseException:
                self._cache = None  # a half-updated cache would be wrong, none is merely slow
                raise

    def _propose(
        self, optuna: ModuleType, trials: Sequence[FrozenTrial], count: int
    ) -> list[Proposal]:
        cache = self._sync(optuna, trials, self._make_sampler(optuna, trials))
        self._memo.sync(trials)
        seen = SeenKeys(self._memo.key_counts)
        fallback = self.rng(trials, _FALLBACK_STREAM)
        out: list[Proposal] = []
        for _ in range(count):
            before = copy.deepcopy(cache.storage.get_study_system_attrs(cache.study_id))
            proposal, reproducible = self._one(optuna, cache, seen, fallback)
            after = cache.storage.get_study_system_attrs(cache.study_id)
            changed: dict[str, Any] = {}
            for key, value in list(after.items()):
                if key in before and _exact(before[key]) == _exact(value):
                    continue
                try:
                    changed[key] = _normalized(value)
                except (TypeError, ValueError):
                    reproducible = False  # a rebuild could not restore it: force one
                    continue
                cache.storage.set_study_system_attr(cache.study_id, key, changed[key])
            if changed:
                proposal.info[INFO_STUDY_ATTRS] = changed
            seen.add(self.space.key(proposal.params))
            # What the history trial of this proposal will become, while it is pending.
            pending = FrozenTrial(
                trial_id=-1,
                number=len(cache),
                state=TrialState.RUNNING,
                params=proposal.params,
                system_attrs=proposal.info,
            )
            cache.entries[-1] = self._entry(pending) if reproducible else None
            out.append(proposal)
        return out

    def _one(
        self,
        optuna: ModuleType,
        cache: _Rebuilt,
        seen: SeenKeys,
        fallback: np.random.Generator,
    ) -> tuple[Proposal, bool]:
        """One proposal, its Optuna trial left RUNNING as the last trial of ``cache``.

        Returns:
            ``(proposal, reproducible)``: whether a rebuild from the history would recreate its
            Optuna trial exactly (its attributes survive JSON, its params round-trip).
        """
        for _ in range(self.max_retries + 1):
            trial = cache.study.ask()
            ours, theirs = self._suggest(trial)
            trial_id = cache.trial_id(trial.number)
            cache.sources.append(None)
            if self.space.key(ours) in seen:
                # A repeat: out of the sampler's way (FAIL is ignored by samplers); no rebuild
                # reproduces this trial, so the cache entry is None.
                cache.entries.append(None)
                cache.storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
                continue
            cache.entries.append(None)
            reproducible = all(
                _exact(self._by_name[name].to_optuna(ours[name])) == _exact(value)
                for name, value in theirs.items()
            )
            attrs: dict[str, Any] = {}
            for key, value in list(cache.storage.get_trial_system_attrs(trial_id).items()):
                try:
                    attrs[key] = _normalized(value)
                except (TypeError, ValueError):
                    reproducible = False
                    continue
                cache.storage.set_trial_system_attr(trial_id, key, attrs[key])
            info: dict[str, Any] = {INFO_TRIAL_ATTRS: attrs} if attrs else {}
            return Proposal(params=ours, info=info), reproducible
        params = self.space.validate(sample_unique(self.space, fallback, seen, self.max_retries))
        pending = FrozenTrial(
            trial_id=-1, number=len(cache), state=TrialState.RUNNING, params=params
        )
        cache.append(optuna, self._entry(pending), None)
        return Proposal(params=params, info={"origin": "random"}), True


# --------------------------------------------------------------------------- option checks


def _sampler_names(optuna: ModuleType) -> list[str]:
    """Concrete sampler classes of ``optuna.samplers`` the adapter drives, sorted."""
    base = optuna.samplers.BaseSampler
    out = []
    for name in getattr(optuna.samplers, "__all__", dir(optuna.samplers)):
        obj = getattr(optuna.samplers, name, None)
        if (
            inspect.isclass(obj)
            and issubclass(obj, base)
            and not inspect.isabstract(obj)
            and obj is not base
            and name not in _UNSUPPORTED
            and "seed" in inspect.signature(obj).parameters
        ):
            out.append(name)
    return sorted(out)


def _check_sampler_name(optuna: ModuleType, sampler: object) -> str:
    """``sampler`` if it names a sampler the adapter drives.

    Raises:
        SearcherConfigError: listing the valid names (and why an unsupported one is refused).
    """
    valid = _sampler_names(optuna)
    if isinstance(sampler, str) and sampler in valid:
        return sampler
    reason = _UNSUPPORTED.get(sampler) if isinstance(sampler, str) else None
    why = f" ({reason})" if reason else ""
    raise SearcherConfigError(
        f"optuna: option 'sampler' must name a sampler class of optuna.samplers, got "
        f"{sampler!r}{why}; valid names: {', '.join(valid)}"
    )


def _check_sampler_options(
    cls: type, name: str, options: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``options`` as a plain dict of keyword arguments ``cls`` accepts, JSON values only.

    Raises:
        SearcherConfigError: not a mapping; a value that is not JSON; ``seed``; a name the
            constructor does not take (listing those it takes); an argument that needs a
            callable or an object; a required argument missing.
    """
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise SearcherConfigError(
            f"optuna: option 'sampler_options' must be a mapping of {name} keyword arguments, "
            f"got {type(options).__name__}: {options!r}"
        )
    params = {
        p.name: p
        for p in inspect.signature(cls).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    settable = {
        k: p
        for k, p in params.items()
        if k != "seed" and not any(m in str(p.annotation) for m in _NON_JSON_MARKERS)
    }
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in options.items():
        if key == "seed":
            problems.append(
                "'seed' is not accepted: the sampler is seeded from the study seed and the "
                "history length (set the study's seed instead)"
            )
        elif key not in params:
            problems.append(f"{key!r} is not an argument of {name}")
        elif key not in settable:
            problems.append(
                f"{key!r} needs a callable or an object ({params[key].annotation}), which JSON "
                f"options cannot express"
            )
        elif not _is_json_value(value):
            problems.append(f"{key!r} must be a JSON value, got {value!r}")
        else:
            out[str(key)] = copy.deepcopy(value)
    missing = [
        k for k, p in settable.items() if p.default is inspect.Parameter.empty and k not in out
    ]
    if missing:
        problems.append(f"required argument(s) missing: {', '.join(missing)}")
    if problems:
        raise SearcherConfigError(
            f"optuna: bad sampler_options for {name}: {'; '.join(problems)}; settable arguments: "
            f"{', '.join(sorted(settable)) or '(none)'}"
        )
    return out
