"""``nas trials --format json|csv`` (every field), ``nas import`` and ``nas copy``: results
out of a study and back in, one-line errors with exit status 2 and nothing written."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest

import nas
from nas.storage import RDBStorage
from nas.testing.cli import run_cli as cli

STUDY = (
    "name: mo\n"
    "space: {params: {x1: {type: float, low: 0.0, high: 1.0}, "
    "x2: {type: float, low: 0.0, high: 1.0}}}\n"
    "objective: nas.benchmarks.functions:branin_currin_objective\n"
    "objectives: {branin: minimize, currin: minimize}\n"
    "searcher: {name: evolution, options: {population_size: 6}}\n"
    "constraints: {branin: {max: 60}}\n"
    "n_trials: 12\n"
    "seed: 1\n"
)
#: The keys ``nas trials --format json`` wrote before every field was added, in their order.
OLD_KEYS = [
    "number",
    "state",
    "params",
    "values",
    "budget",
    "datetime_start",
    "datetime_complete",
    "duration",
    "failure_reason",
    "user_attrs",
    "metrics",
    "feasible",
    "constraint_values",
]


@pytest.fixture
def ran(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    (tmp_path / "mo.yaml").write_text(STUDY)
    (tmp_path / "empty.yaml").write_text(STUDY.replace("name: mo", "name: empty"))
    code, _, err = cli("run", "mo.yaml", "--quiet")
    assert code == 0, err
    code, _, err = cli("run", "empty.yaml", "--quiet", "--n-trials", "0")
    assert code == 0, err
    return tmp_path


def test_json_export_has_every_field(ran):
    code, out, _ = cli("trials", "mo", "--format", "json")
    assert code == 0
    records = json.loads(out)
    trials = nas.load_study("mo", "sqlite:///nas.db").trials
    assert len(records) == len(trials) == 12
    keys = list(records[0])
    assert keys[: len(OLD_KEYS)] == OLD_KEYS  # unchanged, first
    fields = {f.name for f in dataclasses.fields(nas.FrozenTrial)}
    assert fields <= set(keys), fields - set(keys)
    for r, t in zip(records, trials, strict=True):
        assert r["trial_id"] == t.trial_id and r["worker_id"] == t.worker_id
        assert r["datetime_created"] == t.datetime_created.isoformat()
        assert r["system_attrs"] == t.system_attrs and r["restarts"] == t.restarts
        assert r["intermediate_values"] == {
            k: {str(s): v for s, v in steps.items()} for k, steps in t.intermediate_values.items()
        }


def test_csv_export_keeps_its_columns_and_adds_the_rest(ran):
    code, out, _ = cli("trials", "mo", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    header = out.splitlines()[0].split(",")
    today = ["number", "state", "branin", "currin", "param:x1", "param:x2", "feasible"]
    assert header[:7] == today
    assert header[7:11] == ["violation", "budget", "duration", "failure"]
    for column in ("failure_reason", "user_attrs", "system_attrs", "intermediate_values"):
        assert column in header
    for column in ("constraint_values", "datetime_created", "worker_id", "restarts", "trial_id"):
        assert column in header
    trials = nas.load_study("mo", "sqlite:///nas.db").trials
    for row, t in zip(rows, trials, strict=True):
        assert float(row["branin"]) == t.values["branin"]  # every digit
        assert float(row["param:x1"]) == t.params["x1"]
        assert json.loads(row["system_attrs"]) == t.system_attrs
        assert json.loads(row["constraint_values"]) == list(t.constraint_values)
    # The table stays compact.
    code, out, _ = cli("trials", "mo")
    assert code == 0 and "system_attrs" not in out and "trial_id" not in out


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_then_import(ran, fmt):
    code, out, _ = cli("trials", "mo", "--format", fmt)
    (ran / f"mo.{fmt}").write_text(out)
    code, out, err = cli("import", "empty", f"mo.{fmt}")
    assert code == 0, err
    assert out.strip() == "imported 12 trials into study 'empty' (numbers 0-11)"
    source = nas.load_study("mo", "sqlite:///nas.db").trials
    added = nas.load_study("empty", "sqlite:///nas.db").trials
    for a, b in zip(source, added, strict=True):
        assert (a.params, a.values, a.state, a.feasible) == (
            b.params,
            b.values,
            b.state,
            b.feasible,
        )
        assert (a.datetime_start, a.datetime_complete) == (b.datetime_start, b.datetime_complete)
    code, _, err = cli("import", "empty", f"mo.{fmt}")  # again: numbered after them
    assert code == 0 and len(nas.load_study("empty", "sqlite:///nas.db").trials) == 24


def test_import_errors_are_one_line_exit_2_nothing_written(ran):
    (ran / "bad.csv").write_text("param:x1,param:x2,branin,currin\n0.5,0.5,1,2\n0.5,high,1,2\n")
    (ran / "bad.json").write_text('[{"params": {"x1": 0.5, "x2": 0.5}, "values": [1]}]')
    for args, message in [
        (("import", "empty", "bad.csv"), "bad.csv: line 3, column 'param:x2': expected a number"),
        (("import", "empty", "bad.json"), "bad.json: trials[0]: values: 1 values for 2"),
        (("import", "empty", "nope.json"), "nope.json: file not found"),
        (("import", "nope", "bad.json"), "no study named 'nope'"),
        (("import", "empty"), "Missing argument"),
    ]:
        code, out, err = cli(*args)
        assert code == 2, (args, err)
        assert message in err and len(err.strip().splitlines()) == 1, (args, err)
        assert "Traceback" not in err and out == ""
    assert nas.load_study("empty", "sqlite:///nas.db").trials == []


def test_copy(ran):
    other = f"sqlite:///{ran}/other.db"
    code, out, err = cli("copy", "mo", "--to", other)
    assert code == 0, err
    assert "copied study 'mo' from sqlite:///nas.db to" in out and "12 trials" in out
    copied = nas.load_study("mo", other)
    assert [t.params for t in copied.trials] == [
        t.params for t in nas.load_study("mo", "sqlite:///nas.db").trials
    ]
    code, out, err = cli("copy", "mo", "--from", other, "--to", other, "--name", "mo2")
    assert code == 0, err
    assert "as 'mo2'" in out
    for args, message in [
        (("copy", "mo", "--to", other), "a study named 'mo' already exists"),
        (("copy", "nope", "--to", other), "no study named 'nope'"),
        (("copy", "mo"), "Missing option '--to'"),
    ]:
        code, _, err = cli(*args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(s.name for s in RDBStorage(other).list_studies()) == ["mo", "mo2"]
