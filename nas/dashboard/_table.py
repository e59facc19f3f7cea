"""Server-side filtering, sorting and pagination of a study's trials (the dashboard's trial table
and ``GET /api/studies/{id}/trials``).

Filter language (one line, case-sensitive names, clauses joined by ``and``)::

    error < 0.05 and optimizer == adam and state == COMPLETE
    params.lr >= 1e-3 and values.mflops <= 2.5
    arch ~ sepconv                     (substring, for text fields)
    state in (COMPLETE, PRUNED)

Fields: ``number``, ``state``, ``budget``, ``duration`` (seconds), ``worker``, ``restarts``,
``excluded`` (true/false), ``arch`` (the one-line architecture of a NAS trial), ``leaf`` (the
sub-supernet that measured it, in a split family), an objective name
or ``values.NAME``, a parameter name or ``params.NAME``, a scalar user attribute ``attrs.KEY``.
A bare name is looked up as a built-in field, then an objective, then a parameter. Operators:
``== != < <= > >= ~ in``. Values: numbers, ``true``/``false``/``null``, quoted strings
(``'a b'`` or ``"a b"``) or bare words. A clause whose field is missing from a trial (an inactive
parameter, the value of an unfinished trial) is false for it; ordering a number against a string
is false too.

Everything runs over the :class:`~nas.dashboard._view.StudyView` snapshot in memory; user text is
never part of any SQL.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nas._archtext import arch_text
from nas._attrs import ARCH_ATTR, LEAF_ATTR
from nas._types import FrozenTrial, Objective
from nas.dashboard._view import excluded_reason
from nas.exceptions import NasError

__all__ = [
    "BUILTIN_FIELDS",
    "FilterError",
    "Field",
    "compile_filter",
    "resolve_field",
    "sort_trials",
]

_MAX_FILTER_LENGTH = 2000


class FilterError(NasError, ValueError):
    """A filter or sort expression that cannot be parsed; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Field:
    """A resolved field: ``name`` as the user wrote it and how to read it from a trial."""

    name: str
    get: Callable[[FrozenTrial], Any]


_MISSING = object()


def _or_missing(value: Any) -> Any:
    return _MISSING if value is None else value


_BUILTIN: dict[str, Callable[[FrozenTrial], Any]] = {
    "number": lambda t: t.number,
    "state": lambda t: t.state.value,
    "budget": lambda t: _or_missing(t.budget),
    "duration": lambda t: _or_missing(t.duration),
    "worker": lambda t: _or_missing(t.worker_id),
    "restarts": lambda t: t.restarts,
    "excluded": lambda t: excluded_reason(t) is not None,
    "feasible": lambda t: _or_missing(t.feasible),
    "violation": lambda t: t.total_violation if t.feasible is not None else _MISSING,
    "arch": lambda t: _or_missing(arch_text(t.user_attrs.get(ARCH_ATTR))),
    "leaf": lambda t: _or_missing(t.user_attrs.get(LEAF_ATTR)),
}
#: Field names that are not objectives or parameters.
BUILTIN_FIELDS = tuple(_BUILTIN)


def resolve_field(name: str, objectives: Sequence[Objective], params: Sequence[str]) -> Field:
    """The field called ``name`` (see the module docstring for the lookup order).

    Raises:
        FilterError: no such field; the message lists what exists.
    """
    objective_names = [o.name for o in objectives]
    prefix, _, rest = name.partition(".")
    if rest and prefix == "values" and rest in objective_names:
        return Field(name, lambda t: t.values.get(rest, _MISSING))
    if rest and prefix == "params" and rest in params:
        return Field(name, lambda t: t.params.get(rest, _MISSING))
    if rest and prefix == "attrs":
        return Field(name, lambda t: _scalar(t.user_attrs.get(rest, _MISSING)))
    if name in _BUILTIN:
        return Field(name, _BUILTIN[name])
    if name in objective_names:
        return Field(name, lambda t: t.values.get(name, _MISSING))
    if name in params:
        return Field(name, lambda t: t.params.get(name, _MISSING))
    known = ", ".join([*BUILTIN_FIELDS, *objective_names, *params])
    raise FilterError(
        f"unknown field {name!r}; use one of: {known} (or values.NAME, params.NAME, attrs.KEY)"
    )


