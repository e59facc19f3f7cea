"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by playwright-python).

The server runs in a thread of the test process (uvicorn on a free loopback port) over a SQLite
file built with the public API. Nothing sleeps for a fixed time: every wait is on a condition the
page reports (``body[data-ready]``, a plot's ``data-rendered`` / ``data-points``, the table's
``data-total``), bounded by a timeout. Screenshots go to ``$NAS_TEST_ARTIFACTS`` (default
``test-artifacts/`` at the repository root) so a failing CI run can be looked at.

Skipped where Chromium or playwright is missing, except under ``CI=true`` (``.ci/run`` installs
Debian's chromium), where that is a failure.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nas
from nas.storage import get_storage

CHROMIUM = os.environ.get("NAS_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(
    os.environ.get("NAS_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)
TIMEOUT_MS = 60_000
N_TRIALS = 150
XSS = "<script>alert(1)</script>"
SPACE = {
    "params": {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-1, "log": True},
        "opt": {"type": "categorical", "choices": ["sgd", "adam"]},
    }
}

pytestmark = pytest.mark.slow


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run must install it)")
    pytest.skip(reason)


def _two_objectives(trial: Any) -> dict[str, float]:
    x = trial.params["x"]
    for step in range(3):
        trial.report(step, {"f1": x * (3 - step)})
    return {"f1": x, "f2": (1 - math.sqrt(x)) * (1 + 10 * trial.params["lr"])}


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def db_url(tmp_path_factory) -> str:
    """A storage with a 2-objective study of N_TRIALS COMPLETE trials, a study named like a
    script tag, and a study shaped like a NAS study (architecture attribute per trial)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dash')}/dash.db"
    study = nas.create_study(
        name="two", space=SPACE, objectives={"f1": "minimize", "f2": "minimize"}, storage=url
    )
    study.optimize(_two_objectives, n_trials=N_TRIALS)
    # The tests that write trials write them here, so that "two" stays as built whatever the
    # order the tests run in.
    live = nas.create_study(
        name="live", space=SPACE, objectives={"f1": "minimize", "f2": "minimize"}, storage=url
    )
    live.optimize(_two_objectives, n_trials=20)
    xss = nas.create_study(name=XSS, space=SPACE, objectives={XSS: "minimize"}, storage=url)
    xss.optimize(lambda t: t.params["x"], n_trials=5)
    archs = nas.create_study(
        name="archs",
        space=SPACE,
        objectives={"accuracy": "maximize", "mflops": "minimize"},
        storage=url,
    )

    def arch_objective(trial: Any) -> dict[str, float]:
        width = 8 if trial.params["opt"] == "sgd" else 16
        trial.set_user_attr(
            "arch", {"depths": [1], "layers": [[["sepconv", 3, width], ["skip", 0, 0]]]}
        )
        return {"accuracy": trial.params["x"], "mflops": width * (1 + trial.params["x"])}

    archs.set_user_attr("nas.objective", {"type": "supernet", "space": "fake"})
    archs.optimize(arch_objective, n_trials=12)
    # A NAS study whose supernet was split by gradient matching (record as stored by training).
    fam = nas.create_study(
        name="family", space=SPACE, objectives={"accuracy": "maximize"}, storage=url
    )
    fam.set_user_attr("nas.objective", {"type": "supernet", "space": "fake"})
    fam.set_user_attr("supernet.family", _family_record())

    def fam_objective(trial: Any) -> float:
        width = 8 if trial.params["opt"] == "sgd" else 16
        trial.set_user_attr("arch", {"depths": [1], "layers": [[["sepconv", 3, width]]]})
        trial.set_user_attr("supernet.leaf", "0" if width == 8 else "1")
        return trial.params["x"]

    fam.optimize(fam_objective, n_trials=8)
    # A constrained two-objective study (BNH) with infeasible trials.
    from nas.benchmarks.functions import BNH_CONSTRAINTS, bnh_objective

    bnh_space = {"params": {"x": {"type": "float", "low": 0.0, "high": 5.0},
                            "y": {"type": "float", "low": 0.0, "high": 3.0}}}  # fmt: skip
    bnh = nas.create_study(
        "bnh", bnh_space, {"f1": "minimize", "f2": "minimize"}, storage=url,
        constraints=BNH_CONSTRAINTS,
    )  # fmt: skip
    bnh.optimize(bnh_objective, n_trials=40)
    # Three objectives: the Pareto front can be drawn in 3-D (plotly's scatter3d, a lazy entry).
    three = nas.create_study(
        "three", SPACE, {"f1": "minimize", "f2": "minimize", "f3": "maximize"}, storage=url
    )
    three.optimize(
        lambda t: {"f1": t.params["x"], "f2": 1 - t.params["x"] ** 2, "f3": t.params["lr"]},
        n_trials=30,
    )
    return url


def _family_record() -> dict[str, Any]:
    import numpy as np

    from nas.space import ArchSpace
    from nas.supernet._splits import Family, SplitRecord, score_slot
    from nas.testing.supernet import TINY_SPACE

    space = ArchSpace.from_dict(TINY_SPACE)
    family = Family.root(space)
    choices = space.slot_choices(0, 0)
    d = np.array([[0, 0.1, 0.9], [0.1, 0, 0.8], [0.9, 0.8, 0]])
    scores = (
        score_slot((0, 0), choices, d, 2),
        score_slot((1, 0), space.slot_choices(1, 0), np.array([[0, 0.3], [0.3, 0]]), 2),
    )
    groups = (tuple(choices[:2]), tuple(choices[2:]))
    family.split(
        "root",
        (0, 0),
        groups,
        lambda ids: SplitRecord("root", ids, (0, 0), groups, "gm", 45, False, scores),
    )
    return family.to_dict()  # fmt: skip


class _Server:
    def __init__(self, url: str, allow_write: bool) -> None:
        import uvicorn

        from nas.dashboard import create_app

        # The socket stays bound from here to the server: no window in which another process
        # could take a port read back and released (port 0: the kernel picks a free one).
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        app = create_app(url, allow_write=allow_write, poll_seconds=0.3)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the dashboard server did not start")
            time.sleep(0.02)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture(scope="module")
def server(db_url) -> Iterator[_Server]:
    s = _Server(db_url, allow_write=False)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def write_server(db_url) -> Iterator[_Server]:
    s = _Server(db_url, allow_write=True)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium not found at {CHROMIUM} (Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright-python is not installed (test extra)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, request) -> Iterator[Any]:
    """A fresh page that fails the test on any JavaScript error, console error, dialog (alert =
    XSS) or request to another origin than the server's (no CDN)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    answers: list[str] = []  # prompts a test expects, answered in order

    def on_dialog(dialog: Any) -> None:
        if answers:
            dialog.accept(answers.pop(0))
        else:
            problems.append(f"unexpected dialog: {dialog.message}")
            dialog.dismiss()

    def on_request(req: Any) -> None:
        if not req.url.startswith(("http://127.0.0.1:", "data:", "blob:", "about:")):
            problems.append(f"request to another origin: {req.url}")

    def on_console(msg: Any) -> None:
        # (failed requests are the tests' business: some ask for missing things on purpose)
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console error: {msg.text}")

    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("request", on_request)
    pg.on("console", on_console)
    pg.on("dialog", on_dialog)
    pg.answers = answers
    yield pg
    context.close()
    assert not problems, problems


def _shot(pg: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a real rendering, not an empty page
    return path


def _study_id(url: str, name: str) -> int:
    return get_storage(url).get_study_id(name)


def _plotted(pg: Any, selector: str) -> int:
    """Markers plotly really holds in the figure's marker traces (not our own attribute)."""
    return int(
        pg.eval_on_selector(
            selector,
            "gd => gd.data.filter(t => (t.mode || '').includes('markers'))"
            ".reduce((n, t) => n + t.x.length, 0)",
        )
    )


# ---------------------------------------------------------------------------- tests


def test_studies_list_shows_every_study_with_its_counts(server, db_url, page):
    page.goto(server.base + "/")
    page.wait_for_selector("body[data-ready='1']")
    rows = page.locator("#studies tbody tr")
    assert rows.count() == 7
    names = page.locator("#studies tbody a.study-link").all_inner_texts()
    assert sorted(names) == sorted(["two", "live", XSS, "archs", "family", "bnh", "three"])
    two = page.locator("#studies tbody tr", has_text="two")
    assert f"{N_TRIALS} complete" in two.inner_text()
    # The best/Pareto cell fills in from the study summary.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#studies tbody tr')]"
        ".every(r => !r.children[4].textContent.includes('\u2026'))"
    )
    front = len(nas.load_study("two", db_url).pareto_front())
    assert f"{front} on the front" in two.inner_text()
    page.fill("#study-filter", "arch")
    assert page.locator("#studies tbody tr").count() == 1
    _shot(page, "studies")


def test_study_page_plots_every_trial_and_filters_on_the_server(server, db_url, page):
    sid = _study_id(db_url, "two")
    trials = get_storage(db_url).get_trials(sid)
    assert len(trials) == N_TRIALS and all(t.state == "COMPLETE" for t in trials)
    page.goto(f"{server.base}/studies/{sid}")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#plot-history[data-rendered='1']")
    page.wait_for_selector("#plot-pareto[data-rendered='1']")
    assert page.get_attribute("#plot-history", "data-points") == str(len(trials))
    assert page.get_attribute("#plot-pareto", "data-points") == str(len(trials))
    assert _plotted(page, "#plot-history") == len(trials)
    assert _plotted(page, "#plot-pareto") == len(trials)
    front = nas.load_study("two", db_url).pareto_front()
    front_trace = page.eval_on_selector("#plot-pareto", "gd => gd.data[1].customdata")
    assert sorted(front_trace) == sorted(t.number for t in front)
    assert page.locator("#loading").is_hidden()
    _shot(page, "study")

    # Filter: evaluated by the server; the table reports the match count and shows one page.
    expected = sorted(
        t.number for t in trials if t.values["f1"] < 0.5 and t.params["opt"] == "adam"
    )
    page.fill("#trial-filter", "f1 < 0.5 and opt == adam")
    page.press("#trial-filter", "Enter")
    page.wait_for_selector(f"#trials tbody[data-total='{len(expected)}']")
    shown = [int(n) for n in page.locator("#trials tbody tr td:first-child").all_inner_texts()]
    assert shown == expected[:50]
    assert f"of {len(expected)}" in page.inner_text("#page-info")
    # Sort by f1 descending with a click on its header (twice: asc then desc).
    page.click("#trials thead th:has-text('f1')")
    page.wait_for_selector("#trials thead th.sorted-asc")
    page.click("#trials thead th:has-text('f1')")
    page.wait_for_selector("#trials thead th.sorted-desc")
    by_f1 = sorted(expected, key=lambda n: -trials[n].values["f1"])
    first = int(page.locator("#trials tbody tr td:first-child").first.inner_text())
    assert first == by_f1[0]
    # A bad filter is reported in one line, not a broken page.
    page.fill("#trial-filter", "nosuch > 1")
    page.press("#trial-filter", "Enter")
    page.wait_for_selector("#filter-error:has-text('unknown field')")
    _shot(page, "study-filtered")


def test_a_late_table_response_never_overwrites_a_newer_one(server, db_url, page):
    """Rows always match the sort on screen, whatever order the responses arrive in."""
    sid = _study_id(db_url, "two")
    trials = get_storage(db_url).get_trials(sid)
    page.goto(f"{server.base}/studies/{sid}")
    page.wait_for_selector("body[data-table='1']")
    # Hold back every ascending table request for 1.5 s (as a slow live-update reload would be).
    page.evaluate(
        """() => {
          const original = window.fetch;
          window.__late = 0;
          window.fetch = (url, init) => {
            const response = original(url, init);
            if (!String(url).includes("/trials?") || !String(url).includes("order=asc"))
              return response;
            return response.then((r) => new Promise((done) => setTimeout(() => {
              window.__late += 1;
              done(r);
            }, 1500)));
          };
        }"""
    )
    page.click("#trials thead th:has-text('f1')")  # ascending: held back
    page.click("#trials thead th:has-text('f1')")  # descending: arrives first
    page.wait_for_selector("#trials thead th.sorted-desc")
    page.wait_for_function("window.__late >= 1")  # the old response has arrived ...
    page.wait_for_timeout(100)
    assert page.locator("#trials thead th.sorted-desc").count() == 1  # ... and was dropped
    first = int(page.locator("#trials tbody tr td:first-child").first.inner_text())
    assert first == max(trials, key=lambda t: t.values["f1"]).number


def test_constrained_study_shows_feasibility(server, db_url, page):
    sid = _study_id(db_url, "bnh")
    study = nas.load_study("bnh", db_url)
    infeasible = sorted(t.number for t in study.trials if t.feasible is False)
    assert infeasible, "the fixture needs infeasible trials"
    page.goto(f"{server.base}/studies/{sid}")
    page.wait_for_selector("body[data-ready='1']")
    feasible_count = len(study.trials) - len(infeasible)
    assert f"{feasible_count} of {len(study.trials)} complete" in page.inner_text("body")
    page.wait_for_selector("#plot-pareto[data-rendered='1']")
    names = page.eval_on_selector("#plot-pareto", "gd => gd.data.map(t => t.name)")
    assert "infeasible" in names
    marked = page.eval_on_selector(
        "#plot-pareto", "gd => gd.data.find(t => t.name === 'infeasible').customdata"
    )
    assert sorted(marked) == infeasible
    front = page.eval_on_selector(
        "#plot-pareto", "gd => gd.data.find(t => t.name === 'Pareto front').customdata"
    )
    assert sorted(front) == sorted(t.number for t in study.pareto_front())
    # The table's feasible column and the server-side filter on it.
    page.fill("#trial-filter", "feasible == false")
    page.press("#trial-filter", "Enter")
    page.wait_for_selector(f"#trials tbody[data-total='{len(infeasible)}']")
    shown = [int(n) for n in page.locator("#trials tbody tr td:first-child").all_inner_texts()]
    assert shown == infeasible[:50]
    column = page.locator("#trials thead th").all_inner_texts()
    k = [c.strip() for c in column].index("feasible")
    cells = page.locator(f"#trials tbody tr td:nth-child({k + 1})").all_inner_texts()
    assert set(cells) == {"no"}
    _shot(page, "constraints")


def test_other_tabs_render(server, db_url, page):
    sid = _study_id(db_url, "two")
    page.goto(f"{server.base}/studies/{sid}")
    page.wait_for_selector("body[data-ready='1']")
    page.click("button[data-tab='params']")
    page.wait_for_selector("#plot-parallel[data-rendered='1']")
    page.wait_for_selector("#plot-importance[data-rendered='1']")
    assert page.get_attribute("#plot-parallel", "data-points") == str(N_TRIALS)
    bars = page.eval_on_selector("#plot-importance", "gd => gd.data[0].y")
    assert sorted(bars) == ["lr", "opt", "x"]
    _shot(page, "params")
    page.click("button[data-tab='curves']")
    page.wait_for_selector("#plot-curves[data-rendered='1']")
    assert page.get_attribute("#plot-curves", "data-points") == str(N_TRIALS)
    _shot(page, "curves")


def test_live_update_fetches_only_changes(server, db_url, page):
    sid = _study_id(db_url, "live")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{server.base}/studies/{sid}")
    page.wait_for_selector("body[data-ready='1']")
    before = int(page.get_attribute("#plot-history", "data-points"))
    study = nas.load_study("live", db_url)
    study.optimize(_two_objectives, n_trials=len(study.trials) + 4)
    # (another test may have added a FAILED trial to this study: the plots show COMPLETE ones)
    complete = len(study.get_trials((nas.TrialState.COMPLETE,)))
    page.wait_for_selector(f"#plot-history[data-points='{complete}']")
    page.wait_for_selector(f"#plot-pareto[data-points='{complete}']")
    assert complete == before + 4
    assert page.get_attribute("#facts", "data-n-trials") == str(len(study.trials))
    assert sum("/data" in u for u in requests) == 1, "the page reloaded every trial"
    assert any("/changes?cursor=" in u for u in requests)


def test_hostile_names_are_shown_as_text(server, db_url, page):
    sid = _study_id(db_url, XSS)
    page.goto(f"{server.base}/studies/{sid}")
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text("#study-name") == XSS
    assert page.title().startswith(XSS)
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0
    page.goto(f"{server.base}/")
    page.wait_for_selector("body[data-ready='1']")
    assert XSS in page.locator("#studies tbody").inner_text()
    # The page fixture fails the test if any alert() ran.


def test_nas_study_shows_architectures(server, db_url, page):
    sid = _study_id(db_url, "archs")
    page.goto(f"{server.base}/studies/{sid}")
    page.wait_for_selector("body[data-ready='1']")
    page.click("button[data-tab='archs']")
    page.wait_for_selector("#archs[data-rows]")
    study = nas.load_study("archs", db_url)
    front = study.pareto_front()
    # One row per architecture of the front, listing every trial of that architecture.
    by_arch: dict[str, list[int]] = {}
    for t in study.get_trials((nas.TrialState.COMPLETE,)):
        by_arch.setdefault(str(t.user_attrs["arch"]), []).append(t.number)
    on_front = {str(t.user_attrs["arch"]) for t in front}
    assert page.get_attribute("#archs", "data-rows") == str(len(on_front))
    assert "sepconv3/" in page.inner_text("#archs tbody")
    listed = page.locator("#archs tbody td.trials").all_inner_texts()
    assert sorted(listed) == sorted(", ".join(map(str, by_arch[a])) for a in on_front)
    number = front[0].number
    page.goto(f"{server.base}/studies/{sid}/trials/{number}")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#arch tbody tr").count() == 2
    assert "sepconv" in page.inner_text("#arch-text")
    _shot(page, "nas-trial")


def test_split_family_shows_its_splits_and_leaves(server, db_url, page):
    sid = _study_id(db_url, "family")
    page.goto(f"{server.base}/studies/{sid}")
    page.wait_for_selector("body[data-ready='1']")
    # The trial table has a leaf column; the Splits tab lists the split and draws its distances.
    headers = page.locator("#trials thead th").all_inner_texts()
    assert any(h.strip().startswith("leaf") for h in headers), headers
    page.click("button[data-tab='splits']")
    page.wait_for_selector("#splits[data-rows]")
    assert page.get_attribute("#splits", "data-rows") == "1"
    row = page.inner_text("#splits tbody")
    assert "s0.l0" in row and "gm" in row and "conv3/2 conv3/4" in row and "skip" in row
    page.wait_for_selector("#split-plots .plot-box .main-svg")
    assert "cut scores" in page.inner_text("#split-plots")
    _shot(page, "splits")
    # A study without splits has no Splits tab.
    page.goto(f"{server.base}/studies/{_study_id(db_url, 'archs')}")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("button[data-tab='splits']").is_hidden()


def test_trial_page_shows_failure_and_curves(server, db_url, page):
    url = db_url
    study = nas.load_study("live", url)

    def boom(trial: Any) -> float:
        trial.report(0, {"f1": 1.0})
        raise RuntimeError("exploded <b>here</b>")

    study.optimize(boom, n_trials=len(study.trials) + 1)
    failed = study.trials[-1]
    assert failed.state == "FAILED"
    page.goto(f"{server.base}/studies/{_study_id(url, 'live')}/trials/{failed.number}")
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text("#trial-state") == "FAILED"
    assert "RuntimeError: exploded <b>here</b>" in page.inner_text("#failure")
    page.wait_for_selector("#plot-curves[data-rendered='1']")
    assert page.get_attribute("#plot-curves", "data-points") == "1"
    _shot(page, "trial-failed")


def test_write_mode_note_and_exclusion(write_server, db_url, page):
    sid = _study_id(db_url, "archs")
    page.goto(f"{write_server.base}/studies/{sid}")
    page.wait_for_selector("body[data-ready='1']")
    n = int(page.get_attribute("#plot-history", "data-points"))
    page.click("text=add note")
    hostile = "<img src=x onerror=alert(2)> keep the wide ones"
    page.fill("#note-edit", hostile)
    page.click("text=save note")
    page.wait_for_selector("#note-text")
    assert page.inner_text("#note-text") == hostile
    assert nas.load_study("archs", db_url).user_attrs["nas.note"] == hostile

    page.goto(f"{write_server.base}/studies/{sid}/trials/0")
    page.wait_for_selector("body[data-ready='1']")
    page.answers.append("diverged")
    page.click("#exclude-toggle")
    page.wait_for_selector("#excluded-reason")
    assert "diverged" in page.inner_text("#excluded-reason")
    page.goto(f"{write_server.base}/studies/{sid}")
    page.wait_for_selector("body[data-ready='1']")
    assert page.get_attribute("#plot-history", "data-points") == str(n - 1)
    assert page.locator("#trials tbody tr.excluded").count() == 1
    # Include it again (no prompt when including).
    page.goto(f"{write_server.base}/studies/{sid}/trials/0")
    page.wait_for_selector("body[data-ready='1']")
    page.click("#exclude-toggle")
    page.wait_for_selector("#excluded-reason", state="detached")


# ---------------------------------------------------------------------------- plotly.js bundle
#: One small figure per trace type of the bundle, and an element each draws (SVG or WebGL).
SAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "scatter": ({"type": "scatter", "mode": "markers", "x": [1, 2], "y": [2, 1]},
                ".scatterlayer .trace .points path"),
    "scattergl": ({"type": "scattergl", "mode": "markers", "x": [1, 2], "y": [2, 1]},
                  ".gl-container canvas"),
    "scatter3d": ({"type": "scatter3d", "mode": "markers", "x": [1, 2], "y": [2, 1], "z": [1, 3]},
                  ".gl-container canvas"),
    "bar": ({"type": "bar", "orientation": "h", "x": [0.3, 0.7], "y": ["a", "b"]},
            ".barlayer .point path"),
    "heatmap": ({"type": "heatmap", "z": [[0, 1], [1, 0]]}, ".heatmaplayer image"),
    "parcoords": ({"type": "parcoords", "dimensions": [{"label": "a", "values": [1, 2]},
                                                       {"label": "b", "values": [2, 1]}]},
                  ".parcoords .y-axis"),
}  # fmt: skip
DRAW_JS = """
async (samples) => {
  const { render } = await import("/static/common.js");
  const out = {};
  for (const [type, [trace, selector]] of Object.entries(samples)) {
    const div = document.createElement("div");
    div.style.width = "400px";
    div.style.height = "300px";
    document.querySelector("main").append(div);
    await render(div, [trace], {}, 2);
    out[type] = {
      types: div._fullData.map((t) => t.type),
      visible: div._fullData.map((t) => t.visible),
      svg: div.querySelectorAll(".main-svg").length,
      drawn: div.querySelectorAll(selector).length,
    };
  }
  return out;
}
"""


