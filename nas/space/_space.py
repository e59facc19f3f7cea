"""The search space: an ordered, validated collection of parameters with conditions.

A space is immutable. Its parameters are kept in *topological order* (every parent before its
children; otherwise the order the user gave), which is the order :meth:`SearchSpace.sample`
draws in and the order of every dict the space returns, so that the same generator state always
gives the same assignment.

YAML form (the keys are part of the public contract)::

    params:
      lr:        {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
      n_layers:  {type: int, low: 1, high: 3}
      units:     {type: int, low: 16, high: 256, step: 16}
      optimizer: {type: categorical, choices: [sgd, adam]}
      momentum:  {type: float, low: 0.0, high: 0.99, condition: {parent: optimizer, in: [sgd]}}
      seed_like: {type: fixed, value: 3}

Every definition error is a :class:`~nas.exceptions.SpaceError` whose message starts with the
source (file name) and the key path, e.g.
``search_spaces/x.yaml: params.lr.low: must be < high (got low=0.1, high=0.01)``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nas._yaml import read_yaml
from nas.exceptions import SpaceError
from nas.space._params import (
    Condition,
    FloatParam,
    Param,
    Scalar,
    param_from_dict,
    value_key,
)

if TYPE_CHECKING:
    from nas.space._arch import ArchSpace

__all__ = ["SearchSpace", "assignment_key"]


class _UnknownParamError(SpaceError, KeyError):
    """``space[name]`` with a name the space does not have (catchable as KeyError too)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


# --------------------------------------------------------------------------------------------
# the space


def assignment_key(params: Mapping[str, Any]) -> tuple[tuple[Any, ...], ...]:
    """Hashable identity of an assignment, independent of key order and of ``1`` vs ``1.0``:
    two assignments have the same key iff they have the same names and equal values, where
    numbers compare by value and booleans, strings and ``None`` only equal themselves."""

    def one(value: Any) -> tuple[str, Any]:
        key = value_key(value)
        return (
            key if key is not None else ("json", json.dumps(value, sort_keys=True, default=repr))
        )

    return tuple(sorted((k, *one(v)) for k, v in params.items()))


def _describe_condition(param: Param) -> str:
    cond = param.condition
    if cond is None:
        return "unconditional"
    values = ", ".join(repr(v) for v in cond.values)
    return f"{cond.parent} in [{values}]"


