"""Worker identity, liveness of other workers, and the heartbeat thread of a running trial.

A worker id is ``"<host>:<pid>:<token>"``. A RUNNING trial belongs to exactly one worker. Another
worker may take it back (re-queue it as WAITING, same number and params) once its owner is dead:

* on the same host, immediately when the owner's pid no longer exists (``os.kill(pid, 0)``);
* otherwise when its heartbeat is older than ``grace`` seconds (the owner refreshes it every
  ``interval`` seconds while the objective runs; a trial with no heartbeat yet counts from its
  start time).

A trial handed out by ``nas ask`` (or ``study.ask(lease=...)``) is owned by a *lease*
``"lease:<expiry>:<token>"`` instead (:func:`lease_worker_id`): nobody beats for it, and it is
alive until its expiry (seconds since the epoch, UTC), wherever it is evaluated.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nas.storage import RDBStorage

__all__ = [
    "Heartbeat",
    "Renewal",
    "WorkerId",
    "is_worker_dead",
    "lease_expiry",
    "lease_worker_id",
    "new_worker_id",
]

#: Seconds between two heartbeats of a running trial.
HEARTBEAT_INTERVAL = 10.0
#: A remote worker whose heartbeat is older than this many seconds is considered dead.
HEARTBEAT_GRACE = 60.0


@dataclass(frozen=True, slots=True)
class WorkerId:
    """Parsed form of a worker id string."""

    host: str
    pid: int
    token: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"

    @classmethod
    def parse(cls, text: str) -> WorkerId | None:
        """Parse ``host:pid:token``; ``None`` for anything else (e.g. ids from other tools)."""
        host, sep, rest = text.rpartition(":")
        host, sep2, pid = host.rpartition(":")
        if not sep or not sep2 or not pid.isdigit():
            return None
        return cls(host=host, pid=int(pid), token=rest)


def new_worker_id() -> str:
    """A fresh worker id for this process (unique even for several workers per process)."""
    return str(WorkerId(socket.gethostname(), os.getpid(), secrets.token_hex(4)))


_LEASE_PREFIX = "lease:"


def lease_worker_id(seconds: float, *, now: float | None = None) -> str:
    """A worker id that stays alive for ``seconds`` from ``now`` (default: the current time)
    and then counts as dead (:func:`is_worker_dead`), heartbeat or not."""
    expiry = (time.time() if now is None else now) + seconds
    return f"{_LEASE_PREFIX}{math.ceil(expiry)}:{secrets.token_hex(4)}"


def lease_expiry(worker_id: str | None) -> float | None:
    """The expiry (seconds since the epoch) of a lease worker id, else ``None``."""
    if not worker_id or not worker_id.startswith(_LEASE_PREFIX):
        return None
    stamp = worker_id[len(_LEASE_PREFIX) :].partition(":")[0]
    return float(stamp) if stamp.isdigit() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def is_worker_dead(
    worker_id: str | None,
    last_seen: datetime | None,
    *,
    now: datetime | None = None,
    grace: float = HEARTBEAT_GRACE,
) -> bool:
    """Whether the worker that owns a RUNNING trial can be presumed dead.

    Args:
        worker_id: the trial's worker id (``None`` means ownerless, hence dead).
        last_seen: the trial's last heartbeat, or its start time (timezone-aware UTC).
        now: the current time (UTC); defaults to ``datetime.now(UTC)``.
        grace: seconds without heartbeat after which a remote worker is presumed dead.

    A lease (:func:`lease_worker_id`) is dead once its expiry has passed, whatever the
    heartbeat.
    """
    if worker_id is None:
        return True
    now = now or datetime.now(UTC)
    expiry = lease_expiry(worker_id)
    if expiry is not None:
        return now.timestamp() > expiry
    parsed = WorkerId.parse(worker_id)
    if parsed is not None and parsed.host == socket.gethostname():
        if parsed.pid == os.getpid():
            return False  # another worker of this very process: alive by definition
        if not _pid_alive(parsed.pid):
            return True
    if last_seen is None:
        return False  # not started yet by our clock; let the heartbeat rule decide later
    return (now - last_seen).total_seconds() > grace


class Renewal:
    """Calls ``renew()`` every ``interval`` seconds from a daemon thread, inside a ``with``.

    The first call comes after ``interval`` seconds. :attr:`lost` becomes True, and the thread
    stops, when ``renew`` returns False (what it renewed is no longer ours); an exception
    (e.g. the database away for a moment) is ignored until the next beat.
    """

    def __init__(self, renew: Callable[[], bool], interval: float, name: str) -> None:
        self._renew = renew
        self._interval = interval
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if not self._renew():
                    self.lost = True
                    return
            except Exception:
                continue

    def __enter__(self) -> Renewal:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Heartbeat(Renewal):
    """Refreshes a RUNNING trial's heartbeat from a daemon thread while the objective runs.

    Use as a context manager around the objective call. The first beat comes after ``interval``
    seconds, so short trials cost no extra write. :attr:`lost` becomes True when the storage
    reports that the trial is no longer ours (another worker presumed us dead and re-queued it).
    """

    def __init__(
        self,
        storage: RDBStorage,
        trial_id: int,
        worker_id: str,
        interval: float = HEARTBEAT_INTERVAL,
    ) -> None:
        super().__init__(
            lambda: storage.heartbeat(trial_id, worker_id), interval, name="nas-heartbeat"
        )
