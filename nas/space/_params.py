"""Parameter kinds of a search space (float, int, categorical, fixed) and their conditions.

Every parameter is an immutable value object. Constructors validate their arguments and raise
:class:`~nas.exceptions.SpaceError` with a message of the form
``params.<name>.<key>: <rule broken> (got <value>)``; :class:`~nas.space.SearchSpace` prefixes the
source (a file name) when it builds parameters from a YAML or dict definition.

Values are always plain Python scalars: numpy scalars are accepted on input and converted
(``np.int64(3)`` -> ``3``), and every method returns ``float``, ``int``, ``str``, ``bool`` or
``None``.

Categorical identity is type-aware: ``True == 1`` in Python, but ``True`` and ``1`` are different
choices here, and ``1`` is not a valid value for choices ``(True, False)``. Numbers (``int`` and
``float``, never ``bool``) compare by value, so ``1`` and ``1.0`` are the same choice.

The unit cube mapping (:meth:`Param.to_unit` / :meth:`Param.from_unit`) lets model-based searchers
work in ``[0, 1]`` per dimension:

* float: linear (or, with ``log=True``, logarithmic) position of the value in ``[low, high]``;
* int: linear (or logarithmic) position of the value in the padded interval
  ``[low - step/2, high + step/2]`` (log: ``[low - 1/2, high + 1/2]``), so that each grid value
  owns a cell of equal width (linear) and uniform ``u`` hits the end values as often as the inner
  ones; ``from_unit`` rounds back onto the step grid;
* categorical: ``(index + 0.5) / n``; ``from_unit`` picks the cell ``floor(u * n)``;
* fixed: always ``0.5``.

``from_unit(to_unit(v)) == v`` for every value ``v`` of the domain (floats up to rounding of the
last bit or two).
"""

from __future__ import annotations

import difflib
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from nas.exceptions import SpaceError

__all__ = [
    "CategoricalParam",
    "Condition",
    "FixedParam",
    "FloatParam",
    "IntParam",
    "Param",
    "ParamKind",
    "Scalar",
    "value_key",
    "param_from_dict",
]

#: A parameter value: what categorical choices, fixed values and sampled values may be.
Scalar = str | int | float | bool | None

#: The ``type`` of a parameter in a YAML definition.
ParamKind = Literal["float", "int", "categorical", "fixed"]

#: Integer bounds are limited to +-2**53 so that every int maps exactly to and from a float.
_MAX_ABS_INT = 2**53

_KINDS: tuple[str, ...] = ("float", "int", "categorical", "fixed")


# --------------------------------------------------------------------------------------------
# helpers


def _py(value: object) -> object:
    """``value`` with a numpy scalar replaced by the equal Python scalar."""
    return value.item() if isinstance(value, np.generic) else value


