"""Architecture spaces: YAML loading and its errors, the search space, arch <-> params, masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas.exceptions import SpaceError
from nas.space import SKIPPED, Arch, ArchMask, ArchSpace, LayerChoice, SearchSpace

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
    rng = np.random.default_rng(0)
    for _ in range(50):
        params = ss.sample(rng)
        arch = space.arch(params)
        assert space.arch(space.params(arch)) == arch
        # the flat assignment differs from the sample only where nothing is computed
        assert space.key(space.params(arch)) == space.key(params)
        assert all(c == SKIPPED for st in arch.layers for c in st if c.op == "skip")
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
    with pytest.raises(SpaceError, match=r"missing\.yaml: file not found$"):
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


# ---------------------------------------------------------------------------- torch-free data


def test_parsing_an_architecture_space_imports_no_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from nas.space import SearchSpace, ArchSpace; "
        f"ArchSpace.from_yaml({str(DIGITS)!r}); SearchSpace.from_yaml({str(DIGITS)!r}); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_duplicate_keys_in_an_architecture_yaml_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("supernet:\n  classes: 10\n  classes: 3\n")
    with pytest.raises(SpaceError, match="duplicate key 'classes'"):
        ArchSpace.from_yaml(f)


def test_search_space_carries_the_equivalence_through_json() -> None:
    space = ArchSpace.from_dict(SMALL)
    for ss in (space.search_space, space.conditional_search_space):
        back = SearchSpace.from_json(ss.to_json())
        assert back == ss and back.equivalence == space
    a = space.params(space.largest())
    b = {**a, "s0.depth": 1, "s0.l1.op": "skip"}  # slot 1 is beyond the depth either way
    c = {**a, "s0.depth": 1, "s0.l1.kernel": 3}
    assert space.search_space.key(b) == space.search_space.key(c)
    assert space.search_space.key(a) != space.search_space.key(b)
    plain = SearchSpace.from_dict({"params": {"x": {"type": "int", "low": 0, "high": 3}}})
    assert plain.key({"x": 1}) == plain.key({"x": 1.0}) != plain.key({"x": 2})


# ---------------------------------------------------------------------------- masks

RANKING = ROOT / "benchmarks" / "ranking_space.yaml"


def test_slot_choices_are_joint_and_skip_stands_for_a_skipped_slot() -> None:
    space = ArchSpace.from_dict(SMALL)
    # stage 0: conv x 2 kernels x 2 widths, and skip
    assert len(space.slot_choices(0, 0)) == 5 and SKIPPED in space.slot_choices(0, 0)
    # stage 1 (sepconv only, depth 1): no skip
    assert space.slot_choices(1, 0) == (LayerChoice("sepconv", 3, 8),)
    no_skip = ArchSpace.from_dict(
        {**SMALL, "stages": [{**SMALL["stages"][0], "ops": ["conv"]}, SMALL["stages"][1]]}
    )
    # slot 1 is beyond depth 1: skipped by the depth alone
    assert SKIPPED not in no_skip.slot_choices(0, 0) and SKIPPED in no_skip.slot_choices(0, 1)


def _all_archs(space: ArchSpace) -> set[Arch]:
    from nas.supernet._ranking import enumerate_archs

    return {space.canonical(a) for a in enumerate_archs(space)}


def test_restricted_masks_partition_the_space_and_sampling_stays_inside() -> None:
    space = ArchSpace.from_yaml(RANKING)
    full = space.full_mask()
    assert full.is_full()
    choices = full.choices(0, 0)
    assert len(choices) == 9  # conv and sepconv x 2 kernels x 2 widths, and skip
    a = full.restrict(0, 0, choices[:4])
    b = full.restrict(0, 0, choices[4:])
    everything = _all_archs(space)
    in_a = {x for x in everything if a.contains(x)}
    in_b = {x for x in everything if b.contains(x)}
    assert in_a and in_b and not in_a & in_b and in_a | in_b == everything
    rng = np.random.default_rng(0)
    for mask, members in ((a, in_a), (b, in_b)):
        for _ in range(200):
            arch = mask.sample(rng)
            assert mask.contains(arch) and space.canonical(arch) in members
        assert mask.contains(mask.largest()) and mask.contains(mask.smallest())
    assert ArchMask.from_dict(space, a.to_dict()) == a
    with pytest.raises(SpaceError, match="not among"):
        a.restrict(0, 0, choices[4:5])


def test_uniform_sampling_of_the_full_mask_covers_every_architecture() -> None:
    space = ArchSpace.from_yaml(RANKING)
    rng = np.random.default_rng(1)
    seen = {space.canonical(space.full_mask().sample(rng)) for _ in range(3000)}
    assert seen == _all_archs(space)


def test_op_weights_steer_the_op_and_masks_drop_disallowed_ops() -> None:
    space = ArchSpace.from_yaml(RANKING)
    rng = np.random.default_rng(2)
    full = space.full_mask()
    ops = [full.sample(rng, {"conv": 8.0, "sepconv": 1.0, "skip": 1.0}).layers[0][0].op
           for _ in range(2000)]  # fmt: skip
    assert 0.75 < ops.count("conv") / len(ops) < 0.85
    no_conv = full.restrict(0, 0, [c for c in full.choices(0, 0) if c.op != "conv"])
    ops = [no_conv.sample(rng, {"conv": 100.0, "sepconv": 1.0}).layers[0][0].op
           for _ in range(200)]  # fmt: skip
    assert "conv" not in ops and ops.count("skip") == 0  # skip weighs 0 here


def test_masks_respect_depth_feasibility() -> None:
    space = ArchSpace.from_dict(SMALL)
    full = space.full_mask()
    assert full.feasible_depths(0) == (1, 2)
    # forbidding "nothing" in slot 1 forces depth 2
    deep = full.restrict(0, 1, [c for c in full.choices(0, 1) if c != SKIPPED])
    assert deep.feasible_depths(0) == (2,)
    rng = np.random.default_rng(0)
    assert all(deep.sample(rng).depths[0] == 2 for _ in range(50))
    assert deep.smallest().depths[0] == 2 and deep.smallest().layers[0][0] == SKIPPED


def test_largest_and_smallest_follow_the_cost_inside_a_mask() -> None:
    space = ArchSpace.from_yaml(RANKING)
    full = space.full_mask()
    sep = full.restrict(0, 0, [c for c in full.choices(0, 0) if c.op == "sepconv"])
    big = sep.largest().layers[0][0]
    assert big.op == "sepconv" and big.kernel == 5 and big.width == 16
    small = sep.smallest().layers[0][0]
    assert small == LayerChoice("sepconv", 3, 4)
    costs = [space.cost(sep.sample(np.random.default_rng(i))).params for i in range(30)]
    assert space.cost(sep.smallest()).params <= min(costs)


def test_masks_of_a_stage_without_skip_round_trip_through_params() -> None:
    space = ArchSpace.from_dict(
        {**SMALL, "stages": [{**SMALL["stages"][0], "ops": ["conv"]}, SMALL["stages"][1]]}
    )
    rng = np.random.default_rng(0)
    for _ in range(30):
        arch = space.full_mask().sample(rng)  # depth 1 leaves slot 1 SKIPPED
        for ss in (space.search_space, space.conditional_search_space):
            params = (
                space.params(arch) if ss is space.search_space else space.conditional_params(arch)
            )
            assert space.canonical(space.arch(ss.validate(params))) == space.canonical(arch)
