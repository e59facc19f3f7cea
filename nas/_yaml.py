"""The one strict YAML reader of every file ``nas`` reads: search spaces, architecture spaces
and study files.

PyYAML's ``safe_load`` keeps the last of a key written twice, silently (``n_trials: 10`` then
``n_trials: 20`` would run 20 trials without a word). :func:`load_yaml` refuses a repeated key
in any mapping, nested ones included, and every problem -- a syntax error or a duplicate key --
is one line in one format, raised as the caller's error class::

    <source>: line L, column C: invalid YAML: <problem>
    s.yaml: line 9, column 1: invalid YAML: found duplicate key 'seed' (first on line 7; keep one)

:func:`read_yaml` reads the file too, with one wording for the ways reading fails (``file not
found``, ``is a directory``, ``not UTF-8 text``, ``cannot read file``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nas.exceptions import NasError

__all__ = ["load_yaml", "read_yaml"]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader (no arbitrary objects) that rejects a key repeated in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` merges are PyYAML's to resolve (explicit keys win)
        key = loader.construct_object(key_node, deep=True)
        try:
            earlier = first_line.get(key)
        except TypeError:  # an unhashable key: construct_mapping reports it below
            continue
        if earlier is not None:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r} (first on line {earlier}; keep one)",
                key_node.start_mark,
            )
        first_line[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str, source: str, error: type[NasError]) -> Any:
    """The YAML document ``text`` (read from ``source``), duplicate keys refused.

    Args:
        text: the document.
        source: how messages name it (a path as the user gave it).
        error: the exception class to raise (e.g. ``SpaceError``, ``StudyConfigError``).

    Raises:
        error: ``"<source>: line L, column C: invalid YAML: <problem>"`` for a syntax error or a
            key written twice in one mapping (the line and column of the second one, the key,
            and the line of the first); one line.
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise error(f"{source}: {where}invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from None


def read_yaml(path: str | Path, error: type[NasError], source: str | None = None) -> Any:
    """Read the YAML file ``path`` with :func:`load_yaml`.

    Args:
        path: the file.
        error: the exception class to raise.
        source: how messages name the file (default: ``str(path)``, as given).

    Raises:
        error: ``"<source>: file not found"``, ``"<source>: is a directory, expected a YAML
            file"``, ``"<source>: not UTF-8 text (...)"``, ``"<source>: cannot read file (...)"``,
            or the errors of :func:`load_yaml`.
    """
    name = str(path) if source is None else source
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{name}: file not found") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise error(f"{name}: cannot read file ({exc.strerror or exc})") from None
    return load_yaml(text, name, error)
