"""Constraints of a study: which trials count as feasible.

A study's constraints are part of its definition (stored with it; reopening it with other
constraints is refused). Two forms, both accepted by :func:`nas.create_study` (``constraints=``)
and by a study file's ``constraints:`` key:

* **Bounds**, a mapping metric name -> ``{max: x}`` and/or ``{min: y}``::

      constraints: {avg_wbits: {max: 4}, latency_ms: {max: 2.5}, accuracy: {min: 0.9}}

  A metric is an objective, or any other number the objective function returns in its result
  mapping (those are stored as the trial's :attr:`~nas.FrozenTrial.metrics`). One constraint per
  metric, in the mapping's order; a metric with both bounds is one constraint whose violation
  is the distance to the interval. The violation of ``{max: x}`` is ``max(0, value - x)``, of
  ``{min: y}`` ``max(0, y - value)``: ``0.0`` means satisfied. What a trial stores is the
  signed value (``value - x``, ``y - value``; ``<= 0`` satisfied), as Optuna stores a
  ``constraints_func``'s values; the violation is its positive part.

* **A callable** ``f(result) -> sequence of floats``, like Optuna's ``constraints_func``:
  ``result`` is the mapping of every number the objective returned (objectives and metrics);
  each returned float is one constraint, satisfied when ``<= 0``; its violation is
  ``max(0, c)``. It must return the same number of floats for every trial. The study stores its
  import path (``module:qualname``): a process opening the study by name imports it from there;
  a function that cannot be imported (a lambda, a local function) must be given again with
  ``create_study(..., constraints=f, load_if_exists=True)`` by every process that runs trials.
  In a study file: ``constraints: package.module:function`` (or ``path/to/file.py:function``).

A value that is missing or NaN (or a callable's NaN) makes its constraint *unevaluable*: the
violation is ``inf`` and the trial is infeasible, with the reason stored in
:attr:`~nas.FrozenTrial.infeasible_reason`. Violations are computed once, when the trial
finishes, and stored with it: searchers, ``best_trial`` and the Pareto front read only the
stored violations, so a resumed study sees exactly what the uninterrupted one saw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nas.exceptions import StudyConfigError

__all__ = ["Bound", "Constraints", "ConstraintsFunc", "parse_constraints"]

#: A callable constraint: every number of the trial's result -> one float per constraint.
ConstraintsFunc = Callable[[Mapping[str, float]], Sequence[float]]

_BOUND_KEYS = ("max", "min")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


@dataclass(frozen=True, slots=True)
class Bound:
    """One bound constraint: ``min <= metric <= max`` (either side may be absent).

    Raises:
        StudyConfigError: no bound, a bound that is not a finite number, or ``min > max``.
    """

    metric: str
    max: float | None = None
    min: float | None = None

    def __post_init__(self) -> None:
        key = f"constraints.{self.metric}"
        if not isinstance(self.metric, str) or not self.metric:
            raise StudyConfigError(
                f"constraints: metric names must be non-empty strings, got {self.metric!r}"
            )
        if self.max is None and self.min is None:
            raise StudyConfigError(f"{key}: give {{max: x}} and/or {{min: y}}")
        for side in _BOUND_KEYS:
            bound = getattr(self, side)
            if bound is not None and _number(bound) is None:
                raise StudyConfigError(f"{key}.{side}: must be a finite number, got {bound!r}")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise StudyConfigError(
                f"{key}: min must be <= max (got min={self.min}, max={self.max})"
            )

    @property
    def label(self) -> str:
        """E.g. ``latency_ms <= 2.5``, ``0.5 <= x <= 1``."""
        if self.min is not None and self.max is not None:
            return f"{self.min:g} <= {self.metric} <= {self.max:g}"
        if self.max is not None:
            return f"{self.metric} <= {self.max:g}"
        return f"{self.metric} >= {self.min:g}"

    def value(self, x: float) -> float:
        """The signed constraint value of metric value ``x`` (finite): ``x - max``,
        ``min - x``, or the larger of both; ``<= 0`` inside the bound, and its positive part
        is how far ``x`` is outside."""
        sides = []
        if self.max is not None:
            sides.append(x - self.max)
        if self.min is not None:
            sides.append(self.min - x)
        return float(max(sides))

    def to_json(self) -> dict[str, Any]:
        """``{"metric": name, "max": x, "min": y}`` without absent sides."""
        out: dict[str, Any] = {"metric": self.metric}
        for side in _BOUND_KEYS:
            if getattr(self, side) is not None:
                out[side] = float(getattr(self, side))
        return out


class Constraints:
    """A study's constraints: bounds on metrics, or a callable (module docstring).

    Build one with :func:`parse_constraints` or :meth:`from_json`; compare them with ``==``
    (by their stored definition; a callable by its import path).

    Attributes:
        bounds: the bound constraints, in order (empty for a callable).
        ref: the callable's import path ``module:qualname`` (``None`` for bounds).
    """

    def __init__(
        self,
        bounds: Sequence[Bound] = (),
        *,
        ref: str | None = None,
        func: ConstraintsFunc | None = None,
    ) -> None:
        if bounds and ref is not None:
            raise ValueError("constraints are either bounds or a callable, not both")
        if not bounds and ref is None:
            raise ValueError("constraints need at least one bound or a callable")
        names = [b.metric for b in bounds]
        if len(set(names)) != len(names):
            raise StudyConfigError(f"constraints: metric names must be unique, got {names}")
        self.bounds = tuple(bounds)
        self.ref = ref
        self._func = func

    def __repr__(self) -> str:
        if self.ref is not None:
            return f"Constraints(callable={self.ref!r})"
        return f"Constraints({', '.join(b.label for b in self.bounds)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constraints) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self.to_json()))

    @property
    def is_callable(self) -> bool:
        """Whether these are a callable's constraints."""
        return self.ref is not None

    @property
    def labels(self) -> list[str] | None:
        """One label per constraint (``latency_ms <= 2.5``); ``None`` for a callable (its
        count is known only from its results)."""
        return None if self.ref is not None else [b.label for b in self.bounds]

    @property
    def metrics(self) -> list[str]:
        """The metric names the bounds read (empty for a callable)."""
        return [b.metric for b in self.bounds]

    def to_json(self) -> dict[str, Any]:
        """The stored definition: ``{"bounds": [...]}`` or ``{"callable": "module:qualname"}``."""
        if self.ref is not None:
            return {"callable": self.ref}
        return {"bounds": [b.to_json() for b in self.bounds]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Constraints:
        """Rebuild stored constraints (a callable is imported when first evaluated).

        Raises:
            StudyConfigError: not a stored definition.
        """
        if "callable" in data and isinstance(data["callable"], str):
            return cls(ref=data["callable"])
        bounds = data.get("bounds")
        if not isinstance(bounds, list):
            raise StudyConfigError(f"not a stored constraints definition: {dict(data)!r}")
        return cls(
            [Bound(str(b["metric"]), b.get("max"), b.get("min")) for b in bounds],
        )

    def with_func(self, func: ConstraintsFunc) -> Constraints:
        """These callable constraints with ``func`` attached (it must have the same import
        path).

        Raises:
            StudyConfigError: these are bounds, or ``func``'s path differs.
        """
        ref = callable_ref(func)
        if self.ref is None or ref != self.ref:
            raise StudyConfigError(
                f"constraints: the study's constraints are {self.to_json()}, not the "
                f"callable {ref!r}"
            )
        return Constraints(ref=ref, func=func)

    def resolve(self) -> ConstraintsFunc:
        """The callable (imported from :attr:`ref` if it was not given).

        Raises:
            StudyConfigError: bounds, or the callable cannot be imported; the message says how
                to give it.
        """
        if self.ref is None:
            raise StudyConfigError("bound constraints have no callable")
        if self._func is None:
            self._func = _import_ref(self.ref)
        return self._func

    def evaluate(self, result: Mapping[str, float]) -> tuple[tuple[float, ...], str | None]:
        """The constraint values of a trial whose objective returned ``result`` (objectives
        and metrics, name -> number).

        Returns:
            ``(values, reason)``: one signed value per constraint, ``<= 0`` satisfied (its
            positive part is the violation; ``inf`` where it could not be evaluated), and the
            reason for those (``None`` when all were evaluated).

        Raises:
            StudyConfigError: a callable that cannot be imported.
            Exception: whatever a callable raises, or ``TypeError``/``ValueError`` when it does
                not return a sequence of numbers (the runner marks the trial FAILED).
        """
        reasons: list[str] = []
        out: list[float] = []
        if self.ref is None:
            for b in self.bounds:
                v = result.get(b.metric)
                if v is None:
                    reasons.append(f"{b.metric!r} was not returned by the objective")
                    out.append(math.inf)
                elif not isinstance(v, int | float) or isinstance(v, bool) or math.isnan(v):
                    reasons.append(f"{b.metric!r} is {v!r}, not a number")
                    out.append(math.inf)
                else:
                    out.append(b.value(float(v)))
        else:
            raw = self.resolve()(dict(result))
            if isinstance(raw, str | bytes) or not isinstance(raw, Sequence | tuple):
                try:
                    raw = list(raw)
                except TypeError:
                    raise TypeError(
                        f"constraints function {self.ref} returned {type(raw).__name__}, "
                        "not a sequence of floats"
                    ) from None
            if len(raw) == 0:
                raise ValueError(f"constraints function {self.ref} returned no value")
            for i, item in enumerate(raw):
                c = _as_float(item)
                if c is None:
                    raise TypeError(
                        f"constraints function {self.ref}: value {i} is {item!r}, not a number"
                    )
                if math.isnan(c):
                    reasons.append(f"constraint {i} of {self.ref} is NaN")
                    out.append(math.inf)
                else:
                    out.append(max(c, -1e308))  # -inf: satisfied by any margin
        return tuple(out), ("; ".join(reasons) or None)


def _as_float(v: Any) -> float | None:
    item = getattr(v, "item", None)
    if callable(item) and not isinstance(v, int | float):
        try:
            v = item()
        except (TypeError, ValueError, RuntimeError):
            return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def callable_ref(func: Callable[..., Any]) -> str:
    """``module:qualname`` of a callable (what a study stores for callable constraints)."""
    module = getattr(func, "__module__", None) or "__main__"
    qualname = getattr(func, "__qualname__", None) or type(func).__qualname__
    return f"{module}:{qualname}"


def _import_ref(ref: str) -> ConstraintsFunc:
    import importlib

    module_name, _, qualname = ref.partition(":")
    hint = (
        f"the study's constraints are the callable {ref}, which cannot be imported here; "
        "give it with nas.create_study(..., constraints=func, load_if_exists=True)"
    )
    if "<" in qualname:  # <lambda>, <locals>: never importable
        raise StudyConfigError(hint)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception as e:
        raise StudyConfigError(f"{hint} ({type(e).__name__}: {e})") from None
    if not callable(obj):
        raise StudyConfigError(f"constraints: {ref} is not callable")
    return obj  # type: ignore[no-any-return]


def parse_constraints(
    value: Mapping[str, Any] | ConstraintsFunc | Constraints | None, *, source: str | None = None
) -> Constraints | None:
    """Validate ``constraints=`` / a study file's ``constraints:`` (module docstring).

    Args:
        value: a mapping metric -> ``{max: x}`` / ``{min: y}``, a callable, a
            :class:`Constraints`, or ``None`` (no constraints; an empty mapping too).
        source: prefixed to error messages (the study file).

    Raises:
        StudyConfigError: one line naming the key and the rule, e.g.
            ``constraints.latency_ms: unknown key 'maxx'; use {max: x} and/or {min: y}``.
    """
    prefix = f"{source}: " if source else ""
    try:
        if value is None:
            return None
        if isinstance(value, Constraints):
            return value
        if isinstance(value, Mapping):
            if not value:
                return None
            bounds = []
            for metric, spec in value.items():
                key = f"constraints.{metric}"
                if not isinstance(metric, str) or not metric:
                    raise StudyConfigError(
                        f"constraints: metric names must be non-empty strings, got {metric!r}"
                    )
                if not isinstance(spec, Mapping):
                    raise StudyConfigError(
                        f"{key}: must be a mapping {{max: x}} and/or {{min: y}}, got {spec!r}"
                    )
                unknown = sorted(set(map(str, spec)) - set(_BOUND_KEYS))
                if unknown:
                    raise StudyConfigError(
                        f"{key}: unknown key {unknown[0]!r}; use {{max: x}} and/or {{min: y}}"
                    )
                bounds.append(Bound(metric, spec.get("max"), spec.get("min")))
            return Constraints(bounds)
        if callable(value):
            return Constraints(ref=callable_ref(value), func=value)
        raise StudyConfigError(
            "constraints: must be a mapping metric -> {max: x} / {min: y}, or a callable "
            f"returning floats (<= 0 is satisfied), got {type(value).__name__}"
        )
    except StudyConfigError as e:
        if prefix:
            raise StudyConfigError(prefix + str(e)) from None
        raise
