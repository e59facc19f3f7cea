"""Tests specific to the ``optuna`` adapter searcher (the conformance suite runs it with TPE)."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import pickle
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from nas._types import FrozenTrial, Objective, Proposal, TrialState  # noqa: E402
from nas.benchmarks.functions import branin  # noqa: E402
from nas.exceptions import SearcherConfigError  # noqa: E402
from nas.searchers import OptunaSearcher, create_searcher  # noqa: E402
from nas.searchers._optuna import INFO_STUDY_ATTRS, INFO_TRIAL_ATTRS  # noqa: E402
from nas.space import SearchSpace  # noqa: E402
from nas.testing.searchers import (  # noqa: E402
    conditional_space,
    continuous_space,
    discrete_space,
    make_objectives,
    mixed_space,
    record,
    simulate,
    toy_values,
)

HAS_CMAES = importlib.util.find_spec("cmaes") is not None
needs_cmaes = pytest.mark.skipif(not HAS_CMAES, reason="CmaEsSampler needs the cmaes package")

OBJ = (Objective("loss", "minimize"),)
BRANIN = SearchSpace.from_dict(
    {
        "params": {
            "x1": {"type": "float", "low": -5.0, "high": 10.0},
            "x2": {"type": "float", "low": 0.0, "high": 15.0},
        }
    }
)

#: Every sampler with cheap options; the value says whether it takes several objectives.
SAMPLERS: dict[str, tuple[dict[str, Any], bool]] = {
    "TPESampler": ({"n_startup_trials": 5, "multivariate": True}, True),
    "CmaEsSampler": ({"n_startup_trials": 3, "popsize": 4}, False),
    "GPSampler": ({"n_startup_trials": 4}, True),
    "NSGAIISampler": ({"population_size": 6}, True),
    "NSGAIIISampler": ({"population_size": 6}, True),
    "QMCSampler": ({}, True),
    "RandomSampler": ({}, True),
}


#: A system attribute each sampler sets while it (not its random start-up) proposes.
SAMPLER_MARKERS = {
    "TPESampler": "tpe:relative_params",
    "CmaEsSampler": "cma:generation",
    "GPSampler": "gp:relative_params",
    "NSGAIISampler": "NSGAIISampler:generation",
    "NSGAIIISampler": "NSGAIIISampler:generation",
    "QMCSampler": "qmc:",
}


def _options(sampler: str) -> dict[str, Any]:
    return {"sampler": sampler, "sampler_options": dict(SAMPLERS[sampler][0])}


def _skip_missing(sampler: str) -> None:
    if sampler == "CmaEsSampler" and not HAS_CMAES:
        pytest.skip("CmaEsSampler needs the cmaes package")


def _params_record(proposals: list[Proposal]) -> str:
    return json.dumps([p.params for p in proposals], sort_keys=True)


def _complete(number: int, params: dict[str, Any], value: float, **kw: Any) -> FrozenTrial:
    return FrozenTrial(
        number + 1, number, TrialState.COMPLETE, dict(params), values={"loss": value}, **kw
    )


# --------------------------------------------------------------------------- every sampler


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_every_sampler_proposes_valid_params_on_mixed_and_conditional_spaces(sampler: str) -> None:
    """Valid, distinct proposals (simulate() validates each against the space), conditional
    params exactly when active, and the sampler itself at work (its marker in the info)."""
    _skip_missing(sampler)
    several = SAMPLERS[sampler][1]
    runs = [(mixed_space(), 1), (conditional_space(), 1)]
    runs += [(conditional_space(), 2)] if several else []
    runs += [(mixed_space(), 2)] if several and sampler != "GPSampler" else []  # GP: slow
    n = 6 if sampler == "GPSampler" else 24
    for space, m in runs:
        objectives = make_objectives(m)

        def factory(space: SearchSpace = space, objectives: Any = objectives) -> Any:
            return create_searcher("optuna", space, objectives, 0, _options(sampler))

        proposals, history = simulate(factory, space, objectives, n, workers=2)
        assert len(history) == n
        keys = {json.dumps(p.params, sort_keys=True) for p in proposals}
        assert len(keys) == len(proposals), f"{sampler}: a proposal was repeated"
        assert not any(p.info.get("origin") == "random" for p in proposals)
        if "model" in space:
            for p in proposals:  # define-by-run: exactly the active params
                assert ("layers" in p.params) == (p.params["model"] == "mlp")
                assert ("kernel" in p.params) == (p.params["model"] == "cnn")
        marker = SAMPLER_MARKERS.get(sampler)
        if marker is not None:
            last = proposals[-1].info
            attrs = {**last.get(INFO_TRIAL_ATTRS, {}), **last.get(INFO_STUDY_ATTRS, {})}
            assert any(k.startswith(marker) for k in attrs), (sampler, m, sorted(attrs))
        for p in proposals:
            json.dumps(p.info, allow_nan=False)


@needs_cmaes
def test_cmaes_refuses_two_objectives() -> None:
    with pytest.raises(SearcherConfigError, match=r"CmaEsSampler optimizes exactly 1 objective"):
        create_searcher(
            "optuna", continuous_space(), make_objectives(2), 0, _options("CmaEsSampler")
        )


def test_brute_force_and_grid_on_a_finite_space() -> None:
    space = discrete_space()
    grid = {"a": ["p", "q"], "b": [0, 3], "c": [10, 40], "d": [0.5, 3.5]}
    for options in (
        {"sampler": "BruteForceSampler"},
        {"sampler": "GridSampler", "sampler_options": {"search_space": grid}},
    ):

        def factory(options: dict[str, Any] = options) -> Any:
            return create_searcher("optuna", space, OBJ, 0, options)

        proposals, _ = simulate(factory, space, OBJ, 16, fail_every=0, prune_every=0)
        keys = {json.dumps(p.params, sort_keys=True) for p in proposals}
        assert len(keys) == 16
        if options["sampler"] == "GridSampler":  # exactly the 16 grid points, no random draw
            assert all(p.params["b"] in (0, 3) and p.params["a"] in "pq" for p in proposals)
            assert not any(p.info.get("origin") == "random" for p in proposals)


# --------------------------------------------------------------------------- plain Optuna


def _plain_suggest(trial: Any) -> dict[str, float]:
    return {
        "x1": trial.suggest_float("x1", -5.0, 10.0),
        "x2": trial.suggest_float("x2", 0.0, 15.0),
    }


@pytest.mark.parametrize("long_lived", [True, False])
def test_tpe_equals_plain_optuna_ask_tell_with_the_same_seeds(long_lived: bool) -> None:
    """A plain Optuna ask/tell loop whose TPE sampler is re-seeded with ``sampler_seed`` before
    each batch proposes exactly what the adapter proposes: same floats, same trial attributes,
    pending trials (one kept RUNNING across batches, one asked earlier in the batch) included."""
    sampler_options = {"multivariate": True, "n_startup_trials": 5, "constant_liar": True}
    options = {"sampler": "TPESampler", "sampler_options": sampler_options}
    adapter = OptunaSearcher(BRANIN, OBJ, 5, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = optuna.create_study(direction="minimize")
    history: list[FrozenTrial] = []
    plain_pending: list[Any] = []
    for step in range(10):
        searcher = adapter if long_lived else OptunaSearcher(BRANIN, OBJ, 5, **options)
        proposals = searcher.propose(list(history), 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain.sampler = optuna.samplers.TPESampler(
                seed=searcher.sampler_seed(history), **sampler_options
            )
            asked = []
            for _ in range(2):
                trial = plain.ask()
                asked.append((trial, _plain_suggest(trial)))
        assert [p.params for p in proposals] == [params for _, params in asked], f"step {step}"
        for p, (trial, _) in zip(proposals, asked, strict=True):
            attrs = plain.trials[trial.number].system_attrs
            assert p.info.get(INFO_TRIAL_ATTRS, {}) == attrs
        # Finish the pending trial of the previous batch and the first of this one; the
        # second stays pending (RUNNING in Optuna, WAITING here) through the next call.
        for p in proposals:
            history.append(
                FrozenTrial(
                    len(history) + 1,
                    len(history),
                    TrialState.WAITING,
                    p.params,
                    system_attrs=p.info,
                )
            )
        finishing = [*plain_pending, asked[0][0]]
        plain_pending = [asked[1][0]]
        for trial in finishing:
            k = trial.number
            t = history[k]
            if k % 5 == 3:
                plain.tell(trial, state=optuna.trial.TrialState.FAIL)
                history[k] = FrozenTrial(
                    k + 1, k, TrialState.FAILED, t.params, system_attrs=t.system_attrs
                )
            else:
                value = float(branin(t.params["x1"], t.params["x2"]))
                plain.tell(trial, value)
                history[k] = _complete(k, t.params, value, system_attrs=t.system_attrs)
    assert len(history) == 20


def test_qmc_continues_its_sequence_across_calls() -> None:
    """QMC's sample counter lives in the study's system attributes: the adapter restores it, so
    proposal k is Sobol point k, as in a long-lived Optuna study (without it every call would
    take point 0)."""
    adapter_options = {"sampler": "QMCSampler", "sampler_options": {"scramble": False}}
    proposals, _ = simulate(
        lambda: create_searcher("optuna", BRANIN, OBJ, 0, adapter_options),
        BRANIN,
        OBJ,
        12,
        workers=1,
        fail_every=0,
        prune_every=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = optuna.create_study(sampler=optuna.samplers.QMCSampler(scramble=False, seed=1))
        expected = []
        for _ in range(12):
            trial = plain.ask()
            params = _plain_suggest(trial)
            expected.append(params)
            plain.tell(trial, float(branin(params["x1"], params["x2"])))
    # Trial 0 comes from the independent sampler (seeded differently); the rest are Sobol points.
    assert [p.params for p in proposals[1:]] == expected[1:]
    assert all(INFO_STUDY_ATTRS in p.info for p in proposals[1:])


@needs_cmaes
def test_cmaes_generations_advance_across_calls() -> None:
    """CMA-ES's optimizer travels in the trial attributes; generations advance across calls."""
    space = continuous_space()
    proposals, _ = simulate(
        lambda: create_searcher("optuna", space, make_objectives(1), 0, _options("CmaEsSampler")),
        space,
        make_objectives(1),
        30,
        restart_at="all",
    )
    # Random draws until 3 trials have completed, then CMA-ES for every proposal.
    generations = [
        p.info[INFO_TRIAL_ATTRS]["cma:generation"]
        for p in proposals
        if "cma:generation" in p.info.get(INFO_TRIAL_ATTRS, {})
    ]
    assert len(generations) >= 24
    assert generations == sorted(generations)
    assert generations[-1] >= 3


