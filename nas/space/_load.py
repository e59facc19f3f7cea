"""One loader for the ``space`` values of study files: a path or a mapping, either kind."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas._paths import locate
from nas._yaml import read_yaml
from nas.exceptions import SpaceError, StudyConfigError
from nas.space._arch import ArchSpace
from nas.space._space import SearchSpace

__all__ = ["load_space"]

#: Keys that mark the inner mapping of an architecture space (what sits under ``supernet:``).
_ARCH_KEYS = frozenset({"input", "classes", "stem", "stages"})


def load_space(
    value: Any, *, source: str, key: str = "space", base_dir: Path | None = None
) -> SearchSpace | ArchSpace:
    """The space a study file's ``key`` names.

    ``value`` is a path (absolute, else relative to ``base_dir`` -- the study file's folder --
    then to the current directory) of a YAML file, or an inline mapping. A file or mapping
    whose only key is ``supernet``, or a mapping with an architecture space's keys (``stages``,
    ...), is an :class:`ArchSpace`; anything else a :class:`SearchSpace`
    (``{"params": ...}``).

    Raises:
        StudyConfigError: ``value`` is neither a path nor a mapping, or no such file (the message
            says where it looked).
        SpaceError: the space is invalid (the message names its file or ``source``, and the key).
    """
    where = f"{source} ({key})"
    if isinstance(value, Mapping):
        return _from_mapping(value, where)
    if not isinstance(value, str) or not value:
        raise StudyConfigError(
            f"{source}: {key}: must be a path to a space YAML or an inline mapping, got {value!r}"
        )
    found, tried = locate(value, base_dir or Path.cwd())
    if found is None:
        raise StudyConfigError(
            f"{source}: {key}: file {value!r} not found "
            f"(looked in {', '.join(str(t) for t in tried)})"
        )
    data = read_yaml(found, SpaceError)
    if isinstance(data, Mapping) and "supernet" in data:
        extra = sorted(str(k) for k in data if k != "supernet")
        if extra:
            raise SpaceError(
                f"{found}: {extra[0]}: unknown key next to 'supernet' (an architecture space "
                "file has only the 'supernet' key)"
            )
        return ArchSpace.from_dict(data["supernet"], source=str(found))
    return SearchSpace.from_dict(data, source=str(found))


def _from_mapping(value: Mapping[str, Any], where: str) -> SearchSpace | ArchSpace:
    keys = set(map(str, value))
    if keys == {"supernet"}:
        return ArchSpace.from_dict(value["supernet"], source=where)
    if keys & _ARCH_KEYS and "params" not in keys:
        return ArchSpace.from_dict(value, source=where)
    return SearchSpace.from_dict(dict(value), source=where)
