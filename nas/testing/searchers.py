"""Conformance suite for searchers: every registered searcher, present and future, must pass it.

Usage (this is exactly ``tests/searchers_tests/test_conformance.py``)::

    import pytest
    from nas.searchers import searcher_names
    from nas.testing.searchers import SearcherConformance

    @pytest.fixture(params=searcher_names())
    def searcher_name(request):
        return request.param

    class TestSearcherConformance(SearcherConformance):
        pass

A new searcher gets the whole suite by being registered. Subclasses may override
:meth:`SearcherConformance.options_for` (e.g. to shrink a population) and
:attr:`SearcherConformance.import_modules` (modules that register a searcher outside the
built-ins, imported by the child process of the cross-process test).

Studies are simulated without a database (:func:`simulate`): a deterministic loop that asks the
searcher for proposals, keeps up to ``workers - 1`` of them pending (WAITING or RUNNING) while it
asks again, and finishes trials in FIFO order as COMPLETE (a cheap deterministic objective,
:func:`toy_values`), FAILED or PRUNED.

What is checked, for every searcher and every objective count it accepts. What a searcher accepts
is *declared* by its class attributes (:class:`~nas.searchers.Searcher`: ``min_objectives``,
``max_objectives``, ``accepts_conditional``, ``param_kinds``, ``multi_fidelity``,
``honours_constraints``), and the suite reads the declarations instead of probing:

* the declarations hold: on the mixed, conditional and continuous spaces with 1, 2 and 3
  objectives, construction raises :class:`~nas.exceptions.SearcherConfigError` (saying why)
  exactly where the declarations exclude the combination; every searcher accepts the all-float
  :func:`continuous_space`; proposals carry a budget only from a ``multi_fidelity`` searcher;
  the checks below run on the richest space it accepts;

* proposals are :class:`~nas._types.Proposal` objects whose params pass ``space.validate``, whose
  params and info are JSON-serialisable and whose budget is ``None`` or a finite number, on a
  space with every parameter kind, on a conditional space (both branches explored in 60 trials)
  and on a space of fixed parameters only;
* determinism: same seed and history give the same proposals, in this process, in a fresh
  instance (resume at step ``k`` or at every step) and in another process with another
  ``PYTHONHASHSEED``; different seeds give different proposals;
* pending trials are not proposed again on a finite space large enough to avoid them;
* ``propose(history, n=4)`` gives at least one proposal and no two identical ones;
* a history of trials added from elsewhere (no system attributes, no worker, budgets the
  searcher never proposed) gives valid proposals and the study goes on from it;
* an unknown option raises ``SearcherConfigError``; the history is not modified;
* constraints: on a constrained toy problem (:func:`toy_constraint`, whose feasible region
  excludes the unconstrained optimum) every searcher keeps proposing valid params, is
  deterministic and resumes exactly; a searcher that declares ``honours_constraints`` ends with
  a larger share of feasible trials in the second half of the run than random search on the
  same budget and seed.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import SearcherConfigError
from nas.searchers import Searcher, create_searcher, searcher_class
from nas.space import SearchSpace

__all__ = [
    "SMALL_CONDITIONAL_SPACE",
    "SearcherConformance",
    "conditional_space",
    "discrete_space",
    "fixed_space",
    "imported_history",
    "make_objectives",
    "mixed_space",
    "record",
    "simulate",
    "toy_values",
]

#: Objective directions used by the suite for 1, 2 and 3 objectives.
_DIRECTIONS = ("minimize", "maximize", "minimize")


# --------------------------------------------------------------------------- spaces

#: A small space with every kind and one condition (``drop`` exists only when ``act`` is
#: ``relu``), in dict form: JSON-serialisable, e.g. for a child process; the resume and
#: multi-fidelity tests run on it (``SearchSpace.from_dict(SMALL_CONDITIONAL_SPACE)``).
SMALL_CONDITIONAL_SPACE: dict[str, Any] = {
    "params": {
        "x": {"type": "float", "low": -3.0, "high": 3.0},
        "n": {"type": "int", "low": 1, "high": 64, "log": True},
        "act": {"type": "categorical", "choices": ["relu", "tanh", "gelu"]},
        "drop": {
            "type": "float",
            "low": 0.0,
            "high": 0.5,
            "condition": {"parent": "act", "in": ["relu"]},
        },
        "c": {"type": "fixed", "value": 2},
    }
}


def mixed_space() -> SearchSpace:
    """Every parameter kind: float (linear, log), int (plain, step, log, single value),
    categorical (strings, mixed scalars, booleans) and fixed."""
    return SearchSpace.from_dict(
        {
            "params": {
                "x": {"type": "float", "low": -5.0, "high": 5.0},
                "lr": {"type": "float", "low": 1.0e-5, "high": 1.0, "log": True},
                "n": {"type": "int", "low": 0, "high": 20},
                "units": {"type": "int", "low": 16, "high": 256, "step": 16},
                "batch": {"type": "int", "low": 1, "high": 1024, "log": True},
                "one": {"type": "int", "low": 7, "high": 7},
                "act": {"type": "categorical", "choices": ["relu", "tanh", "gelu"]},
                "mix": {"type": "categorical", "choices": [1, "two", 3.5, None]},
                "flag": {"type": "categorical", "choices": [True, False]},
                "seed_like": {"type": "fixed", "value": 3},
            }
        },
        source="mixed_space",
    )


def conditional_space() -> SearchSpace:
    """Two branches under ``model`` (one with a nested condition) plus an independent one."""
    return SearchSpace.from_dict(
        {
            "params": {
                "model": {"type": "categorical", "choices": ["mlp", "cnn"]},
                "layers": {
                    "type": "int",
                    "low": 1,
                    "high": 4,
                    "condition": {"parent": "model", "in": ["mlp"]},
                },
                "units": {
                    "type": "int",
                    "low": 8,
                    "high": 256,
                    "log": True,
                    "condition": {"parent": "model", "in": ["mlp"]},
                },
                "kernel": {
                    "type": "categorical",
                    "choices": [3, 5, 7],
                    "condition": {"parent": "model", "in": ["cnn"]},
                },
                "dilation": {
                    "type": "int",
                    "low": 1,
                    "high": 3,
                    "condition": {"parent": "kernel", "in": [5, 7]},
                },
                "lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-1, "log": True},
                "opt": {"type": "categorical", "choices": ["sgd", "adam"]},
                "momentum": {
                    "type": "float",
                    "low": 0.0,
                    "high": 0.99,
                    "condition": {"parent": "opt", "in": ["sgd"]},
                },
            }
        },
        source="conditional_space",
    )


def continuous_space() -> SearchSpace:
    """Floats only (linear and log): the space every searcher must accept."""
    return SearchSpace.from_dict(
        {
            "params": {
                "x": {"type": "float", "low": -5.0, "high": 5.0},
                "y": {"type": "float", "low": 0.0, "high": 1.0},
                "lr": {"type": "float", "low": 1.0e-5, "high": 1.0, "log": True},
            }
        },
        source="continuous_space",
    )


def discrete_space() -> SearchSpace:
    """A finite space of 4**4 = 256 assignments (for the no-repeat checks)."""
    return SearchSpace.from_dict(
        {
            "params": {
                "a": {"type": "categorical", "choices": ["p", "q", "r", "s"]},
                "b": {"type": "int", "low": 0, "high": 3},
                "c": {"type": "int", "low": 10, "high": 40, "step": 10},
                "d": {"type": "categorical", "choices": [0.5, 1.5, 2.5, 3.5]},
            }
        },
        source="discrete_space",
    )


def fixed_space() -> SearchSpace:
    """Only fixed parameters: a single possible assignment."""
    return SearchSpace.from_dict(
        {
            "params": {
                "depth": {"type": "fixed", "value": 4},
                "name": {"type": "fixed", "value": "resnet"},
            }
        },
        source="fixed_space",
    )


_SPACES: dict[str, Callable[[], SearchSpace]] = {
    "mixed": mixed_space,
    "conditional": conditional_space,
    "discrete": discrete_space,
    "fixed": fixed_space,
    "continuous": continuous_space,
}


def make_objectives(count: int) -> tuple[Objective, ...]:
    """``count`` (1-3) objectives named ``f0, f1, ...``; the second one is maximized."""
    return tuple(Objective(f"f{i}", _DIRECTIONS[i]) for i in range(count))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- simulation


def toy_values(
    space: SearchSpace, params: dict[str, Any], objectives: Sequence[Objective]
) -> dict[str, float]:
    """A cheap deterministic objective vector for ``params``.

    Objective ``i`` is ``sum over active params of (to_unit(v) - c_i)**2`` with centers ``c_i``
    spread over ``[0.3, 0.7]`` (so two objectives conflict), negated for maximized objectives
    (so that better is always "closer to the center").
    """
    units = [space[name].to_unit(v) for name, v in params.items()]
    m = len(objectives)
    out: dict[str, float] = {}
    for i, obj in enumerate(objectives):
        center = 0.3 + 0.4 * i / max(m - 1, 1)
        f = float(sum((u - center) ** 2 for u in units))
        out[obj.name] = f if obj.direction == "minimize" else -f
    return out


def toy_constraint(space: SearchSpace, params: dict[str, Any]) -> float:
    """The signed constraint value of the constrained toy problem: ``0.5 - mean(to_unit(v))``
    over the active params (``<= 0`` feasible). It excludes the optimum of the first toy
    objective (every unit value 0.3) and keeps half of the unit cube feasible."""
    units = [space[name].to_unit(v) for name, v in params.items()]
    return 0.5 - float(np.mean(units)) if units else 0.0


def _check_proposal(space: SearchSpace, p: object, where: str) -> Proposal:
    """Assert the proposal contract; returns ``p`` with normalized params."""
    assert isinstance(p, Proposal), f"{where}: expected a Proposal, got {type(p).__name__}"
    assert isinstance(p.params, dict), f"{where}: params must be a dict, got {p.params!r}"
    normalized = space.validate(p.params)  # raises SpaceError with the reason
    assert isinstance(p.info, dict), f"{where}: info must be a dict, got {p.info!r}"
    try:
        json.dumps(p.params, allow_nan=False)
        json.dumps(p.info, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise AssertionError(f"{where}: params/info not JSON-serialisable: {e}") from e
    if p.budget is not None:
        assert isinstance(p.budget, int | float) and not isinstance(p.budget, bool), (
            f"{where}: budget must be None or a number, got {p.budget!r}"
        )
        assert math.isfinite(p.budget) and p.budget > 0, (
            f"{where}: budget must be finite and > 0, got {p.budget!r}"
        )
    return Proposal(params=normalized, budget=p.budget, info=p.info)


def _trial(
    number: int,
    state: TrialState,
    proposal: Proposal,
    values: dict[str, float] | None = None,
    intermediate: dict[str, dict[int, float]] | None = None,
    constraint_values: tuple[float, ...] = (),
) -> FrozenTrial:
    return FrozenTrial(
        trial_id=number + 1,
        number=number,
        state=state,
        params=dict(proposal.params),
        budget=proposal.budget,
        values=dict(values or {}),
        intermediate_values=dict(intermediate or {}),
        system_attrs=copy.deepcopy(proposal.info),
        failure_reason="simulated failure" if state == TrialState.FAILED else None,
        worker_id=f"w{number % 3}",
        constraint_values=constraint_values,
    )


def simulate(
    factory: Callable[[], Searcher],
    space: SearchSpace,
    objectives: Sequence[Objective],
    n_trials: int,
    *,
    workers: int = 2,
    n_per_call: int = 1,
    restart_at: Collection[int] | str = (),
    fail_every: int = 7,
    prune_every: int = 11,
    check_unmodified: bool = False,
    constrained: bool = False,
    pruned_as_failed: bool = False,
    initial: Sequence[FrozenTrial] = (),
) -> tuple[list[Proposal], list[FrozenTrial]]:
    """Run a simulated study without a database.

    Loop: ask ``propose(history, n_per_call)``; append each proposal as a pending trial
    (RUNNING for even numbers, WAITING for odd ones); while ``workers - 1`` or more trials are
    pending, finish the oldest: trial ``k`` is FAILED when ``k % fail_every == fail_every - 1``,
    PRUNED when ``k % prune_every == prune_every - 1`` (with half its :func:`toy_values` as its
    intermediate values at step 1 and, as the storage keeps them, as its values) and otherwise
    COMPLETE with :func:`toy_values`. When ``n_trials`` trials exist, the pending ones are
    finished too.

    Args:
        factory: builds the searcher; called once, and again whenever the history length is
            in ``restart_at`` (``"all"``: before every call), to check stateless resume.
        space: the searcher's space (every proposal is checked against it).
        objectives: the searcher's objectives.
        n_trials: stop after this many trials.
        workers: concurrency of the simulated study, ``>= 1``.
        n_per_call: ``n`` passed to ``propose``.
        restart_at: history lengths at which to rebuild the searcher, or ``"all"``.
        fail_every: period of FAILED trials (``0``: none).
        prune_every: period of PRUNED trials (``0``: none).
        check_unmodified: deep-copy the history before every call and assert that ``propose``
            left it unchanged (slower).
        constrained: COMPLETE trials carry the constraint value :func:`toy_constraint`.
        pruned_as_failed: the trials that would be PRUNED are FAILED instead.
        initial: finished trials the history starts with (numbered ``0 ..``), e.g. trials
            added from elsewhere (:func:`imported_history`); they count towards ``n_trials``.

    Returns:
        ``(proposals, history)``: every proposal in order (params normalized) and the final
        history.

    Raises:
        AssertionError: a proposal breaks the contract, the history was modified (with
            ``check_unmodified``), or the searcher returns nothing while no trial is pending (the
            study would stall).
    """
    history: list[FrozenTrial] = list(initial)
    proposals: list[Proposal] = []
    pending: list[int] = []
    searcher = factory()

    def finish_oldest() -> None:
        k = pending.pop(0)
        t = history[k]
        prop = Proposal(params=t.params, budget=t.budget, info=t.system_attrs)
        if fail_every and k % fail_every == fail_every - 1:
            history[k] = _trial(k, TrialState.FAILED, prop)
        elif prune_every and k % prune_every == prune_every - 1:
            if pruned_as_failed:
                history[k] = _trial(k, TrialState.FAILED, prop)
                return
            partial = {k: v / 2 for k, v in toy_values(space, t.params, objectives).items()}
            inter = {name: {1: v} for name, v in partial.items()}
            history[k] = _trial(k, TrialState.PRUNED, prop, partial, intermediate=inter)
        else:
            cons = (toy_constraint(space, t.params),) if constrained else ()
            history[k] = _trial(
                k, TrialState.COMPLETE, prop, toy_values(space, t.params, objectives), None, cons
            )

    max_calls = 10 * n_trials + 10
    for _ in range(max_calls):
        if len(history) >= n_trials:
            break
        if restart_at == "all" or len(history) in restart_at:
            searcher = factory()
        snapshot = list(history)
        before = copy.deepcopy(snapshot) if check_unmodified else None
        new = searcher.propose(snapshot, n_per_call)
        if before is not None:
            assert snapshot == before, (
                f"propose modified the history it was given (history length {len(history)})"
            )
        assert isinstance(new, list), f"propose must return a list, got {type(new).__name__}"
        if not new:
            assert pending, (
                f"{searcher!r} proposed nothing with no trial pending "
                f"(history of {len(history)} trials): the study would stall"
            )
            finish_oldest()
            continue
        for i, p in enumerate(new):
            checked = _check_proposal(space, p, f"proposal {i} at history length {len(history)}")
            proposals.append(checked)
            k = len(history)
            state = TrialState.RUNNING if k % 2 == 0 else TrialState.WAITING
            history.append(_trial(k, state, checked))
            pending.append(k)
        while len(pending) >= max(workers, 1):
            finish_oldest()
    else:
        raise AssertionError(f"simulation did not reach {n_trials} trials in {max_calls} calls")
    while pending:
        finish_oldest()
    return proposals, history


def imported_history(
    space: SearchSpace, objectives: Sequence[Objective], n: int, seed: int = 0
) -> list[FrozenTrial]:
    """``n`` finished trials as :meth:`nas.Study.add_trials` stores results brought in from
    elsewhere: random params, no system attributes (nothing a searcher recorded while
    proposing them), no worker, budgets no searcher proposed (``None``, 2.5, 7.0 in turn); one
    in eight PRUNED with an intermediate value, one in eight FAILED, the others COMPLETE with
    :func:`toy_values`."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        params = space.sample(rng)
        values = toy_values(space, params, objectives)
        state, intermediate = TrialState.COMPLETE, {}
        if k % 8 == 5:
            state, intermediate = (
                TrialState.PRUNED,
                {o.name: {0: values[o.name]} for o in objectives},
            )
        elif k % 8 == 6:
            state = TrialState.FAILED
        out.append(
            FrozenTrial(
                trial_id=k + 1,
                number=k,
                state=state,
                params=params,
                budget=(None, 2.5, 7.0)[k % 3],
                values=values if state is TrialState.COMPLETE else {},
                intermediate_values=intermediate,
                failure_reason="imported" if state is TrialState.FAILED else None,
            )
        )
    return out