def test_nsga2_generations_advance_across_calls() -> None:
    space = mixed_space()
    objectives = make_objectives(2)
    proposals, _ = simulate(
        lambda: create_searcher("optuna", space, objectives, 0, _options("NSGAIISampler")),
        space,
        objectives,
        40,
        restart_at="all",
    )
    generations = [p.info[INFO_TRIAL_ATTRS]["NSGAIISampler:generation"] for p in proposals]
    assert generations == sorted(generations) and generations[-1] >= 3


# --------------------------------------------------------------------------- pending trials


def _branin_history(n: int, seed: int = 0) -> list[FrozenTrial]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        params = {"x1": float(rng.uniform(-5, 10)), "x2": float(rng.uniform(0, 15))}
        out.append(_complete(k, params, float(branin(params["x1"], params["x2"]))))
    return out


def test_pending_trials_reach_the_sampler() -> None:
    history = _branin_history(20)
    best = min(history, key=lambda t: t.values["loss"])
    pending = [
        FrozenTrial(
            21 + i, 20 + i, state, {"x1": best.params["x1"] + 0.01 * i, "x2": best.params["x2"]}
        )
        for i, state in enumerate((TrialState.WAITING, TrialState.RUNNING, TrialState.WAITING))
    ]

    def propose(trials: list[FrozenTrial], liar: bool) -> list[dict[str, Any]]:
        options = {"multivariate": True, "constant_liar": liar}
        searcher = OptunaSearcher(BRANIN, OBJ, 3, sampler_options=options)
        return [p.params for p in searcher.propose(trials, 1)]

    # Without pending trials, constant_liar changes nothing; with them it does: they are seen.
    assert propose(history, True) == propose(history, False)
    assert propose(history + pending, True) != propose(history + pending, False)
    # And in the rebuilt study they are RUNNING trials with their params.
    searcher = OptunaSearcher(BRANIN, OBJ, 3)
    searcher.propose(history + pending, 1)
    assert searcher._cache is not None
    rebuilt = searcher._cache.study.get_trials(deepcopy=False)
    for t in pending:
        assert rebuilt[t.number].state == optuna.trial.TrialState.RUNNING
        assert rebuilt[t.number].params == t.params


