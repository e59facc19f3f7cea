"""Start-up: ``import nas`` and ``nas --help`` vs ``import optuna`` and ``optuna --help``, each in
fresh processes, side by side in the same run.

Arms (every one a new process of this interpreter, started with :func:`subprocess.run`; its wall
time measured by this process from start to exit):

* ``python -c "import nas"`` and ``python -c "import optuna"``: the whole process, and inside it
  the import alone (``time.perf_counter()`` around the ``import`` statement, printed by the
  child) and the number of modules it left in ``sys.modules``;
* ``nas --help`` and ``optuna --help``: the console scripts installed next to this interpreter
  (``.venv/bin/nas``, ``.venv/bin/optuna``), output discarded;
* ``python -c pass``: the interpreter alone, the floor of every other arm.

Each arm runs ``--repeats`` times; a repetition runs every arm once, in an order rotated from one
repetition to the next (cache and load effects spread evenly), and the tables report medians.
With ``--against REF`` the nas arms also run on the ``nas`` package of a git revision (extracted
with ``git archive`` and put first on ``PYTHONPATH``): an A/B against an older nas in the same
run. One more process per tool runs with ``-X importtime``: the packages whose imports take most
of ``nas --help`` and ``optuna --help`` are listed.

The machine may be shared: the load average is printed before and after the run and stated in
the docs section.

    python benchmarks/startup.py                      # 15 repetitions, rewrites the docs section
    python benchmarks/startup.py --against main       # plus the nas of another revision
    python benchmarks/startup.py --quick              # 3 repetitions, docs untouched
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from _common import REPO_ROOT, console, markdown_table, median, progress_bar, update_section

SECTION = "startup"
TITLE = "Start-up: import nas and nas --help vs Optuna"
IMPORT_GOAL_S = 0.2
HELP_GOAL_S = 0.3

#: The child of an import arm: the import alone, timed, and the modules it loaded.
IMPORT_CHILD = """
import sys, time
before = len(sys.modules)
t0 = time.perf_counter()
import {lib}
dt = time.perf_counter() - t0
print(dt, len(sys.modules) - before)
"""


@dataclass
class Arm:
    """One command measured ``repeats`` times."""

    key: str
    label: str
    argv: list[str]
    env: dict[str, str] | None = None
    import_child: bool = False
    #: The working directory: an empty one, so that ``python -c`` (whose ``sys.path`` starts
    #: with it) imports the installed nas, or the extracted one first on ``PYTHONPATH``.
    cwd: Path | None = None
    walls: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    modules: list[int] = field(default_factory=list)

    def run(self) -> None:
        t0 = time.perf_counter()
        done = subprocess.run(
            self.argv, env=self.env, capture_output=True, text=True, timeout=120, cwd=self.cwd
        )
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"{self.label} exited {done.returncode}:\n{done.stderr[-2000:]}")
        self.walls.append(wall)
        if self.import_child:
            dt, n = done.stdout.split()
            self.imports.append(float(dt))
            self.modules.append(int(n))


def _script(name: str) -> str:
    """The console script ``name`` installed next to this interpreter."""
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            raise SystemExit(f"{name}: console script not found next to {sys.executable}")
        return found
    return str(path)


def _extract_nas(ref: str, into: Path) -> str:
    """``nas/`` of git revision ``ref`` under ``into``; returns the revision's short hash."""
    archive = subprocess.run(
        ["git", "archive", ref, "nas"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return subprocess.run(
        ["git", "rev-parse", "--short", ref],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _arms(against: Path | None, ref: str) -> list[Arm]:
    py = sys.executable
    # A clean environment for every arm: no PYTHONPATH of the caller, no import-time tracing.
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    arms = [
        Arm("floor", "python -c pass", [py, "-c", "pass"], base),
        Arm(
            "nas-import",
            "import nas",
            [py, "-c", IMPORT_CHILD.format(lib="nas")],
            base,
            import_child=True,
        ),
        Arm(
            "optuna-import",
            "import optuna",
            [py, "-c", IMPORT_CHILD.format(lib="optuna")],
            base,
            import_child=True,
        ),
        Arm("nas-help", "nas --help", [_script("nas"), "--help"], base),
        Arm("optuna-help", "optuna --help", [_script("optuna"), "--help"], base),
    ]
    if against is not None:
        old = {**base, "PYTHONPATH": str(against)}
        arms += [
            Arm(
                "old-import",
                f"import nas (nas of {ref})",
                [py, "-c", IMPORT_CHILD.format(lib="nas")],
                old,
                import_child=True,
            ),
            Arm("old-help", f"nas --help (nas of {ref})", [_script("nas"), "--help"], old),
        ]
    return arms


def _check_against(arms: Sequence[Arm], against: Path) -> None:
    """The A/B arms really import the extracted nas (not the installed one)."""
    old = next(a for a in arms if a.key == "old-import")
    where = subprocess.run(
        [sys.executable, "-c", "import nas; print(nas.__file__)"],
        env=old.env,
        cwd=old.cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not where.startswith(str(against)):
        raise SystemExit(f"--against: the child imported {where}, not the extracted nas")


def heaviest_imports(argv: list[str], top: int = 6) -> list[tuple[str, float]]:
    """The ``top`` top-level packages (``typer``, ``rich``, ``nas``, ...) whose modules take
    the most time when ``argv`` (a Python program) runs under ``-X importtime``: each module's
    own time, summed per package, in seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir()
    )
    per_package: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        if not own.strip().isdigit():
            continue  # the header line
        package = name.strip().split(".")[0]
        per_package[package] = per_package.get(package, 0.0) + int(own) / 1e6
    return sorted(per_package.items(), key=lambda r: -r[1])[:top]


def _loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def _ms(s: float) -> str:
    return f"{s * 1000:.0f}"


def run(args: argparse.Namespace) -> str:
    """Measure every arm; returns the docs section's body (also printed)."""
    tmp = Path(tempfile.mkdtemp(prefix="nas-startup-"))
    try:
        against, ref = None, ""
        if args.against:
            against = tmp / "old"
            ref = _extract_nas(args.against, against)
        empty = tmp / "cwd"
        empty.mkdir()
        arms = _arms(against, ref)
        for arm in arms:
            arm.cwd = empty
        if against is not None:
            _check_against(arms, against)
        load_before = _loadavg()
        console.print(f"load average before: {load_before}")
        for arm in arms:  # one untimed run each: page cache and .pyc files warm
            arm.run()
            arm.walls.clear()
            arm.imports.clear()
            arm.modules.clear()
        t0 = time.perf_counter()
        with progress_bar() as bar:
            task = bar.add_task("start-ups", total=args.repeats * len(arms))
            for r in range(args.repeats):
                k = r % len(arms)
                for arm in arms[k:] + arms[:k]:
                    arm.run()
                    bar.advance(task)
        elapsed = time.perf_counter() - t0
        load_after = _loadavg()
        console.print(f"load average after: {load_after}")
        heavy = {
            "nas --help": heaviest_imports([_script("nas"), "--help"]),
            "optuna --help": heaviest_imports([_script("optuna"), "--help"]),
        }
        return _body(args, arms, ref, elapsed, (load_before, load_after), heavy)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _body(
    args: argparse.Namespace,
    arms: Sequence[Arm],
    ref: str,
    elapsed: float,
    loads: tuple[str, str],
    heavy: dict[str, list[tuple[str, float]]],
) -> str:
    by = {a.key: a for a in arms}
    med = {a.key: median(a.walls) for a in arms}
    floor = med["floor"]
    imp = {k: median(by[k].imports) for k in by if by[k].import_child}

    def verdict(value: float, goal: float) -> str:
        return f"goal <= {goal} s: {'met' if value <= goal else 'NOT met'}"

    rows = []
    for a in arms:
        rows.append(
            [
                a.label,
                f"{med[a.key]:.3f}",
                f"{med[a.key] - floor:.3f}",
                f"{imp[a.key]:.3f}" if a.import_child else "",
                f"{median([float(n) for n in a.modules]):.0f}" if a.import_child else "",
                f"{min(a.walls):.3f} - {max(a.walls):.3f}",
            ]
        )
    table = markdown_table(
        [
            "Command",
            "Median wall (s)",
            "Minus interpreter (s)",
            "Import alone (s)",
            "Modules loaded",
            "Range (s)",
        ],
        rows,
    )
    summary = [
        f"- `import nas`: **{med['nas-import']:.3f} s** whole process ({_ms(imp['nas-import'])} "
        f"ms the import alone) vs `import optuna` {med['optuna-import']:.3f} s "
        f"({_ms(imp['optuna-import'])} ms) = {med['optuna-import'] / med['nas-import']:.1f}x "
        f"faster ({verdict(med['nas-import'], IMPORT_GOAL_S)}).",
        f"- `nas --help`: **{med['nas-help']:.3f} s** vs `optuna --help` "
        f"{med['optuna-help']:.3f} s = {med['optuna-help'] / med['nas-help']:.1f}x faster "
        f"({verdict(med['nas-help'], HELP_GOAL_S)}).",
    ]
    if "old-import" in by:
        summary.append(
            f"- The nas of revision {ref}, same run: `import nas` "
            f"{med['old-import']:.3f} s ({_ms(imp['old-import'])} ms the import alone), "
            f"`nas --help` {med['old-help']:.3f} s: now "
            f"{med['old-import'] / med['nas-import']:.1f}x and "
            f"{med['old-help'] / med['nas-help']:.1f}x faster."
        )
    heavy_rows = []
    for what, top in heavy.items():
        heavy_rows.append([what, ", ".join(f"{name} {_ms(s)} ms" for name, s in top)])
    heavy_table = markdown_table(["Program", "Import time by top-level package"], heavy_rows)
    body = f"""{args.repeats} repetitions of every command, each a new process
(order rotated between repetitions), after one untimed warm-up run each; {elapsed:.0f} s in
all. Load average (1 / 5 / 15 min) {loads[0]} before and {loads[1]} after, on
{os.cpu_count()} cores: the machine was shared with other jobs, so read the medians (and the
ratios measured in the same run), not single runs.

{chr(10).join(summary)}

"Whole process" is interpreter start to exit as seen by the parent; "minus interpreter"
subtracts the median of `python -c pass`; "import alone" is `time.perf_counter()` around the
`import` statement inside the child; "modules loaded" counts what the import added to
`sys.modules`. `nas --help` and `optuna --help` are the installed console scripts. `import nas`
loads only the package: every public name is a lazy re-export resolved on first use, and the
command line imports the study, storage and supernet machinery inside the commands
(`tests/test_imports.py` asserts which modules each entry point may load).

{table}

One more run of each console script under `python -X importtime` (each module's own import time
summed per top-level package; the instrumentation inflates it):

{heavy_table}
"""
    print(body, flush=True)
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="runs of every command")
    parser.add_argument(
        "--against", metavar="REF", help="also time the nas package of this git revision"
    )
    parser.add_argument("--quick", action="store_true", help="3 repetitions, docs untouched")
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rewrite the section of docs/benchmarks.md (default: yes, except with --quick)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = min(args.repeats, 3)
    if args.docs is None:
        args.docs = not args.quick
    body = run(args)
    if args.docs:
        update_section(SECTION, TITLE, body)
        console.print("docs/benchmarks.md: section 'startup' rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
