"""Trial files: what ``nas import NAME FILE`` reads (:func:`read_trials_file`,
:func:`import_trials_file`).

Two formats, told apart by the file's suffix:

* ``.json`` -- a list of trial records as ``nas trials --format json`` writes them, or
  ``{"trials": [...]}``; each record as :meth:`nas.Study.add_trials` takes it.
* ``.csv`` -- a header row, then one trial per row. The columns ``nas trials --format csv``
  writes: ``state``, one column per objective (named as the objective), ``param:NAME``,
  ``budget``, ``failure_reason`` (or the one-line ``failure``), ``metric:NAME``,
  ``user_attrs`` and ``intermediate_values`` (JSON), ``datetime_created``,
  ``datetime_start``, ``datetime_complete``, ``worker_id``, ``restarts``; the others it
  writes (``number``, ``duration``, ``feasible``, ``violation``, ``system_attrs``,
  ``constraint_values``, ...) are read and ignored, as :meth:`~nas.Study.add_trials` ignores
  them. Also Optuna's ``study.trials_dataframe().to_csv()``: ``params_NAME``, ``value`` (one
  objective) or ``values_NAME`` / ``values_<i>`` (objective ``i``), ``user_attrs_KEY`` (a
  cell is read as JSON, else as a Python literal, else as text), ``state`` with Optuna's names
  (``COMPLETE``, ``PRUNED``, ``FAIL``), its unnamed index column, ``system_attrs_*``
  (ignored); and so :meth:`nas.Study.to_dataframe`'s ``to_csv()`` (``metrics_NAME``,
  ``intermediate_<objective>``, ``constraint_<i>`` ignored). Any other column is an error.

  Cells are typed by the study: a parameter's cell is parsed by its kind (float, int, a
  categorical or fixed value matched against the choices: a string choice equal to the cell,
  else ``True``/``False`` for a boolean choice, else a number equal to a numeric choice, else
  an empty cell for a ``None`` choice); the cell of an inactive conditional parameter is empty,
  as is a missing value. An empty ``state`` is COMPLETE.

Any problem is one :class:`~nas.exceptions.StudyConfigError` naming the file, the line and, for
a cell, the column (``runs.csv: line 7, column 'param:lr': expected a number, got 'fast'``);
nothing is written unless every trial of the file is valid.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nas.exceptions import StudyConfigError
from nas.space import CategoricalParam, FixedParam, FloatParam, IntParam, Param
from nas.study._import import add_trials

if TYPE_CHECKING:
    from nas._types import FrozenTrial
    from nas.study._study import Study

__all__ = ["import_trials_file", "read_trials_file"]

#: CSV columns read as they are (the key of the record they fill is the same).
_PLAIN = (
    "state",
    "budget",
    "failure_reason",
    "datetime_created",
    "datetime_start",
    "datetime_complete",
    "worker_id",
)
#: CSV columns ``nas trials --format csv`` or Optuna write that carry nothing to import.
_IGNORED = (
    "number",
    "trial_id",
    "duration",
    "feasible",
    "violation",
    "constraint_values",
    "infeasible_reason",
    "system_attrs",
    "datetime_updated",
    "heartbeat",
    "",  # pandas' unnamed index column
    "Unnamed: 0",
)


def read_trials_file(path: str | Path, study: Study) -> list[dict[str, Any]]:
    """The trial records of a ``.json`` or ``.csv`` file (module docstring), typed for
    ``study``, ready for :meth:`~nas.Study.add_trials`.

    Raises:
        StudyConfigError: the file cannot be read, or a row or cell is invalid (one line naming
            the file, the line and the column).
    """
    return [record for _, record in _labelled_records(Path(path), study)]


def import_trials_file(study: Study, path: str | Path) -> list[FrozenTrial]:
    """Add the trials of a ``.json`` or ``.csv`` file to ``study`` (``nas import``): all of
    them in one transaction, or none.

    Returns:
        The added trials.

    Raises:
        StudyConfigError: the file or one of its trials is invalid; the message names the
            file and the line (CSV) or record (JSON). Nothing is written.
    """
    labelled = _labelled_records(Path(path), study)
    return add_trials(study, [r for _, r in labelled], labels=[label for label, _ in labelled])


def _labelled_records(path: Path, study: Study) -> list[tuple[str, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise StudyConfigError(
            f"{path}: unknown trial file format {path.suffix!r}; use .json (as `nas trials "
            "--format json` writes) or .csv"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise StudyConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StudyConfigError(f"{path}: cannot read it ({e})") from None
    if suffix == ".json":
        return _json_records(path, text)
    return _csv_records(path, text, study)


def _json_records(path: Path, text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise StudyConfigError(
            f"{path}: line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}"
        ) from None
    if isinstance(data, dict) and set(data) == {"trials"}:
        data = data["trials"]
    if not isinstance(data, list):
        raise StudyConfigError(
            f"{path}: expected a list of trial records (as `nas trials --format json` writes) "
            'or {"trials": [...]}, got ' + type(data).__name__
        )
    out = []
    for i, record in enumerate(data):
        if not isinstance(record, dict):
            raise StudyConfigError(
                f"{path}: trials[{i}]: expected an object, got {type(record).__name__}"
            )
        out.append((f"{path}: trials[{i}]", record))
    return out


# ------------------------------------------------------------------------------------- CSV


class _Column:
    """What one CSV column fills: ``kind`` (``param``, ``value``, ``metric``, ``user_attr``,
    ``intermediate``, ``json``, ``plain``, ``restarts``, ``failure``, ``ignored``) and the name
    within it."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: str, name: str = "") -> None:
        self.kind = kind
        self.name = name


