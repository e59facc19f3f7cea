"""Architecture spaces of weight-sharing supernets: pure data, torch-free.

An :class:`ArchSpace` describes a chain CNN (the shape of once-for-all's MobileNet spaces, small):

* a fixed **stem** (3x3 conv, batch norm, ReLU) to ``stem.channels``;
* **stages**, each with a fixed channel count and stride. A stage whose stride is not 1 or whose
  channel count differs from the previous one starts with a fixed *transition* (3x3 conv with
  that stride, batch norm, ReLU). Then up to ``max(depth)`` searchable **layer slots**, each a
  residual block ``x + op(x)`` whose ``op`` is one of the stage's ``ops`` (the op registry
  :data:`~nas.space.ARCH_OPS`: ``conv``, ``sepconv``, ``skip``) at one of its kernels and
  hidden widths. Slots at positions ``>= depth`` are skipped;
* a **head**: global average pooling and a linear classifier.

Architecture dimensions (the parameters of :attr:`ArchSpace.search_space`, all unconditional so
that every searcher can search them; a value that does not matter -- the kernel of a ``skip``
layer, anything of a layer beyond the depth -- is ignored, see :meth:`ArchSpace.canonical`):

* ``s{i}.depth`` (int choice, as a categorical of the allowed depths);
* ``s{i}.l{j}.op``, ``s{i}.l{j}.kernel``, ``s{i}.l{j}.width`` for every layer slot ``j``.

:attr:`ArchSpace.conditional_search_space` has the same dimensions with conditions (one
assignment per network but for one case, see there); :meth:`ArchSpace.key` is the equivalence
both encodings share: two assignments with the same key describe the same network.

**Choices and masks.** The *choice* of a slot is joint: one :class:`LayerChoice` ``(op, kernel,
width)``, with 0 for a dimension the op lacks (``skip`` is ``LayerChoice("skip", 0, 0)``, the
value :data:`SKIPPED` also stands for a slot beyond its stage's depth: both compute the
identity). :meth:`ArchSpace.slot_choices` lists a slot's choices (the ranking space's slots have
9: conv and sepconv x 2 kernels x 2 widths, and skip). An :class:`ArchMask` is a masked view of
the space -- the allowed choices of every slot -- from which path samplers draw (uniform,
importance-weighted over ops, largest, smallest), and which gradient-matching splits restrict.

YAML::

    supernet:
      input: {channels: 1, height: 8, width: 8}
      classes: 10
      stem: {channels: 16}
      stages:
        - {channels: 16, stride: 1, depth: [1, 2], ops: [conv, skip],
           kernel: [3, 5], width: [8, 16]}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas._yaml import read_yaml
from nas.exceptions import SpaceError
from nas.space._archops import ARCH_OPS, ConvRecord, CostCounter, op_convs
from nas.space._quant import QuantChoice, QuantSite, QuantSpec

if TYPE_CHECKING:
    from nas.space._space import SearchSpace

__all__ = [
    "SKIPPED",
    "Arch",
    "ArchCost",
    "ArchMask",
    "ArchSpace",
    "LayerChoice",
    "StageSpec",
    "arch_cost",
]

_STAGE_KEYS = {"channels", "stride", "depth", "ops", "kernel", "width"}
_OPTIONAL_STAGE_KEYS = {"quant"}
_TOP_KEYS = {"input", "classes", "stem", "stages", "quant"}


def _fail(source: str, path: str, message: str) -> SpaceError:
    return SpaceError(f"{source}: {path}: {message}")


def _int_list(value: Any, source: str, path: str, low: int, odd: bool = False) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    out: list[int] = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise _fail(source, path, f"expected integers >= {low}, got {value!r}")
        if odd and v % 2 == 0:
            raise _fail(source, path, f"kernel sizes must be odd, got {v}")
        out.append(v)
    if not out or len(set(out)) != len(out):
        raise _fail(source, path, f"expected a non-empty list of distinct values, got {value!r}")
    return tuple(sorted(out))


def _positive_int(value: Any, source: str, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(source, path, f"expected a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class StageSpec:
    """One stage: fixed ``channels`` and ``stride``; the choices of its layers.

    Attributes:
        channels: output channels of the stage (fixed).
        stride: stride of the stage's transition (1 or 2).
        depths: allowed numbers of active layers, ascending (``max(depths)`` layer slots).
        ops: allowed operations of every layer, names of :data:`~nas.space.ARCH_OPS` in
            registry order.
        kernels: allowed kernel sizes (odd), ascending.
        widths: allowed hidden widths, ascending.
        quant: the stage's quantization choices when it overrides the space's
            (:mod:`nas.space._quant`); ``None``: the space's.
    """

    channels: int
    stride: int
    depths: tuple[int, ...]
    ops: tuple[str, ...]
    kernels: tuple[int, ...]
    widths: tuple[int, ...]
    quant: QuantSpec | None = None

    @property
    def max_depth(self) -> int:
        """Number of layer slots."""
        return self.depths[-1]

    @property
    def min_depth(self) -> int:
        """The least depth: slots at or beyond it may be skipped by the depth alone."""
        return self.depths[0]

    def dims(self, op: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The kernels and widths ``op`` can take in this stage (``(0,)`` for a dimension the
        op lacks)."""
        elastic = ARCH_OPS.get(op).elastic
        return (
            self.kernels if "kernel" in elastic else (0,),
            self.widths if "width" in elastic else (0,),
        )