def test_rebuilt_study_mirrors_states_values_and_intermediate_values() -> None:
    space = SearchSpace.from_dict(
        {
            "params": {
                "x": {"type": "float", "low": 0.0, "high": 1.0},
                "c": {"type": "categorical", "choices": [1, True, "a", None]},
                "k": {"type": "fixed", "value": 7},
            }
        }
    )
    p = {"x": 0.25, "c": True, "k": 7}
    history = [
        _complete(0, p, 1.5),
        FrozenTrial(
            2, 1, TrialState.PRUNED, {**p, "c": 1}, intermediate_values={"loss": {0: 3.0, 4: 2.5}}
        ),
        FrozenTrial(3, 2, TrialState.FAILED, {**p, "c": "a"}),
        FrozenTrial(4, 3, TrialState.COMPLETE, {**p, "c": None}, values={}),  # no value: FAIL
        FrozenTrial(5, 4, TrialState.COMPLETE, {"x": 7.0, "k": 7, "c": 1}, values={"loss": 1.0}),
        FrozenTrial(6, 5, TrialState.RUNNING, dict(p)),
    ]
    searcher = OptunaSearcher(space, OBJ, 0)
    (proposal,) = searcher.propose(history, 1)
    space.validate(proposal.params)
    assert searcher._cache is not None
    trials = searcher._cache.study.get_trials(deepcopy=False)
    states = [t.state.name for t in trials[:6]]
    assert states == ["COMPLETE", "PRUNED", "FAIL", "FAIL", "FAIL", "RUNNING"]
    assert trials[0].values == [1.5]
    # PRUNED: intermediate values kept, the last one as value (as study.tell(state=PRUNED)).
    assert trials[1].intermediate_values == {0: 3.0, 4: 2.5} and trials[1].values == [2.5]
    # Fixed params are not given to Optuna; 1 and True are told apart (index choices).
    assert set(trials[0].params) == {"x", "c"}
    assert trials[0].params["c"] != trials[1].params["c"]
    assert trials[4].params == {}  # out-of-domain params: FAIL without params


