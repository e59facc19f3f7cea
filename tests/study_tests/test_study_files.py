"""Every example study file in ``studies/`` is valid, and names a study of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.study import load_study_config, resolve_objective

STUDIES = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.yaml"))


def test_there_are_examples() -> None:
    assert len(STUDIES) >= 8
    assert "quickstart.yaml" in {p.name for p in STUDIES}


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_example_study_file_loads(path: Path) -> None:
    cfg = load_study_config(path)
    assert callable(resolve_objective(cfg.objective, cfg.base_dir))
    assert cfg.n_trials is not None and cfg.n_trials > 0


def test_example_names_are_unique() -> None:
    names = [load_study_config(p).name for p in STUDIES]
    assert len(names) == len(set(names))


def test_quickstart_is_the_supernet_nas_study() -> None:
    from nas.supernet import SupernetObjective

    cfg = load_study_config(next(p for p in STUDIES if p.name == "quickstart.yaml"))
    assert isinstance(cfg.objective, SupernetObjective)
    assert cfg.objective.train["sampler"] == "pada"
    assert len(cfg.objectives) == 2 and cfg.plot is not None
