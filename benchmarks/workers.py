"""Many workers on one study (issue 5): ``nas worker`` processes vs Optuna ``optimize`` processes
sharing one database, in the same run.

a) **Throughput** on a sleep-bound objective (``--sleep`` s, default 0.2) with 1, 2, 4 and 8
   worker processes on PostgreSQL, ``16 x workers`` trials requested. Efficiency = ideal time
   (requested x sleep / workers) / measured time, measured (i) inside the study (first trial
   start to last trial end, from the trials' own timestamps) and (ii) wall clock from starting
   the processes to the last one exiting (interpreter start and imports included). Optuna's
   workers each run ``study.optimize(n_trials=N, callbacks=[MaxTrialsCallback(N)])``, the
   documented way to cap a shared study at N trials; a last line shows what the plain
   ``n_trials=N`` in every worker does. "Trials run" counts the study's trials at the end.
b) **Storage overhead per trial** with 8 concurrent workers and an objective that returns at once:
   8 x (study span) / trials, i.e. worker-seconds per trial spent outside the objective, on
   SQLite and PostgreSQL. Crashed workers (e.g. "database is locked") are counted.

    python benchmarks/workers.py            # ~3 min on 2 cores; rewrites docs/benchmarks.md
    python benchmarks/workers.py --quick    # smoke run, docs untouched
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _common import REPO_ROOT, add_common_arguments, console, markdown_table, update_section

SECTION = "workers"
TITLE = "Many workers on one study: nas worker vs Optuna on PostgreSQL and SQLite"

OBJECTIVE = """\
import os, time

def f(trial):
    time.sleep(float(os.environ["BENCH_SLEEP"]))
    return (trial.params["x"] - 1.0) ** 2
"""

STUDY = """\
name: bench
space: {params: {x: {type: float, low: -3.0, high: 3.0}}}
objective: objective.py:f
objectives: {loss: minimize}
searcher: random
n_trials: N_TRIALS
seed: 0
"""

OPTUNA_WORKER = """\
import os, sys, time
import optuna
from optuna.study import MaxTrialsCallback

optuna.logging.set_verbosity(optuna.logging.WARNING)
url, n, mode, sleep = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])

def f(trial):
    x = trial.suggest_float("x", -3.0, 3.0)
    time.sleep(sleep)
    return (x - 1.0) ** 2

study = optuna.create_study(study_name="bench", storage=url, load_if_exists=True,
                            sampler=optuna.samplers.RandomSampler())
