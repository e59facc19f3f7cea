"""Dashboard: time to interactive of a 10,000-trial two-objective study page in headless
Chromium, and the latency of the live-update polls: ``nas dashboard`` vs optuna-dashboard, side by
side in the same run, on the same study.

1. A two-objective nas study (``--trials`` trials, 4 params: a log-scaled float, a float, an int,
   a categorical; a few FAILED trials) is created in SQLite with the public API
   (``nas.create_study`` + ``study.optimize``, random search) -- or reused from ``--workdir``.
2. The same trials (params, distributions, values, states, start/complete times) are copied into
   an Optuna ``RDBStorage`` (SQLite). ``optuna.trial.create_trial`` builds and validates every
   trial; the rows are then inserted in one transaction into the study ``optuna.create_study``
   made, because ``Study.add_trials`` is a loop of ``add_trial`` (about 12 ORM queries and one
   commit per trial: minutes for 10,000 trials on 2 cores). The copy is checked trial by trial
   with ``optuna.load_study(...).get_trials()``.
3. ``nas dashboard`` (uvicorn) and ``optuna-dashboard`` (its default server, wsgiref unless
   gunicorn is installed; ``--quiet``, which wsgiref ignores) are started as subprocesses, each on
   a working copy of its database. Before every page load and poll series, both server processes
   are left to become idle (an optuna-dashboard request can outlive its page by many seconds).
4. Time to interactive (TTI) in headless Chromium, ``--repeats`` times for nas and
   ``--optuna-repeats`` times (default 1: one optuna-dashboard page load takes about half a minute
   at 10,000 trials on 2 cores, and the run should stay under 5 minutes) for optuna-dashboard,
   tools alternated, in a fresh browser context each time ("cold": empty HTTP cache, no V8 code
   cache) and then a second navigation in that context ("warm"). TTI is ``performance.now()``
   (ms since navigation start) when the page's history plot and Pareto-front plot have drawn every
   COMPLETE trial: for nas the page's own ``window.__nasReady`` (``body[data-ready='1']``: both
   plots and the trial table done; the plots are the last of the default view to be drawn, so
   this is also when all of its plots are drawn), for optuna-dashboard a ``wait_for_function``
   predicate that counts the markers drawn in its ``#plot-history`` and ``#graph-pareto-front``
   plotly divs and stamps ``performance.now()`` the first time both hold all points. Both counts
   are asserted. nas draws its header and trial table before it evaluates plotly.js: the time the
   table is usable (``window.__nasTable``) and the time plotly.js has been evaluated (the page's
   ``nas-plotly`` performance mark) are reported beside TTI. As a reference, the evaluation of
   each tool's JavaScript bundle alone is timed in a blank page, and that of the full
   ``plotly.min.js`` of the plotly Python package (what nas served before its partial bundle).
5. Poll latency (httpx, one keep-alive client): nas ``GET /api/studies/{id}/changes?cursor=C``
   every 200 ms for ``--poll-seconds`` with no writer, then while a writer process finishes new
   trials into the same study at ``--rate`` trials/s (``study.optimize`` with a paced objective),
   plus the follow-up requests the study page makes when a poll brought trials (summary, Pareto
   numbers, first table page), and a full reload (``GET /data``, every trial). The same for
   optuna-dashboard's own poll ``GET /api/studies/{id}?after=N`` (N = first unfinished trial, as
   its frontend computes it) with an Optuna writer (``study.optimize``, same pacing) on its copy.

    python benchmarks/dashboard.py                       # < 5 min on 2 cores; rewrites the docs
    python benchmarks/dashboard.py --workdir /tmp/dash   # keeps the built studies for next time
    python benchmarks/dashboard.py --no-write            # print only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from importlib import metadata
from pathlib import Path
from typing import Any

from _common import REPO_ROOT, console, markdown_table, progress_bar, update_section

SECTION = "dashboard"
TITLE = "Dashboard: time to interactive and live polling, nas dashboard vs optuna-dashboard"
STUDY = "dashboard-bench"
OBJECTIVES = {"error": "minimize", "latency_ms": "minimize"}
SPACE = {
    "params": {
        "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "layers": {"type": "int", "low": 1, "high": 8},
        "optimizer": {"type": "categorical", "choices": ["sgd", "adam", "rmsprop"]},
    }
}
TTI_GOAL_S = 2.0
POLL_GOAL_MS = 50.0
VIEWPORT = {"width": 1400, "height": 1000}

#: The fake training run shared by the build and both writers (source, so that subprocesses
#: evaluate exactly the same function). About one trial in a thousand fails.
MODEL = '''
import math
import random


def evaluate(params, number):
    """(error, latency_ms) of a pretend network; raises for a few trial numbers."""
    if number % 997 == 13:
        raise RuntimeError("diverged")
    rng = random.Random(number)
    error = (
        0.04
        + 0.03 * (math.log10(params["lr"]) + 3.0) ** 2
        + 0.2 * (params["dropout"] - 0.2) ** 2
        + {"sgd": 0.03, "adam": 0.0, "rmsprop": 0.01}[params["optimizer"]]
        + 0.12 / params["layers"]
        + rng.gauss(0.0, 0.005)
    )
    latency = 3.0 * params["layers"] * (1.0 + 0.1 * rng.random()) + 4.0 * params["dropout"]
    return error, latency


class Pacer:
    """Sleeps so that the k-th call returns no earlier than k / rate s after the first."""

    def __init__(self, rate):
        self.rate, self.t0, self.k = rate, None, 0

    def wait(self):
        import time

        now = time.perf_counter()
        if self.t0 is None:
            self.t0 = now
        self.k += 1
        delay = self.t0 + self.k / self.rate - now
        if delay > 0:
            time.sleep(delay)
'''

NAS_WRITER = (
    MODEL
    + """
import sys
import time

import nas

url, name, n, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
study = nas.load_study(name, url)
total = len(study.trials) + n
pacer = Pacer(rate)


def objective(trial):
    pacer.wait()
    error, latency = evaluate(trial.params, trial.number)
    return {"error": error, "latency_ms": latency}


print("ready", flush=True)
started = time.perf_counter()
study.optimize(objective, n_trials=total)
print("done", n, time.perf_counter() - started, flush=True)
"""
)

OPTUNA_WRITER = (
    MODEL
    + """
import json
import sys
import time