def _is_real(value: object) -> bool:
    """True for ints and floats, False for bools (which Python counts as ints)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def value_key(value: object) -> tuple[str, object] | None:
    """Type-aware identity of a scalar value, for comparing categorical values.

    Args:
        value: any object; numpy scalars are converted first.

    Returns:
        ``("bool", b)``, ``("str", s)``, ``("none", None)`` or ``("num", x)`` (ints and floats
        share the ``"num"`` tag, so ``1`` and ``1.0`` have equal keys while ``True`` and ``1``
        do not); ``None`` for anything that is not a scalar (lists, dicts, ...), which then
        matches no choice.
    """
    value = _py(value)
    return _scalar_key(value) if _is_scalar(value) else None  # type: ignore[arg-type]


def _scalar_key(value: Scalar) -> tuple[str, object]:
    """:func:`value_key` of a value already known to be a Python scalar."""
    if value is None:
        return ("none", None)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str):
        return ("str", value)
    return ("num", value)


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a float"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _got(value: object) -> str:
    return f"got {value!r}, {_type_name(value)}"


def _check_scalar(path: str, value: object) -> Scalar:
    """``value`` as a Python scalar; SpaceError unless it is a str, int, float, bool or None."""
    value = _py(value)
    if not _is_scalar(value):
        raise SpaceError(
            f"{path}: must be a scalar (string, number, boolean or null) ({_got(value)})"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise SpaceError(f"{path}: must be finite (got {value!r})")
    return value  # type: ignore[return-value]


def _real_bound(path: str, value: object) -> float:
    """A finite float from ``value``; SpaceError for strings, bools, non-numbers, inf and nan."""
    value = _py(value)
    if isinstance(value, str):
        hint = ""
        try:
            float(value)
        except ValueError:
            pass
        else:
            hint = (
                "; YAML 1.1 reads exponent numbers without a dot such as 1e-4 as strings, "
                "write 1.0e-4"
            )
        raise SpaceError(f"{path}: must be a number ({_got(value)}{hint})")
    if not _is_real(value):
        raise SpaceError(f"{path}: must be a number ({_got(value)})")
    try:
        result = float(value)  # type: ignore[arg-type]
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise SpaceError(f"{path}: must be finite (got {value!r})")
    return result


def _int_bound(path: str, value: object) -> int:
    """An int from ``value``; SpaceError for floats (even 3.0), bools, strings and huge ints."""
    value = _py(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = ""
        if isinstance(value, float) and value.is_integer():
            hint = f"; write {int(value)}"
        raise SpaceError(f"{path}: must be an integer ({_got(value)}{hint})")
    result = int(value)
    if abs(result) > _MAX_ABS_INT:
        raise SpaceError(f"{path}: must be within +-2**53 (got {result})")
    return result


def _bool_flag(path: str, value: object) -> bool:
    value = _py(value)
    if not isinstance(value, bool):
        raise SpaceError(f"{path}: must be true or false ({_got(value)})")
    return value


def _unit(name: str, u: object) -> float:
    """``u`` as a float clipped to [0, 1]; SpaceError for non-numbers and nan."""
    u = _py(u)
    if not _is_real(u):
        raise SpaceError(f"parameter {name!r}: unit value must be a number in [0, 1] ({_got(u)})")
    try:
        x = float(u)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond the float range: clipped below anyway
        x = math.copysign(math.inf, u)  # type: ignore[arg-type]
    if math.isnan(x):
        raise SpaceError(f"parameter {name!r}: unit value must be a number in [0, 1] (got nan)")
    return min(1.0, max(0.0, x))


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def _fmt_values(values: Iterable[object]) -> str:
    return "[" + ", ".join(repr(v) for v in values) + "]"


# --------------------------------------------------------------------------------------------
# conditions


@dataclass(frozen=True, init=False, eq=False)
class Condition:
    """The parameter that carries this condition is active iff its parent is active and the
    parent's value is one of ``values``.

    YAML form: ``condition: {parent: NAME, in: [v, ...]}``. Whether ``parent`` exists and whether
    ``values`` lie in its domain is checked by :class:`~nas.space.SearchSpace`, which also
    normalizes the values to the parent's (e.g. ``np.int64(2)`` -> ``2``).

    Args:
        parent: name of the parent parameter (a categorical, int or fixed parameter).
        values: non-empty sequence of distinct scalars (a ``str`` is not taken as a sequence).

    Raises:
        SpaceError: ``parent`` is not a non-empty string, or ``values`` is empty, not a
            sequence, has a non-scalar or repeats a value.
    """

    parent: str
    values: tuple[Scalar, ...]

    def __init__(self, parent: str, values: Sequence[Scalar]) -> None:
        if not isinstance(parent, str) or not parent:
            raise SpaceError(f"condition.parent: must be a non-empty string ({_got(parent)})")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise SpaceError(
                f"condition.in: must be a list of values ({_got(values)}); write in: [value]"
            )
        if not values:
            raise SpaceError("condition.in: must list at least one value (got [])")
        checked = tuple(_check_scalar("condition.in", v) for v in values)
        keys = [value_key(v) for v in checked]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                raise SpaceError(
                    f"condition.in: value {checked[i]!r} is listed twice "
                    f"(got {_fmt_values(checked)})"
                )
        object.__setattr__(self, "parent", parent)
        object.__setattr__(self, "values", checked)
        object.__setattr__(self, "_keys", frozenset(keys))

    def satisfied_by(self, parent_value: object) -> bool:
        """True iff ``parent_value`` is one of :attr:`values` (type-aware, see module doc)."""
        key = value_key(parent_value)
        return key is not None and key in self._keys  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping ``{"parent": ..., "in": [...]}``."""
        return {"parent": self.parent, "in": list(self.values)}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Condition):
            return NotImplemented
        return self.parent == other.parent and [value_key(v) for v in self.values] == [
            value_key(v) for v in other.values
        ]

    def __hash__(self) -> int:
        return hash((self.parent, tuple(value_key(v) for v in self.values)))

    @classmethod
    def from_dict(cls, spec: object) -> Condition:
        """Build from the YAML mapping ``{parent: NAME, in: [values]}``.

        Raises:
            SpaceError: with a key path relative to the condition (``condition.in: ...``).
        """
        if not isinstance(spec, Mapping):
            raise SpaceError(
                f"condition: must be a mapping {{parent: NAME, in: [values]}} ({_got(spec)})"
            )
        _check_keys("condition", spec, ("parent", "in"), "a condition")
        for key in ("parent", "in"):
            if key not in spec:
                raise SpaceError(f"condition: missing required key {key!r}")
        return cls(spec["parent"], spec["in"])