def test_every_bundled_trace_type_draws(server, db_url, page):
    """Each trace type the bundle registers (test_bundle: exactly those the pages draw) draws on
    a study page, under its Content-Security-Policy, through the pages' own render(): plotly
    keeps the type (an unregistered one falls back to scatter) and draws its elements."""
    from nas.dashboard._bundle import load_bundle

    registered = {t for traces in load_bundle().traces.values() for t in traces}
    assert set(SAMPLES) == registered, "add a sample figure for each bundled trace type"
    page.goto(f"{server.base}/studies/{_study_id(db_url, 'two')}")
    page.wait_for_selector("body[data-ready='1']")
    drawn = page.evaluate(DRAW_JS, {t: list(v) for t, v in SAMPLES.items()})
    for trace_type, got in drawn.items():
        assert got["types"] == [trace_type] and got["visible"] == [True], (trace_type, got)
        assert got["svg"] >= 1 and got["drawn"] >= 1, (trace_type, got)
    assert page.inner_text("#error") == ""


def test_table_is_usable_before_plotly_runs(server, db_url, page):
    """Progressive rendering: the header and the trial table are on the page before plotly.js is
    evaluated (it injects its stylesheet when it runs); the plots follow. A 2-objective study
    never fetches the 3-D entry."""
    page.add_init_script(
        """
        new MutationObserver(() => {
          if (document.body && document.body.dataset.table === "1" && window.__plotlyAtTable === undefined) {
            window.__plotlyAtTable = Boolean(document.getElementById("plotly.js-style-global"));
            window.__rowsAtTable = document.querySelectorAll("#trials tbody tr").length;
          }
        }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-table"] });
        """
    )
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{server.base}/studies/{_study_id(db_url, 'two')}")
    page.wait_for_selector("body[data-ready='1']")
    assert page.evaluate("window.__plotlyAtTable") is False
    assert page.evaluate("window.__rowsAtTable") == 50
    assert page.evaluate("window.__nasTable < window.__nasReady")
    assert page.evaluate("Boolean(document.getElementById('plotly.js-style-global'))")
    assert not any("plotly-3d" in u for u in requests)


def test_three_objectives_draw_a_3d_front_on_demand(server, db_url, page):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{server.base}/studies/{_study_id(db_url, 'three')}")
    page.wait_for_selector("body[data-ready='1']")
    assert page.get_attribute("#plot-pareto", "data-renders") == "1"
    assert not any("plotly-3d" in u for u in requests)  # fetched only when asked for
    page.check("#pareto-3d")
    page.wait_for_selector("#plot-pareto[data-renders='2']")
    types = page.eval_on_selector("#plot-pareto", "gd => gd._fullData.map(t => t.type)")
    assert types and set(types) == {"scatter3d"}
    assert page.locator("#plot-pareto .gl-container canvas").count() >= 1
    assert sum("plotly-3d" in u for u in requests) == 1
    assert _plotted(page, "#plot-pareto") == 30
    _shot(page, "pareto-3d")