import optuna
from optuna.distributions import (
    CategoricalDistribution, FloatDistribution, IntDistribution, json_to_distribution,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
url, name, n, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
dists = {k: json_to_distribution(v) for k, v in json.loads(sys.argv[5]).items()}
study = optuna.load_study(
    study_name=name, storage=url, sampler=optuna.samplers.RandomSampler(seed=1)
)
pacer = Pacer(rate)


def suggest(trial, name, d):
    if isinstance(d, FloatDistribution):
        return trial.suggest_float(name, d.low, d.high, log=d.log)
    if isinstance(d, IntDistribution):
        return trial.suggest_int(name, d.low, d.high, log=d.log, step=d.step)
    assert isinstance(d, CategoricalDistribution)
    return trial.suggest_categorical(name, d.choices)


def objective(trial):
    params = {k: suggest(trial, k, d) for k, d in dists.items()}
    pacer.wait()
    return evaluate(params, trial.number)


print("ready", flush=True)
started = time.perf_counter()
study.optimize(objective, n_trials=n)
print("done", n, time.perf_counter() - started, flush=True)
"""
)

#: nas: the page sets body[data-ready] itself (history + Pareto drawn, table loaded).
NAS_READY_JS = "() => document.body !== null && document.body.dataset.ready === '1'"
#: Markers in a plotly div: [non-null x of its marker traces in ``gd.data``, markers drawn]. Drawn
#: = SVG points (``.points path``) of its SVG traces + the data of its WebGL (scattergl) traces,
#: which draw on a canvas (counted once plotly has built the trace's GL scene).
COUNT_JS = """
(id, markersOnly) => {
  const el = document.getElementById(id);
  if (!el || !el.data || !el._fullData || !el._fullLayout) return [-1, -1];
  let data = 0;
  let gl = 0;
  el.data.forEach((t, i) => {
    if (markersOnly && !(t.mode || "").includes("markers")) return;
    let n = 0;
    if (t.x) for (const x of t.x) if (x !== null && x !== undefined) n += 1;
    data += n;
    const full = el._fullData[i];
    if (full && full.type === "scattergl" && el._fullLayout._glcanvas) gl += n;
  });
  const svg = el.querySelectorAll(".scatterlayer .trace .points path").length;
  return [data, svg + gl];
}
"""
OPTUNA_READY_JS = (
    """
(expected) => {
  const count = """
    + COUNT_JS
    + """;
  const h = count("plot-history", true);
  const p = count("graph-pareto-front", false);
  if (h[0] !== expected || p[0] !== expected || h[1] < expected || p[1] < expected) return false;
  window.__benchReady = performance.now();
  window.__benchPoints = [h, p];
  return true;
}
"""
)
NAS_POINTS_JS = (
    """
() => {
  const count = """
    + COUNT_JS
    + """;
  const attr = (id) => Number(document.getElementById(id).dataset.points);
  return [[attr("plot-history"), count("plot-history", true)[1]],
          [attr("plot-pareto"), count("plot-pareto", false)[1]]];
}
"""
)
TYPES_JS = """
(ids) => ids.map((id) => {
  const el = document.getElementById(id);
  const types = new Set();
  el._fullData.forEach((t) => { if ((t.mode || "").includes("markers")) types.add(t.type); });
  return [...types].join("+");
}).join(" / ")
"""
RESOURCES_JS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    nav: {responseEnd: nav.responseEnd, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd},
    resources: performance.getEntriesByType("resource").map((e) => ({
      url: e.name, start: e.startTime, requestStart: e.requestStart,
      responseStart: e.responseStart, responseEnd: e.responseEnd,
      transfer: e.transferSize, decoded: e.decodedBodySize,
    })),
  };
}
"""
#: Time one script's load + evaluation on a blank same-origin page (fetched first, so that the
#: network is out of it; the script element then compiles and runs it from the HTTP cache).
EVAL_JS = """
async (url) => {
  const text = await (await fetch(url)).text();
  let error = null;
  window.addEventListener("error", (e) => { error = String(e.message); });
  const t0 = performance.now();
  await new Promise((resolve) => {
    const s = document.createElement("script");
    s.src = url;
    s.onload = resolve;
    s.onerror = resolve;
    document.head.appendChild(s);
  });
  return [performance.now() - t0, text.length, error];
}
"""

#: The same for an ES-module bundle: every file fetched first, then ``import()`` of the entry
#: (compile + run of the entry and the chunks it imports, from the HTTP cache).
MODULE_EVAL_JS = """
async ([entry, files]) => {
  let size = 0;
  for (const url of files) size += (await (await fetch(url)).text()).length;
  let error = null;
  const t0 = performance.now();
  try { await import(entry); } catch (e) { error = String(e); }
  return [performance.now() - t0, size, error];
}
"""


# ---------------------------------------------------------------------------- helpers
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _bin(name: str) -> str:
    """The console script ``name`` of this interpreter's environment."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name}: not found next to {sys.executable} nor on PATH")
    return found


def _q(values: list[float], q: float) -> float:
    """The q-quantile (linear interpolation) of a non-empty list."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _med(values: list[float]) -> float:
    return float(statistics.median(values))


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of an SQLite database (WAL content included), replacing ``dst``."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    source, target = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


# ---------------------------------------------------------------------------- studies
@dataclass
class Built:
    n_trials: int
    n_complete: int
    n_failed: int
    nas_seconds: float
    optuna_seconds: float
    reused: bool = False


def build_nas(url: str, n: int) -> None:
    import nas

    ns: dict[str, Any] = {}
    exec(MODEL, ns)
    evaluate = ns["evaluate"]
    study = nas.create_study(STUDY, SPACE, OBJECTIVES, storage=url, seed=0, load_if_exists=True)

    def objective(trial: nas.Trial) -> dict[str, float]:
        error, latency = evaluate(trial.params, trial.number)
        return {"error": error, "latency_ms": latency}

    with progress_bar() as bar:
        task = bar.add_task("nas study", total=n, completed=len(study.trials))
        study.optimize(objective, n_trials=n, callbacks=[lambda s, t: bar.advance(task)])


def optuna_distributions() -> dict[str, Any]:
    """Optuna distributions of the nas space (float/int with log and step, categorical)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    from nas import SearchSpace

    out: dict[str, Any] = {}
    for p in SearchSpace.from_dict(SPACE):
        if p.kind == "float":
            out[p.name] = FloatDistribution(p.low, p.high, log=p.log)
        elif p.kind == "int":
            out[p.name] = IntDistribution(p.low, p.high, log=p.log, step=p.step)
        elif p.kind == "categorical":
            out[p.name] = CategoricalDistribution(p.choices)
        else:
            raise ValueError(f"no Optuna distribution for {p.kind} parameter {p.name!r}")
    return out


def copy_to_optuna(nas_url: str, optuna_url: str) -> None:
    """The nas study's trials as an Optuna study (see the module docstring, step 2)."""
    import optuna
    import sqlalchemy as sa
    from optuna.distributions import distribution_to_json
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    import nas

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    source = nas.load_study(STUDY, nas_url)
    dists = optuna_distributions()
    states = {"COMPLETE": TrialState.COMPLETE, "FAILED": TrialState.FAIL}
    templates = []
    for t in source.trials:
        state = states[t.state]
        frozen = optuna.trial.create_trial(
            state=state,
            params=dict(t.params),
            distributions={k: dists[k] for k in t.params},
            values=[t.values[o.name] for o in source.objectives]
            if state == TrialState.COMPLETE
            else None,
        )
        frozen.datetime_start, frozen.datetime_complete = t.datetime_start, t.datetime_complete
        templates.append(frozen)
    directions = [o.direction for o in source.objectives]
    study = optuna.create_study(study_name=STUDY, storage=optuna_url, directions=directions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.name for o in source.objectives])
    study_id = study._study_id

    def naive_utc(d: Any) -> Any:  # what RDBStorage stores (a naive d is local time)
        return None if d is None else d.astimezone(UTC).replace(tzinfo=None)

    trials, params, values = [], [], []
    for number, f in enumerate(templates):
        trial_id = number + 1
        trials.append(
            {
                "trial_id": trial_id,
                "number": number,
                "study_id": study_id,
                "state": f.state,
                "datetime_start": naive_utc(f.datetime_start),
                "datetime_complete": naive_utc(f.datetime_complete),
            }
        )
        for name, value in f.params.items():
            d = f.distributions[name]
            params.append(
                {
                    "trial_id": trial_id,
                    "param_name": name,
                    "param_value": d.to_internal_repr(value),
                    "distribution_json": distribution_to_json(d),
                }
            )
        for objective, value in enumerate(f.values or []):
            values.append(
                {
                    "trial_id": trial_id,
                    "objective": objective,
                    "value": value,
                    "value_type": models.TrialValueModel.TrialValueType.FINITE,
                }
            )
    engine = sa.create_engine(optuna_url)
    try:
        with engine.begin() as c:
            c.execute(models.TrialModel.__table__.insert(), trials)
            c.execute(models.TrialParamModel.__table__.insert(), params)
            c.execute(models.TrialValueModel.__table__.insert(), values)
    finally:
        engine.dispose()
    back = optuna.load_study(study_name=STUDY, storage=optuna_url).get_trials(deepcopy=False)
    if len(back) != len(templates):
        raise AssertionError(f"Optuna copy has {len(back)} trials, expected {len(templates)}")
    for number, (a, b) in enumerate(zip(templates, back, strict=True)):
        if (number, a.state, a.params, a.values) != (b.number, b.state, b.params, b.values):
            raise AssertionError(f"Optuna copy differs at trial {number}: {a} vs {b}")
        if naive_utc(a.datetime_complete) != naive_utc(b.datetime_complete):
            raise AssertionError(f"Optuna copy: trial {number} completion time differs")