# --------------------------------------------------------------------------------------------
# parameters


@dataclass(frozen=True, init=False)
class Param(ABC):
    """Base class of the parameter kinds.

    Attributes:
        name: unique name of the parameter within its space.
        condition: when set, the parameter is active only under this condition.
        kind: ``"float"``, ``"int"``, ``"categorical"`` or ``"fixed"`` (the YAML ``type``).
        is_numeric: True for float and int parameters.
    """

    name: str
    condition: Condition | None

    kind: ClassVar[ParamKind]
    is_numeric: ClassVar[bool] = False

    def _init_common(self, name: object, condition: object) -> None:
        if not isinstance(name, str) or not name:
            raise SpaceError(f"params: a parameter name must be a non-empty string ({_got(name)})")
        if condition is not None and not isinstance(condition, Condition):
            raise SpaceError(
                f"params.{name}.condition: must be a Condition or None "
                f"(got {type(condition).__name__})"
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "condition", condition)

    @property
    def _path(self) -> str:
        return f"params.{self.name}"

    @property
    @abstractmethod
    def cardinality(self) -> int | None:
        """Number of distinct values; ``None`` for a float parameter (a continuum)."""

    @abstractmethod
    def describe_domain(self) -> str:
        """A short human description of the domain, e.g. ``[0.0001, 0.1] (log)``."""

    @abstractmethod
    def validate_value(self, value: object) -> Scalar:
        """Check ``value`` against the domain and return it normalized.

        Returns:
            float for float params, int for int params, the stored choice for categorical
            params, the stored value for fixed params.

        Raises:
            SpaceError: the value is of the wrong type or outside the domain; the message names
                the parameter, the value and the domain.
        """

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Scalar:
        """Draw a value from the parameter's prior (uniform, or log-uniform with ``log``).

        Raises:
            TypeError: ``rng`` is not a ``numpy.random.Generator``.
        """

    @abstractmethod
    def to_unit(self, value: object) -> float:
        """Map a value of the domain to ``[0, 1]`` (see the module docstring).

        Raises:
            SpaceError: the value is not in the domain.
        """

    @abstractmethod
    def from_unit(self, u: float) -> Scalar:
        """Map ``u`` (clipped to ``[0, 1]``) back to a value of the domain.

        Raises:
            SpaceError: ``u`` is not a number or is nan.
        """

    @abstractmethod
    def _body_dict(self) -> dict[str, Any]:
        """The kind-specific keys of :meth:`to_dict` (all but ``type`` and ``condition``)."""

    def contains(self, value: object) -> bool:
        """True iff :meth:`validate_value` accepts ``value``."""
        try:
            self.validate_value(value)
        except SpaceError:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """The YAML mapping of this parameter (``type``, kind-specific keys, ``condition``).

        Optional keys at their default (``log: false``, ``step: 1``) are left out.
        """
        out: dict[str, Any] = {"type": self.kind, **self._body_dict()}
        if self.condition is not None:
            out["condition"] = self.condition.to_dict()
        return out

    def _out_of_domain(self, value: object) -> SpaceError:
        return SpaceError(
            f"parameter {self.name!r}: {value!r} is not in its domain {self.describe_domain()}"
        )


