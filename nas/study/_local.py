"""Several worker processes on this machine sharing one study (``nas run --workers N``).

Each process is ``python -m nas worker FILE|NAME --quiet`` on the study's storage with the
opened study's total, timeout, device and ``max_restarts``; they coordinate through the
database like workers on different machines (trials claimed atomically, the total enforced
across them, a dead worker's trial re-run by another).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import IO

from nas._types import FrozenTrial
from nas.exceptions import NasError, StudyConfigError
from nas.study._open import OpenedStudy

__all__ = ["run_local_workers", "worker_command"]

#: Seconds a worker is given to put its trial back after Ctrl-C, before it is killed.
INTERRUPT_GRACE = 30.0


def worker_command(opened: OpenedStudy) -> list[str]:
    """The command line of one local worker of ``opened``: ``nas worker`` on its file (or, if
    it was opened by name, its name) with its storage, total, timeout, device and restarts."""
    target = str(opened.source) if opened.source is not None else opened.study.name
    args = [
        sys.executable, "-m", "nas", "worker", target, "--storage", opened.study.storage.url,
        "--quiet", "--max-restarts", str(opened.max_restarts),
    ]  # fmt: skip
    if opened.n_trials is not None:
        args += ["--n-trials", str(opened.n_trials)]
    if opened.timeout is not None:
        args += ["--timeout", str(opened.timeout)]
    if opened.device is not None:
        args += ["--device", opened.device]
    return args


def run_local_workers(
    opened: OpenedStudy,
    workers: int,
    *,
    on_poll: Callable[[Sequence[FrozenTrial]], None] | None = None,
    poll_interval: float = 0.5,
) -> None:
    """Run ``workers`` worker processes (:func:`worker_command`) on the study until each exits.

    Args:
        opened: from :func:`~nas.study.open_study`; prepare its objective first (e.g. train
            the supernet once, here) so that the workers only load it.
        workers: how many processes (``>= 1``).
        on_poll: called with the study's trials every ``poll_interval`` seconds while the
            workers run, and once after they all exited (e.g. to draw a progress bar);
            ``None``: just wait.
        poll_interval: seconds between polls.

    Raises:
        StudyConfigError: ``workers`` is not an int ``>= 1``.
        NasError: a worker exited with an error (each one's last line of output is quoted).
        KeyboardInterrupt: after every worker was interrupted (their running trials are put
            back as WAITING; one still running after :data:`INTERRUPT_GRACE` s is killed).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise StudyConfigError(f"workers: must be an integer >= 1, got {workers!r}")
    args = worker_command(opened)
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in range(workers)]
        procs = [subprocess.Popen(args, stdout=log, stderr=log) for log in logs]
        try:
            _follow(opened, procs, on_poll, poll_interval)
        except KeyboardInterrupt:
            _interrupt(procs)
            raise
        messages = [
            f"worker {k} exited with status {p.returncode}: {_last_line(logs[k])}"
            for k, p in enumerate(procs)
            if p.returncode != 0
        ]
    if messages:
        raise NasError("; ".join(messages))


def _follow(
    opened: OpenedStudy,
    procs: list[subprocess.Popen[bytes]],
    on_poll: Callable[[Sequence[FrozenTrial]], None] | None,
    poll_interval: float,
) -> None:
    """Wait until every process exited, calling ``on_poll`` with fresh trials meanwhile."""
    if on_poll is None:
        for p in procs:
            p.wait()
        return
    while True:
        done = all(p.poll() is not None for p in procs)
        on_poll(opened.study.trials)
        if done:
            return
        time.sleep(poll_interval)


def _interrupt(procs: list[subprocess.Popen[bytes]]) -> None:
    """Ctrl-C every running worker (each re-queues its trial), then wait for them."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=INTERRUPT_GRACE)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _last_line(log: IO[str]) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
