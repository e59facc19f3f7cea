"""Objective types: the plug-ins behind ``objective: {type: ..., ...}`` in study files.

A study's objective is either a function (``objective: package.module:function``) or a *typed*
objective -- a mapping with a ``type`` key -- built by the class registered under that name in
:data:`OBJECTIVE_TYPES` (``supernet``: :class:`nas.supernet.SupernetObjective`; ``command``:
:class:`nas.study._command.CommandObjective`, an external program). The study file
loader, ``nas run``, ``nas worker NAME``, ``nas export``, the torchrun entry and the dashboard
all dispatch on the type through this registry; nothing in :mod:`nas.study` imports a type's
module itself (the built-in ones are registered lazily, by name).

The contract of a registered type (a class; see :class:`ObjectiveType`):

* ``cls.parse(data, source=..., base_dir=...)`` validates the study file's mapping, every value
  once, and raises :class:`~nas.exceptions.StudyConfigError` / ``SpaceError`` naming the key;
* ``cls.from_definition(stored, device=None)`` rebuilds an instance from its stored
  :meth:`definition` (a JSON mapping whose ``type`` is the registered name);
* an instance is a callable objective (``obj(trial) -> dict``) with ``definition()``,
  ``differences(stored, seed)`` (the keys in which a stored definition differs, empty when
  compatible), ``check_objectives(directions)``, ``study_space(..., build=None)`` (the search
  space the study uses; ``build(space)`` builds the study's searcher over a candidate space,
  raising when the searcher refuses it, and the loader keeps what it built for the study),
  ``validate()`` (machine checks before anything is written), ``prepare(study, ...)`` (work
  before the first trial), ``with_device(device)``, and the class attribute
  ``produces_architectures`` (the dashboard shows architectures of its studies).

A typed objective's definition is pinned in the study as the user attribute
:data:`OBJECTIVE_ATTR` when the study is opened with it (by :func:`~nas.study.open_study` in
the transaction that creates the study): reopening the study with a different definition (as
:meth:`differences` judges) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nas._attrs import LEGACY_OBJECTIVE_ATTRS, OBJECTIVE_ATTR
from nas._registry import Registry
from nas.exceptions import IncompatibleStudyError, StudyConfigError

if TYPE_CHECKING:
    from nas.study._study import Study

__all__ = [
    "OBJECTIVE_ATTR",
    "OBJECTIVE_TYPES",
    "ObjectiveType",
    "check_pinned",
    "objective_from_definition",
    "parse_typed_objective",
    "pin_objective",
    "stored_definition",
]


class ObjectiveType(Protocol):
    """What :data:`OBJECTIVE_TYPES` holds (module docstring for the whole contract)."""

    produces_architectures: bool

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, source: str, base_dir: Path | None) -> Any:
        """An objective from the study file's mapping."""

    @classmethod
    def from_definition(cls, data: Mapping[str, Any], device: str | None = None) -> Any:
        """An objective from its stored definition."""


#: Every objective type, by name.
OBJECTIVE_TYPES: Registry[type[ObjectiveType]] = Registry("objective type", StudyConfigError)
OBJECTIVE_TYPES.register_lazy("supernet", "nas.supernet._objective:SupernetObjective")
OBJECTIVE_TYPES.register_lazy("command", "nas.study._command:CommandObjective")


def parse_typed_objective(
    data: Mapping[str, Any], *, source: str, base_dir: Path | None = None
) -> Any:
    """The objective of a study file's ``objective:`` mapping, built by its ``type``.

    Raises:
        StudyConfigError: no ``type``, or an unknown one (the valid ones are listed), and the
            type's own errors.
    """
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in OBJECTIVE_TYPES:
        raise StudyConfigError(
            f"{source}: objective.type: must be one of {', '.join(OBJECTIVE_TYPES.names())}, "
            f"got {kind!r}"
        )
    return OBJECTIVE_TYPES.get(kind).parse(data, source=source, base_dir=base_dir)


def stored_definition(user_attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The typed objective definition a study holds (with its ``type``; also from the
    attributes of earlier versions), or ``None``."""
    found = user_attrs.get(OBJECTIVE_ATTR)
    if isinstance(found, Mapping) and isinstance(found.get("type"), str):
        return dict(found)
    for attr, kind in LEGACY_OBJECTIVE_ATTRS.items():
        legacy = user_attrs.get(attr)
        if isinstance(legacy, Mapping):
            return {**legacy, "type": kind}
    return None


def objective_from_definition(data: Mapping[str, Any], device: str | None = None) -> Any:
    """Rebuild a typed objective from its stored definition (optionally on ``device``).

    Raises:
        StudyConfigError: an unknown type, or not a definition of that type.
    """
    kind = data.get("type")
    if not isinstance(kind, str):
        raise StudyConfigError(f"not a typed objective definition (no type): {sorted(data)}")
    return OBJECTIVE_TYPES.get(kind).from_definition(data, device=device)


def pin_objective(study: Study, objective: Any, *, write: bool = True) -> None:
    """Store ``objective``'s definition in ``study``, or check it against the stored one.

    Args:
        write: store it when the study has none (``False``: only check; e.g. data-parallel
            processes other than the writer).

    Raises:
        IncompatibleStudyError: the study holds another objective (other type, or a
            definition that differs in what its trials depend on).
    """
    stored = stored_definition(study.user_attrs)
    if stored is None:
        if write:
            study.set_user_attr(OBJECTIVE_ATTR, objective.definition())
        return
    check_pinned(stored, objective, study_name=study.name, seed=study.seed)


def check_pinned(stored: Mapping[str, Any], objective: Any, *, study_name: str, seed: int) -> None:
    """Check ``objective`` against the definition a study holds (:func:`stored_definition`).

    Raises:
        IncompatibleStudyError: another type, or a definition that differs in what the
            study's trials depend on (the objective's ``differences``).
    """
    mine = objective.definition()["type"]
    if stored.get("type") != mine:
        raise IncompatibleStudyError(
            f"study {study_name!r} was run with a {stored.get('type')} objective, not {mine}; "
            f"use a new study name, or `nas delete {study_name}`"
        )
    changed = objective.differences(stored, seed)
    if changed:
        raise IncompatibleStudyError(
            f"study {study_name!r} was run with another {mine} objective (differs in "
            f"{', '.join(changed)}); its trials were measured with that one. Use a new "
            f"study name, or `nas delete {study_name}`"
        )