def record(proposals: Sequence[Proposal]) -> str:
    """Canonical JSON of a proposal sequence (params, budget, info), for exact comparisons."""
    return json.dumps(
        [{"params": p.params, "budget": p.budget, "info": p.info} for p in proposals],
        sort_keys=True,
        allow_nan=False,
    )


def _accepted_counts(name: str, space: SearchSpace, counts: Sequence[int] = (1, 2)) -> list[int]:
    """The objective counts among ``counts`` that searcher ``name`` declares it takes on
    ``space`` (:meth:`~nas.searchers.Searcher.unsupported`)."""
    cls = searcher_class(name)
    return [m for m in counts if cls.unsupported(space, m) is None]


def _child_run(payload: dict[str, Any]) -> dict[str, str]:
    """What the cross-process test computes in the child: records per objective count."""
    import importlib

    for module in payload["import_modules"]:
        importlib.import_module(module)
    space = _SPACES[payload["space"]]()
    out: dict[str, str] = {}
    for m in payload["counts"]:
        objectives = make_objectives(m)

        def factory(m_objs: tuple[Objective, ...] = objectives) -> Searcher:
            return create_searcher(
                payload["name"], space, m_objs, payload["seed"], payload["options"]
            )

        proposals, _ = simulate(factory, space, objectives, payload["n_trials"])
        out[str(m)] = record(proposals)
    return out