def prepare_studies(workdir: Path, n: int, cache: bool) -> tuple[Built, Path, Path]:
    """Cached (or freshly built) studies, and fresh working copies of both databases."""
    nas_cache = workdir / f"cache-nas-{n}.db"
    optuna_cache = workdir / f"cache-optuna-{n}.db"
    marker = workdir / f"cache-{n}.json"
    built: Built | None = None
    if cache and marker.exists() and nas_cache.exists() and optuna_cache.exists():
        built = Built(**json.loads(marker.read_text()))
        built.reused = True
        console.log(f"reusing the {n}-trial studies in {workdir}")
    if built is None:
        for path in (nas_cache, optuna_cache, marker):
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        build_nas(f"sqlite:///{nas_cache}", n)
        nas_seconds = time.perf_counter() - started
        console.log(f"nas study built in {nas_seconds:.1f} s")
        started = time.perf_counter()
        copy_to_optuna(f"sqlite:///{nas_cache}", f"sqlite:///{optuna_cache}")
        optuna_seconds = time.perf_counter() - started
        console.log(f"copied into Optuna's storage in {optuna_seconds:.1f} s (checked)")
        import nas

        trials = nas.load_study(STUDY, f"sqlite:///{nas_cache}").trials
        n_complete = sum(t.state == "COMPLETE" for t in trials)
        n_failed = sum(t.state == "FAILED" for t in trials)
        built = Built(len(trials), n_complete, n_failed, nas_seconds, optuna_seconds)
        with sqlite3.connect(nas_cache) as c:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        marker.write_text(json.dumps({k: v for k, v in vars(built).items() if k != "reused"}))
    nas_db, optuna_db = workdir / "run-nas.db", workdir / "run-optuna.db"
    _copy_sqlite(nas_cache, nas_db)
    _copy_sqlite(optuna_cache, optuna_db)
    return built, nas_db, optuna_db


# ---------------------------------------------------------------------------- processes
@dataclass
class Procs:
    """Every subprocess this run started, stopped (by pid) on exit."""

    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, args: list[str], log: Path | None = None, **kw: Any) -> subprocess.Popen:
        out = open(log, "wb") if log is not None else subprocess.PIPE  # noqa: SIM115
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw
        )
        if log is not None:
            out.close()  # type: ignore[union-attr]
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 5.0) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            try:
                self.stop(proc)
            except Exception as e:  # keep stopping the others
                console.log(f"could not stop pid {proc.pid}: {e}")


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> float:
    """Seconds until ``url`` answers 200 (the server process must stay alive)."""
    import httpx

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=5.0).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}: no answer after {timeout:.0f} s:\n{log.read_text()}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quiesce(pids: list[int], timeout: float = 180.0) -> float:
    """Wait until the processes together use < 5% of a core over 0.5 s; seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        before = sum(cpu_seconds(p) for p in pids)
        time.sleep(0.5)
        if sum(cpu_seconds(p) for p in pids) - before < 0.025:
            return time.perf_counter() - started
    console.log(f"servers {pids} still busy after {timeout:.0f} s; measuring anyway")
    return time.perf_counter() - started


def wait_line(proc: subprocess.Popen, prefix: str, timeout: float) -> str:
    """The first stdout line of ``proc`` starting with ``prefix`` (others are discarded)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline().decode(errors="replace")
        if not line:
            raise RuntimeError(f"pid {proc.pid} exited before printing {prefix!r}")
        if line.startswith(prefix):
            return line.strip()
    raise RuntimeError(f"pid {proc.pid}: no {prefix!r} line after {timeout:.0f} s")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, so that the ``finally`` cleanup runs on it too."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------- browser
@dataclass
class Nav:
    tool: str
    kind: str  # cold | warm
    tti_ms: float
    points: list[Any]
    data_sent_ms: float  # when the page sent its study-data request
    data_done_ms: float  # when its response was complete
    data_server_ms: float  # requestStart -> responseStart of that request
    data_transfer: int
    data_decoded: int
    bundle_transfer: int  # 0 = from the HTTP cache (all of the bundle's files)
    bundle_done_ms: float  # when its last file was in
    trace_types: str  # plotly types of the history and Pareto plots' marker traces
    table_ms: float | None = None  # nas: header and trial table drawn (usable)
    plotly_ms: float | None = None  # nas: plotly.js evaluated (its module imported)


@dataclass
class Tool:
    name: str
    base: str
    study_id: int
    page_path: str
    data_marker: str  # substring of the page's study-data request URL
    bundle_marker: str
    plot_ids: tuple[str, str]  # history, Pareto front


def _entry(resources: list[dict[str, Any]], marker: str) -> dict[str, Any]:
    hits = [r for r in resources if marker in r["url"]]
    if not hits:
        raise AssertionError(f"no request matching {marker!r} in {[r['url'] for r in resources]}")
    return hits[0]


