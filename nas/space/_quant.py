"""Elastic quantization as architecture dimensions (EQ-Net): the torch-free half.

An architecture space may declare quantization choices directly under ``supernet:`` (for every
quantizable convolution) and inside a stage (overriding them there)::

    supernet:
      quant: {wbits: [2, 4, 8], abits: [2, 4, 8], granularity: [channel, tensor],
              symmetry: [sym, asym]}
      stages:
        - {channels: 16, ..., quant: {wbits: [4, 8], abits: [8]}}   # keys not given: inherited

Every convolution of a quantized stage is a **site** (:class:`QuantSite`) with its own setting
(:class:`QuantChoice`): the stage's transition conv (``s{i}.t``) and conv ``c`` of every layer
slot ``j`` (``s{i}.l{j}.c{c}``: the ``conv`` op has two convolutions, ``sepconv`` three; a
site exists for every conv index some op of the stage has, and is *active* only when the slot
computes an op that has that conv). A setting is

* ``wbits`` -- the bit-width of the conv's weights (signed grid);
* ``abits`` -- the bit-width of the conv's input activation (per tensor; an unsigned grid when
  the activation is non-negative at initialisation);
* ``granularity`` -- the weights' scales per output ``channel`` or per ``tensor``;
* ``symmetry`` -- ``sym`` (no offset) or ``asym`` (a learned offset), for the weights and the
  activation of the conv alike.

The first and last layers (the stem's conv and the classifier) are quantized at the fixed
:data:`FIXED_QUANT` (8/8, per channel, symmetric) whenever the space has any site, as the paper
does. In the search space the four settings of each site are ordinary dimensions
(``s0.l1.c0.wbits`` ...), conditional on the slot's op (and depth) where the conv may not exist.

:func:`quant_cost` is the metrics of a quantized architecture: parameter-weighted average weight
bits, feature-map-weighted average activation bits (both without the first and last layers, as
the paper), BitOPs and the model size in bytes (scales and offsets included). Convolutions that
are not quantized count as 32-bit floats.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nas.exceptions import SpaceError

if TYPE_CHECKING:
    from nas.space._arch import Arch, ArchSpace

__all__ = [
    "FIXED_QUANT",
    "GRANULARITIES",
    "QUANT_BITS",
    "SYMMETRIES",
    "QuantChoice",
    "QuantCost",
    "QuantSite",
    "QuantSpec",
    "arch_metrics",
    "quant_cost",
]

#: Weight granularities and symmetries a space may name.
GRANULARITIES = ("channel", "tensor")
SYMMETRIES = ("sym", "asym")
#: The bit-widths a space may name (codes fit in ``int8``).
QUANT_BITS = (2, 8)
_KEYS = ("wbits", "abits", "granularity", "symmetry")
#: Bits of a convolution that is not quantized (a 32-bit float).
FLOAT_BITS = 32
#: Bytes of one scale or offset (stored as 32-bit floats).
SCALE_BYTES = 4


@dataclass(frozen=True, order=True)
class QuantChoice:
    """The quantization setting of one convolution (module docstring).

    Attributes:
        wbits: weight bit-width.
        abits: input-activation bit-width.
        granularity: ``channel`` or ``tensor`` (the weights' scales).
        symmetry: ``sym`` or ``asym``.
    """

    wbits: int
    abits: int
    granularity: str
    symmetry: str

    def to_list(self) -> list[Any]:
        """JSON form ``[wbits, abits, granularity, symmetry]``."""
        return [self.wbits, self.abits, self.granularity, self.symmetry]

    @classmethod
    def from_list(cls, value: Sequence[Any]) -> QuantChoice:
        """Inverse of :meth:`to_list`.

        Raises:
            ValueError: not that form.
        """
        w, a, g, s = value
        return cls(int(w), int(a), str(g), str(s))


#: The setting of the first and last layers of a quantized space.
FIXED_QUANT = QuantChoice(8, 8, "channel", "sym")


@dataclass(frozen=True)
class QuantSpec:
    """The quantization choices of a space or a stage (module docstring); each tuple is
    non-empty, distinct and sorted (bits ascending; granularity and symmetry in
    :data:`GRANULARITIES` / :data:`SYMMETRIES` order)."""

    wbits: tuple[int, ...]
    abits: tuple[int, ...]
    granularity: tuple[str, ...]
    symmetry: tuple[str, ...]

    @classmethod
    def parse(
        cls, value: Any, source: str, path: str, inherit: QuantSpec | None = None
    ) -> QuantSpec:
        """The spec of a YAML mapping; keys it lacks come from ``inherit`` (a stage's from the
        space's), else every key is required.

        Raises:
            SpaceError: not a mapping, an unknown key, a missing key, or a value out of its
                domain; the message names the source and the key path.
        """
        if not isinstance(value, Mapping):
            raise SpaceError(f"{source}: {path}: expected a mapping of {list(_KEYS)}")
        unknown = sorted(set(value) - set(_KEYS))
        if unknown:
            raise SpaceError(f"{source}: {path}: unknown keys {unknown}; allowed {list(_KEYS)}")
        out: dict[str, tuple[Any, ...]] = {}
        for key in _KEYS:
            if key not in value:
                if inherit is None:
                    raise SpaceError(f"{source}: {path}.{key}: missing")
                out[key] = getattr(inherit, key)
                continue
            raw = value[key]
            items = raw if isinstance(raw, list) else [raw]
            if key in ("wbits", "abits"):
                lo, hi = QUANT_BITS
                if not items or any(
                    isinstance(b, bool) or not isinstance(b, int) or not lo <= b <= hi
                    for b in items
                ):
                    raise SpaceError(
                        f"{source}: {path}.{key}: expected integers in [{lo}, {hi}], got {raw!r}"
                    )
                values: tuple[Any, ...] = tuple(sorted(set(items)))
            else:
                allowed = GRANULARITIES if key == "granularity" else SYMMETRIES
                if not items or any(v not in allowed for v in items):
                    raise SpaceError(
                        f"{source}: {path}.{key}: expected some of {list(allowed)}, got {raw!r}"
                    )
                values = tuple(v for v in allowed if v in items)
            if len(values) != len(items):
                raise SpaceError(f"{source}: {path}.{key}: repeated values in {raw!r}")
            out[key] = values
        return cls(out["wbits"], out["abits"], out["granularity"], out["symmetry"])

    def to_dict(self) -> dict[str, list[Any]]:
        """The YAML mapping (round-trips through :meth:`parse`)."""
        return {key: list(getattr(self, key)) for key in _KEYS}

    def values(self, key: str) -> tuple[Any, ...]:
        """The choices of dimension ``key`` (``wbits``, ``abits``, ``granularity``,
        ``symmetry``)."""
        return tuple(getattr(self, key))

    def choices(self) -> list[QuantChoice]:
        """Every setting, in dimension order."""
        return [QuantChoice(*c) for c in itertools.product(*(self.values(k) for k in _KEYS))]

    def sample(self, rng: np.random.Generator) -> QuantChoice:
        """A setting with each dimension uniform (four draws from ``rng``, in key order)."""
        picks = [v[int(rng.integers(len(v)))] for v in (self.values(k) for k in _KEYS)]
        return QuantChoice(int(picks[0]), int(picks[1]), str(picks[2]), str(picks[3]))

    def extreme(self, highest: bool, rng: np.random.Generator | None = None) -> QuantChoice:
        """All-highest (all-lowest) bits; granularity and symmetry drawn from ``rng`` (two
        draws) when given, else the first of each (``channel`` and ``sym`` where allowed)."""
        w = self.wbits[-1] if highest else self.wbits[0]
        a = self.abits[-1] if highest else self.abits[0]
        if rng is None:
            return QuantChoice(w, a, self.granularity[0], self.symmetry[0])
        g = self.granularity[int(rng.integers(len(self.granularity)))]
        s = self.symmetry[int(rng.integers(len(self.symmetry)))]
        return QuantChoice(w, a, g, s)

    def allows(self, choice: QuantChoice) -> bool:
        """Whether ``choice`` is one of this spec's settings."""
        return (
            choice.wbits in self.wbits
            and choice.abits in self.abits
            and choice.granularity in self.granularity
            and choice.symmetry in self.symmetry
        )


@dataclass(frozen=True)
class QuantSite:
    """One quantized convolution position of a space (module docstring).

    Attributes:
        name: ``s{i}.t`` (a transition) or ``s{i}.l{j}.c{c}``.
        stage: the stage.
        slot: the layer slot (``None`` for a transition).
        conv: the conv's index inside the slot's op (0 for a transition).
        spec: its choices.
        ops: the stage's ops that have this conv (empty for a transition).
    """

    name: str
    stage: int
    slot: int | None
    conv: int
    spec: QuantSpec
    ops: tuple[str, ...] = ()

    def active(self, arch: Arch) -> bool:
        """Whether the conv computes something in ``arch``."""
        if self.slot is None:
            return True
        if self.slot >= arch.depths[self.stage]:
            return False
        return arch.layers[self.stage][self.slot].op in self.ops


@dataclass(frozen=True)
class QuantCost:
    """Quantization metrics of one architecture (module docstring of :mod:`nas.space._quant`).

    Attributes:
        avg_wbits: parameter-weighted mean weight bits, first and last layers excluded.
        avg_abits: input-feature-map-weighted mean activation bits, same layers excluded.
        bitops: ``sum(MACs * wbits * abits)`` over every conv and the classifier.
        size_bytes: weights at their bits, scales and offsets, and every other parameter
            (batch norm, biases) as 32-bit floats, rounded up to whole bytes.
    """

    avg_wbits: float
    avg_abits: float
    bitops: int
    size_bytes: int


def quant_cost(space: ArchSpace, arch: Arch) -> QuantCost:
    """The :class:`QuantCost` of ``arch`` (a space without sites: every conv a 32-bit float).

    Raises:
        ValueError: ``arch`` does not fit ``space`` (stage count, or a quantization tuple of
            another length than the space's sites).
    """
    from nas.space._arch import arch_cost

    cost = arch_cost(space, arch)
    settings = conv_settings(space, arch)
    if len(settings) != len(cost.convs):  # pragma: no cover - both walk the same network
        raise AssertionError("quantization settings and convolutions disagree")
    w_num = w_den = a_num = a_den = 0.0
    bitops = 0
    bits = 0.0
    conv_params = 0
    last = len(cost.convs) - 1
    for k, (rec, q) in enumerate(zip(cost.convs, settings, strict=True)):
        wb = FLOAT_BITS if q is None else q.wbits
        ab = FLOAT_BITS if q is None else q.abits
        bitops += rec.macs * wb * ab
        bits += rec.params * wb
        conv_params += rec.params
        if q is not None:
            scales = rec.c_out if q.granularity == "channel" else 1
            per = 2 if q.symmetry == "asym" else 1
            bits += 8 * SCALE_BYTES * per * (scales + 1)  # weight scales + activation scale
        if 0 < k < last:
            w_num += wb * rec.params
            w_den += rec.params
            a_num += ab * rec.in_elems
            a_den += rec.in_elems
    bits += FLOAT_BITS * (cost.params - conv_params)  # batch norm, classifier bias
    fixed = float(FIXED_QUANT.wbits if space.quant_sites else FLOAT_BITS)
    return QuantCost(
        avg_wbits=w_num / w_den if w_den else fixed,
        avg_abits=a_num / a_den if a_den else fixed,
        bitops=int(bitops),
        size_bytes=math.ceil(bits / 8),
    )


def conv_settings(space: ArchSpace, arch: Arch) -> list[QuantChoice | None]:
    """The setting of every convolution of ``arch`` (and the classifier) in network order --
    :attr:`~nas.space.ArchCost.convs` order --, ``None`` for one that is not quantized.

    Raises:
        ValueError: ``arch.quant`` has another length than the space's sites (and is not empty).
    """
    from nas.space._archops import ARCH_OPS, op_convs

    of = {site.name: q for site, q in space.site_settings(arch)}
    edge = FIXED_QUANT if arch.quant else None
    out: list[QuantChoice | None] = [edge]
    for i, _st in enumerate(space.stages):
        if space.transitions[i]:
            out.append(of.get(f"s{i}.t"))
        for j in range(arch.depths[i]):
            op = arch.layers[i][j].op
            if ARCH_OPS.get(op).identity:
                continue
            out.extend(of.get(f"s{i}.l{j}.c{c}") for c in range(op_convs(op)))
    out.append(edge)
    return out


def arch_metrics(space: ArchSpace, arch: Arch) -> dict[str, float]:
    """Every metric of ``arch`` computed without weights: ``params``, ``mflops`` and the
    :class:`QuantCost` fields (the names of :data:`nas.supernet.METRICS`)."""
    from nas.space._arch import arch_cost

    cost = arch_cost(space, arch)
    q = quant_cost(space, arch)
    return {
        "params": float(cost.params),
        "mflops": cost.mflops,
        "avg_wbits": q.avg_wbits,
        "avg_abits": q.avg_abits,
        "bitops": float(q.bitops),
        "size_bytes": float(q.size_bytes),
    }
