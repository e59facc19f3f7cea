"""Quantization as architecture dimensions: YAML, sites, encodings, sampling, metrics."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from nas.exceptions import SpaceError
from nas.space import FIXED_QUANT, Arch, ArchSpace, QuantChoice, arch_cost, quant_cost

QUANT: dict[str, Any] = {
    "wbits": [2, 4, 8],
    "abits": [2, 4, 8],
    "granularity": ["channel", "tensor"],
    "symmetry": ["sym", "asym"],
}
SPACE: dict[str, Any] = {
    "input": {"channels": 1, "height": 6, "width": 6},
    "classes": 3,
    "stem": {"channels": 4},
    "quant": QUANT,
    "stages": [
        {"channels": 4, "stride": 1, "depth": [1, 2], "ops": ["conv", "sepconv", "skip"],
         "kernel": [1, 3], "width": [2, 4]},
        {"channels": 6, "stride": 2, "depth": [1], "ops": ["conv", "avgpool"], "kernel": 3,
         "width": [4], "quant": {"wbits": [4, 8], "symmetry": "sym"}},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def space() -> ArchSpace:
    return ArchSpace.from_dict(SPACE)


def test_sites_cover_every_conv_with_the_stage_override(space) -> None:
    names = [s.name for s in space.quant_sites]
    assert names == [
        "s0.l0.c0", "s0.l0.c1", "s0.l0.c2", "s0.l1.c0", "s0.l1.c1", "s0.l1.c2",
        "s1.t", "s1.l0.c0", "s1.l0.c1",
    ]  # fmt: skip
    by = {s.name: s for s in space.quant_sites}
    assert by["s0.l0.c2"].ops == ("sepconv",) and by["s0.l0.c0"].ops == ("conv", "sepconv")
    stage1 = by["s1.t"].spec
    # inherited abits and granularity; the override's wbits and symmetry
    assert stage1.wbits == (4, 8) and stage1.abits == (2, 4, 8)
    assert stage1.granularity == ("channel", "tensor") and stage1.symmetry == ("sym",)
    assert ArchSpace.from_dict(space.to_dict()) == space
    plain = {k: v for k, v in SPACE.items() if k != "quant"}
    plain["stages"] = [{k: v for k, v in st.items() if k != "quant"} for st in SPACE["stages"]]
    assert ArchSpace.from_dict(plain).quant_sites == ()


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("quant", "wbits"), [1, 4], r"supernet\.quant\.wbits: expected integers in \[2, 8\]"),
        (("quant", "abits"), [4, 4], r"supernet\.quant\.abits: repeated values"),
        (("quant", "granularity"), ["row"], r"supernet\.quant\.granularity: expected some of"),
        (("quant", "bits"), [4], r"supernet\.quant: unknown keys \['bits'\]"),
        (("quant",), [4], r"supernet\.quant: expected a mapping"),
    ],
)
def test_bad_quant_yaml_names_the_key(path: tuple[str, ...], value: Any, match: str) -> None:
    data = copy.deepcopy(SPACE)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(SpaceError, match=match):
        ArchSpace.from_dict(data)
    del data["quant"]  # a stage override without a space spec must be complete
    with pytest.raises(SpaceError, match=r"stages\[1\]\.quant\.abits: missing"):
        ArchSpace.from_dict(data)


def test_every_encoding_round_trips_and_keys_ignore_inactive_sites(space) -> None:
    rng = np.random.default_rng(0)
    flat, cond = space.search_space, space.conditional_search_space
    assert {f"{s.name}.{k}" for s in space.quant_sites for k in QUANT} <= set(flat.names)
    for _ in range(40):
        arch = space.full_mask().sample(rng)
        assert len(arch.quant) == len(space.quant_sites)
        assert all(
            site.spec.allows(q) for site, q in zip(space.quant_sites, arch.quant, strict=True)
        )
        key = space.canonical(arch)
        assert space.canonical(space.arch(space.params(arch))) == key
        cp = space.conditional_params(arch)
        cond.validate(cp)
        assert space.canonical(space.arch(cp)) == key
        assert Arch.from_dict(arch.to_dict()) == arch
        # a site that computes nothing does not matter
        for k, site in enumerate(space.quant_sites):
            if not site.active(arch):
                other = list(arch.quant)
                other[k] = site.spec.extreme(highest=True)
                assert space.canonical(Arch(arch.depths, arch.layers, tuple(other))) == key
    # flat params of sepconv's third conv are inactive for conv in the conditional encoding
    conv_arch = space.arch({**space.params(space.largest()), "s0.l0.op": "conv"})
    assert "s0.l0.c2.wbits" not in space.conditional_params(conv_arch)


def test_extremes_and_full_precision(space) -> None:
    big, small = space.largest(), space.smallest()
    assert {q.wbits for q in big.quant} == {8} and {q.abits for q in big.quant} == {8}
    assert {q.wbits for q in small.quant} == {2, 4}  # stage 1 allows 4 and 8 only
    fp = space.full_precision(big)
    assert fp.quant == () and space.canonical(fp).quant == ()
    with pytest.raises(ValueError, match="full-precision architecture is not an assignment"):
        space.params(fp)


def test_quant_cost_by_hand(space) -> None:
    arch = space.largest()
    cost = arch_cost(space, arch)
    convs = cost.convs
    middle = convs[1:-1]
    q8 = quant_cost(space, arch)
    assert q8.avg_wbits == 8 and q8.avg_abits == 8
    assert q8.bitops == sum(c.macs for c in convs) * 64
    fp = quant_cost(space, space.full_precision(arch))
    assert fp.size_bytes == 4 * cost.params and fp.avg_wbits == 32
    assert fp.bitops == sum(c.macs for c in convs) * 32 * 32
    # every site at 2 bits but stage 1 (4): the weighted means
    low = Arch(
        arch.depths,
        arch.layers,
        tuple(
            QuantChoice(2 if s.stage == 0 else 4, 2, "tensor", "sym") for s in space.quant_sites
        ),
    )
    q = quant_cost(space, low)
    # the largest network's convs, in order: stem | s0 two conv layers (2 each) | s1 t, conv
    bits = [2] * 4 + [4] * 3
    assert len(middle) == len(bits)
    want_w = sum(b * c.params for b, c in zip(bits, middle, strict=True)) / sum(
        c.params for c in middle
    )
    want_a = sum(2 * c.in_elems for c in middle) / sum(c.in_elems for c in middle)
    assert q.avg_wbits == pytest.approx(want_w) and q.avg_abits == pytest.approx(want_a)
    weight_bits = 8 * (convs[0].params + convs[-1].params) + sum(
        b * c.params for b, c in zip(bits, middle, strict=True)
    )
    # fixed first/last layers: per-channel scales + the activation's; per-tensor sites: 1 + 1
    scale_bits = 32 * ((convs[0].c_out + 1) + (convs[-1].c_out + 1) + 2 * len(middle))
    other = 32 * (cost.params - sum(c.params for c in convs))
    assert q.size_bytes == -(-(weight_bits + scale_bits + other) // 8)
    assert QuantChoice(8, 8, "channel", "sym") == FIXED_QUANT
