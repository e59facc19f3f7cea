"""Heavy imports only where used: torch and botorch stay out of the light entry points.

Each check runs in a fresh interpreter and asserts on ``sys.modules`` at its end, so that an
import added anywhere along the path (a module-level ``import torch`` in something the CLI or
the space parser touches) fails here.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "botorch", "plotly")


def _run(code: str, cwd: Path | None = None, heavy: tuple[str, ...] = HEAVY) -> None:
    check = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import sys
        loaded = [m for m in {heavy!r} if m in sys.modules]
        assert not loaded, f"imported {{loaded}}"
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_import_nas() -> None:
    # pandas too: only Study.to_dataframe needs it, and imports it when called.
    _run(
        "import nas, nas.space, nas.study, nas.supernet, nas.searchers",
        heavy=(*HEAVY, "pandas"),
    )


def test_cli_help_and_studies(tmp_path: Path) -> None:
    # Every command module is imported by `nas --help`: none may load the dashboard's server
    # (fastapi, uvicorn) or the training machinery at import.
    _run(
        f"""
        from nas.cli import main
        for argv in (["--help"], ["run", "--help"], ["worker", "--help"],
                     ["bench", "ranking", "--help"], ["bench", "splits", "--help"],
                     ["bench", "quant", "--help"], ["splits", "--help"], ["dashboard", "--help"],
                     ["export", "--help"], ["ask", "--help"], ["tell", "--help"],
                     ["studies", "--storage", "sqlite:///{tmp_path}/x.db"]):
            try:
                main(argv)
            except SystemExit as e:
                assert e.code == 0, (argv, e.code)
        """,
        heavy=(*HEAVY, "fastapi", "uvicorn"),
    )


def test_a_bad_value_is_refused_without_heavy_imports(tmp_path: Path) -> None:
    # `nas run FILE --timeout 0` of a plain-function study: refused by the study entry
    # before any objective machinery is needed.
    (tmp_path / "s.yaml").write_text(
        "name: s\nspace: {params: {x: {type: float, low: 0.0, high: 1.0}}}\n"
        "objective: nas.benchmarks.functions:branin_objective\nobjectives: {v: minimize}\n"
    )
    _run(
        f"""
        from nas.cli import main
        try:
            main(["run", {str(tmp_path / "s.yaml")!r}, "--timeout", "0"])
        except SystemExit as e:
            assert e.code == 2, e.code
        """,
        heavy=(*HEAVY, "fastapi", "uvicorn"),
    )


@pytest.mark.parametrize(
    "path",
    [
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "search_spaces").glob("*.yaml")),
        "benchmarks/ranking_space.yaml",
    ],
)
def test_parsing_any_search_space(path: str) -> None:
    _run(
        f"""
        from nas.space import SearchSpace, load_space
        SearchSpace.from_yaml({path!r})
        load_space({path!r}, source="t")
        """,
        cwd=ROOT,
    )


def test_parsing_every_study_file() -> None:
    # Study files name objectives of every type: typed ones are parsed without their heavy
    # machinery (a supernet objective imports torch when it trains, not when it is read).
    _run(
        """
        from pathlib import Path
        from nas.study import load_study_config
        for f in sorted(Path("studies").glob("*.yaml")):
            load_study_config(f)
        """,
        cwd=ROOT,
    )


def test_dashboard_server_start(tmp_path: Path) -> None:
    # A NAS study in the database: the dashboard asks its objective type whether it has
    # architectures, which must not load the type's training machinery. (The dashboard serves
    # plotly.js from the plotly package, so plotly may load.)
    _run(
        f"""
        import nas
        from fastapi.testclient import TestClient
        from nas.dashboard import create_app
        url = "sqlite:///{tmp_path}/d.db"
        study = nas.create_study("s", {{"params": {{"x": {{"type": "float", "low": 0, "high": 1}}}}}},
                                 {{"v": "minimize"}}, storage=url)
        study.set_user_attr("nas.objective", {{"type": "supernet"}})
        client = TestClient(create_app(url, allowed_hosts=("testserver",)))
        assert client.get("/api/studies").status_code == 200
        assert client.get(f"/api/studies/{{study.study_id}}").json()["is_nas"] is True
        """,
        heavy=("torch", "botorch"),
    )
