"""``nas run`` of a NAS study file: training progress, the Pareto front with architectures, the
HTML plot, a resumed run loading the supernet, and bad objective mappings as one-line errors."""

from __future__ import annotations

from typing import Any

import pytest

import nas
from nas.testing.cli import run_cli
from nas.testing.supernet import supernet_study, write_study

#: One stage, depth 1 or 2 of (conv of width 2 or 4 | skip): 9 networks.
SPACE = {
    "input": {"channels": 1, "height": 8, "width": 8},
    "classes": 10,
    "stem": {"channels": 4},
    "stages": [{"channels": 4, "stride": 1, "depth": [1, 2], "ops": ["conv", "skip"],
                "kernel": 3, "width": [2, 4]}],
}  # fmt: skip


def _study() -> dict[str, Any]:
    return supernet_study(
        "tiny_nas",
        SPACE,
        searcher={"name": "evolution", "options": {"population_size": 4}},
        n_trials=8,
        plot="out/front.html",
    )


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    write_study(tmp_path / "nas_study.yaml", _study())
    return tmp_path


def test_run_trains_searches_prints_the_front_and_plots(workdir) -> None:
    code, out, err = run_cli("run", "nas_study.yaml")
    assert code == 0, err
    assert "training supernet" in err and "2/2" in err
    assert "study 'tiny_nas': 8 trials (8 complete)" in out
    assert "Pareto front of tiny_nas" in out and "arch" in out
    study = nas.load_study("tiny_nas", "sqlite:///nas.db")
    front = study.pareto_front()
    assert front and all(str(t.number) in out for t in front)
    html = (workdir / "out" / "front.html").read_text()
    assert "plotly" in html and 'src="https://cdn' not in html and "arch = " in html
    assert "wrote out/front.html" in err

    # Run again with more trials: the supernet is loaded from the database, not retrained. The
    # space holds 9 networks and none is evaluated twice: the study ends when all 9 are.
    code, out, err = run_cli("run", "nas_study.yaml", "--n-trials", "10")
    assert code == 0, err
    assert "training supernet" not in err and "trained weights loaded from" in err
    assert "9 trials (9 complete)" in out
    archs = [
        str(t.user_attrs["arch"]) for t in nas.load_study("tiny_nas", "sqlite:///nas.db").trials
    ]
    assert len(set(archs)) == 9


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("objective.train.sampler", "fancy", "objective.train.sampler: unknown path sampler"),
        ("objectives", {"accuracy": "maximize", "flops": "minimize"}, "'flops' is not a metric"),
        ("objective.space.supernet.stem.channels", 0, "supernet.stem.channels"),
        ("plot", "front.png", "plot: must be the path of an .html"),
        ("objective.device", "cuda:9", "cuda:9"),
    ],
)
def test_bad_nas_study_files_are_one_line_errors(workdir, path, value, message) -> None:
    study = _study()
    *parents, key = path.split(".")
    node = study
    for part in parents:
        node = node[part]
    node[key] = value
    write_study(workdir / "bad.yaml", study)
    code, out, err = run_cli("run", "bad.yaml")
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    if "cuda" not in str(value):  # rejected before the study exists
        assert (
            not (workdir / "nas.db").exists()
            or not nas.storage.get_storage("sqlite:///nas.db").list_studies()
        )