def _classify(header: list[str], study: Study, path: Path) -> list[_Column]:
    """The meaning of every column, or a StudyConfigError for an unknown or repeated one."""
    objectives = [o.name for o in study.objectives]
    seen: set[str] = set()
    columns = []
    for title in header:
        where = f"{path}: line 1, column {title!r}"
        if title in seen and title != "":
            raise StudyConfigError(f"{where}: the column appears twice")
        seen.add(title)
        column = _column(title, study, objectives)
        if column is None:
            raise StudyConfigError(
                f"{where}: unknown column; expected param:NAME (or params_NAME) for the "
                f"parameters {list(study.space.names)}, the objectives {objectives} (or "
                "value / values_NAME), state, budget, metric:NAME, user_attrs, "
                "intermediate_values, failure_reason, datetime_start, datetime_complete, ..."
            )
        columns.append(column)
    if not any(c.kind == "param" for c in columns):
        raise StudyConfigError(
            f"{path}: line 1: no parameter column (param:NAME or params_NAME); the header is "
            f"{header}"
        )
    return columns


def _column(title: str, study: Study, objectives: list[str]) -> _Column | None:
    if title in objectives:
        return _Column("value", title)
    for prefix in ("param:", "params_"):
        if title.startswith(prefix):
            name = title[len(prefix) :]
            return _Column("param", name) if name in study.space else None
    if title == "value" and len(objectives) == 1:
        return _Column("value", objectives[0])
    if title.startswith("values_"):
        rest = title[len("values_") :]
        if rest in objectives:
            return _Column("value", rest)
        if rest.isdigit() and int(rest) < len(objectives):
            return _Column("value", objectives[int(rest)])
        return None
    for prefix in ("metric:", "metrics_"):
        if title.startswith(prefix) and len(title) > len(prefix):
            return _Column("metric", title[len(prefix) :])
    if title.startswith("user_attrs_") and len(title) > len("user_attrs_"):
        return _Column("user_attr", title[len("user_attrs_") :])
    if title in ("user_attrs", "intermediate_values"):
        return _Column("json", title)
    if title.startswith("intermediate_") and title[len("intermediate_") :] in objectives:
        return _Column("intermediate", title[len("intermediate_") :])
    if title in _PLAIN:
        return _Column("plain", title)
    if title == "restarts":
        return _Column("restarts", title)
    if title == "failure":
        return _Column("failure", title)
    if title in _IGNORED or title.startswith(("system_attrs_", "constraint_")):
        return _Column("ignored", title)
    return None


def _csv_records(path: Path, text: str, study: Study) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise StudyConfigError(f"{path}: empty file (expected a header row)") from None
    except csv.Error as e:
        raise StudyConfigError(f"{path}: line 1: invalid CSV: {e}") from None
    columns = _classify(header, study, path)
    out = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise StudyConfigError(f"{path}: line {reader.line_num}: invalid CSV: {e}") from None
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(columns):
            raise StudyConfigError(
                f"{path}: line {line}: {len(row)} cells, but the header has {len(columns)}"
            )
        out.append((f"{path}: line {line}", _csv_record(path, line, header, columns, row, study)))
    return out