class SearchSpace:
    """An immutable, validated search space.

    Args:
        params: the parameters, in any order; they are stored in topological order (parents
            before children, otherwise in the given order).

    Raises:
        SpaceError: no parameters, an item that is not a :class:`Param`, a duplicated name, a
            condition whose parent is unknown, itself, a float parameter, or whose values are
            not in the parent's domain, or conditions that form a cycle. Messages carry the key
            path (``params.<name>.condition.parent: ...``).

    Equality is structural: same parameters (kind, bounds, choices, conditions) in the same
    order. Two spaces that differ only in parameter order are *not* equal, because they sample
    differently from the same generator.
    """

    __slots__ = ("_by_name", "_equivalence", "_params")

    def __init__(self, params: Iterable[Param]) -> None:
        given = list(params)
        if not given:
            raise SpaceError("params: a search space needs at least one parameter (got none)")
        by_name: dict[str, Param] = {}
        for i, p in enumerate(given):
            if not isinstance(p, Param):
                raise SpaceError(
                    f"params[{i}]: must be a Param (FloatParam, IntParam, CategoricalParam or "
                    f"FixedParam), got {type(p).__name__}"
                )
            if p.name in by_name:
                raise SpaceError(f"params.{p.name}: duplicate parameter name {p.name!r}")
            by_name[p.name] = p
        normalized = [self._normalize_condition(p, by_name) for p in given]
        by_name = {p.name: p for p in normalized}
        self._params: tuple[Param, ...] = _topological_order(normalized, by_name)
        self._by_name: dict[str, Param] = {p.name: p for p in self._params}
        self._equivalence: ArchSpace | None = None

    def with_equivalence(self, arch_space: ArchSpace) -> SearchSpace:
        """This space with the equivalence of an architecture space: :meth:`key` then
        identifies assignments describing the same network (:meth:`ArchSpace.key`).

        The equivalence is derived data: it travels with :meth:`to_dict` / :meth:`to_json` but
        does not take part in equality.
        """
        out = SearchSpace.__new__(SearchSpace)
        out._params, out._by_name = self._params, self._by_name
        out._equivalence = arch_space
        return out

    @property
    def equivalence(self) -> ArchSpace | None:
        """The architecture space whose equivalence :meth:`key` applies, if any."""
        return self._equivalence

    def key(self, params: Mapping[str, Any]) -> Hashable:
        """Hashable identity of an assignment: equal keys mean the same point (the same
        network, for an architecture space's encodings; else the same names and values, where
        numbers compare by value and booleans, strings and ``None`` only equal themselves).

        Searchers use it to avoid proposing a point that is already evaluated or pending.

        Raises:
            SpaceError: with an equivalence, ``params`` is not an assignment of the
                architecture space.
        """
        if self._equivalence is not None:
            return ("arch", self._equivalence.key(params))
        return assignment_key(params)

    @staticmethod
    def _normalize_condition(param: Param, by_name: Mapping[str, Param]) -> Param:
        """Check ``param``'s condition against its parent; values normalized to the parent's."""
        cond = param.condition
        if cond is None:
            return param
        path = f"params.{param.name}.condition"
        if cond.parent == param.name:
            raise SpaceError(
                f"{path}.parent: a parameter cannot be conditioned on itself (got {cond.parent!r})"
            )
        parent = by_name.get(cond.parent)
        if parent is None:
            raise SpaceError(
                f"{path}.parent: unknown parameter {cond.parent!r}; "
                f"known parameters: {', '.join(by_name)}"
            )
        if isinstance(parent, FloatParam):
            raise SpaceError(
                f"{path}.parent: parent {cond.parent!r} is a float param; conditions need a "
                f"categorical, int or fixed parent"
            )
        values: list[Scalar] = []
        for v in cond.values:
            if not parent.contains(v):
                raise SpaceError(
                    f"{path}.in: value {v!r} is not in the domain of parent {cond.parent!r} "
                    f"{parent.describe_domain()}"
                )
            values.append(parent.validate_value(v))
        # Every Param constructor takes its fields as keyword arguments of the same names.
        return dataclasses.replace(param, condition=Condition(cond.parent, values))

    # ---- construction from other forms ----------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> SearchSpace:
        """Build a space from its dict form ``{"params": {name: spec, ...}}`` (the YAML shape).

        Args:
            data: the mapping (e.g. parsed YAML or JSON).
            source: where ``data`` came from; every error message starts with it.

        A mapping whose only key is ``supernet`` is an architecture space
        (:class:`nas.supernet.ArchSpace`); its search space (the architecture dimensions) is
        returned.

        Raises:
            SpaceError: ``"<source>: <key path>: <rule> (got ...)"`` for any rule broken.
        """
        from nas.space._arch import ArchSpace

        if isinstance(data, Mapping) and "supernet" in data:
            if set(data) != {"supernet"}:
                extra = sorted(str(k) for k in data if k != "supernet")
                raise SpaceError(
                    f"{source}: {extra[0]}: unknown key next to 'supernet' (an architecture "
                    "space file has only the 'supernet' key)"
                )
            return ArchSpace.from_dict(data["supernet"], source=source).search_space
        equivalence = None
        if isinstance(data, Mapping) and "equivalence" in data:
            data = dict(data)
            eq = data.pop("equivalence")
            if not isinstance(eq, Mapping) or set(eq) != {"supernet"}:
                raise SpaceError(
                    f"{source}: equivalence: expected {{supernet: <architecture space>}}, "
                    f"got {eq!r}"
                )
            equivalence = ArchSpace.from_dict(eq["supernet"], source=f"{source} (equivalence)")
        try:
            space = cls._from_dict(data)
        except SpaceError as exc:
            raise SpaceError(f"{source}: {exc}") from None
        return space if equivalence is None else space.with_equivalence(equivalence)

    @classmethod
    def _from_dict(cls, data: object) -> SearchSpace:
        if data is None:
            raise SpaceError("expected a mapping with key 'params' (got an empty document)")
        if not isinstance(data, Mapping):
            raise SpaceError(
                f"expected a mapping with key 'params' (got {type(data).__name__}: {data!r})"
            )
        for key in data:
            if key != "params":
                raise SpaceError(
                    f"{key}: unknown key; valid top-level keys: params (and equivalence, "
                    "written for architecture spaces)"
                )
        if "params" not in data:
            raise SpaceError("params: missing required key 'params'")
        params = data["params"]
        if not isinstance(params, Mapping):
            raise SpaceError(
                f"params: must be a mapping from parameter name to definition "
                f"(got {type(params).__name__}: {params!r})"
            )
        return cls(param_from_dict(name, spec) for name, spec in params.items())

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpace:
        """Load a space from a YAML file.

        Args:
            path: the file; error messages start with ``str(path)`` as given.

        Raises:
            SpaceError: file missing or unreadable, YAML syntax error (with line and column),
                a duplicated key, or any rule of :meth:`from_dict`.
        """
        return cls.from_dict(read_yaml(path, SpaceError), source=str(path))

    @classmethod
    def from_json(cls, text: str, source: str = "<json>") -> SearchSpace:
        """Inverse of :meth:`to_json`.

        Raises:
            SpaceError: invalid JSON (with position) or any rule of :meth:`from_dict`.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpaceError(
                f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
            ) from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_configspace(cls, cs: Any) -> SearchSpace:
        """Convert a ``ConfigSpace.ConfigurationSpace`` (ConfigSpace >= 1.0).

        Supported: UniformFloat/UniformInteger (with ``log``), Categorical (uniform weights),
        Ordinal (becomes categorical over its sequence), Constant (becomes fixed),
        EqualsCondition and InCondition. Default values and meta data are dropped.

        Raises:
            SpaceError: naming the hyperparameter and the unsupported feature (Normal/Beta
                distributions, non-uniform weights, conjunctions, other condition types,
                forbidden clauses) or a rule of the space broken.
            ImportError: ConfigSpace is not installed.
        """
        from nas.space._configspace import space_from_configspace

        return space_from_configspace(cs)

    # ---- serialization ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """``{"params": {name: spec}}`` in topological order (plus ``"equivalence":
        {"supernet": ...}`` for an architecture space's encoding); ``from_dict(to_dict()) ==
        self``, equivalence included."""
        out: dict[str, Any] = {"params": {p.name: p.to_dict() for p in self._params}}
        if self._equivalence is not None:
            out["equivalence"] = {"supernet": self._equivalence.to_dict()}
        return out

    def to_json(self) -> str:
        """Compact, deterministic JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    # ---- container protocol ----------------------------------------------------------------

    @property
    def params(self) -> tuple[Param, ...]:
        """All parameters in topological order."""
        return self._params

    @property
    def names(self) -> tuple[str, ...]:
        """All parameter names in topological order."""
        return tuple(p.name for p in self._params)

    def __getitem__(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise _UnknownParamError(
                f"unknown parameter {name!r}; the space has: {', '.join(self._by_name)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._by_name

    def __iter__(self) -> Iterator[Param]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return self._params == other._params

    def __hash__(self) -> int:
        return hash(self._params)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self._params)!r})"

    # ---- assignments -----------------------------------------------------------------------

    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether parameter ``name`` is active under the assignment ``params``.

        A parameter is active iff it has no condition, or its parent is active, has a value in
        ``params`` and that value is one of the condition's values (type-aware comparison).

        Raises:
            SpaceError: ``name`` is not a parameter of the space (also a KeyError).
        """
        param = self[name]
        while param.condition is not None:
            cond = param.condition
            if cond.parent not in params or not cond.satisfied_by(params[cond.parent]):
                return False
            param = self._by_name[cond.parent]
        return True

    def _active(self, param: Param, assigned: Mapping[str, Any]) -> bool:
        """Activity of ``param`` given ``assigned``, which holds exactly the active parameters
        that precede it in topological order (so its parent is active iff assigned)."""
        cond = param.condition
        return cond is None or (
            cond.parent in assigned and cond.satisfied_by(assigned[cond.parent])
        )

    def sample(self, rng: np.random.Generator) -> dict[str, Scalar]:
        """Draw a random assignment of exactly the active parameters.

        Parameters are drawn in topological order from their priors, so the same generator
        state gives the same assignment.

        Raises:
            TypeError: ``rng`` is not a ``numpy.random.Generator``.
        """
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
                f"got {type(rng).__name__}"
            )
        out: dict[str, Scalar] = {}
        for p in self._params:
            if self._active(p, out):
                out[p.name] = p.sample(rng)
        return out

    def validate(self, params: Mapping[str, Any]) -> dict[str, Scalar]:
        """Check that ``params`` is a complete assignment of exactly the active parameters.

        Returns:
            A new dict in topological order with normalized values (float params as float, int
            params as int, categorical values as the stored choice, numpy scalars converted).

        Raises:
            SpaceError: an unknown name, a missing value for an active parameter, a value for
                an inactive parameter, or a value outside its parameter's domain.
            TypeError: ``params`` is not a mapping.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping, got {type(params).__name__}")
        unknown = [k for k in params if k not in self]
        if unknown:
            raise SpaceError(
                f"unknown parameter(s) {', '.join(repr(k) for k in unknown)}; "
                f"the space has: {', '.join(self._by_name)}"
            )
        out: dict[str, Scalar] = {}
        for p in self._params:
            active = self._active(p, out)
            if active and p.name not in params:
                raise SpaceError(
                    f"missing value for active parameter {p.name!r} ({_describe_condition(p)})"
                )
            cond = p.condition
            if not active and cond is not None and p.name in params:
                got = (
                    f"got {cond.parent}={out[cond.parent]!r}"
                    if cond.parent in out
                    else f"parent {cond.parent!r} is inactive"
                )
                raise SpaceError(
                    f"parameter {p.name!r} is inactive (needs {_describe_condition(p)}, {got}) "
                    f"but was given the value {params[p.name]!r}"
                )
            if active:
                out[p.name] = p.validate_value(params[p.name])
        return out

    def repair(self, params: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Scalar]:
        """Turn a partial or inconsistent assignment into one that passes :meth:`validate`.

        In topological order: a valid value given for an active parameter is kept (normalized);
        an active parameter that is missing or has an out-of-domain value is drawn from ``rng``;
        values of inactive and unknown parameters are dropped.

        Raises:
            TypeError: ``params`` is not a mapping or ``rng`` is not a Generator.
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping, got {type(params).__name__}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        out: dict[str, Scalar] = {}
        for p in self._params:
            if not self._active(p, out):
                continue
            if p.name in params and p.contains(params[p.name]):
                out[p.name] = p.validate_value(params[p.name])
            else:
                out[p.name] = p.sample(rng)
        return out


def _topological_order(params: list[Param], by_name: Mapping[str, Param]) -> tuple[Param, ...]:
    """Stable topological sort: repeatedly take the first (in given order) parameter whose
    parent is already placed. Raises SpaceError naming a cycle if none can be placed."""
    placed: dict[str, Param] = {}
    remaining = list(params)
    while remaining:
        for i, p in enumerate(remaining):
            if p.condition is None or p.condition.parent in placed:
                placed[p.name] = p
                del remaining[i]
                break
        else:  # every remaining parameter waits on another remaining one: there is a cycle
            raise SpaceError(_cycle_message(remaining[0], by_name))
    return tuple(placed.values())


def _cycle_message(start: Param, by_name: Mapping[str, Param]) -> str:
    """Follow parent links from ``start`` (each hop exists: unknown parents were rejected
    before) until a name repeats; the loop is bounded by the number of parameters."""
    chain: list[str] = [start.name]
    p = start
    for _ in range(len(by_name) + 1):
        if p.condition is None:  # unreachable: only conditional params wait on a parent
            break
        p = by_name[p.condition.parent]
        if p.name in chain:
            cycle = [*chain[chain.index(p.name) :], p.name]
            return (
                f"params.{p.name}.condition: conditions form a cycle: {' -> '.join(cycle)} "
                f"(each arrow points to the parent)"
            )
        chain.append(p.name)
    return f"params.{start.name}.condition: conditions form a cycle"
