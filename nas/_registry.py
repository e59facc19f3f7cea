"""Name -> implementation registries: one table per kind of plug-in.

Every kind of thing a user can name in a study file -- objective types, architecture ops,
metrics, path samplers -- has exactly one :class:`Registry`. Built-in entries are registered
*lazily*, as ``"package.module:attribute"`` strings, so that listing the names (for a CLI's
choices or an error message) imports nothing heavy (no torch); the module is imported the first
time its entry is looked up. Plug-ins register the object itself::

    from nas.supernet import PATH_SAMPLERS

    @PATH_SAMPLERS.register("mine")
    class MySampler(PathSampler): ...

Contract: a name is registered once (a second registration raises ``ValueError``); looking up
an unknown name raises the registry's error class (a :class:`ValueError`) whose message lists
the valid names.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

from nas.exceptions import NasError

__all__ = ["Registry", "UnknownNameError"]

T = TypeVar("T")


class UnknownNameError(NasError, ValueError):
    """A name that no entry of a registry has (the message lists the valid names)."""


class Registry(Generic[T]):
    """Named entries of one kind (module docstring).

    Args:
        kind: what the entries are, for messages (``"path sampler"``).
        error: the exception class raised for an unknown name (a ``ValueError`` subclass).
    """

    def __init__(self, kind: str, error: type[ValueError] = UnknownNameError) -> None:
        self.kind = kind
        self._error = error
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._order: list[str] = []
        self._lock = threading.RLock()

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, entry: T) -> T: ...

    def register(self, name: str, entry: T | None = None) -> T | Callable[[T], T]:
        """Register ``entry`` under ``name``; without ``entry``, a decorator that does.

        Raises:
            ValueError: ``name`` is empty or already registered.
        """

        def add(obj: T) -> T:
            with self._lock:
                self._check_new(name)
                self._entries[name] = obj
                self._order.append(name)
            return obj

        return add if entry is None else add(entry)

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``name`` as the attribute ``target`` (``"package.module:attribute"``),
        imported on first lookup.

        Raises:
            ValueError: ``name`` is empty or already registered, or ``target`` is malformed.
        """
        module, sep, attr = target.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"lazy {self.kind} {name!r}: target must be 'module:attribute'")
        with self._lock:
            self._check_new(name)
            self._lazy[name] = target
            self._order.append(name)

    def _check_new(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if name in self._entries or name in self._lazy:
            raise ValueError(f"{self.kind} name {name!r} is already registered")

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests and for reloading a plug-in).

        Raises:
            the registry's error class: no entry has that name.
        """
        with self._lock:
            if name not in self:
                raise self._error(f"unknown {self.kind} {name!r}; valid: {', '.join(self._order)}")
            self._entries.pop(name, None)
            self._lazy.pop(name, None)
            self._order.remove(name)

    def get(self, name: str) -> T:
        """The entry registered as ``name`` (importing a lazy one).

        Raises:
            the registry's error class: no entry has that name (the valid names are listed).
        """
        with self._lock:
            if name in self._entries:
                return self._entries[name]
            target = self._lazy.get(name) if isinstance(name, str) else None
            if target is None:
                raise self._error(
                    f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}"
                )
            module, _, attr = target.partition(":")
            entry: T = getattr(importlib.import_module(module), attr)
            self._entries[name] = entry
            del self._lazy[name]
            return entry

    def names(self) -> list[str]:
        """Every registered name (lazy ones included, nothing imported), in registration
        order."""
        with self._lock:
            return list(self._order)

    def items(self) -> Iterator[tuple[str, T]]:
        """``(name, entry)`` of every entry (importing the lazy ones)."""
        for name in self.names():
            yield name, self.get(name)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._entries or name in self._lazy

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"
