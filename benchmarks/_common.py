"""Shared helpers of the benchmark scripts: machine facts, tables, docs sections, progress bars.

The scripts in this folder are plain programs (``python benchmarks/bench_storage.py``); this
module sits next to them and is imported as ``_common`` (the script's folder is first on
``sys.path``). It imports neither ``nas`` nor Optuna, so a child interpreter that imports it
still measures those imports cold.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import platform
import shlex
import sqlite3
import statistics
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = [
    "DOCS_PATH",
    "REPO_ROOT",
    "command_line",
    "console",
    "machine_facts",
    "markdown_table",
    "median",
    "progress_bar",
    "update_section",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS_PATH = REPO_ROOT / "docs" / "benchmarks.md"

console = Console(stderr=True)

_INTRO = """# Benchmarks: `nas` vs Optuna

Every section below is written by a script in `benchmarks/` that runs **both** libraries in the
same process run, on the same machine, one after the other (order alternated between repetitions
to spread cache and thermal effects evenly). Each section states the exact command, the date and
the machine it was measured on; re-running a script rewrites only its own section.

Numbers are wall-clock on a small shared VM and single runs can move by tens of percent; read
the medians and the ratios, not the third digit.
"""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_facts() -> dict[str, str]:
    """Facts identifying where a number was measured (all values are display strings)."""
    return {
        "CPU": f"{_cpu_model()}, {os.cpu_count()} logical cores",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "nas": _version("nas"),
        "optuna": _version("optuna"),
        "sqlalchemy": _version("sqlalchemy"),
        "numpy": _version("numpy"),
    }


#: The Optuna sampler methods whose time counts as "searcher time" in the comparisons.
OPTUNA_SAMPLER_HOOKS = (
    "infer_relative_search_space",
    "sample_relative",
    "sample_independent",
    "before_trial",
    "after_trial",
)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark script takes: --quick, --docs/--no-docs, --workdir, --keep."""
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for a smoke test (< 1 min)"
    )
    parser.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rewrite the section of docs/benchmarks.md (default: yes, except with --quick)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the DB files go (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the DB files")


def add_supernet_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The options of the supernet benchmarks (ranking, splits, quantization): ``--device``
    (where ``what`` trains), ``--workers`` and ``--docs/--no-docs``; parse with
    :func:`parse_supernet_arguments`."""
    parser.add_argument("--device", default="cpu", help=f"where {what} train (cpu, cuda)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument(
        "--docs", action=argparse.BooleanOptionalAction, default=True, help="rewrite the section"
    )


def parse_supernet_arguments(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    """Parse a supernet benchmark's options: the docs take >= 5 seeds (``--seeds``)."""
    args = parser.parse_args(argv)
    if args.docs and args.seeds < 5:
        parser.error("--docs needs --seeds >= 5")
    return args


def command_line() -> str:
    """The command that started this process, relative to the repository root when possible."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(REPO_ROOT))
    except ValueError:
        shown = str(script)
    return " ".join(shlex.quote(a) for a in ["python", shown, *sys.argv[1:]])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; numeric cells are right-aligned.

    Raises:
        ValueError: a row does not have ``len(headers)`` cells.
    """
    for i, row in enumerate(rows):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells, the table has {len(headers)} columns")
    numeric = [
        all(isinstance(r[j], int | float) or _looks_numeric(r[j]) for r in rows) and bool(rows)
        for j in range(len(headers))
    ]
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---:" if n else ":---" for n in numeric) + "|")
    lines.extend("| " + " | ".join(str(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def _looks_numeric(cell: object) -> bool:
    text = str(cell).strip().rstrip("x%s").replace(",", "")
    try:
        float(text)
    except ValueError:
        return False
    return True


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence.

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError("median of an empty sequence")
    return float(statistics.median(values))


def mean_sd(values: Sequence[float], digits: int = 3) -> str:
    """``mean ± sd`` of per-seed values (sd 0 for one value)."""
    import statistics

    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} ± {sd:.{digits}f}"


def progress_bar() -> Progress:
    """A rich progress bar on stderr (stdout stays clean for the tables)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock next to ``path`` so two scripts never interleave their rewrites."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        lock_path.unlink()


def update_section(name: str, title: str, body: str, path: Path = DOCS_PATH) -> None:
    """Replace the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in ``path``.

    The file is created with a short introduction when absent; a missing section is appended;
    every other section is kept byte for byte. The section is ``## title``, then the date, the
    command and the machine facts, then ``body`` (markdown).

    Raises:
        ValueError: the markers of ``name`` are present but malformed (one without the other,
            duplicated, or END before BEGIN).
    """
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    facts = machine_facts()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = [
        f"## {title}",
        "",
        f"Measured {stamp} with:",
        "",
        "```",
        command_line(),
        "```",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in facts.items()) + ".",
    ]
    block = f"{begin}\n" + "\n".join(header) + "\n\n" + body.strip("\n") + f"\n{end}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        text = path.read_text(encoding="utf-8") if path.exists() else _INTRO
        n_begin, n_end = text.count(begin), text.count(end)
        if (n_begin, n_end) == (0, 0):
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        elif (n_begin, n_end) == (1, 1) and text.index(begin) < text.index(end):
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            text = head + block + tail
        else:
            raise ValueError(
                f"{path}: markers of section {name!r} are malformed "
                f"({n_begin} BEGIN, {n_end} END); fix the file by hand"
            )
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
