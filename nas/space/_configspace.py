"""Conversion from ``ConfigSpace.ConfigurationSpace`` (ConfigSpace >= 1.0) to a SearchSpace.

ConfigSpace is an optional dependency (``pip install 'nas[configspace]'``); it is imported only
when :func:`space_from_configspace` is called.

Mapping:

* ``UniformFloatHyperparameter`` -> :class:`FloatParam` (``log`` kept);
* ``UniformIntegerHyperparameter`` -> :class:`IntParam` (``log`` kept; a ``q`` attribute, which
  ConfigSpace < 1.0 had, becomes ``step``);
* ``CategoricalHyperparameter`` with uniform (or no) weights -> :class:`CategoricalParam`;
* ``OrdinalHyperparameter`` -> :class:`CategoricalParam` over its sequence (the order is kept as
  the order of the choices, but the searchers treat it as unordered);
* ``Constant`` (and ``UnParametrizedHyperparameter``) -> :class:`FixedParam`;
* ``EqualsCondition`` / ``InCondition`` -> :class:`Condition`.

Default values and ``meta`` are dropped. Everything else is refused with a
:class:`~nas.exceptions.SpaceError` naming the hyperparameter and the feature.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nas.exceptions import SpaceError
from nas.space._params import CategoricalParam, Condition, FixedParam, FloatParam, IntParam, Param
from nas.space._space import SearchSpace

__all__ = ["space_from_configspace"]


def _forbidden_names(clause: Any) -> list[str]:
    """Names of the hyperparameters a forbidden clause, relation or conjunction mentions."""
    names: list[str] = []
    for attr in ("hyperparameter", "left", "right"):
        hp = getattr(clause, attr, None)
        if hp is not None and hasattr(hp, "name"):
            names.append(str(hp.name))
    for component in getattr(clause, "components", ()) or ():
        names.extend(_forbidden_names(component))
    return list(dict.fromkeys(names))


def _convert_hyperparameter(hp: Any) -> Param:
    from ConfigSpace import hyperparameters as csh

    name = hp.name
    unsupported = (
        csh.NormalFloatHyperparameter,
        csh.NormalIntegerHyperparameter,
        csh.BetaFloatHyperparameter,
        csh.BetaIntegerHyperparameter,
    )
    if isinstance(hp, unsupported):
        raise SpaceError(
            f"hyperparameter {name!r}: {type(hp).__name__} is not supported "
            f"(only uniform distributions; use UniformFloat/UniformInteger with log if needed)"
        )
    if isinstance(hp, csh.UniformFloatHyperparameter):
        return FloatParam(name, hp.lower, hp.upper, log=bool(hp.log))
    if isinstance(hp, csh.UniformIntegerHyperparameter):
        q = getattr(hp, "q", None)
        step = 1 if q is None else q
        return IntParam(name, hp.lower, hp.upper, step=step, log=bool(hp.log))
    if isinstance(hp, csh.CategoricalHyperparameter):
        weights = hp.weights
        if weights is not None and len({float(w) for w in weights}) > 1:
            raise SpaceError(
                f"hyperparameter {name!r}: non-uniform weights are not supported "
                f"(got weights={list(weights)!r})"
            )
        return CategoricalParam(name, tuple(hp.choices))
    if isinstance(hp, csh.OrdinalHyperparameter):
        return CategoricalParam(name, tuple(hp.sequence))
    if isinstance(hp, csh.Constant):
        return FixedParam(name, hp.value)
    raise SpaceError(
        f"hyperparameter {name!r}: {type(hp).__name__} is not supported (supported: "
        f"UniformFloat, UniformInteger, Categorical, Ordinal, Constant)"
    )


def _convert_condition(cond: Any) -> tuple[str, Condition]:
    """``(child name, condition)`` for an EqualsCondition or InCondition."""
    from ConfigSpace import conditions as csc

    if isinstance(cond, csc.Conjunction):
        child = cond.child.name
        raise SpaceError(
            f"hyperparameter {child!r}: {type(cond).__name__} is not supported "
            f"(only a single EqualsCondition or InCondition per hyperparameter; got {cond})"
        )
    child = cond.child.name
    if isinstance(cond, csc.EqualsCondition):
        values: tuple[Any, ...] = (cond.value,)
    elif isinstance(cond, csc.InCondition):
        values = tuple(cond.values)
    else:
        raise SpaceError(
            f"hyperparameter {child!r}: {type(cond).__name__} is not supported "
            f"(only EqualsCondition and InCondition; got {cond})"
        )
    try:
        return child, Condition(cond.parent.name, values)
    except SpaceError as exc:
        raise SpaceError(f"params.{child}.{exc}") from None


def space_from_configspace(cs: Any) -> SearchSpace:
    """Convert a ``ConfigSpace.ConfigurationSpace`` to a :class:`SearchSpace`.

    Args:
        cs: a ConfigSpace >= 1.0 ``ConfigurationSpace``.

    Returns:
        The equivalent space; parameters in ConfigSpace's order, re-sorted topologically.

    Raises:
        ImportError: ConfigSpace is not installed.
        TypeError: ``cs`` is not a ConfigurationSpace.
        SpaceError: an unsupported feature (message names the hyperparameter and the feature)
            or a rule of the space broken (e.g. a condition on a float parent).
    """
    try:
        import ConfigSpace
    except ImportError as exc:  # pragma: no cover - ConfigSpace is installed for the tests
        raise ImportError(
            "SearchSpace.from_configspace needs ConfigSpace >= 1.0: pip install 'nas[configspace]'"
        ) from exc
    if not isinstance(cs, ConfigSpace.ConfigurationSpace):
        raise TypeError(f"expected a ConfigSpace.ConfigurationSpace, got {type(cs).__name__}")
    where = (
        f"ConfigurationSpace {cs.name!r}" if getattr(cs, "name", None) else "ConfigurationSpace"
    )

    try:
        return _convert(cs)
    except SpaceError as exc:
        raise SpaceError(f"{where}: {exc}") from None


def _convert(cs: Any) -> SearchSpace:
    """The conversion proper; errors carry no source prefix (the caller adds it)."""
    forbidden = list(cs.forbidden_clauses)
    if forbidden:
        names = _forbidden_names(forbidden[0])
        raise SpaceError(
            f"hyperparameter(s) {', '.join(repr(n) for n in names)}: forbidden clauses "
            f"are not supported (got {len(forbidden)}, first: {forbidden[0]})"
        )

    conditions: dict[str, Condition] = {}
    for cond in cs.conditions:
        child, condition = _convert_condition(cond)
        if child in conditions:
            raise SpaceError(f"hyperparameter {child!r}: more than one condition is not supported")
        conditions[child] = condition

    params: list[Param] = []
    for hp in cs.values():
        param = _convert_hyperparameter(hp)
        if param.name in conditions:
            param = dataclasses.replace(param, condition=conditions[param.name])
        params.append(param)
    return SearchSpace(params)