def navigate(page: Any, tool: Tool, kind: str, expected: int) -> Nav:
    """One navigation to the study page, timed as described in the module docstring."""
    page.goto(tool.base + tool.page_path, wait_until="commit", timeout=120_000)
    if tool.name == "nas":
        page.wait_for_function(NAS_READY_JS, timeout=300_000)
        tti = float(page.evaluate("window.__nasReady"))
        points = page.evaluate(NAS_POINTS_JS)
        ok = all(p[0] == expected and p[1] >= expected for p in points)
    else:
        page.wait_for_function(OPTUNA_READY_JS, arg=expected, timeout=300_000)
        tti = float(page.evaluate("window.__benchReady"))
        points = page.evaluate("window.__benchPoints")
        ok = True
    if not ok:
        raise AssertionError(f"{tool.name}: plotted {points}, expected {expected} per plot")
    table_ms = plotly_ms = None
    if tool.name == "nas":  # (None from a nas page older than these stamps)
        table_ms = page.evaluate("window.__nasTable ?? null")
        plotly_ms = page.evaluate(
            "(performance.getEntriesByName('nas-plotly', 'mark')[0] || {}).startTime ?? null"
        )
    info = page.evaluate(RESOURCES_JS)
    res = info["resources"]
    data = _entry(res, tool.data_marker)
    _entry(res, tool.bundle_marker)  # asserts there is one
    bundle = [r for r in res if tool.bundle_marker in r["url"]]
    return Nav(
        tool=tool.name,
        kind=kind,
        tti_ms=tti,
        points=points,
        data_sent_ms=data["start"],
        data_done_ms=data["responseEnd"],
        data_server_ms=data["responseStart"] - data["requestStart"],
        data_transfer=int(data["transfer"]),
        data_decoded=int(data["decoded"]),
        bundle_transfer=sum(int(r["transfer"]) for r in bundle),
        bundle_done_ms=max(r["responseEnd"] for r in bundle),
        trace_types=page.evaluate(TYPES_JS, list(tool.plot_ids)),
        table_ms=table_ms,
        plotly_ms=plotly_ms,
    )


def optuna_headings(page: Any) -> list[str]:
    return page.evaluate(
        "() => [...document.querySelectorAll('h6')].map((e) => e.textContent)"
        ".filter((t) => !t.startsWith('Trial '))"
    )


def eval_reference(
    browser: Any, url: tuple[str, str], repeats: int, module_files: list[str] | None = None
) -> tuple[list[float], int, str | None]:
    """Load + evaluation time of one script (``url`` = (blank page, script)) in a blank page,
    fresh context each time; with ``module_files``, the script is an ES module importing them."""
    times: list[float] = []
    size, error = 0, None
    blank, script = url
    for _ in range(repeats):
        ctx = browser.new_context(viewport=VIEWPORT)
        try:
            page = ctx.new_page()
            page.goto(blank)
            if module_files is None:
                ms, size, error = page.evaluate(EVAL_JS, script)
            else:
                ms, size, error = page.evaluate(MODULE_EVAL_JS, [script, module_files])
            times.append(float(ms))
        finally:
            ctx.close()
    return times, size, error


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """A static HTTP server over ``directory`` on a free loopback port (its base URL)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------- polls
@dataclass
class Poll:
    latency_ms: float
    n_trials: int
    cycle_ms: float | None = None  # nas: /changes + the page's follow-up requests
    at: float = 0.0  # wall clock (time.time()) when the response was in
    complete: list[int] = field(default_factory=list)  # COMPLETE trial numbers it carried


@dataclass
class Freshness:
    """How soon the writer's trials showed up in the polls of one series."""

    completed: int  # writer trials completed between the series' first and last poll
    seen: int  # of those, carried by a later poll of the series
    lags: list[float]  # seconds from completion to the first poll carrying the trial

    def cells(self) -> list[str]:
        if not self.lags:
            return [f"{self.seen} of {self.completed}", "-"]
        return [
            f"{self.seen} of {self.completed}",
            f"{_med(self.lags):.2f} / {max(self.lags):.2f}",
        ]


def freshness(polls: list[Poll], completed_at: dict[int, float]) -> Freshness:
    """Lag between each trial's completion (as stored) and the first poll response with it."""
    first, last = polls[0].at, polls[-1].at
    seen_at: dict[int, float] = {}
    for p in polls:
        for n in p.complete:
            seen_at.setdefault(n, p.at)
    window = {n: t for n, t in completed_at.items() if first <= t <= last}
    lags = [seen_at[n] - t for n, t in window.items() if n in seen_at]
    return Freshness(len(window), len(lags), lags)


def overlap_tail(url: str) -> tuple[int, float]:
    """(trials the nas dashboard re-reads on every refresh of an idle study, its overlap in s):
    those stamped within ``OVERLAP`` of the study's latest write."""
    import nas

    try:
        from nas.dashboard._view import OVERLAP
    except ImportError:  # pragma: no cover - the module was reorganised
        return -1, float("nan")
    stamps = [t.datetime_updated for t in nas.load_study(STUDY, url).trials]
    last = max(s for s in stamps if s is not None)
    return sum(s is not None and s >= last - OVERLAP for s in stamps), OVERLAP.total_seconds()


def completed_nas(url: str, since: int) -> dict[int, float]:
    import nas

    return {
        t.number: t.datetime_complete.timestamp()
        for t in nas.load_study(STUDY, url).trials
        if t.number >= since and t.state == "COMPLETE" and t.datetime_complete is not None
    }


def completed_optuna(url: str, since: int) -> dict[int, float]:
    import optuna

    trials = optuna.load_study(study_name=STUDY, storage=url).get_trials(deepcopy=False)
    return {  # Optuna gives naive local times
        t.number: t.datetime_complete.timestamp()
        for t in trials
        if t.number >= since
        and t.state == optuna.trial.TrialState.COMPLETE
        and t.datetime_complete is not None
    }


def poll_series(
    fn: Callable[[], Poll], seconds: float, interval: float, at_least: int = 2
) -> list[Poll]:
    """Call ``fn`` every ``interval`` s for ``seconds`` s, and at least ``at_least`` times (never
    two at once, no bursts after a slow call)."""
    out: list[Poll] = []
    started = time.perf_counter()
    next_at = started
    while next_at - started < seconds or len(out) < at_least:
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        out.append(fn())
        next_at = max(next_at + interval, time.perf_counter())
    return out


def timed_get(client: Any, path: str, **params: Any) -> tuple[float, Any, int]:
    """(ms, decoded JSON, bytes on the wire) of one GET."""
    t0 = time.perf_counter()
    with client.stream("GET", path, params=params) as r:
        body = r.read()
        wire = r.num_bytes_downloaded
        r.raise_for_status()
    payload = json.loads(body)
    return (time.perf_counter() - t0) * 1e3, payload, wire


def nas_poller(client: Any, study_id: int, cursor: str, cycle: bool) -> Callable[[], Poll]:
    state = {"cursor": cursor}
    names = ",".join(OBJECTIVES)

    def poll() -> Poll:
        t0 = time.perf_counter()
        ms, payload, _ = timed_get(
            client, f"/api/studies/{study_id}/changes", cursor=state["cursor"]
        )
        state["cursor"] = payload["cursor"]
        at = time.time()
        columns = payload["trials"]
        n = len(columns["number"])
        complete = [k for k, s in zip(columns["number"], columns["state"], strict=True)
                    if s == "COMPLETE"]  # fmt: skip
        cycle_ms = None
        if cycle and (n or payload["study_changed"]):
            # What study.js pollChanges() does next: summary, then the Pareto numbers and the
            # first page of the trial table (sequential here; the page sends the last two at once).
            timed_get(client, f"/api/studies/{study_id}")
            timed_get(client, f"/api/studies/{study_id}/pareto", objectives=names)
            timed_get(
                client,
                f"/api/studies/{study_id}/trials",
                offset=0,
                limit=50,
                sort="number",
                order="asc",
                filter="",
            )
            cycle_ms = (time.perf_counter() - t0) * 1e3
        return Poll(ms, n, cycle_ms, at, complete)

    return poll


