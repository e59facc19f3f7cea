"""One strict YAML reader for the files ``nas`` reads (search spaces, architecture spaces).

PyYAML's ``safe_load`` keeps the last of a key written twice, silently; :func:`load_yaml`
refuses it, and reports syntax errors with their line and column, as one
:class:`~nas.exceptions.SpaceError` that starts with the file name.
"""

from __future__ import annotations

from typing import Any

import yaml

from nas.exceptions import SpaceError

__all__ = ["load_yaml"]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key repeated in one mapping (PyYAML keeps the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable key: construct_mapping reports it below
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str) -> Any:
    """The YAML document ``text`` (read from ``source``), duplicate keys refused.

    Raises:
        SpaceError: ``"<source>: line L, column C: invalid YAML: <problem>"``.
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise SpaceError(f"{source}: {where}invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SpaceError(f"{source}: invalid YAML: {exc}") from None