callbacks = [MaxTrialsCallback(n, states=None)] if mode == "capped" else []
study.optimize(f, n_trials=n, callbacks=callbacks)
"""


@dataclass
class Result:
    library: str
    backend: str
    workers: int
    requested: int
    run: int
    span: float
    wall: float
    crashed: int
    note: str = ""


@contextlib.contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL (a new PostgreSQL database, or a new SQLite file)."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/bench-{secrets.token_hex(4)}.db"
        return
    from nas.testing.databases import postgres_admin, throwaway_postgres_database

    admin = postgres_admin()
    if isinstance(admin, str):
        raise SystemExit(f"workers benchmark: {admin}")
    try:
        with throwaway_postgres_database(admin, prefix="nas_bench") as url:
            yield url
    finally:
        admin.dispose()


def _spawn(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def run_nas(backend: str, workers: int, requested: int, sleep: float, workdir: Path) -> Result:
    d = Path(tempfile.mkdtemp(dir=workdir))
    (d / "objective.py").write_text(OBJECTIVE)
    (d / "study.yaml").write_text(STUDY.replace("N_TRIALS", str(requested)))
    env = {**os.environ, "BENCH_SLEEP": str(sleep)}
    with database(backend, workdir) as url:
        args = [sys.executable, "-m", "nas", "worker", "study.yaml", "--storage", url, "-q"]
        started = time.perf_counter()
        procs = [_spawn(args, env, d) for _ in range(workers)]
        errs = [p.communicate()[1] for p in procs]
        wall = time.perf_counter() - started
        import nas

        trials = nas.load_study("bench", url).trials
        done = [t for t in trials if t.state == "COMPLETE"]
        span = (
            max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)
        ).total_seconds()
        crashed = sum(p.returncode != 0 for p in procs)
        note = _first_error(errs)
    return Result("nas", backend, workers, requested, len(done), span, wall, crashed, note)


def run_optuna(
    backend: str, workers: int, requested: int, sleep: float, workdir: Path, mode: str
) -> Result:
    import optuna

    d = Path(tempfile.mkdtemp(dir=workdir))
    (d / "worker.py").write_text(OPTUNA_WORKER)
    with database(backend, workdir) as url:
        # Create the study once first, as a user would (concurrent creation races in Optuna).
        optuna.create_study(study_name="bench", storage=url)
        args = [sys.executable, "worker.py", url, str(requested), mode, str(sleep)]
        started = time.perf_counter()
        procs = [_spawn(args, dict(os.environ), d) for _ in range(workers)]
        errs = [p.communicate()[1] for p in procs]
        wall = time.perf_counter() - started
        study = optuna.load_study(study_name="bench", storage=url)
        trials = study.get_trials(deepcopy=False)
        done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        span = (
            (
                max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)
            ).total_seconds()
            if done
            else float("nan")
        )
        crashed = sum(p.returncode != 0 for p in procs)
        note = _first_error(errs)
        with contextlib.suppress(Exception):
            study._storage.engine.dispose()  # type: ignore[attr-defined]
    label = "optuna" if mode == "capped" else "optuna (n_trials=N per worker)"
    return Result(label, backend, workers, requested, len(done), span, wall, crashed, note)


def _first_error(errs: list[str]) -> str:
    for e in errs:
        lines = [line.strip() for line in (e or "").splitlines() if line.strip()]
        if lines:
            return lines[-1][:120]
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--sleep", type=float, default=0.2, help="objective seconds (a)")
    args = parser.parse_args(argv)
    docs = (not args.quick) if args.docs is None else args.docs
    counts = (1, 2) if args.quick else (1, 2, 4, 8)
    per_worker = 4 if args.quick else 16
    overhead_trials = 80 if args.quick else 800
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        throughput: list[Result] = []
        for w in counts:
            for lib in ("nas", "optuna"):
                console.log(f"throughput: {lib}, {w} workers")
                if lib == "nas":
                    r = run_nas("postgres", w, per_worker * w, args.sleep, workdir)
                else:
                    r = run_optuna("postgres", w, per_worker * w, args.sleep, workdir, "capped")
                throughput.append(r)
        w = counts[-1]
        console.log("throughput: optuna with n_trials=N in every worker")
        throughput.append(run_optuna("postgres", w, per_worker * w, args.sleep, workdir, "naive"))
        overhead: list[Result] = []
        for backend in ("sqlite", "postgres"):
            for lib in ("nas", "optuna"):
                console.log(f"overhead: {lib} on {backend}")
                if lib == "nas":
                    overhead.append(run_nas(backend, 8, overhead_trials, 0.0, workdir))
                else:
                    overhead.append(
                        run_optuna(backend, 8, overhead_trials, 0.0, workdir, "capped")
                    )

    def eff(r: Result, t: float) -> str:
        ideal = r.requested * args.sleep / r.workers
        return f"{ideal / t:.2f}" if t == t and t > 0 else "n/a"

    rows_a = [
        [
            r.library, r.workers, r.requested, r.run, f"{r.span:.2f}", eff(r, r.span),
            f"{r.wall:.2f}", eff(r, r.wall), r.crashed, r.note,
        ]
        for r in throughput
    ]  # fmt: skip
    table_a = markdown_table(
        [
            "library", "workers", "requested", "trials run", "study span s", "efficiency (span)",
            "wall s", "efficiency (wall)", "crashed workers", "last error",
        ],
        rows_a,
    )  # fmt: skip
    rows_b = [
        [
            r.library, r.backend, r.requested, r.run,
            f"{1e3 * 8 * r.span / max(r.run, 1):.1f}" if r.span == r.span else "n/a",
            f"{r.wall:.1f}", r.crashed, r.note,
        ]
        for r in overhead
    ]  # fmt: skip
    table_b = markdown_table(
        ["library", "storage", "requested", "trials run", "worker-ms per trial", "wall s",
         "crashed workers", "last error"],
        rows_b,
    )  # fmt: skip
    nas8 = next((r for r in throughput if r.library == "nas" and r.workers == 8), None)
    goal = (
        f"nas at 8 workers: efficiency {eff(nas8, nas8.span)} inside the study, "
        f"{eff(nas8, nas8.wall)} wall clock (goal >= 0.85)."
        if nas8
        else ""
    )
    body = f"""\
a) Throughput, objective sleeping {args.sleep} s, PostgreSQL, {per_worker} trials per worker
requested (random search, one float). Efficiency = (requested x {args.sleep} s / workers) /
time.

{table_a}

{goal}

b) Storage overhead with 8 concurrent workers, objective returning at once, random search.

{table_b}

Total run time {time.perf_counter() - started:.0f} s.
"""
    print(body)
    if docs:
        update_section(SECTION, TITLE, body)
        console.log(f"rewrote section {SECTION!r} of docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    raise SystemExit(main())
