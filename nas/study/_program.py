"""One run of an external program: its stdout line by line as it arrives, a bounded tail of its
stderr, a deadline, and its whole process group stopped on the way out (SIGTERM, then SIGKILL).

Used by the ``command`` objective type (:mod:`nas.study._command`); standard library only,
POSIX only (process groups, ``selectors`` on pipes).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["MAX_LINE", "STDERR_TAIL", "Program"]

#: Bytes of the program's stderr kept (:meth:`Program.stderr_tail`).
STDERR_TAIL = 4096
#: A stdout line longer than this is skipped (not yielded, not kept).
MAX_LINE = 1 << 20
#: How often the reading loop checks whether the program exited while its pipes stay open.
_POLL = 0.25


class Program:
    """One run of a program in its own process group, its stdout read line by line.

    A context manager: leaving it (normally or by an exception, ``KeyboardInterrupt``
    included) stops the program if it still runs (:meth:`stop`) and closes the pipes.

    Raises:
        OSError: the program cannot start (not found, not executable, no ``cwd``).
    """

    def __init__(
        self, argv: list[str], cwd: Path, env: Mapping[str, str], stdin: bytes, grace: float
    ) -> None:
        self.grace = grace
        self.timed_out = False
        self.stderr_bytes = 0
        self._tail = bytearray()
        self._stdin = memoryview(stdin)
        self._proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            bufsize=0,
        )

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: killed by that signal); ``None`` while it runs."""
        return self._proc.returncode

    def stderr_tail(self) -> str:
        """The last :data:`STDERR_TAIL` bytes of its stderr, decoded."""
        return bytes(self._tail).decode("utf-8", errors="replace")

    def __enter__(self) -> Program:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._proc.returncode is None:
                self.stop()
        finally:
            for pipe in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
                if pipe is not None and not pipe.closed:
                    pipe.close()

    def lines(self, deadline: float | None) -> Iterator[tuple[int, str]]:
        """Its stdout lines (numbered from 1) as they arrive, until it exits and its pipes
        close; then it is reaped and what it left in its process group terminated.

        Past ``deadline`` (:func:`time.monotonic`) the program is stopped, :attr:`timed_out`
        set and the iteration ends.
        """
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        sel = selectors.DefaultSelector()
        out_fd, err_fd, in_fd = proc.stdout.fileno(), proc.stderr.fileno(), proc.stdin.fileno()
        sel.register(out_fd, selectors.EVENT_READ)
        sel.register(err_fd, selectors.EVENT_READ)
        os.set_blocking(in_fd, False)
        sel.register(in_fd, selectors.EVENT_WRITE)
        buffer = bytearray()
        overlong = False
        number = 0
        drain_until: float | None = None  # after the program exited: stop waiting for EOF
        ended = False  # its leftovers were ended
        try:
            while sel.get_map():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    self.timed_out = True
                    self.stop()
                    return
                if drain_until is not None and now >= drain_until:
                    if ended:
                        break  # something outside its group holds the pipes
                    # It exited but its leftovers hold the pipes: end them, read what is left.
                    self._end_group(now + self.grace)
                    ended, drain_until = True, time.monotonic() + _POLL
                    continue
                wait = _POLL
                if deadline is not None:
                    wait = min(wait, deadline - now)
                for key, _ in sel.select(max(wait, 0.0)):
                    fd = key.fd
                    if fd == in_fd:
                        if not self._feed(in_fd):
                            sel.unregister(in_fd)
                            proc.stdin.close()
                        continue
                    data = os.read(fd, 65536)
                    if not data:
                        sel.unregister(fd)
                        continue
                    if fd == err_fd:
                        self.stderr_bytes += len(data)
                        self._tail += data
                        del self._tail[:-STDERR_TAIL]
                        continue
                    buffer += data
                    while (cut := buffer.find(b"\n")) >= 0:
                        line = bytes(buffer[:cut])
                        del buffer[: cut + 1]
                        number += 1
                        if not overlong:
                            yield number, line.decode("utf-8", errors="replace")
                        overlong = False
                    if len(buffer) > MAX_LINE:
                        buffer.clear()
                        overlong = True
                if drain_until is None and proc.poll() is not None:
                    drain_until = time.monotonic() + _POLL  # its own output is in the pipes
            if buffer and not overlong:
                number += 1
                yield number, bytes(buffer).decode("utf-8", errors="replace")
            self._reap(deadline)
        finally:
            sel.close()

    def _feed(self, fd: int) -> bool:
        """Write what is left of stdin; False when done (or the program closed it)."""
        try:
            written = os.write(fd, self._stdin)
        except BlockingIOError:
            return True
        except (BrokenPipeError, OSError):
            return False
        self._stdin = self._stdin[written:]
        return len(self._stdin) > 0

    def _reap(self, deadline: float | None) -> None:
        """Wait for the program (until ``deadline``), then end its leftovers."""
        proc = self._proc
        while proc.returncode is None:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                self.timed_out = True
                self.stop()
                return
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        self._end_group(time.monotonic() + self.grace)

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL to what is left after the grace; reaped.

        A second Ctrl-C while waiting kills the group at once."""
        try:
            self._signal(signal.SIGTERM)
            end = time.monotonic() + self.grace
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=self.grace)
            self._end_group(end, terminated=True)
        except BaseException:
            self._signal(signal.SIGKILL)
            self._proc.wait()
            raise

    def _end_group(self, end: float, *, terminated: bool = False) -> None:
        """End the processes left in its group (its leader reaped or not): SIGTERM unless
        already sent, SIGKILL at ``end``; then reap the leader."""
        if self._group_alive():
            if not terminated:
                self._signal(signal.SIGTERM)
            while self._group_alive() and time.monotonic() < end:
                if self._proc.returncode is None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self._proc.wait(timeout=0.02)
                else:
                    time.sleep(0.02)
            self._signal(signal.SIGKILL)
        self._proc.wait()

    def _group_alive(self) -> bool:
        """Whether a process of its group (besides a reaped leader) still exists. While the
        leader is unreaped, or while any member lives, its group id cannot be reused."""
        if self._proc.returncode is None:
            self._proc.poll()
        try:
            os.killpg(self._proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return self._proc.returncode is None or _has_members(self._proc.pid)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)


def _has_members(pgid: int) -> bool:
    """Whether the process group ``pgid`` has a member that is not a zombie (Linux: from
    ``/proc``; elsewhere: ``killpg(pgid, 0)`` succeeding says yes)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False
