"""Parameter kinds: construction rules, value validation, sampling, unit mapping, dict form."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from nas.exceptions import SpaceError
from nas.space import CategoricalParam, Condition, FixedParam, FloatParam, IntParam, Param


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- construction rules


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (
            lambda: FloatParam("x", 1.0, 1.0),
            "params.x.low: must be < high (got low=1.0, high=1.0)",
        ),
        (lambda: FloatParam("x", 2.0, 1.0), "params.x.low: must be < high"),
        (lambda: FloatParam("x", 0.0, 1.0, log=True), "params.x.low: must be > 0 when log"),
        (lambda: FloatParam("x", -1.0, 1.0, log=True), "got low=-1.0"),
        (lambda: FloatParam("x", float("nan"), 1.0), "params.x.low: must be finite"),
        (lambda: FloatParam("x", 0.0, float("inf")), "params.x.high: must be finite"),
        (lambda: FloatParam("x", "abc", 1.0), "params.x.low: must be a number (got 'abc'"),
        (lambda: FloatParam("x", "1e-4", 1.0), "write 1.0e-4"),
        (lambda: FloatParam("x", True, 2.0), "params.x.low: must be a number (got True"),
        (lambda: FloatParam("x", -1e308, 1e308), "high - low must be finite"),
        (lambda: FloatParam("x", 0.0, 1.0, log="yes"), "params.x.log: must be true or false"),
        (lambda: FloatParam("", 0.0, 1.0), "non-empty string"),
        (lambda: FloatParam("x", 0, 1, condition="a"), "params.x.condition: must be a Condition"),
        (lambda: IntParam("n", 3, 1), "params.n.low: must be <= high (got low=3, high=1)"),
        (
            lambda: IntParam("n", 1.0, 3),
            "params.n.low: must be an integer (got 1.0, a float; write 1)",
        ),
        (lambda: IntParam("n", 1, 3.5), "params.n.high: must be an integer (got 3.5"),
        (lambda: IntParam("n", False, 3), "params.n.low: must be an integer (got False"),
        (lambda: IntParam("n", 0, 10, step=0), "params.n.step: must be >= 1 (got step=0)"),
        (lambda: IntParam("n", 0, 10, step=3), "multiple of step (got low=0, high=10, step=3)"),
        (lambda: IntParam("n", 0, 10, log=True), "params.n.low: must be >= 1 when log"),
        (lambda: IntParam("n", 1, 9, step=2, log=True), "params.n.step: must be 1 when log"),
        (lambda: IntParam("n", 0, 2**60), "params.n.high: must be within +-2**53"),
        (lambda: CategoricalParam("c", ()), "params.c.choices: must list at least one choice"),
        (lambda: CategoricalParam("c", "abc"), "params.c.choices: must be a list of values"),
        (lambda: CategoricalParam("c", ("a", "a")), "choice 'a' is listed twice"),
        (lambda: CategoricalParam("c", (1, 1.0)), "choice 1.0 is listed twice (equal to 1"),
        (lambda: CategoricalParam("c", ([1], 2)), "params.c.choices: must be a scalar"),
        (lambda: CategoricalParam("c", (float("nan"),)), "params.c.choices: must be finite"),
        (lambda: FixedParam("f", {"a": 1}), "params.f.value: must be a scalar"),
        (lambda: Condition("", ("a",)), "condition.parent: must be a non-empty string"),
        (lambda: Condition("p", ()), "condition.in: must list at least one value"),
        (lambda: Condition("p", "sgd"), "condition.in: must be a list of values"),
        (lambda: Condition("p", (True, True)), "value True is listed twice"),
    ],
)
def test_constructor_rules(make, fragment):
    with pytest.raises(SpaceError) as info:
        make()
    assert fragment in str(info.value)


def test_constructors_normalize_numpy_and_int_bounds():
    p = FloatParam("x", np.int64(0), np.float32(2.0))
    assert p.low == 0.0 and type(p.low) is float and type(p.high) is float
    q = IntParam("n", np.int64(1), np.int32(5))
    assert type(q.low) is int and type(q.high) is int
    c = CategoricalParam("c", [np.str_("a"), np.int64(2), np.bool_(True)])
    assert c.choices == ("a", 2, True)
    assert [type(v) for v in c.choices] == [str, int, bool]


def test_param_is_abstract_and_frozen():
    with pytest.raises(TypeError):
        Param("x", None)  # type: ignore[abstract]
    p = FloatParam("x", 0.0, 1.0)
    with pytest.raises(AttributeError):
        p.low = 0.5  # type: ignore[misc]


def test_kind_numeric_cardinality():
    assert (FloatParam("x", 0, 1).kind, FloatParam("x", 0, 1).is_numeric) == ("float", True)
    assert FloatParam("x", 0, 1).cardinality is None
    assert IntParam("n", 16, 256, step=16).cardinality == 16
    assert IntParam("n", 4, 4).cardinality == 1
    assert (IntParam("n", 0, 1).kind, IntParam("n", 0, 1).is_numeric) == ("int", True)
    c = CategoricalParam("c", ("a", "b", None))
    assert (c.kind, c.is_numeric, c.cardinality) == ("categorical", False, 3)
    f = FixedParam("f", "v")
    assert (f.kind, f.is_numeric, f.cardinality) == ("fixed", False, 1)


# ---------------------------------------------------------------- value validation


def test_float_validate_value():
    p = FloatParam("lr", 1e-4, 1e-1, log=True)
    assert p.validate_value(1e-4) == 1e-4
    assert p.validate_value(np.float64(0.01)) == 0.01
    assert type(p.validate_value(np.float32(0.01))) is float
    q = FloatParam("x", 0.0, 10.0)
    assert q.validate_value(3) == 3.0 and type(q.validate_value(3)) is float
    for bad in (10.5, -0.1, float("nan"), float("inf"), "0.5", None, True, [1.0]):
        assert not q.contains(bad), bad
    with pytest.raises(
        SpaceError, match=r"parameter 'x': 10.5 is not in its domain \[0.0, 10.0\]"
    ):
        q.validate_value(10.5)


def test_int_validate_value():
    p = IntParam("u", 16, 256, step=16)
    assert p.validate_value(32) == 32
    assert p.validate_value(np.int64(48)) == 48 and type(p.validate_value(np.int64(48))) is int
    assert p.validate_value(64.0) == 64 and type(p.validate_value(64.0)) is int
    for bad in (17, 0, 272, 32.5, True, "32", None):
        assert not p.contains(bad), bad
    with pytest.raises(SpaceError, match=r"17 is not in its domain \[16, 256\] step 16"):
        p.validate_value(17)


def test_categorical_bool_int_distinction():
    c = CategoricalParam("c", (True, False))
    assert c.contains(True) and c.contains(np.bool_(False))
    assert not c.contains(1) and not c.contains(0) and not c.contains(1.0)
    with pytest.raises(SpaceError, match=r"1 is not in its domain \(choices \[True, False\]\)"):
        c.validate_value(1)
    d = CategoricalParam("d", (1, True))  # distinct choices
    assert d.validate_value(True) is True
    assert d.validate_value(1) == 1 and d.validate_value(1) is not True
    assert d.index(True) == 1 and d.index(1) == 0
    assert CategoricalParam("e", (0, 1)).contains(np.int64(1))
    assert not CategoricalParam("e", (0, 1)).contains(False)


def test_categorical_numbers_compare_by_value():
    c = CategoricalParam("c", (0.5, 1, "1", None))
    assert c.validate_value(1.0) == 1 and type(c.validate_value(1.0)) is int
    assert c.validate_value(np.float64(0.5)) == 0.5
    assert c.validate_value(None) is None
    assert c.validate_value("1") == "1"
    assert not c.contains([1]) and not c.contains("0.5")


def test_fixed_validate_value_is_type_aware():
    f = FixedParam("f", 3)
    assert f.validate_value(3) == 3 and f.validate_value(3.0) == 3
    assert not f.contains(True) and not f.contains("3")
    g = FixedParam("g", True)
    assert g.contains(True) and not g.contains(1)
    assert FixedParam("n", None).contains(None)


# ---------------------------------------------------------------- sampling


def test_float_sample_in_domain_and_uniform():
    p = FloatParam("x", -5.0, 10.0)
    r = rng(1)
    xs = np.array([p.sample(r) for _ in range(4000)])
    assert xs.min() >= -5.0 and xs.max() <= 10.0
    assert abs(xs.mean() - 2.5) < 0.3  # uniform mean, sd of mean ~0.07
    assert all(type(x) is float for x in xs[:5].tolist())


def test_float_log_sample_spreads_over_decades():
    p = FloatParam("lr", 1e-5, 1e-1, log=True)
    r = rng(2)
    xs = np.array([p.sample(r) for _ in range(4000)])
    assert xs.min() >= 1e-5 and xs.max() <= 1e-1
    decades = np.floor(np.log10(xs)).astype(int)
    counts = np.bincount(decades + 5, minlength=4)
    # log-uniform: each of the 4 decades gets ~1000 draws; linear sampling would put ~90% in
    # the top decade.
    assert counts.min() > 800 and counts.max() < 1200, counts


def test_int_sample_on_grid_covers_all_values():
    p = IntParam("u", 16, 256, step=16)
    r = rng(3)
    xs = [p.sample(r) for _ in range(2000)]
    assert all(type(x) is int for x in xs)
    assert set(xs) == set(range(16, 257, 16))


def test_int_log_sample_favors_small_values():
    p = IntParam("w", 1, 1000, log=True)
    r = rng(4)
    xs = np.array([p.sample(r) for _ in range(4000)])
    assert xs.min() >= 1 and xs.max() <= 1000
    assert xs.min() == 1  # the lowest value is reachable
    # log-uniform on [0.5, 1000.5]: P(x <= 31) ~ log(31.5/0.5)/log(1000.5/0.5) ~ 0.545
    frac = np.mean(xs <= 31)
    assert 0.5 < frac < 0.59, frac


def test_categorical_and_fixed_sample():
    c = CategoricalParam("c", ("a", 2, None, True))
    r = rng(5)
    xs = [c.sample(r) for _ in range(400)]
    keys = {(type(x), x) for x in xs}
    assert keys == {(str, "a"), (int, 2), (type(None), None), (bool, True)}
    assert FixedParam("f", 7).sample(r) == 7


def test_sample_rejects_non_generator():
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        FloatParam("x", 0, 1).sample(0)  # type: ignore[arg-type]


def test_sample_deterministic():
    p = FloatParam("x", 0, 1, log=False)
    assert [p.sample(rng(9)) for _ in range(3)] == [p.sample(rng(9)) for _ in range(3)]


# ---------------------------------------------------------------- unit mapping


def test_float_unit_round_trip_and_endpoints():
    for p in (FloatParam("x", -5.0, 10.0), FloatParam("lr", 1e-5, 1e-1, log=True)):
        assert p.to_unit(p.low) == 0.0 and p.to_unit(p.high) == 1.0
        assert p.from_unit(0.0) == p.low and p.from_unit(1.0) == p.high
        assert p.from_unit(-3.0) == p.low and p.from_unit(7.0) == p.high  # clipped
        for x in np.linspace(p.low, p.high, 37):
            assert math.isclose(p.from_unit(p.to_unit(float(x))), float(x), rel_tol=1e-12)
    lr = FloatParam("lr", 1e-4, 1e-2, log=True)
    assert math.isclose(lr.to_unit(1e-3), 0.5)
    assert math.isclose(lr.from_unit(0.5), 1e-3)


def test_int_unit_round_trip_and_equal_cells():
    p = IntParam("u", 16, 256, step=16)
    for v in range(16, 257, 16):
        u = p.to_unit(v)
        assert 0.0 < u < 1.0
        assert p.from_unit(u) == v
    assert p.from_unit(0.0) == 16 and p.from_unit(1.0) == 256
    assert p.from_unit(0.5 / 16) == 16 and p.from_unit(1.0 / 16) == 32
    # uniform u in [0, 1] hits every grid value equally often (cells of width 1/16)
    us = np.linspace(0, 1, 16 * 100, endpoint=False) + 1 / 3200
    counts = np.unique([p.from_unit(float(u)) for u in us], return_counts=True)[1]
    assert set(counts.tolist()) == {100}
    lg = IntParam("w", 1, 1000, log=True)
    for v in (1, 2, 3, 10, 99, 500, 999, 1000):
        assert lg.from_unit(lg.to_unit(v)) == v
    assert lg.from_unit(0.0) == 1 and lg.from_unit(1.0) == 1000
    assert IntParam("k", 5, 5).to_unit(5) == 0.5


def test_categorical_and_fixed_unit():
    c = CategoricalParam("c", ("a", "b", "c", "d"))
    assert [c.to_unit(v) for v in c.choices] == [0.125, 0.375, 0.625, 0.875]
    assert [c.from_unit(c.to_unit(v)) for v in c.choices] == list(c.choices)
    assert c.from_unit(0.0) == "a" and c.from_unit(1.0) == "d" and c.from_unit(0.2499) == "a"
    f = FixedParam("f", "x")
    assert f.to_unit("x") == 0.5 and f.from_unit(0.9) == "x"
    with pytest.raises(SpaceError):
        f.to_unit("y")


def test_unit_rejects_bad_input():
    p = FloatParam("x", 0, 1)
    with pytest.raises(SpaceError, match="unit value must be a number"):
        p.from_unit(float("nan"))
    with pytest.raises(SpaceError, match="unit value must be a number"):
        p.from_unit("0.5")  # type: ignore[arg-type]
    with pytest.raises(SpaceError, match="not in its domain"):
        p.to_unit(2.0)


# ---------------------------------------------------------------- equality, dict form


def test_equality_is_type_aware_and_hashable():
    assert CategoricalParam("c", (1, "a")) != CategoricalParam("c", (True, "a"))
    assert CategoricalParam("c", (1, "a")) == CategoricalParam("c", (1.0, "a"))
    assert FixedParam("f", 1) != FixedParam("f", True)
    assert Condition("p", (1,)) != Condition("p", (True,))
    assert FloatParam("x", 0, 1) == FloatParam("x", 0.0, 1.0)
    assert FloatParam("x", 0, 1) != FloatParam("x", 0, 1, log=False, condition=Condition("p", [1]))
    assert FloatParam("x", 0, 1) != IntParam("x", 0, 1)
    assert (
        len({CategoricalParam("c", (1,)), CategoricalParam("c", (1.0,)), FixedParam("c", 1)}) == 2
    )


def test_to_dict_omits_defaults():
    assert FloatParam("x", 0, 1).to_dict() == {"type": "float", "low": 0.0, "high": 1.0}
    assert IntParam("n", 16, 256, step=16, log=False).to_dict() == {
        "type": "int",
        "low": 16,
        "high": 256,
        "step": 16,
    }
    cond = Condition("opt", ["sgd"])
    assert FloatParam("m", 0, 1, log=False, condition=cond).to_dict()["condition"] == {
        "parent": "opt",
        "in": ["sgd"],
    }
    assert CategoricalParam("c", (None, True)).to_dict() == {
        "type": "categorical",
        "choices": [None, True],
    }


def test_params_pickle():
    for p in (
        FloatParam("x", 0, 1, log=False, condition=Condition("c", ["a"])),
        IntParam("n", 1, 9, step=2),
        CategoricalParam("c", ("a", 1, True)),
        FixedParam("f", None),
    ):
        q = pickle.loads(pickle.dumps(p))
        assert q == p
        if isinstance(p, CategoricalParam):
            assert q.index(True) == 2  # the private index survives pickling
