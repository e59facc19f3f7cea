"""One strict YAML reader (``nas._yaml``) for search spaces, architecture spaces and study files:
a key written twice is refused with the file, line and key, and syntax errors read alike."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nas._yaml import load_yaml, read_yaml
from nas.exceptions import NasError, SpaceError, StudyConfigError
from nas.space import ArchSpace, SearchSpace, load_space
from nas.study import load_study_config
from nas.testing.cli import run_cli

SPACE = "params:\n  x: {type: float, low: 0.0, high: 1.0}\n"
ARCH = """\
supernet:
  input: {channels: 1, height: 8, width: 8}
  classes: 10
  stem: {channels: 4}
  stages:
    - {channels: 4, stride: 1, depth: [1, 2], ops: [conv, skip], kernel: 3, width: [2, 4]}
"""
STUDY = """\
name: dup
space: {params: {x: {type: float, low: 0.0, high: 1.0}}}
objective: nas.benchmarks.functions:branin_objective
objectives: {value: minimize}
n_trials: 10
seed: 0
"""
NAS_STUDY = """\
name: nas_dup
objective:
  type: supernet
  space: arch.yaml
  train:
    epochs: 2
    batch_size: 64
objectives: {accuracy: maximize}
"""

#: (loader, file text with a key written twice, line of the second one, the key).
DUPLICATES: list[tuple[str, str, int, str]] = [
    ("search space", SPACE + "  x: {type: int, low: 0, high: 3}\n", 3, "x"),
    (
        "search space, nested",
        "params:\n  x: {type: float, low: 0.0, high: 1.0,\n      low: 0.5}\n",
        3,
        "low",
    ),
    ("architecture space", ARCH + "  classes: 3\n", 7, "classes"),
    (
        "architecture space, nested",
        ARCH.replace("  stem: {channels: 4}\n", "  stem:\n    channels: 4\n    channels: 8\n"),
        6,
        "channels",
    ),
    ("study file", STUDY + "n_trials: 20\n", 7, "n_trials"),
    (
        "study file, nested",
        NAS_STUDY.replace("    epochs: 2\n", "    epochs: 2\n    epochs: 9\n"),
        7,
        "epochs",
    ),
]


def _load(kind: str, path: Path) -> Any:
    if kind.startswith("search space"):
        return SearchSpace.from_yaml(path)
    if kind.startswith("architecture space"):
        return ArchSpace.from_yaml(path)
    return load_study_config(path)


def _error(kind: str) -> type[NasError]:
    return StudyConfigError if kind.startswith("study") else SpaceError


@pytest.mark.parametrize(
    ("kind", "text", "line", "key"), DUPLICATES, ids=[d[0] for d in DUPLICATES]
)
def test_a_key_written_twice_is_refused_with_file_line_and_key(
    tmp_path: Path, kind: str, text: str, line: int, key: str
) -> None:
    (tmp_path / "arch.yaml").write_text(ARCH)
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(_error(kind)) as info:
        _load(kind, path)
    message = str(info.value)
    assert message.startswith(f"{path}: line {line}, column "), message
    assert f"invalid YAML: found duplicate key {key!r} (first on line" in message
    assert "\n" not in message
    # Without the second occurrence the same file loads: the refusal is about the duplicate.
    lines = text.splitlines(keepends=True)
    del lines[line - 1]
    fixed = "".join(lines)
    if "low: 0.0, high: 1.0,\n" in fixed:  # the nested case spans two lines
        fixed = fixed.replace("high: 1.0,\n", "high: 1.0}\n")
    path.write_text(fixed)
    _load(kind, path)


def test_a_space_file_named_by_a_study_file_is_read_strictly(tmp_path: Path) -> None:
    (tmp_path / "space.yaml").write_text(SPACE + "  x: {type: int, low: 0, high: 3}\n")
    (tmp_path / "s.yaml").write_text(
        STUDY.replace(
            "space: {params: {x: {type: float, low: 0.0, high: 1.0}}}", "space: space.yaml"
        )
    )
    with pytest.raises(
        SpaceError, match=r"space\.yaml: line 3, column 3: invalid YAML: found duplicate key 'x'"
    ):
        load_study_config(tmp_path / "s.yaml")
    with pytest.raises(SpaceError, match="found duplicate key 'x'"):
        load_space("space.yaml", source="t", base_dir=tmp_path)


@pytest.mark.parametrize(
    ("kind", "load"),
    [
        ("search space", SearchSpace.from_yaml),
        ("architecture space", ArchSpace.from_yaml),
        ("study file", load_study_config),
    ],
)
def test_syntax_errors_read_the_same_in_every_kind_of_file(
    tmp_path: Path, kind: str, load: Callable[[Path], Any]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: [unclosed\nc: 2\n")
    with pytest.raises(_error(kind)) as info:
        load(path)
    assert re.fullmatch(
        rf"{re.escape(str(path))}: line \d+, column \d+: invalid YAML: .+", str(info.value)
    ), str(info.value)
    missing = tmp_path / "none.yaml"
    with pytest.raises(_error(kind), match=rf"^{re.escape(str(missing))}: file not found$"):
        load(missing)
    with pytest.raises(_error(kind), match="is a directory, expected a YAML file"):
        load(tmp_path)


def test_the_loader_itself(tmp_path: Path) -> None:
    assert load_yaml("a: {b: 1, c: [1, 2]}\n", "t", SpaceError) == {"a": {"b": 1, "c": [1, 2]}}
    # Merges are not duplicates: an explicit key overrides the merged one, as YAML says.
    merged = load_yaml("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n", "t", SpaceError)
    assert merged["other"] == {"x": 1, "y": 3}
    # The same key in two different mappings is fine.
    assert load_yaml("a: {k: 1}\nb: {k: 2}\n", "t", SpaceError) == {"a": {"k": 1}, "b": {"k": 2}}
    with pytest.raises(StudyConfigError, match=r"^t: line 2, column 1: .*duplicate key 1 "):
        load_yaml("1: a\n1: b\n", "t", StudyConfigError)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(SpaceError, match=r"b\.yaml: not UTF-8 text"):
        read_yaml(binary, SpaceError)
    with pytest.raises(SpaceError, match=r"^shown\.yaml: file not found$"):
        read_yaml(tmp_path / "none.yaml", SpaceError, source="shown.yaml")


def test_nas_run_refuses_a_study_file_with_a_key_written_twice(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    (tmp_path / "s.yaml").write_text(STUDY + "n_trials: 20\n")
    code, out, err = run_cli("run", "s.yaml")
    assert code == 2 and out == ""
    assert err == (
        "error: s.yaml: line 7, column 1: invalid YAML: found duplicate key 'n_trials' "
        "(first on line 5; keep one)\n"
    )
    assert not (tmp_path / "nas.db").exists()  # refused before any database is opened