@dataclass(frozen=True, order=True)
class LayerChoice:
    """The choice of one layer slot: op, kernel and hidden width (0 where the op has no such
    dimension)."""

    op: str
    kernel: int
    width: int


#: The choice of a slot that computes nothing: the ``skip`` op, or a slot beyond the depth.
SKIPPED = LayerChoice("skip", 0, 0)


@dataclass(frozen=True)
class Arch:
    """One architecture: per stage, its depth and the choice of every layer slot.

    Attributes:
        depths: active depth per stage.
        layers: per stage, one :class:`LayerChoice` per layer slot (``max(depths)`` of them;
            those at or beyond the depth are not computed).
        quant: the quantization setting of every site of the space
            (:attr:`ArchSpace.quant_sites`, in order; ``None`` at a site that computes nothing,
            in the :meth:`ArchSpace.canonical` key); empty for a space without sites (and, in
            a quantized space, for the full-precision network).
    """

    depths: tuple[int, ...]
    layers: tuple[tuple[LayerChoice, ...], ...]
    quant: tuple[QuantChoice | None, ...] = ()

    def active_layers(self) -> list[tuple[int, int, LayerChoice]]:
        """``(stage, slot, choice)`` of every layer that computes something (not skipped)."""
        out = []
        for s, (depth, layers) in enumerate(zip(self.depths, self.layers, strict=True)):
            for j, choice in enumerate(layers[:depth]):
                if not ARCH_OPS.get(choice.op).identity:
                    out.append((s, j, choice))
        return out

    def effective(self, stage: int, slot: int) -> LayerChoice:
        """What slot ``slot`` of stage ``stage`` computes: its choice, or :data:`SKIPPED`
        beyond the depth or for an identity op."""
        c = self.layers[stage][slot]
        if slot >= self.depths[stage] or ARCH_OPS.get(c.op).identity:
            return SKIPPED
        return c

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"depths": [...], "layers": [[[op, kernel, width], ...], ...]}``, and
        ``"quant": [[wbits, abits, granularity, symmetry] or null, ...]`` when quantized."""
        out: dict[str, Any] = {
            "depths": list(self.depths),
            "layers": [[[c.op, c.kernel, c.width] for c in stage] for stage in self.layers],
        }
        if self.quant:
            out["quant"] = [None if q is None else q.to_list() for q in self.quant]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Arch:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: not that form.
        """
        try:
            return cls(
                tuple(int(d) for d in data["depths"]),
                tuple(
                    tuple(LayerChoice(str(o), int(k), int(w)) for o, k, w in stage)
                    for stage in data["layers"]
                ),
                tuple(
                    None if q is None else QuantChoice.from_list(q)
                    for q in data.get("quant") or ()
                ),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not an architecture: {e!r}") from None


@dataclass(frozen=True)
class ArchCost:
    """Analytic cost of one architecture (per image; module docstring of
    :mod:`nas.space._archops` for the conventions).

    Attributes:
        macs: multiply-accumulates.
        params: trainable parameters.
        convs: every convolution (and the classifier), in network order.
    """

    macs: int
    params: int
    convs: tuple[ConvRecord, ...] = field(default=(), compare=False, repr=False)

    @property
    def flops(self) -> int:
        """``2 * macs``."""
        return 2 * self.macs

    @property
    def mflops(self) -> float:
        """FLOPs in millions."""
        return self.flops / 1e6


@dataclass(frozen=True)
class ArchSpace:
    """A supernet's architecture space (see the module docstring).

    Attributes:
        in_channels, height, width: input image shape.
        classes: number of classes of the head.
        stem_channels: output channels of the stem.
        stages: the stages.
        quant: the quantization choices of every stage that does not override them
            (:mod:`nas.space._quant`); ``None``: not quantized.
        source: where the definition came from (for error messages).
    """

    in_channels: int
    height: int
    width: int
    classes: int
    stem_channels: int
    stages: tuple[StageSpec, ...]
    quant: QuantSpec | None = None
    source: str = field(default="<dict>", compare=False)

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> ArchSpace:
        """Build from the mapping under the YAML's ``supernet`` key.

        Raises:
            SpaceError: a missing or unknown key, or a value breaking its rule; the message names
                the source, the key path and the rule.
        """
        if not isinstance(data, Mapping):
            raise _fail(source, "supernet", f"expected a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise _fail(source, "supernet", f"unknown keys {unknown}; allowed {sorted(_TOP_KEYS)}")
        for key in ("input", "classes", "stem", "stages"):
            if key not in data:
                raise _fail(source, f"supernet.{key}", "missing")
        inp = data["input"]
        if not isinstance(inp, Mapping) or set(inp) != {"channels", "height", "width"}:
            raise _fail(
                source, "supernet.input", f"expected {{channels, height, width}}, got {inp!r}"
            )
        stem = data["stem"]
        if not isinstance(stem, Mapping) or set(stem) != {"channels"}:
            raise _fail(source, "supernet.stem", f"expected {{channels: N}}, got {stem!r}")
        raw_stages = data["stages"]
        if not isinstance(raw_stages, list) or not raw_stages:
            raise _fail(source, "supernet.stages", "expected a non-empty list of stages")
        quant = (
            QuantSpec.parse(data["quant"], source, "supernet.quant") if "quant" in data else None
        )
        stages = [
            _parse_stage(st, source, f"supernet.stages[{i}]", quant)
            for i, st in enumerate(raw_stages)
        ]
        space = cls(
            in_channels=_positive_int(inp["channels"], source, "supernet.input.channels"),
            height=_positive_int(inp["height"], source, "supernet.input.height"),
            width=_positive_int(inp["width"], source, "supernet.input.width"),
            classes=_positive_int(data["classes"], source, "supernet.classes"),
            stem_channels=_positive_int(stem["channels"], source, "supernet.stem.channels"),
            stages=tuple(stages),
            quant=quant,
            source=source,
        )
        return space

    @classmethod
    def from_yaml(cls, path: str | Path) -> ArchSpace:
        """Load ``path`` (a YAML file with a top-level ``supernet`` key).

        Raises:
            SpaceError: the file is missing, not YAML (with line and column; duplicate keys
                refused), has no ``supernet`` key, or is invalid.
        """
        p = Path(path)
        data = read_yaml(p, SpaceError)
        if not isinstance(data, Mapping) or "supernet" not in data:
            raise SpaceError(f"{p}: expected a top-level 'supernet' key")
        extra = sorted(set(data) - {"supernet"})
        if extra:
            raise SpaceError(f"{p}: unknown top-level keys {extra}; only 'supernet' is allowed")
        return cls.from_dict(data["supernet"], source=str(p))

    def to_dict(self) -> dict[str, Any]:
        """The ``supernet`` mapping this space was built from (round-trips through
        :meth:`from_dict`)."""
        stages = []
        for st in self.stages:
            stage: dict[str, Any] = {
                "channels": st.channels,
                "stride": st.stride,
                "depth": list(st.depths),
                "ops": list(st.ops),
                "kernel": list(st.kernels),
                "width": list(st.widths),
            }
            if st.quant is not None:
                stage["quant"] = st.quant.to_dict()
            stages.append(stage)
        out: dict[str, Any] = {
            "input": {"channels": self.in_channels, "height": self.height, "width": self.width},
            "classes": self.classes,
            "stem": {"channels": self.stem_channels},
            "stages": stages,
        }
        if self.quant is not None:
            out["quant"] = self.quant.to_dict()
        return out

    # ------------------------------------------------------------------ quantization

    def stage_quant(self, stage: int) -> QuantSpec | None:
        """The quantization choices of ``stage`` (its own, else the space's; ``None``: the
        stage is not quantized)."""
        own = self.stages[stage].quant
        return own if own is not None else self.quant

    @cached_property
    def quant_sites(self) -> tuple[QuantSite, ...]:
        """Every quantized convolution position, in network order (:mod:`nas.space._quant`);
        empty for a space that is not quantized."""
        sites: list[QuantSite] = []
        for i, st in enumerate(self.stages):
            spec = self.stage_quant(i)
            if spec is None:
                continue
            if self.transitions[i]:
                sites.append(QuantSite(f"s{i}.t", i, None, 0, spec))
            n_convs = {op: op_convs(op) for op in st.ops}
            for j in range(st.max_depth):
                for c in range(max(n_convs.values())):
                    having = tuple(op for op in st.ops if n_convs[op] > c)
                    sites.append(QuantSite(f"s{i}.l{j}.c{c}", i, j, c, spec, having))
        return tuple(sites)

    def full_precision(self, arch: Arch) -> Arch:
        """``arch`` without quantization (every convolution a 32-bit float)."""
        return Arch(arch.depths, arch.layers)

    @cached_property
    def transitions(self) -> tuple[bool, ...]:
        """Per stage, whether it starts with a transition (a 3x3 conv): its stride is not 1 or
        its channel count differs from the previous stage's (the stem's for the first)."""
        out = []
        prev = self.stem_channels
        for st in self.stages:
            out.append(st.stride != 1 or st.channels != prev)
            prev = st.channels
        return tuple(out)

    # ------------------------------------------------------------------ search space

    @cached_property
    def search_space(self) -> SearchSpace:
        """The :class:`~nas.space.SearchSpace` of the architecture dimensions (module doc),
        every dimension unconditional; its :meth:`~nas.space.SearchSpace.key` is
        :meth:`key`. Built once per space."""
        params: dict[str, Any] = {}
        for i, st in enumerate(self.stages):
            params[f"s{i}.depth"] = _choice(st.depths)
            for j in range(st.max_depth):
                params[f"s{i}.l{j}.op"] = _choice(st.ops)
                params[f"s{i}.l{j}.kernel"] = _choice(st.kernels)
                params[f"s{i}.l{j}.width"] = _choice(st.widths)
        for site in self.quant_sites:
            for key in _QUANT_KEYS:
                params[f"{site.name}.{key}"] = _choice(site.spec.values(key))
        return self._space(params)

    @cached_property
    def conditional_search_space(self) -> SearchSpace:
        """The same dimensions with conditions, so that one assignment is one network.

        ``s{i}.l{j}.op`` is active only when ``s{i}.depth > j``; ``kernel`` (``width``) only
        when the layer's op is active and has a kernel (width): they are left out when no op
        of the stage has one. Distinct assignments are distinct networks (:meth:`canonical`)
        except where a ``skip`` inside the depth repeats a shallower depth (depth 2 with a
        skipped second layer computes what depth 1 does); :meth:`key` identifies those too.
        Searchers that refuse conditional parameters use :attr:`search_space`. :meth:`arch`
        takes either.
        """
        params: dict[str, Any] = {}
        for i, st in enumerate(self.stages):
            params[f"s{i}.depth"] = _choice(st.depths)
            for j in range(st.max_depth):
                op_name = f"s{i}.l{j}.op"
                params[op_name] = _choice(st.ops)
                deeper = [d for d in st.depths if d > j]
                if len(deeper) < len(st.depths):
                    params[op_name]["condition"] = {"parent": f"s{i}.depth", "in": deeper}
                for dim, values in (("kernel", st.kernels), ("width", st.widths)):
                    having = [o for o in st.ops if dim in ARCH_OPS.get(o).elastic]
                    if not having:
                        continue
                    spec = _choice(values)
                    if len(having) < len(st.ops) or "condition" in params[op_name]:
                        spec["condition"] = {"parent": op_name, "in": having}
                    params[f"s{i}.l{j}.{dim}"] = spec
        for site in self.quant_sites:
            condition = None
            if site.slot is not None:
                op_name = f"s{site.stage}.l{site.slot}.op"
                if len(site.ops) < len(self.stages[site.stage].ops) or (
                    "condition" in params[op_name]
                ):
                    condition = {"parent": op_name, "in": list(site.ops)}
            for key in _QUANT_KEYS:
                spec = _choice(site.spec.values(key))
                if condition is not None:
                    spec["condition"] = dict(condition)
                params[f"{site.name}.{key}"] = spec
        return self._space(params)

    def _space(self, params: dict[str, Any]) -> SearchSpace:
        from nas.space._space import SearchSpace

        return SearchSpace.from_dict({"params": params}, source=self.source).with_equivalence(self)

    def arch(self, params: Mapping[str, Any]) -> Arch:
        """The architecture of an assignment of :attr:`search_space` (every dimension) or of
        :attr:`conditional_search_space` (the active ones; an inactive dimension takes its
        stage's ``skip`` op (else its first op), first kernel, first width -- values that change
        nothing). A dimension the chosen op lacks is 0 in the result.

        Raises:
            SpaceError: a dimension is missing or has a value outside its choices.
        """
        flat = self.search_space
        checked: dict[str, Any]
        if all(name in params for name in flat.names):
            checked = dict(flat.validate(params))
        else:
            checked = dict(self.conditional_search_space.validate(params))
            for i, st in enumerate(self.stages):
                for j in range(st.max_depth):
                    checked.setdefault(f"s{i}.l{j}.op", "skip" if "skip" in st.ops else st.ops[0])
                    checked.setdefault(f"s{i}.l{j}.kernel", st.kernels[0])
                    checked.setdefault(f"s{i}.l{j}.width", st.widths[0])
            for site in self.quant_sites:
                for key in _QUANT_KEYS:
                    checked.setdefault(f"{site.name}.{key}", site.spec.values(key)[0])
        depths = []
        layers = []
        for i, st in enumerate(self.stages):
            depths.append(int(checked[f"s{i}.depth"]))
            slots = []
            for j in range(st.max_depth):
                op = str(checked[f"s{i}.l{j}.op"])
                elastic = ARCH_OPS.get(op).elastic
                slots.append(
                    LayerChoice(
                        op,
                        int(checked[f"s{i}.l{j}.kernel"]) if "kernel" in elastic else 0,
                        int(checked[f"s{i}.l{j}.width"]) if "width" in elastic else 0,
                    )
                )
            layers.append(tuple(slots))
        quant = tuple(
            QuantChoice(
                int(checked[f"{site.name}.wbits"]),
                int(checked[f"{site.name}.abits"]),
                str(checked[f"{site.name}.granularity"]),
                str(checked[f"{site.name}.symmetry"]),
            )
            for site in self.quant_sites
        )
        return Arch(tuple(depths), tuple(layers), quant)

    def conditional_params(self, arch: Arch) -> dict[str, Any]:
        """The assignment of :attr:`conditional_search_space` of ``arch`` (active dimensions)."""
        out: dict[str, Any] = {}
        for i, (depth, layers) in enumerate(zip(arch.depths, arch.layers, strict=True)):
            out[f"s{i}.depth"] = depth
            for j, c in enumerate(layers[:depth]):
                out[f"s{i}.l{j}.op"] = c.op
                elastic = ARCH_OPS.get(c.op).elastic
                if "kernel" in elastic:
                    out[f"s{i}.l{j}.kernel"] = c.kernel
                if "width" in elastic:
                    out[f"s{i}.l{j}.width"] = c.width
        for site, q in self.site_settings(arch):
            if q is not None and site.active(arch):
                out.update(_quant_params(site, q))
        return out

    def site_settings(self, arch: Arch) -> list[tuple[QuantSite, QuantChoice | None]]:
        """Each site with ``arch``'s setting of it (``None`` everywhere for a full-precision
        architecture).

        Raises:
            ValueError: ``arch.quant`` is neither empty nor one setting per site.
        """
        sites = self.quant_sites
        if not arch.quant:
            return [(site, None) for site in sites]
        if len(arch.quant) != len(sites):
            raise ValueError(
                f"architecture has {len(arch.quant)} quantization settings, the space {len(sites)}"
            )
        return list(zip(sites, arch.quant, strict=True))

    def params(self, arch: Arch) -> dict[str, Any]:
        """The assignment of :attr:`search_space` of ``arch`` (inverse of :meth:`arch` up to
        what computes nothing: a dimension the op lacks takes the stage's first value, a slot
        beyond the depth holding :data:`SKIPPED` in a stage without ``skip`` the first op)."""
        out: dict[str, Any] = {}
        for i, (st, depth, layers) in enumerate(
            zip(self.stages, arch.depths, arch.layers, strict=True)
        ):
            out[f"s{i}.depth"] = depth
            for j, c in enumerate(layers):
                # A slot beyond the depth may hold SKIPPED in a stage without the skip op.
                out[f"s{i}.l{j}.op"] = c.op if c.op in st.ops else st.ops[0]
                out[f"s{i}.l{j}.kernel"] = c.kernel or st.kernels[0]
                out[f"s{i}.l{j}.width"] = c.width or st.widths[0]
        for site, q in self.site_settings(arch):
            if q is None:
                if arch.quant:  # a site that computes nothing: any value
                    q = site.spec.extreme(highest=False)
                else:
                    raise ValueError(
                        "a full-precision architecture is not an assignment of a quantized "
                        "space; give it a quantization setting per site"
                    )
            out.update(_quant_params(site, q))
        return out

    def canonical(self, arch: Arch) -> Arch:
        """A key of the function ``arch`` computes: every slot holds its effective choice
        (:meth:`Arch.effective`: :data:`SKIPPED` at or beyond the depth and for identity ops)
        and the depths become the number of slots. Two architectures share weights and outputs
        in the supernet iff their keys are equal. The key is not an assignment of the space.
        """
        layers = tuple(
            tuple(arch.effective(s, j) for j in range(len(slots)))
            for s, slots in enumerate(arch.layers)
        )
        quant = tuple(q if site.active(arch) else None for site, q in self.site_settings(arch))
        if not arch.quant:
            quant = ()
        return Arch(tuple(len(slots) for slots in arch.layers), layers, quant)

    def key(self, params: Mapping[str, Any]) -> Hashable:
        """The equivalence of assignments (of either encoding): equal keys iff the same network
        (the canonical architecture, :meth:`canonical`).

        Raises:
            SpaceError: ``params`` is not an assignment of either encoding.
        """
        return self.canonical(self.arch(params))

    def to_json(self, arch: Arch) -> str:
        """``arch`` as JSON (its :meth:`params`), keys sorted."""
        return json.dumps(self.params(arch), sort_keys=True)

    # ------------------------------------------------------------------ choices and costs

    def slot_choices(self, stage: int, slot: int) -> tuple[LayerChoice, ...]:
        """Every effective choice of a slot: each op at each of its kernels and widths (in op,
        kernel, width order), and :data:`SKIPPED` when the slot can compute nothing (a ``skip``
        op, or ``slot >= min(depth)``)."""
        return self._slot_table[stage][slot]

    @cached_property
    def _slot_table(self) -> tuple[tuple[tuple[LayerChoice, ...], ...], ...]:
        table = []
        for st in self.stages:
            real: list[LayerChoice] = []
            for op in st.ops:
                kernels, widths = st.dims(op)
                real.extend(LayerChoice(op, k, w) for k in kernels for w in widths)
            table.append(
                tuple(
                    (*real, SKIPPED) if SKIPPED not in real and j >= st.min_depth else tuple(real)
                    for j in range(st.max_depth)
                )
            )
        return tuple(table)

    def full_mask(self) -> ArchMask:
        """The mask that allows every choice of every slot (the whole space)."""
        return ArchMask(
            self,
            tuple(
                tuple(frozenset(self.slot_choices(s, j)) for j in range(st.max_depth))
                for s, st in enumerate(self.stages)
            ),
        )

    def cost(self, arch: Arch) -> ArchCost:
        """MACs and parameters of ``arch`` (:func:`arch_cost`)."""
        return arch_cost(self, arch)

    def largest(self) -> Arch:
        """The largest architecture (:meth:`ArchMask.largest` of the whole space)."""
        return self.full_mask().largest()

    def smallest(self) -> Arch:
        """The smallest architecture (:meth:`ArchMask.smallest` of the whole space)."""
        return self.full_mask().smallest()

    @cached_property
    def _choice_rank(self) -> dict[tuple[int, LayerChoice], tuple[int, int]]:
        """``(params, macs)`` of each choice of each stage's slots on a 1 x 1 map (the order of
        cost inside a stage; every layer of a stage has the same resolution)."""
        out: dict[tuple[int, LayerChoice], tuple[int, int]] = {}
        for s, st in enumerate(self.stages):
            for c in self.slot_choices(s, st.max_depth - 1):
                n = CostCounter(1, 1)
                ARCH_OPS.get(c.op).count(n, st.channels, c.kernel, c.width)
                out[(s, c)] = (n.params, n.macs)
        return out


def _parse_stage(st: Any, source: str, path: str, quant: QuantSpec | None) -> StageSpec:
    if not isinstance(st, Mapping):
        raise _fail(source, path, f"expected a mapping, got {st!r}")
    unknown = sorted(set(st) - _STAGE_KEYS - _OPTIONAL_STAGE_KEYS)
    missing = sorted(_STAGE_KEYS - set(st))
    if unknown or missing:
        raise _fail(source, path, f"unknown keys {unknown}, missing keys {missing}")
    stride = st["stride"]
    if stride not in (1, 2) or isinstance(stride, bool):
        raise _fail(source, f"{path}.stride", f"expected 1 or 2, got {stride!r}")
    ops_raw = st["ops"] if isinstance(st["ops"], list) else [st["ops"]]
    known = ARCH_OPS.names()
    bad = [o for o in ops_raw if o not in known]
    if bad or not ops_raw or len(set(ops_raw)) != len(ops_raw):
        raise _fail(source, f"{path}.ops", f"expected distinct ops of {known}, got {st['ops']!r}")
    return StageSpec(
        channels=_positive_int(st["channels"], source, f"{path}.channels"),
        stride=int(stride),
        depths=_int_list(st["depth"], source, f"{path}.depth", 1),
        ops=tuple(o for o in known if o in ops_raw),
        kernels=_int_list(st["kernel"], source, f"{path}.kernel", 1, odd=True),
        widths=_int_list(st["width"], source, f"{path}.width", 1),
        quant=QuantSpec.parse(st["quant"], source, f"{path}.quant", quant)
        if "quant" in st
        else None,
    )


def arch_cost(space: ArchSpace, arch: Arch) -> ArchCost:
    """MACs and parameters of ``arch`` in ``space`` (conventions in :mod:`nas.space._archops`).

    Raises:
        ValueError: ``arch`` has a different number of stages than ``space``.
    """
    if len(arch.depths) != len(space.stages):
        raise ValueError(f"architecture has {len(arch.depths)} stages, space {len(space.stages)}")
    n = CostCounter(space.height, space.width)
    n.conv(space.in_channels, space.stem_channels, 3)
    n.bn(space.stem_channels)
    prev = space.stem_channels
    for s, st in enumerate(space.stages):
        if space.transitions[s]:
            n.conv(prev, st.channels, 3, st.stride)
            n.bn(st.channels)
        for j in range(arch.depths[s]):
            c = arch.layers[s][j]
            ARCH_OPS.get(c.op).count(n, st.channels, c.kernel, c.width)
        prev = st.channels
    n.linear(prev, space.classes)
    return ArchCost(macs=n.macs, params=n.params, convs=tuple(n.convs))


@dataclass(frozen=True)
class ArchMask:
    """A masked view of an architecture space: the allowed choices of every layer slot.

    Build one with :meth:`ArchSpace.full_mask` and narrow it with :meth:`restrict`. An
    architecture is *in* the mask when every slot's effective choice (:meth:`Arch.effective`)
    is allowed; a stage's *feasible depths* are those ``d`` whose slots ``>= d`` allow
    :data:`SKIPPED` and whose slots ``< d`` allow a choice an active slot can take. Masks made
    by splitting one slot's choices into groups partition the architectures of their parent.

    Attributes:
        space: the architecture space.
        allowed: per stage, per slot, the allowed effective choices.
    """

    space: ArchSpace
    allowed: tuple[tuple[frozenset[LayerChoice], ...], ...]

    def __post_init__(self) -> None:
        for s in range(len(self.space.stages)):
            if not self.feasible_depths(s):
                raise SpaceError(f"mask: stage {s} has no feasible depth (an empty mask)")

    # ------------------------------------------------------------------ queries

    def choices(self, stage: int, slot: int) -> tuple[LayerChoice, ...]:
        """The allowed choices of a slot, in :meth:`ArchSpace.slot_choices` order."""
        allowed = self.allowed[stage][slot]
        return tuple(c for c in self.space.slot_choices(stage, slot) if c in allowed)

    def active_choices(self, stage: int, slot: int) -> tuple[LayerChoice, ...]:
        """The allowed choices a slot can take *inside* the depth (:data:`SKIPPED` only when
        the stage has the ``skip`` op)."""
        has_skip = "skip" in self.space.stages[stage].ops
        return tuple(c for c in self.choices(stage, slot) if c != SKIPPED or has_skip)

    def feasible_depths(self, stage: int) -> tuple[int, ...]:
        """The depths of ``stage`` some architecture in the mask has (module docstring)."""
        st = self.space.stages[stage]
        slots = self.allowed[stage]
        out = []
        for d in st.depths:
            beyond = all(SKIPPED in slots[j] for j in range(d, st.max_depth))
            inside = all(self.active_choices(stage, j) for j in range(d))
            if beyond and inside:
                out.append(d)
        return tuple(out)

    def contains(self, arch: Arch) -> bool:
        """Whether ``arch`` (an architecture of the space) is in the mask."""
        return all(
            arch.effective(s, j) in slots[j]
            for s, slots in enumerate(self.allowed)
            for j in range(len(slots))
        )

    def is_full(self) -> bool:
        """Whether the mask allows every choice of the space."""
        return self == self.space.full_mask()

    # ------------------------------------------------------------------ narrowing

    def restrict(self, stage: int, slot: int, choices: Sequence[LayerChoice]) -> ArchMask:
        """The mask with slot ``slot`` of stage ``stage`` limited to ``choices``.

        Raises:
            SpaceError: a choice that the slot does not allow now, no choice at all, or a
                stage left without a feasible depth.
        """
        now = self.allowed[stage][slot]
        wanted = frozenset(choices)
        if not wanted or not wanted <= now:
            raise SpaceError(
                f"mask: stage {stage} slot {slot}: {sorted(wanted - now) or 'no choice'} "
                f"not among the allowed {sorted(now)}"
            )
        stage_slots = list(self.allowed[stage])
        stage_slots[slot] = wanted
        allowed = list(self.allowed)
        allowed[stage] = tuple(stage_slots)
        return ArchMask(self.space, tuple(allowed))

    # ------------------------------------------------------------------ sampling

    def sample(
        self, rng: np.random.Generator, op_weights: Mapping[str, float] | None = None
    ) -> Arch:
        """An architecture of the mask: per stage a feasible depth uniformly; per active slot
        an op among its allowed ones -- uniformly, or proportionally to ``op_weights``
        (missing ops weigh 0; uniform when every allowed op weighs 0) -- then a kernel and
        width uniformly among the allowed ones of that op. Slots beyond the depth hold
        :data:`SKIPPED`. With the full mask and no weights: depth, op, kernel and width
        independently uniform. In a quantized space, then every site's setting (each of its
        dimensions uniform, sites in order; drawn for inactive sites too).

        Args:
            rng: the only source of randomness.
            op_weights: non-negative weight per op name.
        """

        def slot(options: tuple[LayerChoice, ...], stage: int) -> LayerChoice:
            ops = list(dict.fromkeys(c.op for c in options))
            op = ops[_pick(rng, ops, op_weights)]
            of_op = [c for c in options if c.op == op]
            return of_op[int(rng.integers(len(of_op)))]

        arch = self._build(lambda feasible: feasible[int(rng.integers(len(feasible)))], slot)
        return self._with_quant(arch, lambda site: site.spec.sample(rng))

    def largest(self) -> Arch:
        """The largest architecture of the mask: per stage the greatest feasible depth and, in
        each active slot, the allowed choice with the most parameters (then MACs); in a
        quantized space every site at its highest bits (the first granularity and
        symmetry)."""
        return self._extreme(largest=True)

    def smallest(self) -> Arch:
        """The smallest architecture of the mask: per stage the least feasible depth and, in
        each active slot, the allowed choice with the fewest parameters (then MACs;
        :data:`SKIPPED` where allowed); in a quantized space every site at its lowest bits."""
        return self._extreme(largest=False)

    def _with_quant(self, arch: Arch, setting: Callable[[QuantSite], QuantChoice]) -> Arch:
        """``arch`` with ``setting(site)`` at every site of a quantized space (in order)."""
        sites = self.space.quant_sites
        if not sites:
            return arch
        return Arch(arch.depths, arch.layers, tuple(setting(site) for site in sites))

    def _extreme(self, largest: bool) -> Arch:
        rank = self.space._choice_rank

        def slot(options: tuple[LayerChoice, ...], stage: int) -> LayerChoice:
            costs = [rank[(stage, c)] for c in options]
            return options[costs.index(max(costs) if largest else min(costs))]

        arch = self._build(lambda feasible: feasible[-1] if largest else feasible[0], slot)
        return self._with_quant(arch, lambda site: site.spec.extreme(highest=largest))

    def _build(
        self,
        depth: Callable[[tuple[int, ...]], int],
        choice: Callable[[tuple[LayerChoice, ...], int], LayerChoice],
    ) -> Arch:
        """An architecture of the mask, stage by stage: ``depth(feasible depths)``, then
        ``choice(allowed active choices, stage)`` for each slot inside it (in slot order);
        slots beyond the depth hold :data:`SKIPPED`."""
        depths = []
        layers = []
        for s, st in enumerate(self.space.stages):
            d = depth(self.feasible_depths(s))
            slots = [
                choice(self.active_choices(s, j), s) if j < d else SKIPPED
                for j in range(st.max_depth)
            ]
            depths.append(d)
            layers.append(tuple(slots))
        return Arch(tuple(depths), tuple(layers))

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """JSON form: per stage, per slot, the allowed choices as ``[op, kernel, width]``."""
        return {
            "allowed": [
                [
                    [[c.op, c.kernel, c.width] for c in self.choices(s, j)]
                    for j in range(len(slots))
                ]
                for s, slots in enumerate(self.allowed)
            ]
        }

    @classmethod
    def from_dict(cls, space: ArchSpace, data: Mapping[str, Any]) -> ArchMask:
        """Inverse of :meth:`to_dict` for ``space``.

        Raises:
            SpaceError: not a mask of ``space``.
        """
        full = space.full_mask()
        try:
            allowed = tuple(
                tuple(
                    frozenset(LayerChoice(str(o), int(k), int(w)) for o, k, w in slot)
                    for slot in stage
                )
                for stage in data["allowed"]
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SpaceError(f"not an architecture mask: {e!r}") from None
        shape_ok = len(allowed) == len(full.allowed) and all(
            len(a) == len(b) for a, b in zip(allowed, full.allowed, strict=True)
        )
        if not shape_ok or any(
            not a <= b
            for sa, sb in zip(allowed, full.allowed, strict=True)
            for a, b in zip(sa, sb, strict=True)
        ):
            raise SpaceError("not an architecture mask of this space (shape or choices differ)")
        return cls(space, allowed)

    def __repr__(self) -> str:
        narrowed = [
            f"s{s}.l{j}: {len(slots[j])}/{len(full)}"
            for s, slots in enumerate(self.allowed)
            for j in range(len(slots))
            if len(slots[j]) < len(full := self.space.slot_choices(s, j))
        ]
        return f"ArchMask({', '.join(narrowed) or 'full'})"


def _pick(rng: np.random.Generator, ops: list[str], weights: Mapping[str, float] | None) -> int:
    if weights is None or len(ops) == 1:
        return int(rng.integers(len(ops)))
    w = np.array([max(float(weights.get(o, 0.0)), 0.0) for o in ops])
    total = w.sum()
    if not np.isfinite(total) or total <= 0:
        return int(rng.integers(len(ops)))
    return int(rng.choice(len(ops), p=w / total))


_QUANT_KEYS = ("wbits", "abits", "granularity", "symmetry")


def _quant_params(site: QuantSite, q: QuantChoice) -> dict[str, Any]:
    return {
        f"{site.name}.wbits": q.wbits,
        f"{site.name}.abits": q.abits,
        f"{site.name}.granularity": q.granularity,
        f"{site.name}.symmetry": q.symmetry,
    }


def _choice(values: Sequence[Any]) -> dict[str, Any]:
    if len(values) == 1:
        return {"type": "fixed", "value": values[0]}
    return {"type": "categorical", "choices": list(values)}
