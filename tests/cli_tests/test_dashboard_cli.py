"""``nas dashboard``: one-line errors (exit status 2) before anything is served, the options
reaching the server, and a real server process that answers and stops cleanly on Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import nas
import nas.dashboard
from nas.testing.cli import run_cli


@pytest.fixture
def small_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    url = f"sqlite:///{tmp_path}/small.db"
    study = nas.create_study(
        name="small",
        space={"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}},
        objectives={"v": "minimize"},
        storage=url,
    )
    study.optimize(lambda t: t.params["x"], n_trials=3)
    study.storage.dispose()
    return url


@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    """Replace the blocking server by a recorder: a test never hangs in uvicorn."""
    served: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(nas.dashboard, "serve", lambda storage, **kw: served.append((storage, kw)))
    return served


def test_missing_database_file_is_one_line_and_creates_nothing(tmp_path, no_serving) -> None:
    missing = tmp_path / "missing.db"
    code, out, err = run_cli("dashboard", "--storage", f"sqlite:///{missing}")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "missing.db" in err
    assert not missing.exists() and list(tmp_path.iterdir()) == []
    assert no_serving == []


def test_a_bad_url_is_one_line(no_serving) -> None:
    code, _, err = run_cli("dashboard", "--storage", "not a url")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "not a database URL" in err and no_serving == []


def test_a_taken_port_is_one_clear_line(small_db, no_serving) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = run_cli("dashboard", "--storage", small_db, "--port", str(port))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert f"127.0.0.1:{port} is in use" in err and "--port" in err
    assert no_serving == []


def test_options_reach_the_server(small_db, no_serving) -> None:
    code, _, err = run_cli("dashboard", "--storage", small_db, "--port", "0")
    assert code == 0, err
    port = int(re.search(r"read-only\) on http://127\.0\.0\.1:(\d+)/", err).group(1))
    assert port > 0  # port 0: the system's pick, printed
    (storage, options) = no_serving[0]
    assert storage.url == small_db
    sock = options.pop("sock")
    assert isinstance(sock, socket.socket)  # the server gets the socket bound for it
    assert sock.fileno() == -1  # and the CLI closes it once the server returns
    assert options == {"host": "127.0.0.1", "port": port, "allow_write": False}
    code, _, err = run_cli("dashboard", "--storage", small_db, "--port", "0", "--allow-write")
    assert code == 0 and "read-write" in err and no_serving[1][1]["allow_write"] is True
    assert run_cli("dashboard", "--storage", small_db, "--port", "-1")[0] == 2  # min=0


@pytest.mark.parametrize(("host", "foreign_ok"), [("127.0.0.1", False), ("0.0.0.0", True)])
def test_serve_accepts_foreign_hosts_only_off_loopback(small_db, monkeypatch, host, foreign_ok):
    """On loopback only local Host names pass (DNS rebinding); bound to a public address the
    user chose to expose it."""
    import uvicorn
    from fastapi.testclient import TestClient

    apps: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append((app, kw)))
    nas.dashboard.serve(small_db, host=host, port=9999)
    (app, options) = apps[0]
    assert options["host"] == host and options["port"] == 9999
    with TestClient(app, base_url="http://localhost:9999") as client:
        assert client.get("/api/studies").status_code == 200
        foreign = client.get("/api/studies", headers={"Host": "dash.example.org"})
        assert foreign.status_code == (200 if foreign_ok else 400)


def test_a_real_server_answers_and_stops_on_ctrl_c(small_db) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nas", "dashboard", "--storage", small_db, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    # --port 0: the system picks a free port, bound until the server takes it (no race), and
    # the first line says which.
    first = proc.stderr.readline()
    port = int(re.search(r"on http://127\.0\.0\.1:(\d+)/", first).group(1))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                page = httpx.get(f"{base}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the dashboard did not answer in 60 s"
                time.sleep(0.05)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        studies = httpx.get(f"{base}/api/studies", timeout=10).json()
        assert [(s["name"], s["n_trials"]) for s in studies] == [("small", 3)]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and out == ""
    assert first.startswith("nas dashboard (read-only) on " + base)