def _csv_record(
    path: Path,
    line: int,
    header: list[str],
    columns: list[_Column],
    row: list[str],
    study: Study,
) -> dict[str, Any]:
    record: dict[str, Any] = {"values": {}, "metrics": {}}
    param_cells: dict[str, tuple[str, str]] = {}  # name -> (column title, cell)
    failure: str | None = None
    for title, column, cell in zip(header, columns, row, strict=True):
        where = f"{path}: line {line}, column {title!r}"
        kind, name = column.kind, column.name
        if kind == "param":
            param_cells[name] = (title, cell)
        elif kind == "value":
            record["values"][name] = _float_cell(cell, where)
        elif kind == "metric":
            x = _float_cell(cell, where)
            if x is not None:
                record["metrics"][name] = x
        elif kind == "user_attr":
            if cell != "":
                record.setdefault("user_attrs", {})[name] = _literal(cell)
        elif kind == "intermediate":
            steps = _literal(cell) if cell.strip() else {}
            if not isinstance(steps, dict):
                raise StudyConfigError(f"{where}: expected a mapping step -> value, got {cell!r}")
            if steps:
                record.setdefault("intermediate_values", {})[name] = steps
        elif kind == "json":
            if cell.strip():
                try:
                    record[name] = json.loads(cell)
                except json.JSONDecodeError as e:
                    raise StudyConfigError(f"{where}: invalid JSON: {e.msg}") from None
        elif kind == "plain":
            if cell.strip():
                record[name] = cell.strip() if name != "failure_reason" else cell
        elif kind == "restarts":
            if cell.strip():
                try:
                    record["restarts"] = int(cell)
                except ValueError:
                    raise StudyConfigError(
                        f"{where}: expected an integer >= 0, got {cell!r}"
                    ) from None
        elif kind == "failure":
            failure = cell or None
    if "failure_reason" not in record and failure is not None:
        record["failure_reason"] = failure
    if "budget" in record:
        record["budget"] = _float_cell(record["budget"], f"{path}: line {line}, column 'budget'")
    record["params"] = _params(path, line, param_cells, study)
    return record


def _float_cell(cell: str, where: str) -> float | None:
    """A number from a cell (empty: ``None``; ``nan``/``inf`` as floats)."""
    text = cell.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise StudyConfigError(f"{where}: expected a number, got {cell!r}") from None


def _literal(cell: str) -> Any:
    """The value a cell spells as JSON, else as a Python literal (pandas writes dicts and
    lists so), else the text itself."""
    try:
        value = json.loads(cell)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(cell)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return cell
    return cell if isinstance(value, float) and not math.isfinite(value) else value


def _params(
    path: Path, line: int, cells: dict[str, tuple[str, str]], study: Study
) -> dict[str, Any]:
    """The active parameters of a row, in the space's order, each typed by its kind."""
    space = study.space
    params: dict[str, Any] = {}
    for p in space.params:
        title, cell = cells.get(p.name, ("", ""))
        active = space.is_active(p.name, params)
        where = f"{path}: line {line}, column {title!r}"
        if not active:
            if cell.strip():
                raise StudyConfigError(
                    f"{where}: {cell!r} given, but parameter {p.name!r} is inactive under "
                    "this row's other parameters (leave the cell empty)"
                )
            continue
        if p.name not in cells:
            if isinstance(p, FixedParam):
                params[p.name] = p.value
                continue
            raise StudyConfigError(
                f"{path}: line {line}: parameter {p.name!r} is active but the file has no "
                f"column for it (param:{p.name})"
            )
        params[p.name] = _param_cell(p, cell, where)
    return params


def _param_cell(p: Param, cell: str, where: str) -> Any:
    text = cell.strip()
    if isinstance(p, FloatParam | IntParam):
        if not text:
            raise StudyConfigError(f"{where}: empty, but parameter {p.name!r} is active")
        try:
            return (
                int(text)
                if isinstance(p, IntParam) and text.lstrip("+-").isdigit()
                else float(text)
            )
        except ValueError:
            kind = "an integer" if isinstance(p, IntParam) else "a number"
            raise StudyConfigError(f"{where}: expected {kind}, got {cell!r}") from None
    choices = p.choices if isinstance(p, CategoricalParam) else (p.value,)  # type: ignore[attr-defined]
    for choice in choices:
        if isinstance(choice, str) and choice == cell:
            return choice
    lowered = text.lower()
    for choice in choices:
        if isinstance(choice, bool) and lowered == str(choice).lower():
            return choice
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        for choice in choices:
            numeric = isinstance(choice, int | float) and not isinstance(choice, bool)
            if numeric and choice == number:
                return choice
    if text in ("", "None", "null") and None in choices:
        return None
    raise StudyConfigError(
        f"{where}: {cell!r} is not one of the choices of {p.name!r} {list(choices)}"
        if cell
        else f"{where}: empty, but parameter {p.name!r} is active"
    )
