"""Tests of nas.importance: analytic main effects, encodings, conditions, seeding, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nas._types import FrozenTrial, TrialState
from nas.exceptions import NasError
from nas.importance import ImportanceError, fanova_importances, param_importances
from nas.space import (
    CategoricalParam,
    Condition,
    FixedParam,
    FloatParam,
    IntParam,
    SearchSpace,
)

# --------------------------------------------------------------------------- helpers


def make_trials(
    rows: list[dict[str, object]],
    values: list[float],
    *,
    objective: str = "loss",
    state: TrialState = TrialState.COMPLETE,
    start: int = 0,
) -> list[FrozenTrial]:
    return [
        FrozenTrial(
            trial_id=start + i,
            number=start + i,
            state=state,
            params=dict(params),
            values={objective: float(v)} if state == TrialState.COMPLETE else {},
        )
        for i, (params, v) in enumerate(zip(rows, values, strict=True))
    ]


def sample_trials(space: SearchSpace, n: int, f, seed: int = 0) -> list[FrozenTrial]:
    rng = np.random.default_rng(seed)
    rows = [space.sample(rng) for _ in range(n)]
    return make_trials(rows, [f(r) for r in rows])


# --------------------------------------------------------------------------- numeric core


def test_single_relevant_feature_dominates():
    rng = np.random.default_rng(0)
    xs = rng.random((400, 5))
    y = np.sin(6 * xs[:, 0]) + xs[:, 0] ** 2
    imp = fanova_importances(xs, y, n_trees=32)
    assert imp.shape == (5,)
    assert (imp >= 0).all()
    assert imp[0] > 0.9
    assert imp[1:].max() < 0.02


def test_additive_function_matches_analytic_main_effects():
    # y = 4 x0 + x1 with uniform inputs: Var = 16/12 + 1/12, so V0/V = 16/17, V1/V = 1/17.
    rng = np.random.default_rng(1)
    xs = rng.random((2000, 3))
    y = 4 * xs[:, 0] + xs[:, 1]
    imp = fanova_importances(xs, y, n_trees=32)
    assert imp[0] == pytest.approx(16 / 17, abs=0.02)
    assert imp[1] == pytest.approx(1 / 17, abs=0.02)
    assert imp[2] < 0.005
    assert imp.sum() <= 1.0 + 1e-9


def test_pure_interaction_has_small_main_effects():
    # y = (x0 - 1/2)(x1 - 1/2) has no main effect at all: the fractions need not sum to 1.
    rng = np.random.default_rng(2)
    xs = rng.random((1500, 2))
    y = (xs[:, 0] - 0.5) * (xs[:, 1] - 0.5)
    imp = fanova_importances(xs, y, n_trees=32)
    assert imp.sum() < 0.15


def test_categorical_column_uniform_over_categories():
    # Category 0 of 4 gives y = 1, the others 0; categories are weighted 1/4 each, not by their
    # frequency in xs: main effect of the categorical = 1 with or without a skewed sample.
    rng = np.random.default_rng(3)
    cat = rng.choice(4, size=600, p=[0.7, 0.1, 0.1, 0.1]).astype(float)
    noise_col = rng.random(600)
    xs = np.column_stack([cat, noise_col])
    y = (cat == 0).astype(float)
    imp = fanova_importances(xs, y, cardinalities=[4, 0], n_trees=16)
    assert imp[0] == pytest.approx(1.0, abs=1e-9)
    assert imp[1] == pytest.approx(0.0, abs=1e-9)


def test_categorical_vs_ordinal_measure():
    # A tree on a categorical column puts the split point between categories, so an unobserved
    # middle category still weighs 1/k; y = [0, ?, 3] over categories 0..2 (1 never observed).
    xs = np.array([[0.0], [0.0], [2.0], [2.0]])
    y = np.array([0.0, 0.0, 3.0, 3.0])
    imp = fanova_importances(xs, y, cardinalities=[3], n_trees=4)
    assert imp[0] == pytest.approx(1.0)


def test_constant_target_gives_zeros():
    xs = np.random.default_rng(0).random((20, 3))
    assert np.array_equal(fanova_importances(xs, np.full(20, 2.5)), np.zeros(3))


def test_same_seed_same_result_and_global_rng_untouched():
    rng = np.random.default_rng(4)
    xs = rng.random((300, 4))
    y = xs[:, 0] + np.sin(4 * xs[:, 1]) + 0.3 * rng.standard_normal(300)
    np.random.seed(123)
    state = np.random.get_state()
    a = fanova_importances(xs, y, n_trees=16, seed=7)
    after = np.random.get_state()
    assert after[0] == state[0]
    assert np.array_equal(after[1], state[1])
    assert after[2:] == state[2:]
    np.random.seed(999)  # a different global state changes nothing
    b = fanova_importances(xs, y, n_trees=16, seed=7)
    c = fanova_importances(xs, y, n_trees=16, seed=7, n_jobs=1)
    assert np.array_equal(a, b)
    assert np.array_equal(a, c)
    d = fanova_importances(xs, y, n_trees=16, seed=8)
    assert not np.array_equal(a, d)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"X": np.zeros(5), "y": np.zeros(5)}, "2-D"),
        ({"X": np.zeros((1, 2)), "y": np.zeros(1)}, "at least 2 rows"),
        ({"X": np.zeros((4, 0)), "y": np.zeros(4)}, "1 column"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(3)}, r"shape \(4,\)"),
        ({"X": np.full((4, 2), np.nan), "y": np.zeros(4)}, "finite"),
        ({"X": np.zeros((4, 2)), "y": np.array([0, 1, np.inf, 0])}, "y must be finite"),
        ({"X": np.full((4, 2), 1.5), "y": np.arange(4)}, r"numeric column 0 .*\[0, 1\]"),
        (
            {"X": np.full((4, 2), 0.5), "y": np.arange(4), "cardinalities": [2, 0]},
            "indices 0..1",
        ),
        (
            {"X": np.full((4, 2), 3.0), "y": np.arange(4), "cardinalities": [3, 0]},
            "indices 0..2",
        ),
        ({"X": np.zeros((4, 2)), "y": np.arange(4), "cardinalities": [0]}, "2 integers"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4), "cardinalities": [0.5, 0]}, "2 integers"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4), "cardinalities": [-1, 0]}, ">= 0"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4), "n_trees": 0}, "n_trees"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4), "max_depth": 0}, "max_depth"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4), "min_samples_leaf": 0}, "min_samples_leaf"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4), "seed": -1}, "seed"),
        ({"X": np.zeros((4, 2)), "y": np.arange(4), "seed": 1.5}, "seed"),
    ],
)
def test_fanova_input_errors(kwargs, match):
    with pytest.raises(ImportanceError, match=match) as info:
        fanova_importances(**kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, NasError)


# --------------------------------------------------------------------------- trials wrapper


def test_categorical_that_matters_vs_float_that_does_not():
    space = SearchSpace(
        [CategoricalParam("act", ["relu", "tanh", "gelu"]), FloatParam("wd", 0.0, 1.0)]
    )
    effect = {"relu": 0.0, "tanh": 5.0, "gelu": 1.0}
    trials = sample_trials(space, 300, lambda p: effect[p["act"]])
    imp = param_importances(trials, space, "loss")
    assert list(imp) == ["act", "wd"]
    assert imp["act"] > 0.95
    assert sum(imp.values()) == pytest.approx(1.0)


def test_log_scale_parameter_measured_in_log_space():
    # y = log10(lr) + 4 x: in log space log10(lr) is uniform on [-5, -1] (variance 16/12), as is
    # 4 x, so each explains half. On a linear scale lr would get about 0.12.
    space = SearchSpace([FloatParam("lr", 1e-5, 1e-1, log=True), FloatParam("x", 0.0, 1.0)])
    trials = sample_trials(space, 600, lambda p: math.log10(p["lr"]) + 4 * p["x"])
    imp = param_importances(trials, space, "loss")
    assert imp["lr"] == pytest.approx(0.5, abs=0.05)
    assert imp["x"] == pytest.approx(0.5, abs=0.05)


def test_log_parameter_alone_explains_everything():
    space = SearchSpace(
        [
            FloatParam("lr", 1e-5, 1e-1, log=True),
            IntParam("units", 16, 256, step=16),
            IntParam("batch", 8, 512, log=True),
        ]
    )
    trials = sample_trials(space, 300, lambda p: math.log(p["lr"]))
    imp = param_importances(trials, space, "loss")
    assert next(iter(imp)) == "lr"
    assert imp["lr"] > 0.97


def test_log_int_parameter():
    # batch log-uniform on [1, 1024] with y = log2(batch): the only effect.
    space = SearchSpace([IntParam("batch", 1, 1024, log=True), FloatParam("x", 0.0, 1.0)])
    trials = sample_trials(space, 200, lambda p: math.log2(p["batch"]))
    imp = param_importances(trials, space, "loss")
    assert imp["batch"] > 0.97


def conditional_space() -> SearchSpace:
    return SearchSpace(
        [
            CategoricalParam("optimizer", ["sgd", "adam"]),
            FloatParam("momentum", 0.0, 1.0, condition=Condition("optimizer", ["sgd"])),
            FloatParam("beta", 0.0, 1.0, condition=Condition("optimizer", ["adam"])),
            FloatParam("lr", 0.0, 1.0),
        ]
    )


def test_conditional_parameters_follow_the_documented_semantics():
    # y = 4 m under sgd, 1 under adam. Inactive momentum is "don't care", so over the whole space
    # Var(E[y | optimizer]) = 1/4 and Var(E[y | m]) = Var(2 m + 1/2) = 1/3: normalised 3/7 and
    # 4/7; beta (active, irrelevant) and lr (irrelevant) get ~0.
    space = conditional_space()
    trials = sample_trials(space, 800, lambda p: 4 * p["momentum"] if "momentum" in p else 1.0)
    assert any("momentum" not in t.params for t in trials)
    imp = param_importances(trials, space, "loss")
    assert set(imp) == {"optimizer", "momentum", "beta", "lr"}
    assert imp["optimizer"] == pytest.approx(3 / 7, abs=0.06)
    assert imp["momentum"] == pytest.approx(4 / 7, abs=0.06)
    assert imp["beta"] < 0.02
    assert imp["lr"] < 0.02
    assert list(imp)[:2] == ["momentum", "optimizer"]


def test_parameter_never_active_or_never_varying_gets_zero():
    space = SearchSpace(
        [
            CategoricalParam("optimizer", ["sgd", "adam"]),
            FloatParam("momentum", 0.0, 1.0, condition=Condition("optimizer", ["sgd"])),
            FixedParam("seed_like", 3),
            FloatParam("x", 0.0, 1.0),
            IntParam("same", 1, 10),
        ]
    )
    rng = np.random.default_rng(5)
    rows = [{"optimizer": "adam", "seed_like": 3, "x": float(rng.random()), "same": 4}]
    rows = [dict(rows[0], x=float(rng.random())) for _ in range(100)]
    trials = make_trials(rows, [r["x"] for r in rows])
    imp = param_importances(trials, space, "loss")
    assert imp == {"x": 1.0, "optimizer": 0.0, "momentum": 0.0, "seed_like": 0.0, "same": 0.0}
    assert list(imp) == ["x", "optimizer", "momentum", "seed_like", "same"]


def test_constant_objective_gives_all_zeros():
    space = SearchSpace([FloatParam("a", 0.0, 1.0), FloatParam("b", 0.0, 1.0)])
    trials = sample_trials(space, 30, lambda p: 1.0)
    assert param_importances(trials, space, "loss") == {"a": 0.0, "b": 0.0}


def test_only_complete_finite_trials_are_used_and_params_subset():
    space = SearchSpace([FloatParam("a", 0.0, 1.0), FloatParam("b", 0.0, 1.0)])
    good = sample_trials(space, 100, lambda p: 3 * p["a"] + p["b"])
    rng = np.random.default_rng(9)
    junk_rows = [space.sample(rng) for _ in range(40)]
    junk = make_trials(junk_rows[:20], [math.nan] * 10 + [math.inf] * 10, start=1000)
    junk += make_trials(junk_rows[20:], [0.0] * 20, state=TrialState.FAILED, start=2000)
    with_junk = param_importances(good + junk, space, "loss")
    assert with_junk == param_importances(good, space, "loss")
    assert with_junk["a"] > with_junk["b"]
    assert param_importances(good, space, "loss", params=["b"]) == {"b": 1.0}


def test_max_trials_subsample_is_seeded():
    space = SearchSpace([FloatParam("a", 0.0, 1.0), FloatParam("b", 0.0, 1.0)])
    trials = sample_trials(space, 300, lambda p: 3 * p["a"] + p["b"])
    first = param_importances(trials, space, "loss", max_trials=60, seed=3)
    assert first == param_importances(trials, space, "loss", max_trials=60, seed=3)
    assert first != param_importances(trials, space, "loss", max_trials=60, seed=4)
    assert first["a"] > 0.8


def test_wrapper_seed_determinism_and_global_rng():
    space = conditional_space()
    trials = sample_trials(space, 100, lambda p: p["lr"] + p.get("momentum", 0.5))
    np.random.seed(0)
    state = np.random.get_state()
    a = param_importances(trials, space, "loss", seed=11)
    after = np.random.get_state()
    assert np.array_equal(after[1], state[1])
    assert after[2:] == state[2:]
    np.random.seed(1)
    assert param_importances(trials, space, "loss", seed=11) == a


def test_agrees_with_optuna_fanova():
    # Same forest settings and seed as optuna's evaluator: the values agree closely, not only the
    # ranking. Main-effect variances: 8 x0: 5.33, 2 sin(6 x2): 2.09, 4 x1^2: 1.42, x3: 0.08.
    optuna = pytest.importorskip("optuna")
    from optuna.distributions import FloatDistribution
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    def f(x: np.ndarray) -> float:
        return 8 * x[0] + 4 * x[1] ** 2 + 2 * math.sin(6 * x[2]) + x[3]

    rng = np.random.default_rng(6)
    xs = rng.random((150, 4))
    y = np.array([f(x) for x in xs])
    names = ["p0", "p1", "p2", "p3"]

    study = optuna.create_study()
    dists = {n: FloatDistribution(0.0, 1.0) for n in names}
    study.add_trials(
        [
            optuna.trial.create_trial(
                params=dict(zip(names, map(float, x), strict=True)), distributions=dists, value=v
            )
            for x, v in zip(xs, y, strict=True)
        ]
    )
    evaluator = FanovaImportanceEvaluator(n_trees=16, seed=0)
    theirs = get_param_importances(study, evaluator=evaluator)

    raw = fanova_importances(xs, y, n_trees=16, seed=0)
    assert raw / raw.sum() == pytest.approx([theirs[n] for n in names], abs=0.02)

    space = SearchSpace([FloatParam(n, 0.0, 1.0) for n in names])
    rows = [dict(zip(names, map(float, x), strict=True)) for x in xs]
    ours = param_importances(make_trials(rows, list(y)), space, "loss")
    assert list(ours) == list(theirs) == ["p0", "p2", "p1", "p3"]


def test_wrapper_errors():
    space = SearchSpace([FloatParam("a", 0.0, 1.0), CategoricalParam("c", ["x", "y"])])
    trials = sample_trials(space, 10, lambda p: p["a"])

    with pytest.raises(ImportanceError, match=r"unknown objective 'acc'.*'loss'") as info:
        param_importances(trials, space, "acc")
    assert isinstance(info.value, ValueError)
    with pytest.raises(ImportanceError, match=r"at least 2 COMPLETE trials.*got 1 "):
        param_importances(trials[:1], space, "loss")
    with pytest.raises(ImportanceError, match="got 0 "):
        param_importances([], space, "loss")
    nan_trials = make_trials([t.params for t in trials], [math.nan] * 9 + [1.0])
    with pytest.raises(ImportanceError, match="finite value for 'loss', got 1 "):
        param_importances(nan_trials, space, "loss")
    failed = make_trials([t.params for t in trials], [0.0] * 10, state=TrialState.FAILED)
    with pytest.raises(ImportanceError, match="got 0 "):
        param_importances(failed, space, "loss")
    with pytest.raises(ImportanceError, match=r"unknown parameter.*'zz'.*the space has: a, c"):
        param_importances(trials, space, "loss", params=["a", "zz"])
    with pytest.raises(ImportanceError, match="at least one parameter"):
        param_importances(trials, space, "loss", params=[])
    with pytest.raises(ImportanceError, match="sequence of names"):
        param_importances(trials, space, "loss", params="a")
    with pytest.raises(ImportanceError, match="max_trials"):
        param_importances(trials, space, "loss", max_trials=1)
    with pytest.raises(ImportanceError, match="seed"):
        param_importances(trials, space, "loss", seed=-3)
    with pytest.raises(ImportanceError, match="objective must be a non-empty string"):
        param_importances(trials, space, "")
    bad = make_trials([{"a": 2.0, "c": "x"}, {"a": 0.5, "c": "y"}], [0.0, 1.0], start=7)
    with pytest.raises(ImportanceError, match=r"trial 7: .*'a'"):
        param_importances(bad, space, "loss")
