"""An installed wheel (not the source checkout) can create and upgrade databases by itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "storage_tests" / "fixtures" / "v0.1.0.a.db"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling")
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp / "dist"),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp / "dist").glob("nas-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "nas/_alembic/env.py" in names
    assert {
        "nas/_alembic/versions/v0.1.0.a.py",
        "nas/_alembic/versions/v0.1.0.b.py",
        "nas/_alembic/versions/v0.2.0.a.py",
        "nas/_alembic/versions/v0.3.0.a.py",
    } <= set(names)
    assert not any(n.startswith("alembic/") for n in names)  # never shadows the alembic package
    # The dashboard's vendored plotly.js bundle, its manifest and licences (package data).
    vendor = ROOT / "nas" / "dashboard" / "static" / "vendor" / "plotly"
    bundled = {f"nas/dashboard/static/vendor/plotly/{p.name}" for p in vendor.iterdir()}
    assert "nas/dashboard/static/vendor/plotly/manifest.json" in bundled
    assert "nas/dashboard/static/vendor/plotly/THIRD-PARTY-LICENSES.txt" in bundled
    assert bundled <= set(names), bundled - set(names)
    target = tmp / "site"
    inst = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert inst.returncode == 0, inst.stderr
    return target


def _nas(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("NAS_STORAGE", None)
    return subprocess.run(
        [sys.executable, "-c", "import sys; from nas.cli import main; main(sys.argv[1:])", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_installed_wheel_upgrades_an_old_database(installed, tmp_path):
    db = tmp_path / "old.db"
    shutil.copy(FIXTURE, db)
    url = f"sqlite:///{db}"
    probe = _nas(installed, tmp_path, "--version")
    assert probe.returncode == 0, probe.stderr
    where = subprocess.run(
        [sys.executable, "-c", "import nas; print(nas.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
    )
    assert where.stdout.strip().startswith(str(installed))  # really the installed copy

    refused = _nas(installed, tmp_path, "studies", "--storage", url)
    assert refused.returncode == 2 and "nas db upgrade" in refused.stderr

    up = _nas(installed, tmp_path, "db", "upgrade", "--storage", url)
    assert up.returncode == 0, up.stderr
    assert "v0.1.0.a" in up.stdout and "v0.4.0.a" in up.stdout  # from the fixture to head

    listed = _nas(installed, tmp_path, "studies", "--storage", url, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert '"name"' in listed.stdout


def test_installed_wheel_serves_the_dashboards_plotly_bundle(installed, tmp_path):
    """The dashboard of the installed copy serves every file of its plotly.js bundle, as its
    manifest describes it, from the wheel's own files."""
    script = """
import hashlib, sys
from fastapi.testclient import TestClient
from nas.dashboard import PLOTLY_URL, create_app
from nas.dashboard._bundle import VENDOR, load_bundle
assert str(VENDOR).startswith(sys.argv[1]), VENDOR
bundle = load_bundle()
with TestClient(create_app(sys.argv[2], allowed_hosts=("testserver",), preload=False)) as c:
    assert PLOTLY_URL in c.get("/studies/0").text
    for name, digest in bundle.files.items():
        r = c.get(bundle.url(name))
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == digest, name
print("served", len(bundle.files))
"""
    served = subprocess.run(
        [sys.executable, "-c", script, str(installed), f"sqlite:///{tmp_path / 'new.db'}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(installed)},
        timeout=120,
    )
    assert served.returncode == 0, served.stderr
    assert served.stdout.startswith("served ")
