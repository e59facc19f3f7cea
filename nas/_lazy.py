"""Lazy re-exports for package ``__init__`` modules (PEP 562 module ``__getattr__``).

A package lists its public names as usual (``__all__``) and says which module defines each;
the module is imported the first time one of its names is read, so ``import nas`` costs a few
milliseconds and loads neither SQLAlchemy nor numpy. The pattern, in a package's
``__init__.py``::

    from typing import TYPE_CHECKING

    from nas._lazy import lazy_exports

    if TYPE_CHECKING:  # what type checkers and IDEs see: the ordinary imports
        from nas.study._study import Study, create_study
    else:
        __getattr__, __dir__ = lazy_exports(
            __name__, {"nas.study._study": ["Study", "create_study"]}
        )

    __all__ = ["Study", "create_study"]

The two lists are kept equal by ``tests/test_imports.py``. A name, once resolved, is stored
in the package's namespace, so later reads are plain attribute lookups; ``from nas import
Study``, ``dir(nas)``, pickling (classes keep their defining module) and
``importlib.reload`` behave as with eager imports.
"""

from __future__ import annotations

import importlib
import sys

# ``typing`` itself is not imported: ``import nas`` costs a few milliseconds less without it
# (mypy treats any name ``TYPE_CHECKING`` as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package`` (its ``__name__``) that import
    each name of ``exports`` -- defining module -> the names it defines -- on first access.

    A defining module may be the package's submodule (``nas.study._study``) or any other
    module (a re-export of ``nas.space`` names by ``nas.supernet``).

    Raises:
        ValueError: a name is listed under two modules.
    """
    where: dict[str, str] = {}
    for module, names in exports.items():
        for name in names:
            if name in where:
                raise ValueError(f"{package}: {name!r} is exported from two modules")
            where[name] = module

    def __getattr__(name: str) -> Any:  # noqa: N807 - the PEP 562 hook
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        # Later reads find the name in the namespace and never come back here.
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the PEP 562 hook
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