_CHILD_CODE = (
    "import json, sys\n"
    "from nas.testing.searchers import _child_run\n"
    "print('@@RESULT@@' + json.dumps(_child_run(json.loads(sys.argv[1]))))\n"
)


# --------------------------------------------------------------------------- the suite


class SearcherConformance:
    """Mix-in test class; needs a ``searcher_name`` fixture (see the module docstring)."""

    #: Modules the cross-process child imports first (searchers registered outside built-ins).
    import_modules: ClassVar[tuple[str, ...]] = ()

    #: Searchers that accept constraints but do not steer by them (random draws; Hyperband,
    #: whose new configurations are random and which only promotes feasible trials first).
    def options_for(self, searcher_name: str) -> dict[str, Any]:
        """Options passed to ``create_searcher`` for ``searcher_name`` (default: none).

        They must be JSON-serialisable: the cross-process test sends them to the child.
        """
        return {}

    def _factory(
        self,
        searcher_name: str,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int = 0,
    ) -> Callable[[], Searcher]:
        options = self.options_for(searcher_name)

        def factory() -> Searcher:
            return create_searcher(searcher_name, space, objectives, seed, options)

        return factory

    def _run(
        self,
        searcher_name: str,
        space: SearchSpace,
        objectives: Sequence[Objective],
        n_trials: int,
        seed: int = 0,
        **kwargs: Any,
    ) -> list[Proposal]:
        """The proposals of a :func:`simulate` run of ``searcher_name``."""
        factory = self._factory(searcher_name, space, objectives, seed)
        return simulate(factory, space, objectives, n_trials, **kwargs)[0]

    def _counts(self, searcher_name: str, space: SearchSpace) -> list[int]:
        """Objective counts (of 1, 2) accepted on ``space``; empty if the space is refused."""
        return _accepted_counts(searcher_name, space)

    def _space_for(self, searcher_name: str, preferred: str) -> tuple[str, SearchSpace]:
        """``preferred`` if the searcher accepts it, else the continuous space (which it must)."""
        for name in (preferred, "continuous"):
            space = _SPACES[name]()
            if self._counts(searcher_name, space):
                return name, space
        raise AssertionError(
            f"searcher {searcher_name!r} refuses the continuous space for 1 and 2 objectives"
        )

    def _assert_refusal_explained(self, searcher_name: str, space: SearchSpace) -> None:
        options = self.options_for(searcher_name)
        with pytest.raises(SearcherConfigError) as info:
            create_searcher(searcher_name, space, make_objectives(1), 0, options)
        assert str(info.value), "a refusal must say why"

    # ---- construction ----------------------------------------------------------------------

    @pytest.mark.parametrize("space_name", ["mixed", "conditional", "continuous"])
    def test_declared_capabilities_hold(self, searcher_name: str, space_name: str) -> None:
        """Construction refuses exactly the combinations the class attributes exclude (with
        the reason), for 1, 2 and 3 objectives."""
        cls = searcher_class(searcher_name)
        assert cls.registered_name == searcher_name
        space = _SPACES[space_name]()
        for m in (1, 2, 3):
            why = cls.unsupported(space, m)
            factory = self._factory(searcher_name, space, make_objectives(m))
            if why is None:
                try:
                    factory()
                except SearcherConfigError as e:
                    raise AssertionError(
                        f"{searcher_name} refuses {space_name} with {m} objective(s) that its "
                        f"declarations accept: {e}"
                    ) from e
            else:
                with pytest.raises(SearcherConfigError) as info:
                    factory()
                assert why in str(info.value)

    def test_budgets_only_when_multi_fidelity(self, searcher_name: str) -> None:
        """Proposals carry budgets iff the searcher declares ``multi_fidelity``."""
        space = continuous_space()
        m = self._counts(searcher_name, space)[0]
        proposals = self._run(searcher_name, space, make_objectives(m), 20)
        budgets = [p.budget for p in proposals]
        if searcher_class(searcher_name).multi_fidelity:
            assert any(b is not None for b in budgets), "a multi-fidelity searcher gave none"
        else:
            assert all(b is None for b in budgets), f"undeclared budgets: {set(budgets)}"

    def test_accepts_one_or_two_objectives(self, searcher_name: str) -> None:
        """A searcher must be usable on the continuous space for 1 or 2 objectives."""
        assert self._counts(searcher_name, continuous_space()), (
            f"searcher {searcher_name!r} accepts neither 1 nor 2 objectives"
        )

    @pytest.mark.parametrize("n_objectives", [1, 2, 3])
    def test_objective_count(self, searcher_name: str, n_objectives: int) -> None:
        """Refuse an objective count at construction, or propose valid params for it."""
        space = self._space_for(searcher_name, "mixed")[1]
        objectives = make_objectives(n_objectives)
        factory = self._factory(searcher_name, space, objectives)
        try:
            factory()
        except SearcherConfigError as e:
            assert str(e), "a refusal must say why"
            return
        proposals, history = simulate(factory, space, objectives, 30)
        assert len(history) >= 30
        assert len({json.dumps(p.params, sort_keys=True) for p in proposals}) > 1

    def test_unknown_option_rejected(self, searcher_name: str) -> None:
        """An option the searcher does not take raises SearcherConfigError naming it."""
        space = self._space_for(searcher_name, "mixed")[1]
        for m in self._counts(searcher_name, space):
            options = {**self.options_for(searcher_name), "no_such_option_xyz": 1}
            with pytest.raises(SearcherConfigError, match="no_such_option_xyz"):
                create_searcher(searcher_name, space, make_objectives(m), 0, options)

    # ---- validity --------------------------------------------------------------------------

    def test_mixed_space(self, searcher_name: str) -> None:
        """Valid proposals on every parameter kind (or a reasoned refusal); all of them vary."""
        name, space = self._space_for(searcher_name, "mixed")
        if name != "mixed":
            self._assert_refusal_explained(searcher_name, mixed_space())
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            proposals = self._run(searcher_name, space, objectives, 40)
            for p in space.params:
                seen = {json.dumps(q.params[p.name]) for q in proposals}
                if p.kind == "fixed" or p.cardinality == 1:
                    assert len(seen) == 1, f"{p.name} must keep its only value, got {seen}"
                else:
                    assert len(seen) > 1, f"{p.name} never varied over 40 trials ({m} obj)"

    def test_conditional_space(self, searcher_name: str) -> None:
        """Valid proposals on a conditional space; both branches explored within 60 trials."""
        space = conditional_space()
        if not self._counts(searcher_name, space):
            self._assert_refusal_explained(searcher_name, space)
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            proposals = self._run(searcher_name, space, objectives, 60)
            models = {p.params["model"] for p in proposals}
            assert models == {"mlp", "cnn"}, f"branches explored: {models} ({m} objectives)"
            for p in proposals:
                branch = p.params["model"]
                assert ("layers" in p.params) == (branch == "mlp"), p.params
                assert ("kernel" in p.params) == (branch == "cnn"), p.params
            assert any("dilation" in p.params for p in proposals), "nested branch never active"
            assert any("momentum" in p.params for p in proposals)
            assert any("momentum" not in p.params for p in proposals)

    def test_fixed_only_space(self, searcher_name: str) -> None:
        """A space with a single assignment works (repeats are then unavoidable) or is refused."""
        space = fixed_space()
        if not self._counts(searcher_name, space):
            self._assert_refusal_explained(searcher_name, space)
        for m in self._counts(searcher_name, space):
            try:  # declared kinds, yet a requirement beyond them (map: a float to fit on)
                self._factory(searcher_name, space, make_objectives(m))()
            except SearcherConfigError as e:
                assert str(e), "a refusal must say why"
                return
            objectives = make_objectives(m)
            proposals = self._run(searcher_name, space, objectives, 12)
            assert all(p.params == {"depth": 4, "name": "resnet"} for p in proposals)

    def test_batch(self, searcher_name: str) -> None:
        """``n=4`` gives >= 1 valid proposals, never two identical ones, at any stage."""
        space = self._space_for(searcher_name, "mixed")[1]
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            factory = self._factory(searcher_name, space, objectives)
            _, history = simulate(factory, space, objectives, 45)
            for hist in ([], history[:7], history):
                batch = factory().propose(list(hist), 4)
                assert len(batch) >= 1, f"no proposal for n=4 at history length {len(hist)}"
                checked = [_check_proposal(space, p, "batch") for p in batch]
                keys = [json.dumps([p.params, p.budget], sort_keys=True) for p in checked]
                assert len(set(keys)) == len(keys), f"identical proposals in one batch: {keys}"
            # Batches in the simulation loop itself.
            proposals, _ = simulate(factory, space, objectives, 30, workers=5, n_per_call=4)
            assert len(proposals) >= 30

    def test_pending_not_repeated(self, searcher_name: str) -> None:
        """Params of WAITING/RUNNING trials are not proposed again while alternatives exist."""
        space = self._space_for(searcher_name, "discrete")[1]
        rng = np.random.default_rng(12345)
        assignments: list[dict[str, Any]] = []
        keys: set[str] = set()
        while len(assignments) < 90:  # 90 distinct of 256
            params = space.sample(rng)
            key = json.dumps(params, sort_keys=True)
            if key not in keys:
                keys.add(key)
                assignments.append(params)
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            history = []
            for k, params in enumerate(assignments):
                prop = Proposal(params=params)
                if k < 30:
                    values = toy_values(space, params, objectives)
                    history.append(_trial(k, TrialState.COMPLETE, prop, values))
                else:
                    state = TrialState.WAITING if k % 2 else TrialState.RUNNING
                    history.append(_trial(k, state, prop))
            pending_keys = {json.dumps(t.params, sort_keys=True) for t in history[30:]}
            for seed in range(12):
                searcher = self._factory(searcher_name, space, objectives, seed)()
                for p in searcher.propose(list(history), 2):
                    key = json.dumps(space.validate(p.params), sort_keys=True)
                    assert key not in pending_keys, (
                        f"seed {seed}: proposed the params of a pending trial: {p.params}"
                    )

    def test_pruned_trials_are_used_as_declared(self, searcher_name: str) -> None:
        """``pruned_as_failed``: PRUNED trials count exactly as FAILED ones (the same proposals
        when they are FAILED instead); otherwise their params and last values inform the
        searcher (other proposals)."""
        space = self._space_for(searcher_name, "continuous")[1]
        m = self._counts(searcher_name, space)[0]
        objectives = make_objectives(m)
        factory = self._factory(searcher_name, space, objectives, 4)
        runs = [
            record(simulate(factory, space, objectives, 40, prune_every=3, fail_every=0,
                            pruned_as_failed=failed)[0])
            for failed in (False, True)
        ]  # fmt: skip
        if searcher_class(searcher_name).pruned_as_failed:
            assert runs[0] == runs[1], "PRUNED trials weighed otherwise than FAILED ones"
        else:
            assert runs[0] != runs[1], "declares using PRUNED trials, but ignores them"

    def test_history_not_modified(self, searcher_name: str) -> None:
        """``propose`` must not mutate the trials (their dicts are shared with the caller)."""
        space = self._space_for(searcher_name, "conditional")[1]
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            factory = self._factory(searcher_name, space, objectives)
            simulate(factory, space, objectives, 30, n_per_call=2, check_unmodified=True)

    def test_accepts_imported_trials(self, searcher_name: str) -> None:
        """A history that starts with trials added from elsewhere (:func:`imported_history`:
        no system attributes, no worker, budgets it never proposed) is read like any other:
        valid proposals from it, the run goes on, and the same history gives the same
        proposals."""
        space = self._space_for(searcher_name, "mixed")[1]
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            imported = imported_history(space, objectives, 24)
            factory = self._factory(searcher_name, space, objectives)
            first = factory().propose(list(imported), 3)
            assert first, f"no proposal after {len(imported)} imported trials"
            for p in first:
                _check_proposal(space, p, "proposal after imported trials")
            assert record(factory().propose(list(imported), 3)) == record(first)
            _, history = simulate(factory, space, objectives, 36, initial=imported)
            assert len(history) >= 36

    # ---- determinism -----------------------------------------------------------------------

    def test_same_seed_same_proposals(self, searcher_name: str) -> None:
        """Two instances with the same seed and history propose exactly the same."""
        space = self._space_for(searcher_name, "mixed")[1]
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            runs = [record(self._run(searcher_name, space, objectives, 35, 7)) for _ in range(2)]
            assert runs[0] == runs[1]

    def test_different_seeds_differ(self, searcher_name: str) -> None:
        """Different seeds give different proposal sequences."""
        space = self._space_for(searcher_name, "mixed")[1]
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            runs = {record(self._run(searcher_name, space, objectives, 20, s)) for s in (0, 1, 2)}
            assert len(runs) == 3, f"seeds 0, 1, 2 gave only {len(runs)} distinct runs"

    def test_resume_equivalence(self, searcher_name: str) -> None:
        """A fresh instance at step k (or at every step) continues exactly like the original."""
        space = self._space_for(searcher_name, "conditional")[1]
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            factory = self._factory(searcher_name, space, objectives, 3)
            reference = record(simulate(factory, space, objectives, 50)[0])
            for restart in ((23,), (1, 37), "all"):
                resumed = simulate(factory, space, objectives, 50, restart_at=restart)[0]
                assert record(resumed) == reference, f"resume at {restart} diverged"

    def test_same_proposals_in_another_process(self, searcher_name: str) -> None:
        """A child interpreter with another hash seed proposes exactly the same sequence."""
        space_name, space = self._space_for(searcher_name, "conditional")
        counts = self._counts(searcher_name, space)
        payload = {
            "name": searcher_name,
            "space": space_name,
            "counts": counts,
            "seed": 11,
            "n_trials": 30,
            "options": self.options_for(searcher_name),
            "import_modules": list(self.import_modules),
        }
        expected = _child_run(payload)
        env = dict(os.environ)
        env["PYTHONHASHSEED"] = "4242" if env.get("PYTHONHASHSEED") != "4242" else "4343"
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD_CODE, json.dumps(payload)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, f"child failed:\n{proc.stderr[-3000:]}"
        marker = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT@@")]
        assert marker, f"child printed no result:\n{proc.stdout[-2000:]}"
        got = json.loads(marker[-1][len("@@RESULT@@") :])
        assert got == expected

    # ---- constraints -----------------------------------------------------------------------

    def test_constrained_determinism_and_resume(self, searcher_name: str) -> None:
        """On the constrained toy problem: valid proposals, same seed same run, exact resume."""
        space = self._space_for(searcher_name, "mixed")[1]
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            factory = self._factory(searcher_name, space, objectives, 5)
            reference = record(simulate(factory, space, objectives, 40, constrained=True)[0])
            again = simulate(factory, space, objectives, 40, constrained=True)[0]
            assert record(again) == reference
            resumed = simulate(factory, space, objectives, 40, restart_at=(17,), constrained=True)
            assert record(resumed[0]) == reference, "resume at 17 diverged (constrained)"

    def test_constrained_prefers_feasible_region(self, searcher_name: str) -> None:
        """A searcher that honours constraints samples nearer the feasible region than random
        search does: a smaller mean total violation over the second half of 60 trials (one
        objective and two, same seed). (Not the share of feasible trials: a model-based
        searcher converging on an optimum on the boundary lands on either side of it.)"""
        if not searcher_class(searcher_name).honours_constraints:
            pytest.skip(f"{searcher_name} does not declare honours_constraints")
        space = continuous_space()
        for m in self._counts(searcher_name, space):
            objectives = make_objectives(m)
            shares = {}
            for name, options in (
                (searcher_name, self.options_for(searcher_name)),
                ("random", {}),
            ):

                def factory(
                    name: str = name,
                    options: dict[str, Any] = options,
                    objectives: tuple[Objective, ...] = objectives,
                ) -> Searcher:
                    return create_searcher(name, space, objectives, 11, options)

                history = simulate(factory, space, objectives, 60, constrained=True)[1]
                late = [t for t in history[30:] if t.state == TrialState.COMPLETE]
                shares[name] = float(np.mean([t.total_violation for t in late]))
            assert shares[searcher_name] < shares["random"], (
                f"{searcher_name} ({m} objective(s)) mean violation {shares[searcher_name]:.4f} "
                f">= random search's {shares['random']:.4f}"
            )
