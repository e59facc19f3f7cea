"""Name -> searcher registry used by study YAML files and ``create_study(searcher="name")``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from nas.exceptions import SearcherConfigError, UnknownSearcherError

if TYPE_CHECKING:
    from nas._types import Objective
    from nas.searchers._base import Searcher
    from nas.space import SearchSpace

__all__ = [
    "create_searcher",
    "register_searcher",
    "searcher_class",
    "searcher_names",
    "searchers_for",
]

_REGISTRY: dict[str, type[Searcher]] = {}
_F = TypeVar("_F", bound="type[Searcher]")


def register_searcher(name: str) -> Callable[[_F], _F]:
    """Class decorator registering a searcher under ``name``.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def decorator(factory: _F) -> _F:
        from nas.searchers._base import Searcher

        builtin = _BUILTINS.get(name)
        if name in _REGISTRY or (builtin is not None and factory.__module__ != builtin):
            raise ValueError(f"searcher name {name!r} is already registered")
        if not (isinstance(factory, type) and issubclass(factory, Searcher)):
            raise TypeError(f"register_searcher({name!r}) decorates a Searcher subclass")
        factory.registered_name = name
        _REGISTRY[name] = factory
        return factory

    return decorator


def searcher_names() -> list[str]:
    """The registered names, sorted (nothing imported)."""
    return sorted(set(_REGISTRY) | set(_BUILTINS))


def searcher_class(name: str) -> type[Searcher]:
    """The class registered as ``name``, whose class attributes declare what it supports
    (:class:`~nas.searchers.Searcher`: objective counts, conditional parameters, parameter
    kinds, budgets, constraints).

    Raises:
        UnknownSearcherError: no searcher has that name (the message lists the valid ones).
    """
    if name not in _REGISTRY and isinstance(name, str) and name in _BUILTINS:
        # Only the module of the searcher asked for: `random` needs no scipy (bohb's KDE).
        import importlib

        importlib.import_module(_BUILTINS[name])
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownSearcherError(
            f"unknown searcher {name!r}; valid names: {', '.join(searcher_names())}"
        ) from None


def searchers_for(space: SearchSpace, n_objectives: int) -> list[str]:
    """The registered names whose declared capabilities take ``space`` with ``n_objectives``
    objectives, sorted (options aside: e.g. ``hyperband`` still needs its budgets)."""
    _load_builtins()
    return sorted(
        n for n, cls in _REGISTRY.items() if cls.unsupported(space, n_objectives) is None
    )


def create_searcher(
    name: str,
    space: SearchSpace,
    objectives: Sequence[Objective],
    seed: int,
    options: Mapping[str, Any] | None = None,
) -> Searcher:
    """Build the searcher registered as ``name`` with ``options`` as keyword arguments.

    Raises:
        UnknownSearcherError: no searcher has that name (the message lists the valid ones).
        SearcherConfigError: an option is unknown or invalid.
    """
    factory = searcher_class(name)
    options = dict(options or {})
    try:
        return factory(space, objectives, seed, **options)
    except TypeError as e:
        # Unknown keyword arguments surface as TypeError from the constructor.
        raise SearcherConfigError(f"searcher {name!r}: {e}") from e


#: Every built-in searcher name -> the module whose import registers it (imported when the name
#: is first looked up; ``tests/searchers_tests`` checks the table against the registrations).
_BUILTINS: dict[str, str] = {
    "random": "nas.searchers._random",
    "evolution": "nas.searchers._evolution",
    "regularized_evolution": "nas.searchers._evolution",
    "nsga2": "nas.searchers._nsga2",
    "bayesian": "nas.searchers._bayesian",
    "optuna": "nas.searchers._optuna",
    "hyperband": "nas.searchers._hyperband",
    "bohb": "nas.searchers._bohb",
    "map": "nas.searchers._map",
    "predictor_ga": "nas.searchers._predictor_ga",
}


def _load_builtins() -> None:
    # Importing the modules registers them; cheap after the first call.
    import importlib

    for module in dict.fromkeys(_BUILTINS.values()):
        importlib.import_module(module)