def _scalar(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else _MISSING


# ---------------------------------------------------------------------------- parsing

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'[^']*'|"[^"]*")
      | (?P<op>==|!=|<=|>=|<|>|~|=|\(|\)|,)
      | (?P<word>[^\s'"=!<>~(),]+)
    )""",
    re.VERBOSE,
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterError(f"filter: cannot read {text[pos:].strip()[:20]!r} at {pos + 1}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


def _literal(kind: str, text: str) -> Any:
    if kind == "str":
        return text[1:-1]
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _matches(op: str, have: Any, want: Any) -> bool:
    if have is _MISSING:
        return False
    if op == "~":
        return isinstance(have, str) and str(want).lower() in have.lower()
    if op == "in":
        return any(_matches("==", have, w) for w in want)
    numeric = _is_number(have)
    if op in ("==", "=", "!="):
        same = have == want
        if not same and not numeric and isinstance(want, int | float) and isinstance(have, str):
            same = have == str(want)  # a categorical choice "32" written bare
        return same if op != "!=" else not same
    if numeric != _is_number(want):
        return False
    try:
        return bool(_COMPARE[op](have, want))
    except TypeError:
        return False


def compile_filter(
    text: str, objectives: Sequence[Objective], params: Sequence[str]
) -> Callable[[FrozenTrial], bool]:
    """A predicate for ``text`` (empty: every trial passes).

    Raises:
        FilterError: a syntax error or an unknown field, with its position.
    """
    if len(text) > _MAX_FILTER_LENGTH:
        raise FilterError(f"filter: longer than {_MAX_FILTER_LENGTH} characters")
    toks = _tokens(text)
    clauses: list[tuple[Field, str, Any]] = []
    i = 0
    while i < len(toks):
        if clauses:
            kind, word, at = toks[i]
            if kind != "word" or word.lower() not in ("and", "&&"):
                raise FilterError(f"filter: expected 'and' at {at + 1}, got {word!r}")
            i += 1
        if i >= len(toks) or toks[i][0] not in ("word", "str"):
            where = toks[i][2] + 1 if i < len(toks) else len(text) + 1
            raise FilterError(f"filter: expected a field name at {where}")
        name = toks[i][1].strip("'\"")
        field = resolve_field(name, objectives, params)
        i += 1
        if i >= len(toks):
            raise FilterError(f"filter: {name!r} needs an operator and a value")
        kind, op, at = toks[i]
        op = op.lower()
        if not (kind == "op" and op in (*_COMPARE, "~")) and op != "in":
            raise FilterError(f"filter: expected an operator (== != < <= > >= ~ in) at {at + 1}")
        i += 1
        if op == "in":
            values, i = _value_list(toks, i, text)
            clauses.append((field, "in", values))
            continue
        if i >= len(toks) or toks[i][0] not in ("word", "str"):
            raise FilterError(f"filter: expected a value after {name!r} {op}")
        clauses.append((field, op, _literal(toks[i][0], toks[i][1])))
        i += 1

    def predicate(trial: FrozenTrial) -> bool:
        return all(_matches(op, f.get(trial), want) for f, op, want in clauses)

    return predicate


def _value_list(toks: list[tuple[str, str, int]], i: int, text: str) -> tuple[list[Any], int]:
    if i >= len(toks) or toks[i][1] != "(":
        raise FilterError("filter: 'in' needs a list in parentheses, e.g. state in (A, B)")
    i += 1
    values: list[Any] = []
    while i < len(toks) and toks[i][1] != ")":
        kind, word, at = toks[i]
        if kind == "op" and word == ",":
            i += 1
            continue
        if kind not in ("word", "str"):
            raise FilterError(f"filter: unexpected {word!r} at {at + 1} in a list")
        values.append(_literal(kind, word))
        i += 1
    if i >= len(toks):
        raise FilterError(f"filter: missing ')' at {len(text) + 1}")
    return values, i + 1


def sort_trials(
    trials: Sequence[FrozenTrial], field: Field, *, descending: bool = False
) -> list[FrozenTrial]:
    """``trials`` ordered by ``field``: numbers before strings, ties by trial number, trials
    missing the field last in both orders."""
    present: list[tuple[tuple[int, float, str], FrozenTrial]] = []
    missing: list[FrozenTrial] = []
    for trial in trials:
        value = field.get(trial)
        if value is _MISSING or value is None:
            missing.append(trial)
        elif isinstance(value, int | float):
            present.append(((0, float(value), ""), trial))
        else:
            present.append(((1, 0.0, str(value)), trial))
    present.sort(key=lambda kv: (kv[0], -kv[1].number if descending else kv[1].number))
    ordered = [t for _, t in present]
    if descending:
        ordered.reverse()
    return ordered + sorted(missing, key=lambda t: t.number)