def optuna_poller(client: Any, study_id: int, states: list[str]) -> Callable[[], Poll]:
    """optuna-dashboard's frontend poll: ``?after=`` the first unfinished trial it holds."""
    held = list(states)

    def after() -> int:
        for i, s in enumerate(held):
            if s in ("Running", "Waiting"):
                return i
        return len(held)

    def poll() -> Poll:
        n = after()
        ms, payload, _ = timed_get(client, f"/api/studies/{study_id}", after=n)
        at = time.time()
        del held[n:]
        held.extend(t["state"] for t in payload["trials"])
        complete = [t["number"] for t in payload["trials"] if t["state"] == "Complete"]
        return Poll(ms, len(payload["trials"]), None, at, complete)

    return poll


def start_writer(procs: Procs, script: str, args: list[str], workdir: Path) -> subprocess.Popen:
    path = workdir / f"writer-{len(procs.procs)}.py"
    path.write_text(script)
    proc = procs.start([sys.executable, str(path), *args], cwd=str(workdir))
    wait_line(proc, "ready", timeout=120)
    return proc


def _rate(completed_at: dict[int, float]) -> float:
    """Trials/s a writer achieved, from the completion times of its trials."""
    times = sorted(completed_at.values())
    if len(times) < 2 or times[-1] == times[0]:
        return float("nan")
    return (len(times) - 1) / (times[-1] - times[0])


# ---------------------------------------------------------------------------- report
def _reflow(text: str, width: int = 99) -> str:
    """Re-wrap the prose paragraphs (and "- " list items) of markdown; tables stay as they are."""
    out = []
    for para in text.strip("\n").split("\n\n"):
        if para.lstrip().startswith("|"):
            out.append(para)
        elif para.startswith("- "):
            items = ["- " + item for item in para[2:].split("\n- ")]
            out.append(
                "\n".join(
                    textwrap.fill(" ".join(i.split()), width, subsequent_indent="  ")
                    for i in items
                )
            )
        else:
            out.append(textwrap.fill(" ".join(para.split()), width))
    return "\n\n".join(out) + "\n"


def _s(ms: float) -> str:
    return f"{ms / 1e3:.2f}"


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f}"


def tti_table(navs: list[Nav]) -> str:
    rows = []
    for tool in ("nas", "optuna-dashboard"):
        for kind in ("cold", "warm"):
            xs = [n for n in navs if n.tool == tool and n.kind == kind]
            if not xs:
                continue
            tti = [n.tti_ms for n in xs]
            goal = "met" if _med(tti) < TTI_GOAL_S * 1e3 else "missed"
            table = [n.table_ms for n in xs if n.table_ms is not None]
            plotly = [n.plotly_ms for n in xs if n.plotly_ms is not None]
            rows.append(
                [
                    tool,
                    kind,
                    len(xs),
                    _s(_med(tti)),
                    f"{_s(min(tti))}-{_s(max(tti))}",
                    goal,
                    _s(_med(table)) if table else "-",
                    _s(_med(plotly)) if plotly else "-",
                    _s(_med([n.bundle_done_ms for n in xs])),
                    "cache" if all(n.bundle_transfer == 0 for n in xs) else "network",
                    _s(_med([n.data_sent_ms for n in xs])),
                    _s(_med([n.data_server_ms for n in xs])),
                    _s(_med([n.data_done_ms for n in xs])),
                    f"{_mb(xs[0].data_transfer)} / {_mb(xs[0].data_decoded)}",
                    " / ".join(str(p[0]) for p in xs[0].points),
                    xs[0].trace_types,
                ]
            )
    return markdown_table(
        [
            "tool",
            "load",
            "runs",
            "TTI median s",
            "TTI min-max s",
            f"goal < {TTI_GOAL_S:g} s",
            "table usable s",
            "plotly.js evaluated s",
            "bundle received s",
            "bundle from",
            "data request sent s",
            "data: server s",
            "data received s",
            "data MB wire / JSON",
            "points history / Pareto",
            "plot types history / Pareto",
        ],
        rows,
    )


def poll_row(
    label: str,
    polls: list[Poll],
    writer_rate: float | None,
    goal: bool,
    fresh: Freshness | None = None,
) -> list[Any]:
    ms = [p.latency_ms for p in polls]
    p50 = _med(ms)
    return [
        label,
        len(polls),
        f"{writer_rate:.1f}" if writer_rate is not None else "-",
        f"{p50:.1f}",
        f"{_q(ms, 0.95):.1f}",
        f"{max(ms):.1f}",
        f"{statistics.fmean(p.n_trials for p in polls):.1f}",
        *(fresh.cells() if fresh is not None else ["-", "-"]),
        ("met" if p50 < POLL_GOAL_MS else "missed") if goal else "-",
    ]


OD_POLL = "optuna-dashboard `GET /api/studies/{id}?after=N`"
NAS_BUNDLE = "nas dashboard: partial plotly.js (`plotly.mjs` + the chunk it imports)"
FULL_BUNDLE = "full `plotly.min.js` of the plotly Python package (what nas served before)"
OD_BUNDLE = "optuna-dashboard `bundle.js`"
POLL_HEADERS = [
    "request",
    "requests",
    "writer trials/s",
    "median ms",
    "p95 ms",
    "max ms",
    "trials per response (mean)",
    "writer trials seen in the series",
    "lag completion -> poll median / max s",
    f"goal < {POLL_GOAL_MS:g} ms",
]


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000, help="trials in the study")
    parser.add_argument("--repeats", type=int, default=5, help="TTI runs (nas)")
    parser.add_argument(
        "--optuna-repeats",
        type=int,
        default=1,
        help="TTI runs of optuna-dashboard (each takes tens of seconds at 10,000 trials)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="cache of the built studies and the run's files (default: a temp dir)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone"
    )
    parser.add_argument(
        "--port-base", type=int, default=18640, help="nas on this port, optuna-dashboard +1"
    )
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="per poll series")
    parser.add_argument("--rate", type=float, default=20.0, help="writer trials/s")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="browser executable")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="nas-dash-") as tmp, sigterm_as_interrupt():
        workdir = (args.workdir or Path(tmp)).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        procs = Procs()
        try:
            body = run(args, workdir, procs, cache=args.workdir is not None)
        finally:
            procs.stop_all()
    load_after = os.getloadavg()
    body += "\n" + _reflow(
        f"Total run time {time.perf_counter() - started:.0f} s. Load average (1/5/15 min) "
        f"{'/'.join(f'{x:.1f}' for x in load_before)} at the start, "
        f"{'/'.join(f'{x:.1f}' for x in load_after)} at the end, on "
        f"{os.cpu_count()} logical cores (other jobs shared the machine when above ~0.5).\n"
    )
    print(body)
    if not args.no_write:
        update_section(SECTION, TITLE, body)
        console.log(f"rewrote section {SECTION!r} of docs/benchmarks.md")
    return 0


