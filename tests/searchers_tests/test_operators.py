"""Tests of the variation/selection operators shared by the evolutionary searchers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nas.exceptions import SearcherConfigError
from nas.searchers import BinaryTournament, GaussianMutation, UniformCrossover
from nas.searchers._operators import (
    check_int_option,
    check_probability_option,
    check_sigma_option,
    is_mutable,
    mutate_one,
    mutate_value,
    params_key,
    reflect_unit,
    sample_unique,
)
from nas.space import CategoricalParam, FixedParam, FloatParam, IntParam, SearchSpace
from nas.testing.searchers import conditional_space, discrete_space, mixed_space


def test_reflect_unit() -> None:
    for u, expected in [
        (0.3, 0.3),
        (1.2, 0.8),
        (-0.25, 0.25),
        (2.1, 0.1),
        (-1.7, 0.3),
        (1.0, 1.0),
    ]:
        assert reflect_unit(u) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    assert all(0.0 <= reflect_unit(u) <= 1.0 for u in rng.normal(0, 5, 1000))


def test_params_key_is_type_aware() -> None:
    assert params_key({"a": 1, "b": "x"}) == params_key({"b": "x", "a": 1.0})
    assert params_key({"a": 1}) != params_key({"a": True})
    assert params_key({"a": None}) != params_key({"a": "None"})
    assert params_key({"a": np.int64(3)}) == params_key({"a": 3})
    assert params_key({"a": 1}) != params_key({"a": 1, "b": 2})


@pytest.mark.parametrize(
    "param",
    [
        FloatParam("x", -1.0, 1.0),
        FloatParam("lr", 1e-5, 1.0, log=True),
        IntParam("n", 0, 1),
        IntParam("u", 16, 256, step=16),
        IntParam("b", 1, 2, log=True),
        CategoricalParam("c", ["a", "b"]),
        CategoricalParam("m", [1, "two", None, True]),
    ],
)
def test_mutate_value_always_changes_and_stays_in_domain(param: object) -> None:
    rng = np.random.default_rng(1)
    for _ in range(300):
        value = param.sample(rng)  # type: ignore[attr-defined]
        new = mutate_value(param, value, rng, 0.15)  # type: ignore[arg-type]
        assert param.contains(new)  # type: ignore[attr-defined]
        assert params_key({"v": new}) != params_key({"v": value}), (value, new)


def test_mutate_value_tiny_sigma_still_changes() -> None:
    rng = np.random.default_rng(2)
    ip = IntParam("n", 0, 100)
    fp = FloatParam("x", 0.0, 1.0)
    for v in (0, 50, 100):
        new = mutate_value(ip, v, rng, 1e-9)
        assert new in (v - 1, v + 1)
    assert mutate_value(fp, 0.5, rng, 1e-300) != 0.5


def test_mutate_value_is_local_for_numeric() -> None:
    rng = np.random.default_rng(3)
    p = FloatParam("x", 0.0, 100.0)
    steps = np.array([mutate_value(p, 50.0, rng, 0.15) - 50.0 for _ in range(4000)])
    # Gaussian with sigma = 15% of the range: std ~ 15, symmetric.
    assert 13.5 < steps.std() < 16.5
    assert abs(steps.mean()) < 1.0


def test_mutate_value_categorical_uniform_over_other_choices() -> None:
    rng = np.random.default_rng(4)
    p = CategoricalParam("c", ["a", "b", "c", "d"])
    draws = [mutate_value(p, "b", rng, 0.15) for _ in range(3000)]
    counts = {c: draws.count(c) for c in "acd"}
    assert "b" not in draws
    assert all(900 < n < 1100 for n in counts.values()), counts


def test_unmutable_params_unchanged() -> None:
    rng = np.random.default_rng(5)
    fixed = FixedParam("f", "resnet")
    single = IntParam("one", 7, 7)
    assert not is_mutable(fixed) and not is_mutable(single)
    assert is_mutable(FloatParam("x", 0.0, 1.0))
    assert mutate_value(fixed, "resnet", rng, 0.5) == "resnet"
    assert mutate_value(single, 7, rng, 0.5) == 7


def test_mutate_one_changes_exactly_one_param() -> None:
    space = mixed_space()
    rng = np.random.default_rng(6)
    for _ in range(200):
        parent = space.sample(rng)
        child, name = mutate_one(space, parent, rng, 0.15)
        space.validate(child)
        changed = [k for k in parent if params_key({k: parent[k]}) != params_key({k: child[k]})]
        assert changed == [name]
        assert name not in ("one", "seed_like")


def test_mutate_one_repairs_conditional_children() -> None:
    space = conditional_space()
    rng = np.random.default_rng(7)
    switched = 0
    for _ in range(300):
        parent = space.sample(rng)
        child, name = mutate_one(space, parent, rng, 0.15)
        space.validate(child)  # inactive params dropped, newly active ones sampled
        if name == "model":
            switched += 1
            assert ("layers" in child) != ("layers" in parent)
            assert ("kernel" in child) != ("kernel" in parent)
    assert switched > 10


def test_mutate_one_fixed_only_space() -> None:
    space = SearchSpace([FixedParam("a", 1), FixedParam("b", "x")])
    child, name = mutate_one(space, {"a": 1, "b": "x"}, np.random.default_rng(0), 0.15)
    assert child == {"a": 1, "b": "x"} and name is None


def test_gaussian_mutation_probabilities() -> None:
    space = discrete_space()
    rng = np.random.default_rng(8)
    parent = {"a": "p", "b": 1, "c": 20, "d": 1.5}
    assert GaussianMutation(prob=0.0)(space, parent, rng) == parent
    child = GaussianMutation(prob=1.0)(space, parent, rng)
    assert all(child[k] != parent[k] for k in parent)
    # Default: 1 / (number of active mutable params) -> one change per child on average.
    n_changed = [
        sum(child[k] != parent[k] for k in parent)
        for child in (GaussianMutation()(space, parent, rng) for _ in range(2000))
    ]
    assert 0.9 < float(np.mean(n_changed)) < 1.1
    with pytest.raises(SearcherConfigError, match="prob"):
        GaussianMutation(prob=1.5)
    with pytest.raises(SearcherConfigError, match="sigma"):
        GaussianMutation(sigma=0.0)


def test_uniform_crossover() -> None:
    space = discrete_space()
    rng = np.random.default_rng(9)
    a = {"a": "p", "b": 0, "c": 10, "d": 0.5}
    b = {"a": "s", "b": 3, "c": 40, "d": 3.5}
    assert UniformCrossover(0.0)(space, a, b, rng) == a
    assert UniformCrossover(1.0)(space, a, b, rng) == b
    from_b = np.mean(
        [
            [child[k] == b[k] for k in a]
            for child in (UniformCrossover(0.5)(space, a, b, rng) for _ in range(2000))
        ]
    )
    assert 0.45 < from_b < 0.55
    with pytest.raises(SearcherConfigError, match="swapping_prob"):
        UniformCrossover(-0.1)


def test_uniform_crossover_union_of_conditional_params() -> None:
    space = conditional_space()
    rng = np.random.default_rng(10)
    mlp = {"model": "mlp", "layers": 3, "units": 64, "lr": 0.01, "opt": "adam"}
    cnn = {"model": "cnn", "kernel": 5, "dilation": 2, "lr": 0.001, "opt": "sgd", "momentum": 0.9}
    children = [UniformCrossover(0.5)(space, mlp, cnn, rng) for _ in range(300)]
    for child in children:
        space.validate(child)
        # Every inherited value comes from one of the parents (none resampled when available).
        for k, v in child.items():
            assert v in (mlp.get(k), cnn.get(k)), (k, v)
    assert any(c["model"] == "cnn" and c.get("kernel") == 5 for c in children)
    assert any(c["model"] == "mlp" and c.get("layers") == 3 for c in children)
    assert any(c["opt"] == "sgd" and c["momentum"] == 0.9 for c in children)


def test_binary_tournament() -> None:
    rng = np.random.default_rng(11)
    ranks = np.array([0, 1, 0, 2])
    crowd = np.array([0.5, math.inf, 2.0, math.inf])
    wins = np.bincount([BinaryTournament()(ranks, crowd, rng) for _ in range(3000)], minlength=4)
    # Index 3 (worst rank) never wins; index 2 beats everyone; index 0 loses only to 2.
    assert wins[3] == 0
    assert wins[2] > wins[0] > wins[1]
    assert BinaryTournament()(np.array([0]), np.array([1.0]), rng) == 0


def test_sample_unique_avoids_seen_then_gives_up() -> None:
    space = SearchSpace([CategoricalParam("c", ["a", "b", "c"])])
    rng = np.random.default_rng(12)
    seen = {params_key({"c": "a"}), params_key({"c": "b"})}
    assert all(sample_unique(space, rng, seen, 32) == {"c": "c"} for _ in range(20))
    seen.add(params_key({"c": "c"}))
    assert sample_unique(space, rng, seen, 5)["c"] in ("a", "b", "c")  # exhausted: repeat


def test_option_checks() -> None:
    assert check_int_option("s", "k", 3, 1) == 3
    for bad in (0, True, 2.0, "3"):
        with pytest.raises(SearcherConfigError, match=r"s: option 'k' must be an integer >= 1"):
            check_int_option("s", "k", bad, 1)
    assert check_probability_option("s", "p", 1) == 1.0
    for bad in (-0.1, 1.1, math.nan, "0.5", None):
        with pytest.raises(SearcherConfigError, match="probability"):
            check_probability_option("s", "p", bad)
    for bad in (0.0, -1.0, 1.5, math.nan, True):
        with pytest.raises(SearcherConfigError, match=r"\(0, 1\]"):
            check_sigma_option("s", "sigma", bad)
