"""Conversion from real ConfigSpace (>= 1.0) objects."""

from __future__ import annotations

import numpy as np
import pytest

from nas.exceptions import SpaceError
from nas.space import (
    CategoricalParam,
    Condition,
    FixedParam,
    FloatParam,
    IntParam,
    SearchSpace,
)

CS = pytest.importorskip("ConfigSpace")


def conditional_cs():
    cs = CS.ConfigurationSpace(name="demo", seed=1)
    opt = CS.CategoricalHyperparameter("optimizer", ["sgd", "adam"])
    momentum = CS.UniformFloatHyperparameter("momentum", 0.0, 0.99)
    lr = CS.UniformFloatHyperparameter("lr", 1e-5, 1e-1, log=True)
    depth = CS.UniformIntegerHyperparameter("depth", 1, 3)
    width = CS.UniformIntegerHyperparameter("width", 8, 512, log=True)
    act = CS.OrdinalHyperparameter("act", ["relu", "tanh", "gelu"])
    bs = CS.Constant("batch_size", 64)
    cs.add(
        opt,
        momentum,
        lr,
        depth,
        width,
        act,
        bs,
        CS.EqualsCondition(momentum, opt, "sgd"),
        CS.InCondition(width, depth, [2, 3]),
        CS.EqualsCondition(act, depth, 3),  # 2-level chain: act -> depth (no cond) ...
    )
    return cs


def test_conditional_configspace_converts():
    space = SearchSpace.from_configspace(conditional_cs())
    assert set(space.names) == {
        "optimizer",
        "momentum",
        "lr",
        "depth",
        "width",
        "act",
        "batch_size",
    }
    assert space["optimizer"] == CategoricalParam("optimizer", ("sgd", "adam"))
    assert space["momentum"] == FloatParam(
        "momentum", 0.0, 0.99, condition=Condition("optimizer", ["sgd"])
    )
    assert space["lr"] == FloatParam("lr", 1e-5, 1e-1, log=True)
    assert space["depth"] == IntParam("depth", 1, 3)
    assert space["width"] == IntParam(
        "width", 8, 512, log=True, condition=Condition("depth", [2, 3])
    )
    assert space["act"] == CategoricalParam(
        "act", ("relu", "tanh", "gelu"), condition=Condition("depth", [3])
    )
    assert space["batch_size"] == FixedParam("batch_size", 64)
    names = space.names
    assert names.index("optimizer") < names.index("momentum")
    assert names.index("depth") < names.index("width")
    # types are plain Python, not numpy
    assert type(space["depth"].low) is int  # type: ignore[attr-defined]
    r = np.random.default_rng(0)
    for _ in range(100):
        a = space.sample(r)
        assert space.validate(a) == a
        assert ("momentum" in a) == (a["optimizer"] == "sgd")
    assert SearchSpace.from_json(space.to_json()) == space


def test_chained_conditions_from_configspace():
    cs = CS.ConfigurationSpace()
    a = CS.CategoricalHyperparameter("a", ["x", "y"])
    b = CS.UniformIntegerHyperparameter("b", 1, 4)
    c = CS.UniformFloatHyperparameter("c", 0.0, 1.0)
    cs.add(a, b, c, CS.EqualsCondition(b, a, "x"), CS.InCondition(c, b, [3, 4]))
    space = SearchSpace.from_configspace(cs)
    assert space.names == ("a", "b", "c")
    assert space.is_active("c", {"a": "x", "b": 4})
    assert not space.is_active("c", {"a": "y", "b": 4})


def test_uniform_weights_are_accepted():
    cs = CS.ConfigurationSpace()
    cs.add(CS.CategoricalHyperparameter("c", ["a", "b"], weights=[2, 2]))
    assert SearchSpace.from_configspace(cs)["c"] == CategoricalParam("c", ("a", "b"))


def _add(*items):
    cs = CS.ConfigurationSpace(name="bad")
    cs.add(*items)
    return cs


def _unsupported_cases():
    a = CS.CategoricalHyperparameter("a", ["x", "y", "z"])
    b = CS.UniformIntegerHyperparameter("b", 1, 4)
    c = CS.UniformFloatHyperparameter("c", 0.0, 1.0)
    return [
        (
            "normal",
            lambda: _add(CS.NormalFloatHyperparameter("n", mu=0.0, sigma=1.0, lower=-3, upper=3)),
            "hyperparameter 'n': NormalFloatHyperparameter is not supported",
        ),
        (
            "beta_int",
            lambda: _add(CS.BetaIntegerHyperparameter("k", alpha=2, beta=2, lower=1, upper=9)),
            "hyperparameter 'k': BetaIntegerHyperparameter is not supported",
        ),
        (
            "weights",
            lambda: _add(CS.CategoricalHyperparameter("w", ["a", "b"], weights=[0.9, 0.1])),
            "hyperparameter 'w': non-uniform weights are not supported",
        ),
        (
            "or",
            lambda: _add(
                a,
                b,
                c,
                CS.OrConjunction(CS.EqualsCondition(c, a, "x"), CS.EqualsCondition(c, b, 2)),
            ),
            "hyperparameter 'c': OrConjunction is not supported",
        ),
        (
            "and",
            lambda: _add(
                a,
                b,
                c,
                CS.AndConjunction(CS.EqualsCondition(c, a, "x"), CS.EqualsCondition(c, b, 2)),
            ),
            "hyperparameter 'c': AndConjunction is not supported",
        ),
        (
            "not_equals",
            lambda: _add(a, c, CS.NotEqualsCondition(c, a, "x")),
            "hyperparameter 'c': NotEqualsCondition is not supported",
        ),
        (
            "forbidden",
            lambda: _add(a, b, CS.ForbiddenEqualsClause(a, "z")),
            "hyperparameter(s) 'a': forbidden clauses are not supported",
        ),
        (
            "forbidden_and",
            lambda: _add(
                a,
                b,
                CS.ForbiddenAndConjunction(
                    CS.ForbiddenEqualsClause(a, "z"), CS.ForbiddenEqualsClause(b, 4)
                ),
            ),
            "hyperparameter(s) 'a', 'b': forbidden clauses are not supported",
        ),
        (
            "float_parent",
            lambda: _add(c, b, CS.EqualsCondition(b, c, 0.5)),
            "params.b.condition.parent: parent 'c' is a float param",
        ),
    ]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [case[1:] for case in _unsupported_cases()],
    ids=[case[0] for case in _unsupported_cases()],
)
def test_unsupported_features_are_named(make, fragment):
    with pytest.raises(SpaceError) as info:
        SearchSpace.from_configspace(make())
    msg = str(info.value)
    assert msg.startswith("ConfigurationSpace 'bad': "), msg
    assert fragment in msg, msg


def test_not_a_configspace():
    with pytest.raises(TypeError, match="ConfigurationSpace"):
        SearchSpace.from_configspace({"x": (0, 1)})
