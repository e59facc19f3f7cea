"""Fixtures shared by the dashboard tests (API, table, view and browser tests).

``dashboard_db``
    A :class:`DashboardDB`: a fresh copy, in the test's temporary directory, of a small SQLite
    database holding three studies (built once per test session, then copied, so a test may
    write to it freely):

    * ``multi``: 2 objectives (``loss`` minimize, ``acc`` maximize), 60 trials of the random
      searcher over ``x`` (float), ``lr`` (log float), ``opt`` (categorical ``adam``/``sgd``),
      ``momentum`` (float, active only when ``opt == sgd``) and ``depth`` (fixed). Every trial
      reports ``loss`` at steps 0, 1, 2; trial ``failed_number`` then raises (FAILED, with a
      traceback naming ``diverged at step 2``) and trial ``pruned_number`` is PRUNED; the other
      58 are COMPLETE.
    * ``single``: 1 objective (``acc`` maximize), 30 COMPLETE trials over ``x`` (float, drives
      the objective), ``n`` (int) and ``act`` (categorical), plus one PRUNED trial (the last)
      whose value ``acc = 5.0`` beats every COMPLETE one (it must not count as the best).
    * ``xss``: named ``<script>alert(1)</script>``, 1 objective, 3 COMPLETE trials; one
      categorical choice is ``<img src=x onerror=alert(2)>``.

``shared_dashboard_db``
    The same, one copy per test module, for tests that only read (saves a copy and a server
    per test); a test that writes must use ``dashboard_db``.

``make_client``
    A factory ``make_client(storage, allow_write=False, **create_app_options)`` returning a
    ``fastapi.testclient.TestClient`` over :func:`nas.dashboard.create_app` with
    ``allowed_hosts`` including ``"testserver"`` (the TestClient's host); clients are closed at
    teardown. Server-side exceptions propagate into the test (no silent 500s).

``instant_refresh``
    Sets :data:`nas.dashboard._view.MIN_REFRESH_SECONDS` to 0 for the test, so that a request
    right after a write made directly in the storage sees it (instead of sleeping).

Use them as fixtures (``def test_x(dashboard_db, make_client): ...``); this module cannot be
imported by name under ``--import-mode=importlib``.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import nas
from nas.storage import RDBStorage

with warnings.catch_warnings():  # starlette's notice that it prefers httpx2: not about nas
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

MULTI_SPACE: dict[str, Any] = {
    "params": {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "opt": {"type": "categorical", "choices": ["adam", "sgd"]},
        "momentum": {
            "type": "float",
            "low": 0.0,
            "high": 1.0,
            "condition": {"parent": "opt", "in": ["sgd"]},
        },
        "depth": {"type": "fixed", "value": 2},
    }
}
SINGLE_SPACE: dict[str, Any] = {
    "params": {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "n": {"type": "int", "low": 1, "high": 8},
        "act": {"type": "categorical", "choices": ["relu", "tanh", "gelu"]},
    }
}
XSS_NAME = "<script>alert(1)</script>"
XSS_CHOICE = "<img src=x onerror=alert(2)>"


@dataclass(frozen=True)
class DashboardDB:
    """The studies of ``dashboard_db`` (see the module docstring).

    Attributes:
        url: SQLite URL of this test's copy.
        path: its file.
        multi / single / xss: study ids.
        failed_number / pruned_number: the FAILED and PRUNED trials of ``multi``.
        single_pruned_number: the PRUNED trial of ``single`` (value 5.0, better than any).
    """

    url: str
    path: Path
    multi: int
    single: int
    xss: int
    multi_name: str = "multi"
    single_name: str = "single"
    xss_name: str = XSS_NAME
    xss_choice: str = XSS_CHOICE
    n_multi: int = 60
    n_single: int = 31
    failed_number: int = 7
    pruned_number: int = 11
    single_pruned_number: int = 30

    def storage(self) -> RDBStorage:
        """A new storage on this database (the caller may dispose it)."""
        return RDBStorage(self.url)


def _build(url: str) -> tuple[int, int, int]:
    storage = RDBStorage(url)
    try:
        multi = nas.create_study(
            name="multi",
            space=MULTI_SPACE,
            objectives={"loss": "minimize", "acc": "maximize"},
            searcher="random",
            storage=storage,
            seed=0,
        )

        def multi_objective(trial: nas.Trial) -> dict[str, float]:
            x, lr = trial.params["x"], trial.params["lr"]
            for step in range(3):
                trial.report(step, {"loss": x + 1.0 / (step + 1)})
            if trial.number == DashboardDB.failed_number:
                raise RuntimeError("diverged at step 2")
            if trial.number == DashboardDB.pruned_number:
                raise nas.TrialPruned("not promising")
            # loss wants a small x, acc a large x and a large lr: a real trade-off.
            return {"loss": x, "acc": x + 0.3 * (lr**0.25)}

        multi.optimize(multi_objective, n_trials=DashboardDB.n_multi)

        single = nas.create_study(
            name="single",
            space=SINGLE_SPACE,
            objectives={"acc": "maximize"},
            searcher="random",
            storage=storage,
            seed=1,
        )
        single.optimize(
            lambda t: 1.0 - 4.0 * (t.params["x"] - 0.3) ** 2 + 0.01 * t.params["n"],
            n_trials=DashboardDB.n_single - 1,
        )
        # A PRUNED trial may carry a value; it must never be taken for the best.
        (proposal,) = single.searcher.propose(single.trials, 1)
        _, claimed = storage.add_trials(single.study_id, [proposal], claim_worker="fixture")
        assert claimed is not None and claimed.number == DashboardDB.single_pruned_number
        storage.finish_trial(claimed.trial_id, nas.TrialState.PRUNED, values={0: 5.0})

        xss = nas.create_study(
            name=XSS_NAME,
            space={"params": {"choice": {"type": "categorical", "choices": [XSS_CHOICE, "ok"]}}},
            objectives={"value": "minimize"},
            searcher="random",
            storage=storage,
            seed=2,
        )
        xss.optimize(lambda t: float(t.params["choice"] == "ok"), n_trials=3)
        return multi.study_id, single.study_id, xss.study_id
    finally:
        storage.dispose()  # closes the connections: SQLite checkpoints the WAL into the file


@pytest.fixture(scope="session")
def _dashboard_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int, int]:
    path = tmp_path_factory.mktemp("dashboard-template") / "nas.db"
    ids = _build(f"sqlite:///{path}")
    return (path, *ids)


@pytest.fixture
def dashboard_db(_dashboard_template: tuple[Path, int, int, int], tmp_path: Path) -> DashboardDB:
    """A private copy of the three-study database (see the module docstring)."""
    template, multi, single, xss = _dashboard_template
    return _copy(template, tmp_path / "dashboard.db", multi, single, xss)


def _copy(template: Path, path: Path, multi: int, single: int, xss: int) -> DashboardDB:
    shutil.copyfile(template, path)
    for suffix in ("-wal", "-shm"):  # normally checkpointed away by dispose(); copy if not
        extra = template.with_name(template.name + suffix)
        if extra.exists():
            shutil.copyfile(extra, path.with_name(path.name + suffix))
    return DashboardDB(url=f"sqlite:///{path}", path=path, multi=multi, single=single, xss=xss)


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    """``make_client(storage, allow_write=False, **options)`` -> a TestClient (see above).

    Every app of a process shares one gzip-compressed plotly bundle (``_app._PLOTLY``), so
    making many apps costs no repeated compression of the 4.6 MB script.
    """
    from nas.dashboard import create_app

    clients: list[TestClient] = []

    def make(storage: str | RDBStorage, allow_write: bool = False, **options: Any) -> TestClient:
        options.setdefault("allowed_hosts", ("testserver", "127.0.0.1", "localhost"))
        client = TestClient(create_app(storage, allow_write=allow_write, **options))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def instant_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Views re-read the database on every request (no ``MIN_REFRESH_SECONDS`` throttle)."""
    from nas.dashboard import _view

    monkeypatch.setattr(_view, "MIN_REFRESH_SECONDS", 0.0)


@pytest.fixture(scope="module")
def shared_dashboard_db(
    _dashboard_template: tuple[Path, int, int, int], tmp_path_factory: pytest.TempPathFactory
) -> DashboardDB:
    """Like ``dashboard_db`` but one copy per test module: for tests that only read."""
    template, multi, single, xss = _dashboard_template
    path = tmp_path_factory.mktemp("dashboard-shared") / "dashboard.db"
    return _copy(template, path, multi, single, xss)
