"""Name -> pruner registry used by study files (``pruner: {name: ..., options: {...}}``) and
``create_study(pruner=...)``."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from nas._registry import Registry
from nas._types import Objective
from nas.exceptions import PrunerConfigError
from nas.pruners._base import Pruner, options_mapping

__all__ = [
    "PRUNERS",
    "create_pruner",
    "parse_pruner",
    "pruner_names",
    "register_pruner",
]

#: Every pruner class, by name (built-in ones registered lazily).
PRUNERS: Registry[type[Pruner]] = Registry("pruner", PrunerConfigError)
for _name, _target in (
    ("median", "nas.pruners._percentile:MedianPruner"),
    ("percentile", "nas.pruners._percentile:PercentilePruner"),
    ("successive_halving", "nas.pruners._halving:SuccessiveHalvingPruner"),
    ("hyperband", "nas.pruners._halving:HyperbandPruner"),
    ("wilcoxon", "nas.pruners._wilcoxon:WilcoxonPruner"),
    ("patient", "nas.pruners._patient:PatientPruner"),
    ("threshold", "nas.pruners._threshold:ThresholdPruner"),
    ("curve", "nas.pruners._curve:CurvePruner"),
    ("pareto", "nas.pruners._pareto:ParetoPruner"),
):
    PRUNERS.register_lazy(_name, _target)

_P = TypeVar("_P", bound=type[Pruner])


def register_pruner(name: str) -> Callable[[_P], _P]:
    """Class decorator registering a :class:`Pruner` subclass under ``name``.

    Raises:
        ValueError: ``name`` is already registered.
        TypeError: not a Pruner subclass.
    """

    def decorator(cls: _P) -> _P:
        if not (isinstance(cls, type) and issubclass(cls, Pruner)):
            raise TypeError(f"register_pruner({name!r}) decorates a Pruner subclass")
        cls.registered_name = name
        PRUNERS.register(name, cls)
        return cls

    return decorator


def pruner_names() -> list[str]:
    """The registered names in registration order (nothing imported)."""
    return PRUNERS.names()


def create_pruner(
    name: str,
    objectives: Sequence[Objective],
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> Pruner:
    """The pruner registered as ``name`` with ``options``, for a study with ``objectives``.

    Raises:
        PrunerConfigError: an unknown name (the valid ones listed), an unknown option (the
            accepted ones listed), a bad value, options that are not JSON.
    """
    cls = PRUNERS.get(name)
    opts = options_mapping(name, options)
    try:
        json.dumps(opts, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise PrunerConfigError(f"pruner {name}: options must be JSON values ({e})") from None
    accepted = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(opts) - set(accepted))
    if unknown:
        raise PrunerConfigError(
            f"pruner {name}: unknown option(s) {unknown}; it takes {', '.join(accepted) or 'none'}"
        )
    pruner = cls(tuple(objectives), seed, **opts)
    pruner.options = opts
    return pruner


def parse_pruner(value: object, source: str) -> dict[str, Any] | None:
    """The stored form ``{"name": ..., "options": {...}}`` of a study file's or
    ``create_study``'s ``pruner`` (a name, a mapping ``{name, options}``, a registered
    :class:`Pruner`, or ``None`` for no pruner). Only the shape and the name are checked here;
    :func:`create_pruner` checks the options against the study.

    Raises:
        PrunerConfigError: another shape, extra keys, an unknown name (``source`` names where).
    """
    if value is None:
        return None
    if isinstance(value, Pruner):
        if not value.registered_name or value.registered_name not in PRUNERS:
            raise PrunerConfigError(
                f"{source}: a pruner must be registered (nas.pruners.register_pruner) to be "
                f"stored with a study, got {type(value).__name__}"
            )
        return value.spec
    if isinstance(value, str):
        spec: dict[str, Any] = {"name": value, "options": {}}
    elif isinstance(value, Mapping):
        extra = sorted(set(map(str, value)) - {"name", "options"})
        if extra:
            raise PrunerConfigError(
                f"{source}: unknown key(s) {extra}; a pruner is {{name: ..., options: {{...}}}}"
            )
        if "name" not in value:
            raise PrunerConfigError(
                f"{source}: missing 'name'; one of {', '.join(pruner_names())}"
            )
        spec = {
            "name": value["name"],
            "options": options_mapping(str(value["name"]), value.get("options")),
        }
    else:
        raise PrunerConfigError(
            f"{source}: must be a pruner name or {{name: ..., options: {{...}}}}, "
            f"got {type(value).__name__}"
        )
    if not isinstance(spec["name"], str) or spec["name"] not in PRUNERS:
        raise PrunerConfigError(
            f"{source}: unknown pruner {spec['name']!r}; valid: {', '.join(pruner_names())}"
        )
    return spec
