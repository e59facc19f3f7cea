"""Architecture spaces of weight-sharing supernets: YAML in, an ordinary search space out.

An :class:`ArchSpace` describes a chain CNN (the shape of once-for-all's MobileNet spaces, small):

* a fixed **stem** (3x3 conv, batch norm, ReLU) to ``stem.channels``;
* **stages**, each with a fixed channel count and stride. A stage whose stride is not 1 or whose
  channel count differs from the previous one starts with a fixed *transition* (3x3 conv with
  that stride, batch norm, ReLU). Then up to ``max(depth)`` searchable **layers**, each a residual
  block ``x + op(x)`` whose ``op`` is

  - ``conv``: ``k x k`` conv to ``width`` hidden channels, BN, ReLU, ``1 x 1`` conv back, BN;
  - ``sepconv``: depthwise ``k x k`` conv, BN, ReLU, ``1 x 1`` conv to ``width``, BN, ReLU,
    ``1 x 1`` conv back, BN;
  - ``skip``: nothing (the layer is the identity).

  Layers at positions ``>= depth`` are skipped;
* a **head**: global average pooling and a linear classifier.

Architecture dimensions (the parameters of :attr:`ArchSpace.search_space`, all unconditional so
that every searcher can search them; a value that does not matter -- the kernel of a ``skip``
layer, anything of a layer beyond the depth -- is ignored, see :meth:`ArchSpace.canonical`):

* ``s{i}.depth`` (int choice, as a categorical of the allowed depths);
* ``s{i}.l{j}.op``, ``s{i}.l{j}.kernel``, ``s{i}.l{j}.width`` for every layer slot ``j``.

Later extensions add dimensions per layer (GM-NAS splits restrict a layer's op choices with
:meth:`ArchSpace.restrict`; elastic quantization adds bit-widths) without changing this shape.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from nas.exceptions import SpaceError

__all__ = ["OPS", "Arch", "ArchSpace", "LayerChoice", "StageSpec"]

#: Operations a layer may take.
OPS: tuple[str, ...] = ("conv", "sepconv", "skip")
_STAGE_KEYS = {"channels", "stride", "depth", "ops", "kernel", "width"}
_TOP_KEYS = {"input", "classes", "stem", "stages"}


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
        ops: allowed operations of every layer, a subset of :data:`OPS`.
        kernels: allowed kernel sizes (odd), ascending.
        widths: allowed hidden widths, ascending.
    """

    channels: int
    stride: int
    depths: tuple[int, ...]
    ops: tuple[str, ...]
    kernels: tuple[int, ...]
    widths: tuple[int, ...]

    @property
    def max_depth(self) -> int:
        """Number of layer slots."""
        return self.depths[-1]


@dataclass(frozen=True)
class LayerChoice:
    """The active choice of one layer slot."""

    op: str
    kernel: int
    width: int


@dataclass(frozen=True)
class Arch:
    """One architecture: per stage, its depth and the choice of every layer slot.

    Attributes:
        depths: active depth per stage.
        layers: per stage, one :class:`LayerChoice` per layer slot (``max(depths)`` of them).
    """

    depths: tuple[int, ...]
    layers: tuple[tuple[LayerChoice, ...], ...]

    def active_layers(self) -> list[tuple[int, int, LayerChoice]]:
        """``(stage, slot, choice)`` of every layer that computes something (not skipped)."""
        out = []
        for s, (depth, layers) in enumerate(zip(self.depths, self.layers, strict=True)):
            for j, choice in enumerate(layers[:depth]):
                if choice.op != "skip":
                    out.append((s, j, choice))
        return out