def test_ambiguous_categorical_choices_are_proposed_as_themselves() -> None:
    space = SearchSpace.from_dict(
        {"params": {"c": {"type": "categorical", "choices": [1, True, 0, False, None]}}}
    )
    proposals = OptunaSearcher(space, OBJ, 0, sampler="RandomSampler").propose([], 5)
    got = sorted(json.dumps(p.params["c"]) for p in proposals)
    assert got == sorted(["1", "true", "0", "false", "null"])


# --------------------------------------------------------------------------- repeats


def test_repeats_of_any_state_are_avoided_while_possible() -> None:
    space = SearchSpace.from_dict(
        {
            "params": {
                "c": {"type": "categorical", "choices": ["a", "b", "c"]},
                "n": {"type": "int", "low": 0, "high": 1},
            }
        }
    )
    everything = [{"c": c, "n": n} for c in "abc" for n in (0, 1)]
    for sampler in ("TPESampler", "RandomSampler", "NSGAIISampler"):
        for seed in range(4):
            for state in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAILED):
                history = [
                    FrozenTrial(
                        k + 1,
                        k,
                        state,
                        params,
                        values={"loss": float(k)} if state == TrialState.COMPLETE else {},
                    )
                    for k, params in enumerate(everything[:5])
                ]
                (p,) = OptunaSearcher(space, OBJ, seed, sampler=sampler).propose(history, 1)
                assert p.params == everything[5], (sampler, seed, state)
    # Exhausted: still n proposals (repeats accepted only then), all valid.
    full = [_complete(k, params, float(k)) for k, params in enumerate(everything)]
    batch = OptunaSearcher(space, OBJ, 0).propose(full, 3)
    assert len(batch) == 3 and all(space.validate(p.params) for p in batch)