@dataclass(frozen=True, init=False)
class FloatParam(Param):
    """A real parameter in ``[low, high]``, sampled uniformly (or log-uniformly with ``log``).

    Args:
        name: parameter name.
        low: finite lower bound (ints are converted to float).
        high: finite upper bound, ``low < high`` and ``high - low`` finite.
        log: sample and map to the unit interval on a log scale; needs ``low > 0``.
        condition: optional activity condition.

    Raises:
        SpaceError: a bound is not a finite number (strings included), ``low >= high``,
            ``log`` is not a bool, or ``log`` with ``low <= 0``.
    """

    low: float
    high: float
    log: bool

    kind: ClassVar[ParamKind] = "float"
    is_numeric: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        low: float,
        high: float,
        log: bool = False,
        condition: Condition | None = None,
    ) -> None:
        self._init_common(name, condition)
        p = self._path
        lo = _real_bound(f"{p}.low", low)
        hi = _real_bound(f"{p}.high", high)
        lg = _bool_flag(f"{p}.log", log)
        if not lo < hi:
            raise SpaceError(f"{p}.low: must be < high (got low={lo!r}, high={hi!r})")
        if not math.isfinite(hi - lo):
            raise SpaceError(f"{p}: high - low must be finite (got low={lo!r}, high={hi!r})")
        if lg and lo <= 0:
            raise SpaceError(f"{p}.low: must be > 0 when log is true (got low={lo!r})")
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)
        object.__setattr__(self, "log", lg)

    @property
    def cardinality(self) -> int | None:
        """Always ``None``."""
        return None

    def describe_domain(self) -> str:
        """``[low, high]``, with `` (log)`` for a log scale."""
        return f"[{self.low!r}, {self.high!r}]" + (" (log)" if self.log else "")

    def validate_value(self, value: object) -> float:
        """See :meth:`Param.validate_value`; ints are accepted and returned as float."""
        value = _py(value)
        if not _is_real(value):
            raise SpaceError(
                f"parameter {self.name!r}: expected a number in {self.describe_domain()} "
                f"({_got(value)})"
            )
        try:
            x = float(value)  # type: ignore[arg-type]
        except OverflowError:  # an int beyond the float range
            raise self._out_of_domain(value) from None
        if not self.low <= x <= self.high:  # also rejects nan
            raise self._out_of_domain(value)
        return x

    def sample(self, rng: np.random.Generator) -> float:
        """Uniform (or log-uniform) draw in ``[low, high]``; one ``rng.random()`` call."""
        return self.from_unit(float(_check_rng(rng).random()))

    def to_unit(self, value: object) -> float:
        """Linear (or log) position of ``value`` in ``[low, high]``."""
        x = self.validate_value(value)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            u = (math.log(x) - lo) / (hi - lo)
        else:
            u = (x - self.low) / (self.high - self.low)
        return min(1.0, max(0.0, u))

    def from_unit(self, u: float) -> float:
        """``low`` at 0, ``high`` at 1, linear (or log) in between, always within bounds."""
        u = _unit(self.name, u)
        if u == 0.0:
            return self.low
        if u == 1.0:
            return self.high
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            x = math.exp(lo + u * (hi - lo))
        else:
            x = self.low + u * (self.high - self.low)
        return min(self.high, max(self.low, x))

    def _body_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        return out