@dataclass(frozen=True)
class ArchSpace:
    """A supernet's architecture space (see the module docstring).

    Attributes:
        in_channels, height, width: input image shape.
        classes: number of classes of the head.
        stem_channels: output channels of the stem.
        stages: the stages.
        source: where the definition came from (for error messages).
    """

    in_channels: int
    height: int
    width: int
    classes: int
    stem_channels: int
    stages: tuple[StageSpec, ...]
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
        stages = []
        for i, st in enumerate(raw_stages):
            path = f"supernet.stages[{i}]"
            if not isinstance(st, Mapping):
                raise _fail(source, path, f"expected a mapping, got {st!r}")
            unknown = sorted(set(st) - _STAGE_KEYS)
            missing = sorted(_STAGE_KEYS - set(st))
            if unknown or missing:
                raise _fail(source, path, f"unknown keys {unknown}, missing keys {missing}")
            stride = st["stride"]
            if stride not in (1, 2) or isinstance(stride, bool):
                raise _fail(source, f"{path}.stride", f"expected 1 or 2, got {stride!r}")
            ops_raw = st["ops"] if isinstance(st["ops"], list) else [st["ops"]]
            bad = [o for o in ops_raw if o not in OPS]
            if bad or not ops_raw or len(set(ops_raw)) != len(ops_raw):
                raise _fail(
                    source,
                    f"{path}.ops",
                    f"expected distinct ops of {list(OPS)}, got {st['ops']!r}",
                )
            stages.append(
                StageSpec(
                    channels=_positive_int(st["channels"], source, f"{path}.channels"),
                    stride=int(stride),
                    depths=_int_list(st["depth"], source, f"{path}.depth", 1),
                    ops=tuple(o for o in OPS if o in ops_raw),
                    kernels=_int_list(st["kernel"], source, f"{path}.kernel", 1, odd=True),
                    widths=_int_list(st["width"], source, f"{path}.width", 1),
                )
            )
        space = cls(
            in_channels=_positive_int(inp["channels"], source, "supernet.input.channels"),
            height=_positive_int(inp["height"], source, "supernet.input.height"),
            width=_positive_int(inp["width"], source, "supernet.input.width"),
            classes=_positive_int(data["classes"], source, "supernet.classes"),
            stem_channels=_positive_int(stem["channels"], source, "supernet.stem.channels"),
            stages=tuple(stages),
            source=source,
        )
        h, w = space.height, space.width
        for i, st in enumerate(space.stages):
            h, w = -(-h // st.stride), -(-w // st.stride)
            if h < 1 or w < 1:  # pragma: no cover - ceil division keeps >= 1
                raise _fail(source, f"supernet.stages[{i}].stride", "the image vanishes")
        return space

    @classmethod
    def from_yaml(cls, path: str | Path) -> ArchSpace:
        """Load ``path`` (a YAML file with a top-level ``supernet`` key).

        Raises:
            SpaceError: the file is missing, not YAML, has no ``supernet`` key, or is invalid.
        """
        import yaml

        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text())
        except OSError as e:
            raise SpaceError(f"{p}: cannot read the architecture space ({e.strerror})") from e
        except yaml.YAMLError as e:
            raise SpaceError(f"{p}: not valid YAML ({e})") from e
        if not isinstance(data, Mapping) or "supernet" not in data:
            raise SpaceError(f"{p}: expected a top-level 'supernet' key")
        extra = sorted(set(data) - {"supernet"})
        if extra:
            raise SpaceError(f"{p}: unknown top-level keys {extra}; only 'supernet' is allowed")
        return cls.from_dict(data["supernet"], source=str(p))

    def to_dict(self) -> dict[str, Any]:
        """The ``supernet`` mapping this space was built from (round-trips through
        :meth:`from_dict`)."""
        return {
            "input": {"channels": self.in_channels, "height": self.height, "width": self.width},
            "classes": self.classes,
            "stem": {"channels": self.stem_channels},
            "stages": [
                {
                    "channels": st.channels,
                    "stride": st.stride,
                    "depth": list(st.depths),
                    "ops": list(st.ops),
                    "kernel": list(st.kernels),
                    "width": list(st.widths),
                }
                for st in self.stages
            ],
        }

    # ------------------------------------------------------------------ search space

    @cached_property
    def search_space(self) -> Any:
        """The :class:`~nas.space.SearchSpace` of the architecture dimensions (module doc);
        built once per space (:meth:`arch` validates against it on every call)."""
        from nas.space import SearchSpace

        params: dict[str, Any] = {}
        for i, st in enumerate(self.stages):
            params[f"s{i}.depth"] = _choice(st.depths)
            for j in range(st.max_depth):
                params[f"s{i}.l{j}.op"] = _choice(st.ops)
                params[f"s{i}.l{j}.kernel"] = _choice(st.kernels)
                params[f"s{i}.l{j}.width"] = _choice(st.widths)
        return SearchSpace.from_dict({"params": params}, source=self.source)

    @cached_property
    def conditional_search_space(self) -> Any:
        """The same dimensions with conditions, so that one assignment is one network.

        ``s{i}.l{j}.op`` is active only when ``s{i}.depth > j``; ``kernel`` and ``width`` only
        when the layer's op is active and not ``skip`` (they are left out when ``skip`` is the
        only op). Distinct assignments are distinct networks (:meth:`canonical`) except where a
        ``skip`` inside the depth repeats a shallower depth (depth 2 with a skipped second layer
        computes what depth 1 does), so searchers that never repeat an assignment rarely
        evaluate a network twice (with :attr:`search_space` most assignments are duplicates:
        every inactive dimension multiplies them). Searchers that refuse conditional parameters
        use :attr:`search_space`. :meth:`arch` takes either.
        """
        from nas.space import SearchSpace

        params: dict[str, Any] = {}
        for i, st in enumerate(self.stages):
            params[f"s{i}.depth"] = _choice(st.depths)
            real = [o for o in st.ops if o != "skip"]
            for j in range(st.max_depth):
                op_name = f"s{i}.l{j}.op"
                params[op_name] = _choice(st.ops)
                deeper = [d for d in st.depths if d > j]
                if len(deeper) < len(st.depths):
                    params[op_name]["condition"] = {"parent": f"s{i}.depth", "in": deeper}
                if not real:
                    continue
                for dim, values in (("kernel", st.kernels), ("width", st.widths)):
                    spec = _choice(values)
                    if len(real) < len(st.ops) or "condition" in params[op_name]:
                        spec["condition"] = {"parent": op_name, "in": real}
                    params[f"s{i}.l{j}.{dim}"] = spec
        return SearchSpace.from_dict({"params": params}, source=self.source)

    def arch(self, params: Mapping[str, Any]) -> Arch:
        """The architecture of an assignment of :attr:`search_space` (every dimension) or of
        :attr:`conditional_search_space` (the active ones; an inactive dimension takes its
        stage's ``skip`` op, first kernel, first width -- values that change nothing).

        Raises:
            SpaceError: a dimension is missing or has a value outside its choices.
        """
        flat = self.search_space
        if all(name in params for name in flat.names):
            checked = dict(flat.validate(params))
        else:
            checked = dict(self.conditional_search_space.validate(params))
            for i, st in enumerate(self.stages):
                for j in range(st.max_depth):
                    checked.setdefault(f"s{i}.l{j}.op", "skip" if "skip" in st.ops else st.ops[0])
                    checked.setdefault(f"s{i}.l{j}.kernel", st.kernels[0])
                    checked.setdefault(f"s{i}.l{j}.width", st.widths[0])
        depths = []
        layers = []
        for i, st in enumerate(self.stages):
            depths.append(int(checked[f"s{i}.depth"]))
            layers.append(
                tuple(
                    LayerChoice(
                        op=str(checked[f"s{i}.l{j}.op"]),
                        kernel=int(checked[f"s{i}.l{j}.kernel"]),
                        width=int(checked[f"s{i}.l{j}.width"]),
                    )
                    for j in range(st.max_depth)
                )
            )
        return Arch(tuple(depths), tuple(layers))

    def conditional_params(self, arch: Arch) -> dict[str, Any]:
        """The assignment of :attr:`conditional_search_space` of ``arch`` (active dimensions)."""
        out: dict[str, Any] = {}
        for i, (depth, layers) in enumerate(zip(arch.depths, arch.layers, strict=True)):
            out[f"s{i}.depth"] = depth
            for j, c in enumerate(layers[:depth]):
                out[f"s{i}.l{j}.op"] = c.op
                if c.op != "skip":
                    out[f"s{i}.l{j}.kernel"] = c.kernel
                    out[f"s{i}.l{j}.width"] = c.width
        return out

    def params(self, arch: Arch) -> dict[str, Any]:
        """The assignment of :attr:`search_space` of ``arch`` (inverse of :meth:`arch`)."""
        out: dict[str, Any] = {}
        for i, (depth, layers) in enumerate(zip(arch.depths, arch.layers, strict=True)):
            out[f"s{i}.depth"] = depth
            for j, c in enumerate(layers):
                out[f"s{i}.l{j}.op"] = c.op
                out[f"s{i}.l{j}.kernel"] = c.kernel
                out[f"s{i}.l{j}.width"] = c.width
        return out

    def canonical(self, arch: Arch) -> Arch:
        """A key of the function ``arch`` computes: every layer that computes nothing (a slot at
        or beyond its stage's depth, or a ``skip``) becomes ``LayerChoice("skip", 0, 0)`` and
        the depths become the number of slots. Two architectures share weights and outputs in
        the supernet iff their keys are equal. The key is not an assignment of the space.
        """
        layers = []
        for depth, slots in zip(arch.depths, arch.layers, strict=True):
            out = [_SKIPPED if (j >= depth or c.op == "skip") else c for j, c in enumerate(slots)]
            layers.append(tuple(out))
        return Arch(tuple(len(slots) for slots in arch.layers), tuple(layers))

    def largest(self) -> Arch:
        """The largest architecture: full depth, the first non-skip op, largest kernel and
        width everywhere (the first op if only ``skip`` is allowed)."""
        return self._extreme(largest=True)

    def smallest(self) -> Arch:
        """The smallest architecture: least depth, ``skip`` where allowed (else the first op),
        smallest kernel and width."""
        return self._extreme(largest=False)

    def _extreme(self, largest: bool) -> Arch:
        depths = []
        layers = []
        for st in self.stages:
            real = [o for o in st.ops if o != "skip"] or list(st.ops)
            if largest:
                op, k, w, d = real[0], st.kernels[-1], st.widths[-1], st.depths[-1]
            else:
                op = "skip" if "skip" in st.ops else st.ops[0]
                k, w, d = st.kernels[0], st.widths[0], st.depths[0]
            depths.append(d)
            layers.append(tuple(LayerChoice(op, k, w) for _ in range(st.max_depth)))
        return Arch(tuple(depths), tuple(layers))

    def to_json(self, arch: Arch) -> str:
        """``arch`` as JSON (its :meth:`params`), keys sorted."""
        return json.dumps(self.params(arch), sort_keys=True)


_SKIPPED = LayerChoice("skip", 0, 0)


def _choice(values: Sequence[Any]) -> dict[str, Any]:
    if len(values) == 1:
        return {"type": "fixed", "value": values[0]}
    return {"type": "categorical", "choices": list(values)}