# --------------------------------------------------------------------------- the cache


@pytest.mark.parametrize("sampler", ["TPESampler", "NSGAIISampler", "QMCSampler", "CmaEsSampler"])
def test_long_lived_instance_equals_a_fresh_instance_per_call(sampler: str) -> None:
    """The cached study is exact: batches, pending trials finishing in any order as COMPLETE,
    FAILED or PRUNED (with intermediate values), repeats rejected."""
    _skip_missing(sampler)
    space = conditional_space() if sampler != "CmaEsSampler" else continuous_space()
    objectives = make_objectives(1)

    def factory() -> Any:
        return create_searcher("optuna", space, objectives, 4, _options(sampler))

    kw: dict[str, Any] = {"workers": 4, "n_per_call": 2, "fail_every": 5, "prune_every": 4}
    long_lived = simulate(factory, space, objectives, 36, **kw)[0]
    fresh = simulate(factory, space, objectives, 36, restart_at="all", **kw)[0]
    if sampler == "CmaEsSampler":
        # cmaes pickles a buffer allocated with np.empty (unused bytes): compare params only.
        assert _params_record(long_lived) == _params_record(fresh)
    else:
        assert record(long_lived) == record(fresh)


def _dump(searcher: OptunaSearcher) -> str:
    """Everything a sampler can read from the searcher's in-memory study, as exact text."""
    cache = searcher._cache
    assert cache is not None
    trials = [
        [
            t.number,
            t.state.name,
            t.params,
            t.values,
            sorted(t.intermediate_values.items()),
            t.system_attrs,
        ]
        for t in cache.study.get_trials(deepcopy=False)
    ]
    study_attrs = cache.storage.get_study_system_attrs(cache.study_id)
    return json.dumps([trials, study_attrs], sort_keys=True)


@pytest.mark.parametrize("sampler", ["TPESampler", "NSGAIISampler"])
def test_cached_study_is_identical_to_a_rebuilt_one_at_every_call(sampler: str) -> None:
    """After every call, the long-lived instance's Optuna study (trials with states, values,
    intermediate values, attributes; study attributes) equals the one a fresh instance builds."""
    space = conditional_space()
    objectives = make_objectives(1)
    long_lived = create_searcher("optuna", space, objectives, 2, _options(sampler))
    calls = []

    class Spy:
        def propose(self, trials: list[FrozenTrial], n: int = 1) -> list[Proposal]:
            out = long_lived.propose(trials, n)
            fresh = create_searcher("optuna", space, objectives, 2, _options(sampler))
            assert record(fresh.propose(trials, n)) == record(out)
            assert _dump(long_lived) == _dump(fresh), f"history length {len(trials)}"
            calls.append(len(trials))
            return out

    simulate(Spy, space, objectives, 30, workers=4, n_per_call=2, fail_every=5, prune_every=3)
    assert len(calls) >= 15