@dataclass(frozen=True, init=False)
class IntParam(Param):
    """An integer parameter on the grid ``low, low + step, ..., high``.

    Args:
        name: parameter name.
        low: lower bound (an int; ``3.0`` is rejected), within +-2**53.
        high: upper bound, ``low <= high``, ``(high - low) % step == 0``.
        step: grid spacing, ``>= 1``.
        log: sample log-uniformly (values rounded to the nearest int); needs ``low >= 1`` and
            ``step == 1``.
        condition: optional activity condition.

    Raises:
        SpaceError: any of the rules above is broken.
    """

    low: int
    high: int
    step: int
    log: bool

    kind: ClassVar[ParamKind] = "int"
    is_numeric: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        low: int,
        high: int,
        step: int = 1,
        log: bool = False,
        condition: Condition | None = None,
    ) -> None:
        self._init_common(name, condition)
        p = self._path
        lo = _int_bound(f"{p}.low", low)
        hi = _int_bound(f"{p}.high", high)
        st = _int_bound(f"{p}.step", step)
        lg = _bool_flag(f"{p}.log", log)
        if lo > hi:
            raise SpaceError(f"{p}.low: must be <= high (got low={lo}, high={hi})")
        if st < 1:
            raise SpaceError(f"{p}.step: must be >= 1 (got step={st})")
        if (hi - lo) % st != 0:
            raise SpaceError(
                f"{p}.step: high - low must be a multiple of step "
                f"(got low={lo}, high={hi}, step={st})"
            )
        if lg and lo < 1:
            raise SpaceError(f"{p}.low: must be >= 1 when log is true (got low={lo})")
        if lg and st != 1:
            raise SpaceError(f"{p}.step: must be 1 when log is true (got step={st})")
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)
        object.__setattr__(self, "step", st)
        object.__setattr__(self, "log", lg)

    @property
    def cardinality(self) -> int:
        """Number of grid values, ``(high - low) // step + 1``."""
        return (self.high - self.low) // self.step + 1

    def describe_domain(self) -> str:
        """``[low, high]`` plus `` step s`` and `` (log)`` where they apply."""
        out = f"[{self.low}, {self.high}]"
        if self.step != 1:
            out += f" step {self.step}"
        return out + (" (log)" if self.log else "")

    def validate_value(self, value: object) -> int:
        """See :meth:`Param.validate_value`.

        Floats with an integral value (``3.0``, as produced by some numeric code) are accepted
        and returned as ``int``; ``True``/``False`` and non-integral floats are rejected.
        """
        value = _py(value)
        if isinstance(value, float) and value.is_integer():
            i = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            i = value
        else:
            raise SpaceError(
                f"parameter {self.name!r}: expected an integer in {self.describe_domain()} "
                f"({_got(value)})"
            )
        if not self.low <= i <= self.high or (i - self.low) % self.step != 0:
            raise self._out_of_domain(value)
        return i

    def sample(self, rng: np.random.Generator) -> int:
        """Uniform draw over the grid, or log-uniform in ``[low - 1/2, high + 1/2]`` rounded."""
        rng = _check_rng(rng)
        if self.log:
            return self.from_unit(float(rng.random()))
        return self.low + self.step * int(rng.integers(self.cardinality))

    def _log_bounds(self) -> tuple[float, float]:
        return math.log(self.low - 0.5), math.log(self.high + 0.5)

    def to_unit(self, value: object) -> float:
        """Linear position in ``[low - step/2, high + step/2]``, i.e. ``(index + 0.5) / n``;
        log: position of ``log(value)`` in ``[log(low - 1/2), log(high + 1/2)]``."""
        i = self.validate_value(value)
        if self.log:
            lo, hi = self._log_bounds()
            return (math.log(i) - lo) / (hi - lo)
        return ((i - self.low) // self.step + 0.5) / self.cardinality

    def from_unit(self, u: float) -> int:
        """The grid value whose cell contains ``u`` (see :meth:`to_unit`)."""
        u = _unit(self.name, u)
        if self.log:
            lo, hi = self._log_bounds()
            i = math.floor(math.exp(lo + u * (hi - lo)) + 0.5)
            return min(self.high, max(self.low, i))
        n = self.cardinality
        return self.low + self.step * min(n - 1, math.floor(u * n))

    def _body_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.step != 1:
            out["step"] = self.step
        if self.log:
            out["log"] = True
        return out


@dataclass(frozen=True, init=False, eq=False)
class CategoricalParam(Param):
    """A parameter taking one of a fixed tuple of scalar choices, sampled uniformly.

    Args:
        name: parameter name.
        choices: non-empty sequence of distinct scalars (str, int, float, bool or None; floats
            finite). Distinctness is type-aware: ``(1, True)`` is valid, ``(1, 1.0)`` is not.
        condition: optional activity condition.

    Raises:
        SpaceError: ``choices`` is empty, not a sequence, has a non-scalar or a repeated value.
    """

    choices: tuple[Scalar, ...]

    kind: ClassVar[ParamKind] = "categorical"

    def __init__(
        self, name: str, choices: Sequence[Scalar], condition: Condition | None = None
    ) -> None:
        self._init_common(name, condition)
        p = f"{self._path}.choices"
        if isinstance(choices, str | bytes) or not isinstance(choices, Sequence):
            raise SpaceError(f"{p}: must be a list of values ({_got(choices)})")
        if not choices:
            raise SpaceError(f"{p}: must list at least one choice (got [])")
        checked = tuple(_check_scalar(p, c) for c in choices)
        index: dict[tuple[str, object], int] = {}
        for i, c in enumerate(checked):
            key = _scalar_key(c)
            if key in index:
                raise SpaceError(
                    f"{p}: choice {c!r} is listed twice (equal to {checked[index[key]]!r}; "
                    f"got {_fmt_values(checked)})"
                )
            index[key] = i
        object.__setattr__(self, "choices", checked)
        object.__setattr__(self, "_index", index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CategoricalParam):
            return NotImplemented
        return (
            self.name == other.name
            and self.condition == other.condition
            and [value_key(c) for c in self.choices] == [value_key(c) for c in other.choices]
        )

    def __hash__(self) -> int:
        return hash((self.name, self.condition, tuple(value_key(c) for c in self.choices)))

    @property
    def cardinality(self) -> int:
        """Number of choices."""
        return len(self.choices)

    def describe_domain(self) -> str:
        """The choices, as a list."""
        return f"(choices {_fmt_values(self.choices)})"

    def index(self, value: object) -> int:
        """Position of ``value`` in :attr:`choices`.

        Raises:
            SpaceError: ``value`` is not one of the choices (type-aware comparison).
        """
        key = value_key(value)
        i = self._index.get(key) if key is not None else None  # type: ignore[attr-defined]
        if i is None:
            raise self._out_of_domain(_py(value))
        return int(i)

    def validate_value(self, value: object) -> Scalar:
        """See :meth:`Param.validate_value`; returns the stored choice (``1`` for ``1.0``)."""
        return self.choices[self.index(value)]

    def sample(self, rng: np.random.Generator) -> Scalar:
        """A uniformly drawn choice; one ``rng.integers`` call."""
        return self.choices[int(_check_rng(rng).integers(len(self.choices)))]

    def to_unit(self, value: object) -> float:
        """``(index + 0.5) / n``."""
        return (self.index(value) + 0.5) / len(self.choices)

    def from_unit(self, u: float) -> Scalar:
        """The choice at index ``floor(u * n)`` (``n - 1`` for ``u == 1``)."""
        n = len(self.choices)
        return self.choices[min(n - 1, math.floor(_unit(self.name, u) * n))]

    def _body_dict(self) -> dict[str, Any]:
        return {"choices": list(self.choices)}


@dataclass(frozen=True, init=False, eq=False)
class FixedParam(Param):
    """A parameter with a single value (recorded with every trial, never searched).

    Args:
        name: parameter name.
        value: a scalar (str, int, float, bool or None; floats finite).
        condition: optional activity condition.

    Raises:
        SpaceError: ``value`` is not a scalar or is a non-finite float.
    """

    value: Scalar

    kind: ClassVar[ParamKind] = "fixed"

    def __init__(self, name: str, value: Scalar, condition: Condition | None = None) -> None:
        self._init_common(name, condition)
        object.__setattr__(self, "value", _check_scalar(f"{self._path}.value", value))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FixedParam):
            return NotImplemented
        return (
            self.name == other.name
            and self.condition == other.condition
            and value_key(self.value) == value_key(other.value)
        )

    def __hash__(self) -> int:
        return hash((self.name, self.condition, value_key(self.value)))

    @property
    def cardinality(self) -> int:
        """Always 1."""
        return 1

    def describe_domain(self) -> str:
        """``(fixed value)``."""
        return f"(fixed {self.value!r})"

    def validate_value(self, value: object) -> Scalar:
        """See :meth:`Param.validate_value`; accepts only the fixed value (type-aware)."""
        key = value_key(value)
        if key is None or key != value_key(self.value):
            raise self._out_of_domain(_py(value))
        return self.value

    def sample(self, rng: np.random.Generator) -> Scalar:
        """The fixed value; draws nothing from ``rng``."""
        _check_rng(rng)
        return self.value

    def to_unit(self, value: object) -> float:
        """Always ``0.5`` (after checking ``value``)."""
        self.validate_value(value)
        return 0.5

    def from_unit(self, u: float) -> Scalar:
        """Always the fixed value."""
        _unit(self.name, u)
        return self.value

    def _body_dict(self) -> dict[str, Any]:
        return {"value": self.value}