def run(args: argparse.Namespace, workdir: Path, procs: Procs, cache: bool) -> str:
    import httpx
    from playwright.sync_api import sync_playwright

    for port in (args.port_base, args.port_base + 1):
        if not _port_free(port):
            raise SystemExit(f"port {port} is in use; choose another --port-base")
    built, nas_db, optuna_db = prepare_studies(workdir, args.trials, cache)
    expected = built.n_complete
    nas_url, optuna_url = f"sqlite:///{nas_db}", f"sqlite:///{optuna_db}"
    nas_port, optuna_port = args.port_base, args.port_base + 1
    nas_log, optuna_log = workdir / "nas-dashboard.log", workdir / "optuna-dashboard.log"

    console.log("starting both servers")
    nas_proc = procs.start(
        [_bin("nas"), "dashboard", "--storage", nas_url, "--port", str(nas_port)], nas_log
    )
    optuna_proc = procs.start(
        [_bin("optuna-dashboard"), optuna_url, "--port", str(optuna_port), "--quiet"],
        optuna_log,
    )
    nas_base, optuna_base = f"http://127.0.0.1:{nas_port}", f"http://127.0.0.1:{optuna_port}"
    nas_up = wait_http(nas_base + "/api/studies", nas_proc, nas_log)
    optuna_up = wait_http(optuna_base + "/api/meta", optuna_proc, optuna_log)
    servers = [nas_proc.pid, optuna_proc.pid]
    nas_client = httpx.Client(base_url=nas_base, timeout=300.0)
    optuna_client = httpx.Client(base_url=optuna_base, timeout=300.0)
    nas_sid = next(s["id"] for s in nas_client.get("/api/studies").json() if s["name"] == STUDY)
    optuna_sid = next(
        s["study_id"]
        for s in optuna_client.get("/api/studies").json()["study_summaries"]
        if s["study_name"] == STUDY
    )
    # The servers' first read of the study (each keeps it in memory afterwards).
    nas_first, first_data, _ = timed_get(nas_client, f"/api/studies/{nas_sid}/data")
    optuna_first, first_detail, _ = timed_get(optuna_client, f"/api/studies/{optuna_sid}", after=0)
    assert first_data["n_trials"] == built.n_trials, first_data["n_trials"]
    assert len(first_detail["trials"]) == built.n_trials, len(first_detail["trials"])
    optuna_server = "gunicorn" if _version("gunicorn") != "not installed" else "wsgiref"
    log_head = optuna_log.read_text(errors="replace").strip().splitlines()
    console.log(f"optuna-dashboard says: {' | '.join(log_head[:2])}")

    tools = {
        "nas": Tool(
            "nas",
            nas_base,
            nas_sid,
            f"/studies/{nas_sid}",
            f"/api/studies/{nas_sid}/data",
            "/static/vendor/plotly",
            ("plot-history", "plot-pareto"),
        ),
        "optuna-dashboard": Tool(
            "optuna-dashboard",
            optuna_base,
            optuna_sid,
            f"/dashboard/studies/{optuna_sid}",
            f"/api/studies/{optuna_sid}?after=0",
            "/static/bundle.js",
            ("plot-history", "graph-pareto-front"),
        ),
    }
    navs: list[Nav] = []
    headings: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        chromium_version = browser.version
        try:
            import plotly

            from nas.dashboard._bundle import load_bundle

            bundle = load_bundle()
            preload = [nas_base + u for u in bundle.preload_urls()]
            console.log("bundle evaluation alone (blank page)")
            repeats = min(3, args.repeats)
            with serve_directory(Path(plotly.__file__).parent / "package_data") as full:
                evals = {
                    NAS_BUNDLE: eval_reference(
                        browser, (f"{nas_base}/api/config", preload[0]), repeats, preload
                    ),
                    FULL_BUNDLE: eval_reference(
                        browser, (f"{full}/", f"{full}/plotly.min.js"), repeats
                    ),
                    OD_BUNDLE: eval_reference(
                        browser,
                        (f"{optuna_base}/api/meta", f"{optuna_base}/static/bundle.js"),
                        repeats,
                    ),
                }
            for name, (times, _, error) in evals.items():
                console.log(f"{name}: {[round(t) for t in times]} ms, page error: {error}")
            order = ["nas", "optuna-dashboard"]
            with progress_bar() as bar:
                runs = {"nas": args.repeats, "optuna-dashboard": args.optuna_repeats}
                task = bar.add_task("time to interactive", total=2 * sum(runs.values()))
                for r in range(max(runs.values())):
                    for name in order if r % 2 == 0 else order[::-1]:
                        if r >= runs[name]:
                            continue
                        ctx = browser.new_context(viewport=VIEWPORT)
                        try:
                            page = ctx.new_page()
                            for kind in ("cold", "warm"):
                                # Neither server may still be busy with an earlier page's
                                # requests (optuna-dashboard's take long after the page is gone).
                                quiesce(servers)
                                nav = navigate(page, tools[name], kind, expected)
                                navs.append(nav)
                                console.log(
                                    f"{name} {kind}: TTI {nav.tti_ms / 1e3:.2f} s, "
                                    f"points {nav.points}"
                                )
                                if name == "optuna-dashboard" and not headings:
                                    headings = optuna_headings(page)
                                page.goto("about:blank")  # stops the page's polling
                                bar.advance(task)
                        finally:
                            ctx.close()
        finally:
            browser.close()

    # -------------------------------------------------------------- polls
    interval, seconds = 0.2, args.poll_seconds
    n_idle = max(5, int(seconds / 2 / interval))
    n_write = int(args.rate * seconds) + int(args.rate * 2)
    console.log("nas: idle polls, full reloads")
    tail = overlap_tail(nas_url)
    quiesce(servers)
    cursor = nas_client.get(f"/api/studies/{nas_sid}/data").json()["cursor"]
    nas_idle = poll_series(
        nas_poller(nas_client, nas_sid, cursor, False), n_idle * interval, interval
    )
    reloads = [timed_get(nas_client, f"/api/studies/{nas_sid}/data") for _ in range(5)]
    console.log(f"nas: polls with a writer at {args.rate:g} trials/s")
    quiesce(servers)
    cursor = nas_client.get(f"/api/studies/{nas_sid}/data").json()["cursor"]
    writer = start_writer(
        procs, NAS_WRITER, [nas_url, STUDY, str(n_write), str(args.rate)], workdir
    )
    nas_busy = poll_series(nas_poller(nas_client, nas_sid, cursor, True), seconds, interval)
    procs.stop(writer)
    done = completed_nas(nas_url, built.n_trials)
    nas_rate, nas_fresh = _rate(done), freshness(nas_busy, done)

    console.log("optuna-dashboard: idle polls, full reload")
    quiesce(servers)
    states = [t["state"] for t in first_detail["trials"]]
    optuna_idle = poll_series(
        optuna_poller(optuna_client, optuna_sid, states), n_idle * interval, interval
    )
    optuna_reloads = [timed_get(optuna_client, f"/api/studies/{optuna_sid}", after=0)]
    console.log(f"optuna-dashboard: polls with a writer at {args.rate:g} trials/s")
    from optuna.distributions import distribution_to_json

    dists = optuna_distributions()
    quiesce(servers)
    writer = start_writer(
        procs,
        OPTUNA_WRITER,
        [
            optuna_url,
            STUDY,
            str(n_write),
            str(args.rate),
            json.dumps({k: distribution_to_json(d) for k, d in dists.items()}),
        ],
        workdir,
    )
    states = [t["state"] for t in optuna_reloads[-1][1]["trials"]]
    optuna_busy = poll_series(optuna_poller(optuna_client, optuna_sid, states), seconds, interval)
    procs.stop(writer)
    done = completed_optuna(optuna_url, built.n_trials)
    optuna_rate, optuna_fresh = _rate(done), freshness(optuna_busy, done)
    nas_client.close()
    optuna_client.close()

    # -------------------------------------------------------------- report
    return report(
        args,
        built,
        navs,
        evals,
        headings,
        {
            "chromium": chromium_version,
            "optuna_server": optuna_server,
            "nas_up": nas_up,
            "optuna_up": optuna_up,
            "nas_first": nas_first,
            "optuna_first": optuna_first,
        },
        {
            "nas_idle": nas_idle,
            "nas_busy": nas_busy,
            "nas_rate": nas_rate,
            "nas_fresh": nas_fresh,
            "nas_reloads": reloads,
            "optuna_idle": optuna_idle,
            "optuna_busy": optuna_busy,
            "optuna_rate": optuna_rate,
            "optuna_fresh": optuna_fresh,
            "optuna_reloads": optuna_reloads,
            "n_write": n_write,
            "tail": tail,
        },
    )


