"""The ``nas`` command line: verbs, formats, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import nas
from nas.storage import HEAD_REVISION, RDBStorage
from nas.testing.cli import run_cli

BRANIN_SPACE = """\
params:
  x1: {type: float, low: -5.0, high: 10.0}
  x2: {type: float, low: 0.0, high: 15.0}
"""


cli = run_cli


@pytest.fixture
def study_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "branin.yaml").write_text(BRANIN_SPACE)
    (tmp_path / "mo.yaml").write_text(
        "name: mo\n"
        "space: {params: {x1: {type: float, low: 0.0, high: 1.0}, x2: {type: float, low: 0.0, high: 1.0}}}\n"
        "objective: nas.benchmarks.functions:branin_currin_objective\n"
        "objectives: {branin: minimize, currin: minimize}\n"
        "searcher: {name: evolution, options: {population_size: 8}}\n"
        "n_trials: 20\n"
        "seed: 1\n"
    )
    (tmp_path / "single.yaml").write_text(
        "name: single\nspace: spaces/branin.yaml\nobjective: nas.benchmarks.functions:branin_objective\n"
        "objectives: {value: minimize}\nsearcher: random\nn_trials: 10\nseed: 0\n"
    )
    return tmp_path


def test_version():
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"nas {nas.__version__}"


def test_run_query_and_resume(study_dir):
    code, out, err = cli("run", "mo.yaml")
    assert code == 0, err
    assert "study 'mo': 20 trials (20 complete)" in out and "Pareto front" in out
    storage = "sqlite:///nas.db"
    assert len(nas.load_study("mo", storage=storage).trials) == 20

    code, out, _ = cli("run", "mo.yaml", "--n-trials", "26", "--quiet")
    assert code == 0 and out == ""
    assert len(nas.load_study("mo", storage=storage).trials) == 26

    code, out, _ = cli("pareto", "mo", "--format", "json")
    front = json.loads(out)
    expected = nas.load_study("mo", storage=storage).pareto_front()
    assert [f["number"] for f in front] == [t.number for t in expected]
    assert set(front[0]) == {"number", "params", "values"}
    assert set(front[0]["values"]) == {"branin", "currin"}

    code, out, _ = cli("trials", "mo", "--format", "csv")
    lines = out.strip().splitlines()
    assert (
        code == 0
        and len(lines) == 27
        and lines[0].startswith("number,state,branin,currin,param:x1")
    )

    code, out, _ = cli("trials", "mo", "--format", "json", "--state", "COMPLETE")
    assert len(json.loads(out)) == 26

    code, out, _ = cli("studies", "--format", "json")
    (row,) = json.loads(out)
    assert row["name"] == "mo" and row["trials"] == 26 and row["complete"] == 26

    code, out, _ = cli("pareto", "mo")
    assert code == 0 and "Pareto front of mo" in out


def test_pareto_html_is_offline(study_dir):
    assert cli("run", "mo.yaml", "--quiet")[0] == 0
    code, _, err = cli("pareto", "mo", "--html", "out/front.html", "--format", "csv")
    assert code == 0, err
    html = (study_dir / "out" / "front.html").read_text()
    assert len(html) > 1_000_000  # plotly.js embedded
    assert "plotly.js v" in html  # the library itself is inline...
    assert "<script src=" not in html  # ...and nothing is fetched from a CDN


def test_storage_env_var(study_dir, monkeypatch):
    monkeypatch.setenv("NAS_STORAGE", f"sqlite:///{study_dir}/other.db")
    assert cli("run", "single.yaml", "--quiet")[0] == 0
    assert (study_dir / "other.db").exists() and not (study_dir / "nas.db").exists()
    _code, out, _ = cli("trials", "single", "--format", "json")
    assert len(json.loads(out)) == 10


def test_db_current_and_upgrade(study_dir):
    assert cli("run", "single.yaml", "--quiet")[0] == 0
    code, out, _ = cli("db", "current")
    assert code == 0 and out.strip() == f"{HEAD_REVISION} (head)"
    code, out, _ = cli("db", "upgrade")
    assert code == 0 and "already at revision" in out


def test_delete(study_dir):
    assert cli("run", "single.yaml", "--quiet")[0] == 0
    assert cli("delete", "single", "--yes")[0] == 0
    assert RDBStorage("sqlite:///nas.db").list_studies() == []


BAD = [
    ("missing.yaml", None, "missing.yaml: file not found"),
    ("syntax.yaml", "name: [unclosed\n", "syntax.yaml: line"),
    (
        "unknown_key.yaml",
        "name: a\nspace: spaces/branin.yaml\nobjective: m:f\nobjectives: {v: minimize}\nntrials: 3\n",
        "unknown_key.yaml: ntrials: unknown key",
    ),
    (
        "no_obj.yaml",
        "name: a\nspace: spaces/branin.yaml\nobjective: m:f\n",
        "no_obj.yaml: objectives: missing",
    ),
    (
        "bad_space.yaml",
        "name: a\nspace: {params: {x: {type: float, low: 2.0, high: 1.0}}}\nobjective: m:f\nobjectives: {v: minimize}\n",
        "params.x",
    ),
    (
        "bad_dir.yaml",
        "name: a\nspace: spaces/branin.yaml\nobjective: m:f\nobjectives: {v: sideways}\n",
        "bad_dir.yaml: objectives",
    ),
    (
        "bad_searcher.yaml",
        "name: a\nspace: spaces/branin.yaml\nobjective: nas.benchmarks.functions:branin_objective\n"
        "objectives: {v: minimize}\nsearcher: simulated_annealing\n",
        "unknown searcher 'simulated_annealing'; valid names:",
    ),
    (
        "bad_option.yaml",
        "name: a\nspace: spaces/branin.yaml\nobjective: nas.benchmarks.functions:branin_objective\n"
        "objectives: {v: minimize}\nsearcher: {name: evolution, options: {population_sise: 3}}\n",
        "population_sise",
    ),
    (
        "bad_import.yaml",
        "name: a\nspace: spaces/branin.yaml\nobjective: no_such_module:f\nobjectives: {v: minimize}\n",
        "cannot import 'no_such_module'",
    ),
    (
        "bad_attr.yaml",
        "name: a\nspace: spaces/branin.yaml\nobjective: nas.benchmarks.functions:nope\nobjectives: {v: minimize}\n",
        "has no attribute 'nope'",
    ),
    (
        "bad_constraint.yaml",
        "name: a\nspace: spaces/branin.yaml\nobjective: nas.benchmarks.functions:branin_objective\n"
        "objectives: {v: minimize}\nconstraints: {v: {maximum: 3}}\n",
        "bad_constraint.yaml: constraints.v: unknown key 'maximum'; use {max: x} and/or {min: y}",
    ),
    (
        "bad_constraint_bound.yaml",
        "name: a\nspace: spaces/branin.yaml\nobjective: nas.benchmarks.functions:branin_objective\n"
        "objectives: {v: minimize}\nconstraints: {v: {min: 3, max: 1}}\n",
        "constraints.v: min must be <= max (got min=3, max=1)",
    ),
    (
        "no_space_file.yaml",
        "name: a\nspace: spaces/none.yaml\nobjective: m:f\nobjectives: {v: minimize}\n",
        "space: file 'spaces/none.yaml' not found",
    ),
]


@pytest.mark.parametrize(("fname", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_study_files_one_line_exit_2_nothing_written(study_dir, fname, content, message):
    if content is not None:
        (study_dir / fname).write_text(content)
    code, _out, err = cli("run", fname)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if (study_dir / "nas.db").exists():
        assert RDBStorage("sqlite:///nas.db").list_studies() == []


def test_other_bad_input(study_dir):
    for args, message in [
        (("trials", "nope"), "nope"),
        (("pareto", "nope"), "nope"),
        (("trials", "x", "--format", "xml"), "xml"),
        (("run",), "Missing argument"),
        (("frobnicate",), "No such command"),
        (("studies", "--storage", "notaurl"), "notaurl"),
    ]:
        code, _, err = cli(*args)
        assert code == 2, (args, err)
        assert message in err and len(err.strip().splitlines()) == 1, (args, err)


def test_incompatible_resume_is_refused(study_dir):
    assert cli("run", "single.yaml", "--quiet")[0] == 0
    code, _, err = cli("run", "single.yaml", "--seed", "5")
    assert code == 2 and "seed differs" in err and "nas delete single" in err


def test_real_process_errors_have_no_traceback(study_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "nas", "run", "missing.yaml"],
        capture_output=True,
        text=True,
        cwd=study_dir,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: missing.yaml: file not found"
    proc = subprocess.run(
        [sys.executable, "-m", "nas", "run", "single.yaml"],
        capture_output=True,
        text=True,
        cwd=study_dir,
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(study_dir / "nas.db").exists()


def test_constrained_study_shows_feasibility(study_dir):
    (study_dir / "c.yaml").write_text(
        "name: c\nspace: {params: {x: {type: float, low: 0.0, high: 5.0}, "
        "y: {type: float, low: 0.0, high: 3.0}}}\n"
        "objective: nas.benchmarks.functions:bnh_objective\n"
        "objectives: {f1: minimize, f2: minimize}\n"
        "constraints: {c1: {max: 25}, c2: {min: 7.7}}\nn_trials: 20\nseed: 0\n"
    )
    code, out, err = cli("run", "c.yaml")
    assert code == 0, err
    study = nas.load_study("c", storage="sqlite:///nas.db")
    n_feasible = sum(t.feasible is True for t in study.trials)
    assert f"{n_feasible} of 20 complete are feasible" in out
    code, out, _ = cli("trials", "c", "--format", "csv")
    lines = out.strip().splitlines()
    header = lines[0].split(",")
    assert header[:5] == ["number", "state", "f1", "f2", "param:x"]
    assert header[6:8] == ["feasible", "violation"]
    for line, t in zip(lines[1:], study.trials, strict=True):
        cells = line.split(",")
        assert cells[6] == ("yes" if t.feasible else "no")
        assert float(cells[7]) == pytest.approx(t.total_violation, rel=1e-5, abs=1e-9)
    code, out, _ = cli("trials", "c", "--format", "json")
    rows = json.loads(out)
    assert [r["feasible"] for r in rows] == [t.feasible for t in study.trials]
    assert set(rows[0]["metrics"]) == {"c1", "c2"} and len(rows[0]["constraint_values"]) == 2
    code, out, _ = cli("pareto", "c", "--format", "json")
    front = {f["number"] for f in json.loads(out)}
    assert front and all(study.trials[n].feasible for n in front)
    # Reopening with other constraints is refused with a one-line error.
    (study_dir / "c.yaml").write_text(
        (study_dir / "c.yaml").read_text().replace("max: 25", "max: 20")
    )
    code, _, err = cli("run", "c.yaml")
    assert code == 2 and "constraints differ" in err and len(err.strip().splitlines()) == 1
