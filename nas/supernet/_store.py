"""A supernet's life in the study's database: the training lease and the weight artifacts.

* **Lease.** One process per study trains (whoever holds the study's ``supernet-training``
  lease, renewed every 15 s and expiring 60 s after its holder stops -- at once when the holder
  was a process of this host that died); others wait for the final weights and take the
  training over from the last checkpoint if the holder dies.
* **Artifacts.** Under the prefix ``supernet/<weights key>/``: a checkpoint every few epochs
  (kind ``supernet-checkpoint``; a new one is stored before the older ones are dropped, so a
  kill in between leaves an extra checkpoint, never none), then the final weights (kind
  ``supernet``), after which the checkpoints are dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nas._attrs import SUPERNET_LEASE

__all__ = [
    "CHECKPOINT_KIND",
    "LEASE_NAME",
    "WEIGHTS_KIND",
    "LeaseKeeper",
    "delete_artifacts",
    "last_artifact",
    "store_checkpoint",
    "try_lease",
]

#: Artifact kinds in the study's storage.
CHECKPOINT_KIND = "supernet-checkpoint"
WEIGHTS_KIND = "supernet"
#: The study lease whose holder trains the supernet, and its timings (seconds).
LEASE_NAME = SUPERNET_LEASE
LEASE_TTL_SECONDS = 60.0
LEASE_RENEW_SECONDS = 15.0
WAIT_POLL_SECONDS = 1.0


def try_lease(storage: Any, study_id: int, owner: str) -> str:
    """Take the training lease for ``owner`` if free, expired, or held by a dead process of
    this host; returns the holder afterwards (``owner`` when taken)."""
    from nas.study._worker import is_worker_dead

    current = storage.get_lease(study_id, LEASE_NAME)
    take_from = None
    if current is not None:
        holder = current[0]
        # Same host and its pid gone: dead now. Remote holders are trusted until expiry.
        if holder != owner and is_worker_dead(
            holder or None, datetime.now(UTC), grace=LEASE_TTL_SECONDS
        ):
            take_from = holder
    if storage.acquire_lease(study_id, LEASE_NAME, owner, LEASE_TTL_SECONDS, take_from=take_from):
        return owner
    current = storage.get_lease(study_id, LEASE_NAME)
    return current[0] if current is not None else ""


class LeaseKeeper:
    """Renews the training lease every 15 s while training runs (main process only; the
    others share its answers through the collectives); :attr:`lost` turns True if a renewal
    is refused (another process took over)."""

    def __init__(self, storage: Any, study_id: int, owner: str) -> None:
        from nas.study._worker import Renewal
        from nas.supernet._distributed import is_main_process

        self._renewal = (
            Renewal(
                lambda: storage.acquire_lease(study_id, LEASE_NAME, owner, LEASE_TTL_SECONDS),
                LEASE_RENEW_SECONDS,
                name="nas-lease",
            )
            if is_main_process()
            else None
        )

    @property
    def lost(self) -> bool:
        return self._renewal is not None and self._renewal.lost

    def __enter__(self) -> LeaseKeeper:
        if self._renewal is not None:
            self._renewal.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._renewal is not None:
            self._renewal.__exit__(*exc)


def _artifacts(storage: Any, study_id: int, kind: str, prefix: str) -> list[Any]:
    """The study's artifacts of ``kind`` whose name starts with ``prefix``, oldest first."""
    return [a for a in storage.get_artifacts(study_id, kind=kind) if a.path.startswith(prefix)]


def last_artifact(storage: Any, study_id: int, kind: str, prefix: str) -> int | None:
    """The id of the newest artifact of ``kind`` under ``prefix``, or ``None``."""
    found = _artifacts(storage, study_id, kind, prefix)
    return int(found[-1].artifact_id) if found else None


def store_checkpoint(storage: Any, study_id: int, prefix: str, state: Any, epoch: int) -> None:
    """Store ``state`` (a trainer's :meth:`state_dict`) as the checkpoint of ``epoch``, then
    drop the older ones (a kill in between leaves an extra checkpoint, never none)."""
    from nas.supernet._checkpoint import checkpoint_to_bytes

    new = storage.store_artifact(
        study_id, CHECKPOINT_KIND, f"{prefix}epoch-{epoch:05d}.pt", checkpoint_to_bytes(state)
    )
    delete_artifacts(storage, study_id, CHECKPOINT_KIND, prefix, keep=new)


def delete_artifacts(
    storage: Any, study_id: int, kind: str, prefix: str, keep: int | None
) -> None:
    """Delete the artifacts of ``kind`` under ``prefix``, but ``keep``."""
    for a in _artifacts(storage, study_id, kind, prefix):
        if a.artifact_id != keep:
            storage.delete_artifact(a.artifact_id)
