"""SearchSpace: construction, ordering, activity, sample/validate/repair, serialization."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml

from nas.exceptions import SpaceError
from nas.space import (
    CategoricalParam,
    Condition,
    FixedParam,
    FloatParam,
    IntParam,
    SearchSpace,
)

REPO = Path(__file__).resolve().parents[2]
CONDITIONAL_YAML = REPO / "search_spaces" / "conditional.yaml"
BRANIN_YAML = REPO / "search_spaces" / "branin.yaml"


def chain_space() -> SearchSpace:
    """A 2-level chain: arch -> depth -> width_3, plus a categorical branch and a fixed param."""
    return SearchSpace(
        [
            IntParam("width_3", 8, 64, step=8, condition=Condition("depth", [3])),  # child first
            IntParam("depth", 1, 3, condition=Condition("arch", ["mlp"])),
            CategoricalParam("arch", ("mlp", "linear")),
            FloatParam("lr", 1e-4, 1e-1, log=True),
            FloatParam("dropout", 0.0, 0.5, condition=Condition("arch", ["mlp"])),
            FixedParam("epochs", 10),
        ]
    )


def test_example_yaml_files_load():
    branin = SearchSpace.from_yaml(BRANIN_YAML)
    assert branin.names == ("x1", "x2")
    assert branin["x1"] == FloatParam("x1", -5.0, 10.0)
    assert branin["x2"] == FloatParam("x2", 0.0, 15.0)
    space = SearchSpace.from_yaml(str(CONDITIONAL_YAML))
    kinds = {p.name: p.kind for p in space}
    assert kinds["optimizer"] == "categorical" and kinds["batch_size"] == "fixed"
    assert space["lr"].log  # type: ignore[attr-defined]
    assert space["momentum"].condition == Condition("optimizer", ["sgd"])
    assert space["beta1"].condition == Condition("optimizer", ["adam"])
    assert space["width_2"].condition == Condition("n_layers", [2, 3])
    assert space["width_3"].condition == Condition("n_layers", [3])


def test_topological_order_keeps_user_order_otherwise():
    space = chain_space()
    assert space.names == ("arch", "depth", "width_3", "lr", "dropout", "epochs")
    assert [p.name for p in space.params] == list(space.names)
    assert len(space) == 6 and [p.name for p in space] == list(space.names)
    assert "lr" in space and "nope" not in space and 3 not in space
    assert space["lr"].kind == "float"


def test_topological_order_from_yaml_child_before_parent(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "params:\n"
        "  b: {type: float, low: 0.0, high: 1.0, condition: {parent: a, in: [x]}}\n"
        "  c: {type: int, low: 0, high: 3}\n"
        "  a: {type: categorical, choices: [x, y]}\n"
        "  d: {type: fixed, value: 1, condition: {parent: b2, in: [1]}}\n"
        "  b2: {type: int, low: 1, high: 2, condition: {parent: a, in: [y]}}\n"
    )
    space = SearchSpace.from_yaml(f)
    assert space.names == ("c", "a", "b", "b2", "d")
    assert list(space.to_dict()["params"]) == ["c", "a", "b", "b2", "d"]


def test_unknown_name_lookup_is_space_and_key_error():
    space = chain_space()
    with pytest.raises(KeyError):
        space["nope"]
    with pytest.raises(SpaceError, match="unknown parameter 'nope'; the space has: arch, depth"):
        space["nope"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ([], "params: a search space needs at least one parameter"),
        ([FloatParam("x", 0, 1), IntParam("x", 0, 1)], "params.x: duplicate parameter name 'x'"),
        ([FloatParam("x", 0, 1), "y"], "params[1]: must be a Param"),
        (
            [FloatParam("x", 0, 1, condition=Condition("ghost", ["a"]))],
            "params.x.condition.parent: unknown parameter 'ghost'; known parameters: x",
        ),
        (
            [FloatParam("x", 0, 1, condition=Condition("x", [1]))],
            "params.x.condition.parent: a parameter cannot be conditioned on itself",
        ),
        (
            [FloatParam("p", 0, 1), IntParam("c", 0, 1, condition=Condition("p", [0.5]))],
            "params.c.condition.parent: parent 'p' is a float param; conditions need a "
            "categorical, int or fixed parent",
        ),
        (
            [
                CategoricalParam("o", ("sgd", "adam")),
                FloatParam("m", 0, 1, condition=Condition("o", ["sgdd"])),
            ],
            "params.m.condition.in: value 'sgdd' is not in the domain of parent 'o' "
            "(choices ['sgd', 'adam'])",
        ),
        (
            [
                CategoricalParam("o", (True, False)),
                FloatParam("m", 0, 1, condition=Condition("o", [1])),
            ],
            "params.m.condition.in: value 1 is not in the domain of parent 'o'",
        ),
        (
            [IntParam("n", 1, 3), FloatParam("m", 0, 1, condition=Condition("n", [4]))],
            "value 4 is not in the domain of parent 'n' [1, 3]",
        ),
        (
            [
                IntParam("a", 0, 1, condition=Condition("c", [0])),
                IntParam("b", 0, 1, condition=Condition("a", [0])),
                IntParam("c", 0, 1, condition=Condition("b", [0])),
            ],
            "conditions form a cycle: a -> c -> b -> a",
        ),
    ],
)
def test_space_construction_errors(params, fragment):
    with pytest.raises(SpaceError) as info:
        SearchSpace(params)
    assert fragment in str(info.value)


def test_cycle_reported_from_descendant():
    with pytest.raises(
        SpaceError, match=r"params\.a\.condition: conditions form a cycle: a -> b -> a"
    ):
        SearchSpace(
            [
                IntParam("leaf", 0, 1, condition=Condition("a", [0])),
                IntParam("a", 0, 1, condition=Condition("b", [0])),
                IntParam("b", 0, 1, condition=Condition("a", [0])),
            ]
        )


def test_condition_values_normalized_to_parent():
    space = SearchSpace(
        [IntParam("n", 1, 3), FloatParam("w", 0, 1, condition=Condition("n", [np.int64(2), 3.0]))]
    )
    values = space["w"].condition.values  # type: ignore[union-attr]
    assert values == (2, 3) and [type(v) for v in values] == [int, int]


def test_is_active_two_level_chain():
    space = chain_space()
    assert space.is_active("arch", {})
    assert space.is_active("depth", {"arch": "mlp"})
    assert not space.is_active("depth", {"arch": "linear"})
    assert space.is_active("width_3", {"arch": "mlp", "depth": 3})
    assert not space.is_active("width_3", {"arch": "mlp", "depth": 2})
    # parent has the right value but the grandparent deactivates it
    assert not space.is_active("width_3", {"arch": "linear", "depth": 3})
    assert not space.is_active("width_3", {"depth": 3})  # grandparent missing
    assert space.is_active("width_3", {"arch": "mlp", "depth": np.int64(3)})
    assert space.is_active("width_3", {"arch": "mlp", "depth": 3.0})
    with pytest.raises(SpaceError, match="unknown parameter 'zzz'"):
        space.is_active("zzz", {})


def test_is_active_bool_parent_is_type_aware():
    space = SearchSpace(
        [
            CategoricalParam("flag", (True, False)),
            FloatParam("x", 0, 1, condition=Condition("flag", [True])),
        ]
    )
    assert space.is_active("x", {"flag": True})
    assert not space.is_active("x", {"flag": 1})


def test_sample_returns_exactly_active_params_and_validates():
    space = SearchSpace.from_yaml(CONDITIONAL_YAML)
    r = np.random.default_rng(0)
    seen_keysets = set()
    for _ in range(500):
        a = space.sample(r)
        assert space.validate(a) == a
        assert set(a) == {n for n in space.names if space.is_active(n, a)}
        assert list(a) == [n for n in space.names if n in a]  # topological order
        assert ("momentum" in a) == (a["optimizer"] == "sgd")
        assert ("beta1" in a) == (a["optimizer"] == "adam")
        assert ("width_2" in a) == (a["n_layers"] >= 2)
        assert ("width_3" in a) == (a["n_layers"] == 3)
        seen_keysets.add(frozenset(a))
    assert len(seen_keysets) == 6  # 2 optimizers x 3 depths


def test_sample_deterministic_per_seed():
    space = SearchSpace.from_yaml(CONDITIONAL_YAML)
    a = [space.sample(np.random.default_rng(42)) for _ in range(3)]
    r1, r2 = np.random.default_rng(7), np.random.default_rng(7)
    s1 = [space.sample(r1) for _ in range(20)]
    s2 = [space.sample(r2) for _ in range(20)]
    assert s1 == s2
    assert a[0] == a[1] == a[2]
    assert s1 != [space.sample(np.random.default_rng(8)) for _ in range(20)]
    with pytest.raises(TypeError):
        space.sample(42)  # type: ignore[arg-type]


def test_validate_normalizes():
    space = chain_space()
    out = space.validate(
        {
            "dropout": np.float32(0.25),
            "arch": np.str_("mlp"),
            "depth": np.int64(3),
            "width_3": 16.0,
            "lr": 0.01,
            "epochs": 10,
        }
    )
    assert out == {
        "arch": "mlp",
        "depth": 3,
        "width_3": 16,
        "lr": 0.01,
        "dropout": 0.25,
        "epochs": 10,
    }
    assert list(out) == ["arch", "depth", "width_3", "lr", "dropout", "epochs"]
    assert [type(v) for v in out.values()] == [str, int, int, float, float, int]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        (
            {"arch": "linear", "lr": 0.01, "epochs": 10, "bogus": 1},
            "unknown parameter(s) 'bogus'; the space has: arch, depth",
        ),
        ({"arch": "linear", "epochs": 10}, "missing value for active parameter 'lr'"),
        (
            {"arch": "mlp", "lr": 0.01, "epochs": 10, "dropout": 0.1},
            "missing value for active parameter 'depth' (arch in ['mlp'])",
        ),
        (
            {"arch": "linear", "lr": 0.01, "epochs": 10, "depth": 2},
            "parameter 'depth' is inactive (needs arch in ['mlp'], got arch='linear') "
            "but was given the value 2",
        ),
        (
            {"arch": "linear", "lr": 0.01, "epochs": 10, "width_3": 8},
            "parameter 'width_3' is inactive (needs depth in [3], parent 'depth' is inactive)",
        ),
        (
            {"arch": "mlp", "depth": 2, "dropout": 0.1, "lr": 0.01, "epochs": 10, "width_3": 8},
            "parameter 'width_3' is inactive (needs depth in [3], got depth=2)",
        ),
        (
            {"arch": "linear", "lr": 5.0, "epochs": 10},
            "parameter 'lr': 5.0 is not in its domain [0.0001, 0.1] (log)",
        ),
        (
            {"arch": "linear", "lr": 0.01, "epochs": 11},
            "parameter 'epochs': 11 is not in its domain",
        ),
        (
            {"arch": "cnn", "lr": 0.01, "epochs": 10},
            "parameter 'arch': 'cnn' is not in its domain",
        ),
    ],
)
def test_validate_errors(params, fragment):
    with pytest.raises(SpaceError) as info:
        chain_space().validate(params)
    assert fragment in str(info.value)


def test_repair_drops_fills_and_keeps():
    space = chain_space()
    r = np.random.default_rng(3)
    given = {"arch": "linear", "depth": 3, "width_3": 16, "lr": 0.05, "junk": 1, "dropout": 9.0}
    out = space.repair(given, r)
    assert out == {"arch": "linear", "lr": 0.05, "epochs": 10}
    assert space.validate(out) == out
    # switching to mlp: kept valid values, filled the missing dropout, dropped nothing active
    out = space.repair({"arch": "mlp", "depth": 3, "width_3": 16, "lr": 0.05}, r)
    assert out["depth"] == 3 and out["width_3"] == 16 and out["lr"] == 0.05
    assert 0.0 <= out["dropout"] <= 0.5 and out["epochs"] == 10
    assert space.validate(out) == out
    # out-of-domain values of active params are resampled, within the domain
    out = space.repair({"arch": "mlp", "depth": 2, "lr": 7.0, "dropout": -1.0, "width_3": 16}, r)
    assert "width_3" not in out and out["depth"] == 2
    assert 1e-4 <= out["lr"] <= 1e-1 and 0 <= out["dropout"] <= 0.5
    assert space.validate(out) == out


def test_repair_random_partial_assignments_always_validate():
    space = SearchSpace.from_yaml(CONDITIONAL_YAML)
    r = np.random.default_rng(11)
    for _ in range(300):
        full = space.sample(r)
        other = space.sample(r)
        keep = [n for n in space.names if r.random() < 0.5]
        mixed = {n: full.get(n, other.get(n)) for n in keep if n in full or n in other}
        out = space.repair(mixed, r)
        assert space.validate(out) == out
        for n, v in mixed.items():
            if n in out and space[n].contains(v):
                assert out[n] == v  # given valid values of active params are kept


def test_dict_and_json_round_trip_of_conditional_space():
    space = SearchSpace.from_yaml(CONDITIONAL_YAML)
    assert SearchSpace.from_dict(space.to_dict()) == space
    text = space.to_json()
    assert json.loads(text) == space.to_dict()
    again = SearchSpace.from_json(text)
    assert again == space and again.to_json() == text
    chain = chain_space()
    assert SearchSpace.from_json(chain.to_json()) == chain
    tricky = SearchSpace(
        [
            CategoricalParam("c", (1, True, None, 0.5, "1")),
            FixedParam("f", False, condition=Condition("c", [True, None])),
        ]
    )
    back = SearchSpace.from_json(tricky.to_json())
    assert back == tricky
    assert [type(v) for v in back["c"].choices] == [int, bool, type(None), float, str]  # type: ignore[attr-defined]
    assert (
        SearchSpace.from_dict(yaml.safe_load(yaml.safe_dump(space.to_dict(), sort_keys=False)))
        == space
    )
    assert pickle.loads(pickle.dumps(space)) == space
    assert hash(SearchSpace.from_json(text)) == hash(space)


def test_equality_is_structural_and_order_sensitive():
    a = SearchSpace([FloatParam("x", 0, 1), IntParam("n", 1, 3)])
    assert a == SearchSpace([FloatParam("x", 0.0, 1.0), IntParam("n", 1, 3, step=1)])
    assert a != SearchSpace([IntParam("n", 1, 3), FloatParam("x", 0, 1)])
    assert a != SearchSpace([FloatParam("x", 0, 2), IntParam("n", 1, 3)])
    assert a != "not a space"


def test_from_json_errors():
    with pytest.raises(SpaceError, match=r"<json>: line 1, column \d+: invalid JSON"):
        SearchSpace.from_json("{bad")
    with pytest.raises(SpaceError, match=r"^db: params: must be a mapping"):
        SearchSpace.from_json('{"params": [1]}', source="db")