def report(
    args: argparse.Namespace,
    built: Built,
    navs: list[Nav],
    evals: dict[str, tuple[list[float], int, str | None]],
    headings: list[str],
    facts: dict[str, Any],
    polls: dict[str, Any],
) -> str:
    def med_nav(tool: str, kind: str) -> float:
        return _med([n.tti_ms for n in navs if n.tool == tool and n.kind == kind])

    eval_rows = [
        [name, _mb(size), len(times), f"{_med(times):.0f}", f"{min(times):.0f}-{max(times):.0f}"]
        for name, (times, size, _) in evals.items()
    ]
    eval_table = markdown_table(
        ["script", "MB (uncompressed)", "runs", "load + evaluate median ms", "min-max ms"],
        eval_rows,
    )
    nas_busy: list[Poll] = polls["nas_busy"]
    cycles = [p.cycle_ms for p in nas_busy if p.cycle_ms is not None]
    reload_ms = [r[0] for r in polls["nas_reloads"]]
    optuna_reload_ms = [r[0] for r in polls["optuna_reloads"]]
    poll_rows = [
        poll_row("nas `GET /changes?cursor=`, idle", polls["nas_idle"], None, True),
        poll_row(
            "nas `GET /changes?cursor=`, writer",
            nas_busy,
            polls["nas_rate"],
            True,
            polls["nas_fresh"],
        ),
        [
            "nas poll cycle of the study page (changes + summary + pareto + table page), writer",
            len(cycles),
            f"{polls['nas_rate']:.1f}",
            f"{_med(cycles):.1f}" if cycles else "-",
            f"{_q(cycles, 0.95):.1f}" if cycles else "-",
            f"{max(cycles):.1f}" if cycles else "-",
            *["-"] * 4,
        ],
        [
            f"nas `GET /data` (full reload, {built.n_trials} trials)",
            len(reload_ms),
            "-",
            f"{_med(reload_ms):.1f}",
            "-",
            f"{max(reload_ms):.1f}",
            f"{len(polls['nas_reloads'][0][1]['trials']['number'])}",
            *["-"] * 3,
        ],
        poll_row(f"{OD_POLL}, idle", polls["optuna_idle"], None, True),
        poll_row(
            f"{OD_POLL}, writer",
            polls["optuna_busy"],
            polls["optuna_rate"],
            True,
            polls["optuna_fresh"],
        ),
        [
            f"optuna-dashboard `GET /api/studies/{{id}}?after=0` (full reload, {built.n_trials}+)",
            len(optuna_reload_ms),
            "-",
            f"{_med(optuna_reload_ms):.1f}",
            "-",
            f"{max(optuna_reload_ms):.1f}",
            f"{len(polls['optuna_reloads'][0][1]['trials'])}",
            *["-"] * 3,
        ],
    ]
    poll_table = markdown_table(POLL_HEADERS, poll_rows)
    nas_cold, nas_warm = med_nav("nas", "cold"), med_nav("nas", "warm")
    od_cold, od_warm = med_nav("optuna-dashboard", "cold"), med_nav("optuna-dashboard", "warm")
    nas_changes = _med([p.latency_ms for p in nas_busy])
    plotly_eval = _med(evals[NAS_BUNDLE][0])
    full_eval = _med(evals[FULL_BUNDLE][0])
    od_eval = _med(evals[OD_BUNDLE][0])
    from nas.dashboard._bundle import load_bundle

    bundle = load_bundle()
    traces = ", ".join(bundle.traces[bundle.main])
    lazy = "; ".join(
        f"{', '.join(t)} in `{name}`, imported when a page draws one"
        for name, t in bundle.traces.items()
        if name != bundle.main
    )

    def nav_med(tool: str, kind: str, attr: str) -> float:
        return _med([getattr(n, attr) for n in navs if n.tool == tool and n.kind == kind])

    nas_table_cold, nas_table_warm = (nav_med("nas", k, "table_ms") for k in ("cold", "warm"))
    nas_plotly_cold = nav_med("nas", "cold", "plotly_ms")
    wire = polls["nas_reloads"][0][2]

    def nav_medians(tool: str, kind: str) -> dict[str, float]:
        xs = [n for n in navs if n.tool == tool and n.kind == kind]
        return {
            "data_sent": _med([n.data_sent_ms for n in xs]),
            "data_server": _med([n.data_server_ms for n in xs]),
            "data_done": _med([n.data_done_ms for n in xs]),
        }

    nas_c, od_c = nav_medians("nas", "cold"), nav_medians("optuna-dashboard", "cold")
    od_data = next((n.data_decoded for n in navs if n.tool == "optuna-dashboard"), 0)
    nas_data = next((n.data_decoded for n in navs if n.tool == "nas"), 0)
    nas_wire = next((n.data_transfer for n in navs if n.tool == "nas"), 0)
    build = (
        f"reused from `--workdir` (built earlier: nas {built.nas_seconds:.0f} s, "
        f"Optuna copy {built.optuna_seconds:.0f} s)"
        if built.reused
        else f"built in this run: nas {built.nas_seconds:.0f} s, Optuna copy "
        f"{built.optuna_seconds:.0f} s"
    )

    server = facts["optuna_server"]
    if server == "wsgiref":
        server = "wsgiref's ThreadedWSGIServer, since gunicorn is not installed"

    def goal(ok: bool) -> str:
        return "met" if ok else "**missed**"

    return _reflow(f"""\
Versions: nas dashboard {_version("nas")} (uvicorn {_version("uvicorn")}), optuna-dashboard
{_version("optuna-dashboard")} (served by its default server, `--server auto` = {server},
started with `--quiet`), Chromium {facts["chromium"]} headless (Playwright
{_version("playwright")}), viewport {VIEWPORT["width"]}x{VIEWPORT["height"]}. nas serves
plotly.js {bundle.version} as a partial bundle shipped with the package
(`nas/dashboard/static/vendor/plotly`, ES modules sharing one plotly.js instance: {traces} in
`{bundle.main}`; {lazy}), instead of the full `plotly.min.js` of the plotly Python package
({_version("plotly")}) it served before.

Study: {built.n_trials} trials, 2 objectives (error, latency_ms; both minimized), 4 params (lr
log-float, dropout float, layers int, optimizer categorical), random search, {built.n_complete}
COMPLETE + {built.n_failed} FAILED; {build}. Both servers read their own SQLite copy of it.
Servers up after {facts["nas_up"]:.1f} s (nas) and {facts["optuna_up"]:.1f} s
(optuna-dashboard); their first read of the study (cold server process): nas `GET /data`
{facts["nas_first"] / 1e3:.2f} s, optuna-dashboard `GET /api/studies/{{id}}?after=0`
{facts["optuna_first"] / 1e3:.2f} s.

- Time to interactive (median of {args.repeats} nas runs, {args.optuna_repeats}
  optuna-dashboard run{"s" if args.optuna_repeats > 1 else ""}): nas **{_s(nas_cold)} s cold /
  {_s(nas_warm)} s warm** (goal < {TTI_GOAL_S:g} s: cold {goal(nas_cold < TTI_GOAL_S * 1e3)}, warm
  {goal(nas_warm < TTI_GOAL_S * 1e3)}); optuna-dashboard {_s(od_cold)} s cold / {_s(od_warm)} s
  warm ({od_cold / nas_cold:.1f}x / {od_warm / nas_warm:.1f}x nas). nas's TTI is when all the
  plots of its default view are drawn; its header and trial table are usable earlier, at
  {_s(nas_table_cold)} s cold / {_s(nas_table_warm)} s warm (plotly.js is evaluated only after
  the table is on screen).
- Incremental poll with a writer at {polls["nas_rate"]:.1f} trials/s: nas `/changes` median
  **{nas_changes:.1f} ms** (goal < {POLL_GOAL_MS:g} ms: {goal(nas_changes < POLL_GOAL_MS)});
  optuna-dashboard's poll median {_med([p.latency_ms for p in polls["optuna_busy"]]):.0f} ms.
- Evaluating the JavaScript alone, in a blank page with nothing cached: nas's partial plotly.js
  {plotly_eval:.0f} ms (the full `plotly.min.js`: {full_eval:.0f} ms), optuna-dashboard's bundle
  {od_eval:.0f} ms. In the cold nas page, nas's data had arrived at {_s(nas_c["data_done"])} s,
  plotly.js was evaluated at {_s(nas_plotly_cold)} s, and the two plots were drawn in the
  remaining {_s(nas_cold - nas_plotly_cold)} s. optuna-dashboard's cold TTI is not dominated by
  its bundle ({od_eval / od_cold * 100:.0f}%): its study request was sent at
  {_s(od_c["data_sent"])} s, spent {_s(od_c["data_server"])} s in the server and arrived at
  {_s(od_c["data_done"])} s, and drawing took {_s(od_cold - od_c["data_done"])} s more.

a) Time to interactive of the study page (`/studies/{{id}}` vs `/dashboard/studies/{{id}}`): a new
browser context per run ("cold": empty HTTP cache, no V8 code cache), then a second navigation in
it ("warm"); tools alternated. TTI = `performance.now()` when both the history and the Pareto-front
plot have drawn all {built.n_complete} COMPLETE trials (checked: plotly data, and SVG markers
drawn or, for WebGL traces, a GL canvas; "plot types" = the plotly trace types of the two plots,
marker traces only); for nas, the trial table is drawn too. "table usable" (nas): the header and
the first table page are drawn (`window.__nasTable`); "plotly.js evaluated" (nas): the page's
import of the bundle resolved (its `nas-plotly` mark). The other columns are medians from the
Resource Timing API, in s since navigation start; "bundle" is every file of the tool's plotting
JavaScript (received: the last one), "data" is
the request carrying the trials (nas `GET /api/studies/{{id}}/data`, optuna-dashboard
`GET /api/studies/{{id}}?after=0`), "server" its request-to-first-byte time.

{tti_table(navs)}

What each default study page shows: nas: header facts, History, Pareto front, and the first 50
rows of the server-side paged trial table (drawn in that order: header and table as soon as their
requests return, then plotly.js is evaluated and the two plots drawn; the page is marked ready
when all are done; the other tabs draw their plots when opened, not measured here).
optuna-dashboard: {", ".join(headings) if headings else "(not captured)"} (the Best Trials list has
one card per Pareto-optimal trial; importance is computed on the server on every page load).

b) JavaScript bundles alone: a blank same-origin page fetches the script (so that the network is
out of it), then times a `<script src>` element from insertion to `load` (compile + run from the
HTTP cache; fresh context each time); nas's ES modules: every file fetched, then `import()` of the
entry timed. The full `plotly.min.js` is served by a plain static server for this reference only.

{eval_table}

c) Polls, measured from Python (httpx, one client; nas keeps the connection alive,
optuna-dashboard's wsgiref server closes it after every response), one request every 200 ms
(never two at once; a series lasts {args.poll_seconds:g} s, or 2 requests if they are slower).
"Writer": a separate process finishes new trials (up to {polls["n_write"]}) into the same study
during the series and is stopped after it (nas `study.optimize`; Optuna `study.optimize` on the
Optuna copy), its objective paced to {args.rate:g} trials/s; the rate achieved (from the trials'
completion times) is shown, and for each of its trials completed during the series, whether and
how soon a poll of the series returned it as COMPLETE. Before each series (and each page load in
a) both server processes are left to become idle (< 5% CPU). Idle nas polls: the nas server
asks SQLite for the trials stamped since the later of its cursor and the start of its previous
refresh, minus {polls["tail"][1]:g} s, so an idle study costs an empty indexed read (the
{polls["tail"][0]} trials written in the last {polls["tail"][1]:g} s of the build are re-read once,
by the first refresh after it). nas's full reload is
{_mb(len(json.dumps(polls["nas_reloads"][0][1])))} MB of JSON ({_mb(wire)} MB gzipped on the
wire); nas pages poll every 2 s, optuna-dashboard's every 10 s once a study has 500 trials or more
(its server also re-reads every trial from the database when its 10-s cache has expired).

{poll_table}

Notes: optuna-dashboard's `--quiet` is ignored by its wsgiref server (every request is still
logged to stderr, here to a file). Its server keeps the trials in memory for only 10 s (studies
of 500 trials or more), then re-reads every trial from the database on the next request; a page
load or a poll that comes later pays that full read, as here. Its study response is not
compressed ({_mb(od_data)} MB for this study) and its study page also asks the server for fANOVA
parameter importances on every load. nas sends {_mb(nas_data)} MB ({_mb(nas_wire)} MB gzipped) to
the page, the rest (summary, Pareto numbers, one table page) being small documents.
""")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    raise SystemExit(main())