# --------------------------------------------------------------------------------------------
# YAML / dict form

_KEYS: dict[str, tuple[str, ...]] = {
    "float": ("low", "high", "log", "condition"),
    "int": ("low", "high", "step", "log", "condition"),
    "categorical": ("choices", "condition"),
    "fixed": ("value", "condition"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "float": ("low", "high"),
    "int": ("low", "high"),
    "categorical": ("choices",),
    "fixed": ("value",),
}


def _check_keys(path: str, spec: Mapping[Any, Any], valid: Sequence[str], what: str) -> None:
    """SpaceError naming the first key of ``spec`` that is not in ``valid`` (with a hint)."""
    for key in spec:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpaceError(
                f"{path}.{key}: unknown key{hint}; valid keys for {what}: {', '.join(valid)}"
            )


def param_from_dict(name: object, spec: object) -> Param:
    """Build a parameter from its YAML mapping (see :meth:`Param.to_dict`).

    Args:
        name: the parameter name (the key under ``params``).
        spec: mapping with ``type`` and the keys of that kind.

    Returns:
        The parameter.

    Raises:
        SpaceError: with key path ``params.<name>...``: not a mapping, missing/unknown
            ``type``, unknown or missing keys, or any constructor rule.
    """
    if not isinstance(name, str) or not name:
        hint = ""
        if isinstance(name, bool):
            hint = "; YAML 1.1 reads yes/no/on/off/true/false as booleans, quote the name"
        raise SpaceError(
            f"params: a parameter name must be a non-empty string ({_got(name)}{hint})"
        )
    path = f"params.{name}"
    if not isinstance(spec, Mapping):
        raise SpaceError(
            f"{path}: must be a mapping with a 'type' key ({_got(spec)}); "
            f"for a constant write {{type: fixed, value: ...}}"
        )
    if "type" not in spec:
        raise SpaceError(f"{path}: missing required key 'type' (one of {', '.join(_KINDS)})")
    kind = spec["type"]
    if kind not in _KINDS:
        raise SpaceError(f"{path}.type: must be one of {', '.join(_KINDS)} (got {kind!r})")
    what = f"{'an' if kind == 'int' else 'a'} {kind} param"
    body = {k: v for k, v in spec.items() if k != "type"}
    _check_keys(path, body, _KEYS[kind], what)
    for key in _REQUIRED[kind]:
        if key not in body:
            raise SpaceError(f"{path}: missing required key {key!r} for {what}")
    condition = None
    if "condition" in body:
        try:
            condition = Condition.from_dict(body.pop("condition"))
        except SpaceError as exc:
            raise SpaceError(f"{path}.{exc}") from None
    if kind == "float":
        return FloatParam(name, condition=condition, **body)
    if kind == "int":
        return IntParam(name, condition=condition, **body)
    if kind == "categorical":
        return CategoricalParam(name, condition=condition, **body)
    return FixedParam(name, condition=condition, **body)
