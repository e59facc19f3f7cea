"""Architecture spaces: YAML loading and its errors, the search space, arch <-> params."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas.exceptions import SpaceError
from nas.supernet import Arch, ArchSpace, LayerChoice

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "search_spaces" / "digits_cnn.yaml"

SMALL = {
    "input": {"channels": 1, "height": 8, "width": 8},
    "classes": 10,
    "stem": {"channels": 8},
    "stages": [
        {
            "channels": 8,
            "stride": 1,
            "depth": [1, 2],
            "ops": ["conv", "skip"],
            "kernel": [3, 5],
            "width": [4, 8],
        },
        {"channels": 16, "stride": 2, "depth": 1, "ops": "sepconv", "kernel": 3, "width": [8]},
    ],
}


def test_digits_space_loads_and_is_an_ordinary_search_space() -> None:
    space = ArchSpace.from_yaml(DIGITS)
    ss = space.search_space
    assert ss.names[0] == "s0.depth"
    assert len(ss.names) == 2 + 3 * (2 + 2)
    params = ss.sample(np.random.default_rng(0))
    arch = space.arch(params)
    assert space.params(arch) == ss.validate(params)
    assert ArchSpace.from_dict(space.to_dict()) == space


def test_single_choices_become_fixed_params() -> None:
    space = ArchSpace.from_dict(SMALL)
    kinds = {p.name: p.kind for p in space.search_space.params}
    assert kinds["s1.depth"] == "fixed" and kinds["s1.l0.op"] == "fixed"
    assert kinds["s0.l1.op"] == "categorical"


@pytest.mark.parametrize(
    ("patch", "where"),
    [
        ({"stages": []}, "supernet.stages"),
        ({"bogus": 1}, "unknown keys"),
        ({"stem": {"channels": 0}}, "supernet.stem.channels"),
        ({"stages": [{**SMALL["stages"][0], "stride": 3}]}, r"stages\[0\].stride"),
        ({"stages": [{**SMALL["stages"][0], "kernel": [3, 4]}]}, "odd"),
        ({"stages": [{**SMALL["stages"][0], "ops": ["conv", "pool"]}]}, r"stages\[0\].ops"),
        ({"stages": [{**SMALL["stages"][0], "width": [4, 4]}]}, "distinct"),
        ({"stages": [{k: v for k, v in SMALL["stages"][0].items() if k != "depth"}]}, "missing"),
        ({"input": {"channels": 1}}, "supernet.input"),
    ],
)
def test_bad_definitions_name_the_key(patch: dict, where: str) -> None:
    with pytest.raises(SpaceError, match=where):
        ArchSpace.from_dict({**SMALL, **patch}, source="x.yaml")


def test_yaml_without_supernet_key_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("params: {}\n")
    with pytest.raises(SpaceError, match="supernet"):
        ArchSpace.from_yaml(f)
    with pytest.raises(SpaceError, match="cannot read"):
        ArchSpace.from_yaml(tmp_path / "missing.yaml")


def test_arch_refuses_values_outside_the_choices() -> None:
    space = ArchSpace.from_dict(SMALL)
    params = space.params(space.largest())
    params["s0.l0.width"] = 5
    with pytest.raises(SpaceError, match=r"s0\.l0\.width"):
        space.arch(params)


def test_canonical_identifies_architectures_computing_the_same_function() -> None:
    space = ArchSpace.from_dict(SMALL)
    a = space.largest()
    conv = LayerChoice("conv", 5, 8)
    one_deep = Arch((1, 1), ((conv, LayerChoice("conv", 3, 4)), a.layers[1]))
    other = Arch((1, 1), ((conv, LayerChoice("skip", 5, 8)), a.layers[1]))
    skip_second = Arch((2, 1), ((conv, LayerChoice("skip", 3, 4)), a.layers[1]))
    assert space.canonical(one_deep) == space.canonical(other) == space.canonical(skip_second)
    assert space.canonical(a) != space.canonical(one_deep)


def test_largest_and_smallest() -> None:
    space = ArchSpace.from_dict(SMALL)
    big, small = space.largest(), space.smallest()
    assert big.depths == (2, 1) and big.layers[0][0] == LayerChoice("conv", 5, 8)
    assert small.depths == (1, 1) and small.layers[0][0].op == "skip"
    assert small.layers[1][0] == LayerChoice("sepconv", 3, 8)  # only choice


def test_conditional_encoding_is_one_assignment_per_network() -> None:
    import itertools

    space = ArchSpace.from_dict(SMALL)
    cs = space.conditional_search_space
    assert cs.names == space.search_space.names  # same dimensions, with conditions
    # Enumerate every assignment of the conditional space: stage 0 depth 1 or 2, each active
    # layer conv (kernel x width) or skip; stage 1 fixed.
    layer = [{"op": "skip"}] + [
        {"op": "conv", "kernel": k, "width": w} for k, w in itertools.product([3, 5], [4, 8])
    ]
    assignments = []
    for depth in (1, 2):
        for layers in itertools.product(layer, repeat=depth):
            p = {"s0.depth": depth}
            for j, choice in enumerate(layers):
                p.update({f"s0.l{j}.{k}": v for k, v in choice.items()})
            p.update({"s1.depth": 1, "s1.l0.op": "sepconv", "s1.l0.kernel": 3, "s1.l0.width": 8})
            assignments.append(cs.validate(p))
    assert len(assignments) == 5 + 25
    keys: dict = {}
    for p in assignments:
        arch = space.arch(p)
        assert space.conditional_params(arch) == p  # round trip
        keys.setdefault(space.canonical(arch), []).append(p)
    # Distinct assignments are distinct networks, except a skip inside the depth repeating a
    # shallower depth: depth 2 with one skipped layer equals depth 1 with the other layer.
    for group in keys.values():
        if len(group) > 1:
            assert all(p["s0.depth"] == 2 for p in group[1:])
            assert any(p.get("s0.l1.op") == "skip" or p["s0.l0.op"] == "skip" for p in group)
    from nas.supernet._ranking import enumerate_archs

    assert len(keys) == len(enumerate_archs(space))
    # Inactive dimensions are absent; a flat assignment of the same network is accepted too.
    p = cs.validate({"s0.depth": 1, "s0.l0.op": "skip", "s1.depth": 1, "s1.l0.op": "sepconv",
                     "s1.l0.kernel": 3, "s1.l0.width": 8})  # fmt: skip
    assert set(p) == {
        "s0.depth",
        "s0.l0.op",
        "s1.depth",
        "s1.l0.op",
        "s1.l0.kernel",
        "s1.l0.width",
    }
    flat = space.params(space.arch(p))
    assert space.canonical(space.arch(flat)) == space.canonical(space.arch(p))