def test_cache_survives_a_history_that_diverges_from_it() -> None:
    """Proposals never inserted, another worker's trials in their place, a trial edited: the
    long-lived instance notices and proposes exactly what a fresh instance does."""
    space = conditional_space()
    objectives = make_objectives(1)
    long_lived = OptunaSearcher(space, objectives, 9)
    history: list[FrozenTrial] = []
    rng = np.random.default_rng(0)
    for k in range(20):
        params = space.sample(rng)
        history.append(
            FrozenTrial(
                k + 1, k, TrialState.COMPLETE, params, values=toy_values(space, params, objectives)
            )
        )
    long_lived.propose(history, 3)  # its proposals are dropped
    other = [FrozenTrial(21 + i, 20 + i, TrialState.RUNNING, space.sample(rng)) for i in range(2)]
    edited = list(history)
    edited[4] = FrozenTrial(5, 4, TrialState.COMPLETE, history[4].params, values={"f0": 123.0})
    for trials in (history + other, history[:10], edited, edited + other, history):
        expected = OptunaSearcher(space, objectives, 9).propose(trials, 2)
        assert record(long_lived.propose(trials, 2)) == record(expected)


# --------------------------------------------------------------------------- options


def test_defaults_and_registry() -> None:
    searcher = create_searcher("optuna", continuous_space(), OBJ, 0)
    assert isinstance(searcher, OptunaSearcher)
    assert searcher.sampler_name == "TPESampler" and searcher.sampler_options == {}
    assert searcher.max_retries == 10


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"sampler": "NoSuchSampler"}, r"valid names: .*TPESampler"),
        ({"sampler": "PartialFixedSampler"}, r"wraps another sampler object"),
        ({"sampler": 3}, r"must name a sampler class"),
        ({"sampler_options": {"seed": 1}}, r"'seed' is not accepted: .*study seed"),
        ({"sampler_options": {"n_startup": 3}}, r"'n_startup' is not an argument of TPESampler"),
        ({"sampler_options": {"gamma": 0.1}}, r"'gamma' needs a callable or an object"),
        ({"sampler_options": {"n_ei_candidates": float("nan")}}, r"must be a JSON value"),
        ({"sampler_options": [1, 2]}, r"must be a mapping"),
        ({"sampler": "GridSampler"}, r"required argument\(s\) missing: search_space"),
        (
            {"sampler": "NSGAIISampler", "sampler_options": {"population_size": 1}},
            r"NSGAIISampler rejected sampler_options .*population_size",
        ),
        ({"max_retries": -1}, r"'max_retries' must be an integer >= 0"),
    ],
)
def test_bad_options_raise_with_the_reason(options: dict[str, Any], pattern: str) -> None:
    with pytest.raises(SearcherConfigError, match=pattern):
        create_searcher("optuna", continuous_space(), OBJ, 0, options)


def test_space_refusals() -> None:
    with pytest.raises(
        SearcherConfigError, match=r"BruteForceSampler .*float parameter\(s\) x, y, lr"
    ):
        create_searcher("optuna", continuous_space(), OBJ, 0, {"sampler": "BruteForceSampler"})
    grid = {"search_space": {"a": ["p"], "b": [0], "c": [10]}}
    with pytest.raises(SearcherConfigError, match=r"missing: \['d'\]"):
        create_searcher(
            "optuna", discrete_space(), OBJ, 0, {"sampler": "GridSampler", "sampler_options": grid}
        )
    grid = {"search_space": {"a": ["p"], "b": [99], "c": [10], "d": [0.5]}}
    with pytest.raises(SearcherConfigError, match=r"search_space.b must be a non-empty list"):
        create_searcher(
            "optuna", discrete_space(), OBJ, 0, {"sampler": "GridSampler", "sampler_options": grid}
        )


