"""The Typer application ``nas``: its root, the options and output shared by every command, and
the console entry point.

Commands live in one module per group of verbs -- :mod:`nas.cli._run` (run, worker),
:mod:`nas.cli._asktell` (ask, report, tell), :mod:`nas.cli._query` (studies, trials, pareto,
splits), :mod:`nas.cli._manage` (export, delete), :mod:`nas.cli._io` (import, copy),
:mod:`nas.cli._dashboard`, :mod:`nas.cli._db`, :mod:`nas.cli._bench` -- registered in that
order by :mod:`nas.cli`. Each command parses its options, calls a public function of the
library and renders what it returns: no business logic here. The library (studies and storage:
SQLAlchemy, numpy; supernets: torch; plots, dashboard) and rich are imported inside the commands
that use them, so building the app -- ``nas --help`` -- loads typer and little else (option
defaults come from torch-free modules: :mod:`nas.storage._url`, :mod:`nas.supernet._plugins`;
``tests/test_imports.py`` checks it).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nas._tables import TableData
from nas.exceptions import NasError
from nas.storage._url import DEFAULT_URL as DEFAULT_STORAGE

try:  # typer >= 0.2x vendors click; its usage errors derive from TyperException
    from typer import TyperException as _UsageError
except ImportError:  # pragma: no cover - older typer on top of click
    from click import ClickException as _UsageError  # type: ignore[assignment,no-redef]

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["app", "main"]

app = typer.Typer(
    name="nas",
    help="Hyperparameter and neural-architecture search with studies persisted in SQL.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


# Results (tables, summaries) on stdout; progress, notices and errors on stderr. The consoles are
# made on first use: `nas --help` does not import rich.
@functools.cache
def out() -> Console:
    """The console of results (stdout)."""
    from rich.console import Console

    return Console(soft_wrap=True)


@functools.cache
def err() -> Console:
    """The console of progress, notices and errors (stderr)."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar="NAS_STORAGE",
        help=f"Database URL (default {DEFAULT_STORAGE}; env NAS_STORAGE).",
        show_default=False,
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def storage_url(storage: str | None) -> str:
    """``--storage``, else the default database."""
    return storage or DEFAULT_STORAGE


def _version(value: bool) -> None:
    if value:
        from nas import __version__

        typer.echo(f"nas {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Hyperparameter and neural-architecture search with studies persisted in SQL."""


# --------------------------------------------------------------------------- output
def emit_json(payload: Any) -> None:
    """``payload`` as indented JSON on stdout (non-JSON values as their text)."""
    typer.echo(json.dumps(payload, indent=2, default=str))


def emit(table: TableData, fmt: Format) -> None:
    """``table`` on stdout as CSV or a table; ``None`` empty, numbers with 6 significant digits
    in a table and every digit in CSV (``repr``: a float reads back exactly). (JSON output is
    the command's own records: :func:`emit_json`.)"""
    if fmt is Format.json:
        emit_json(table.rows)
        return
    exact = fmt is Format.csv
    flat = [{c: _cell(r.get(c), exact=exact) for c in table.columns} for r in table.rows]
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=table.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        typer.echo(buf.getvalue(), nl=False)
        return
    from rich.table import Table

    rich_table = Table(title=table.title)
    for c in table.columns:
        # Table headers drop the csv prefix; cells never fold (a folded number misleads).
        rich_table.add_column(
            c.removeprefix("param:"),
            no_wrap=True,
            justify="right" if c in table.right else "left",
        )
    for r in flat:
        rich_table.add_row(*(r[c] for c in table.columns))
    print_table(rich_table)


def print_table(table: Table) -> None:
    """Render at the table's natural width, wider than the terminal if needed (like psql)."""
    from rich.console import Console
    from rich.measure import Measurement

    console = out()
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    Console(width=max(console.width, needed), soft_wrap=True).print(table)


def _cell(v: Any, *, exact: bool = False) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(float(v)) if exact else f"{v:.6g}"
    return str(v)


# --------------------------------------------------------------------------- entry point
def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: every known error becomes one line on stderr and exit status 2."""
    command = typer.main.get_command(app)
    try:
        rv = command.main(
            args=list(argv) if argv is not None else None, prog_name="nas", standalone_mode=False
        )
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err().print("aborted", highlight=False)
        sys.exit(130)
    except _UsageError as e:
        ctx = getattr(e, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        sys.stderr.write(f"error: {_one_line(e.format_message())}{hint}\n")
        sys.exit(2)
    except NasError as e:
        sys.stderr.write(f"error: {_one_line(str(e))}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
