"""Run the ``nas`` command line in-process, for tests."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

__all__ = ["run_cli"]


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``nas ARGS...`` in this process; returns (exit status, stdout, stderr).

    Raises:
        AssertionError: the command returned without exiting (the entry point always exits).
    """
    from nas.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        else:  # pragma: no cover - main() always calls sys.exit
            raise AssertionError("nas.cli.main returned without exiting")
    return int(code or 0) if not isinstance(code, str) else 1, out.getvalue(), err.getvalue()