def test_missing_optuna_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # makes `import optuna` raise ImportError
    with pytest.raises(SearcherConfigError) as info:
        create_searcher("optuna", continuous_space(), OBJ, 0)
    assert str(info.value) == "the optuna searcher needs Optuna: pip install 'nas[optuna]'"


def test_logging_and_warnings_are_silenced_locally_and_restored() -> None:
    options = {"multivariate": True, "group": True}  # "group" is an experimental argument
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("optuna").addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Sanity: unsilenced, this setup does log and warn.
            optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, **options))
            assert records and any(
                issubclass(w.category, optuna.exceptions.ExperimentalWarning) for w in caught
            )
            records.clear()
            caught.clear()
            searcher = OptunaSearcher(BRANIN, OBJ, 0, sampler_options=options)
            searcher.propose(_branin_history(12), 2)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
        assert not records, [r.getMessage() for r in records]
        assert not caught, [str(w.message) for w in caught]
    finally:
        logging.getLogger("optuna").removeHandler(handler)
        optuna.logging.set_verbosity(previous)


def test_pickled_searcher_proposes_the_same() -> None:
    history = _branin_history(15)
    searcher = OptunaSearcher(BRANIN, OBJ, 2, sampler_options={"multivariate": True})
    first = searcher.propose(history, 2)
    clone = pickle.loads(pickle.dumps(searcher))
    assert clone._cache is None
    assert record(clone.propose(history, 2)) == record(first)


# --------------------------------------------------------------------------- processes

_CHILD = """
import json, sys
from nas.searchers import create_searcher
from nas.testing import searchers as suite

out = {}
for name, job in json.loads(sys.argv[1]).items():
    space = getattr(suite, job["space"])()
    objectives = suite.make_objectives(1)
    proposals, _ = suite.simulate(
        lambda: create_searcher("optuna", space, objectives, 13, job["options"]),
        space, objectives, job["n"],
    )
    out[name] = [{"params": p.params, "info": p.info} for p in proposals]
print("@@" + json.dumps(out))
"""


def _records(plan: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """What ``_CHILD`` computes, in this process (JSON round trip included)."""
    out = {}
    for name, job in plan.items():
        space = {"conditional_space": conditional_space, "continuous_space": continuous_space}[
            job["space"]
        ]()
        objectives = make_objectives(1)
        proposals, _ = simulate(
            lambda job=job, space=space, objectives=objectives: create_searcher(
                "optuna", space, objectives, 13, job["options"]
            ),
            space,
            objectives,
            job["n"],
        )
        out[name] = [{"params": p.params, "info": p.info} for p in proposals]
    return json.loads(json.dumps(out))


def test_same_proposals_in_another_process() -> None:
    """TPE, CMA-ES, GP, NSGA-II, QMC and Random propose the same with another hash seed."""
    plan = {
        name: {
            "space": "continuous_space"
            if name in ("CmaEsSampler", "GPSampler")
            else "conditional_space",
            "n": 7 if name == "GPSampler" else 20,
            "options": _options(name),
        }
        for name in (
            "TPESampler",
            "CmaEsSampler",
            "GPSampler",
            "NSGAIISampler",
            "QMCSampler",
            "RandomSampler",
        )
        if name != "CmaEsSampler" or HAS_CMAES
    }
    expected = _records(plan)
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "4242" if env.get("PYTHONHASHSEED") != "4242" else "4343"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(plan)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads([x for x in proc.stdout.splitlines() if x.startswith("@@")][-1][2:])
    for name, proposals in expected.items():
        assert [p["params"] for p in got[name]] == [p["params"] for p in proposals], name
        if name != "CmaEsSampler":  # cmaes pickles uninitialised (unused) buffer bytes
            assert [p["info"] for p in got[name]] == [p["info"] for p in proposals], name
