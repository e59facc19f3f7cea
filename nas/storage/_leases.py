"""Study leases: mutual-exclusion tokens with an expiry, for work that one worker should do
for the whole study (RDBStorage's lease operations).

A lease is stored as the study user attribute ``nas.lease.<name>``, ``{"owner": ...,
"expires": ISO-8601 UTC}``; it is read and written with the study row locked, so the check and
the write of :meth:`LeasesMixin.acquire_lease` are atomic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from nas._attrs import lease_key
from nas.storage._core import StorageCore, check_id, check_name, dumps
from nas.storage._models import StudyUserAttr

__all__ = ["LeasesMixin"]


class LeasesMixin(StorageCore):
    """RDBStorage's lease operations (see :class:`~nas.storage.RDBStorage` for the contract
    they share)."""

    def acquire_lease(
        self,
        study_id: int,
        name: str,
        owner: str,
        ttl: float,
        *,
        take_from: str | None = None,
    ) -> bool:
        """Take or renew the study's lease ``name`` for ``owner`` for ``ttl`` seconds.

        A lease is a mutual-exclusion token for work that one worker should do for the whole
        study (e.g. training its supernet). It is granted when nobody holds it, when it has
        expired, when ``owner`` already holds it (a renewal), or when its holder is
        ``take_from`` (the caller established that this holder is dead). The check and the
        write are one transaction with the study row locked. Stored as the study user attribute
        ``nas.lease.<name>``: ``{"owner": ..., "expires": ISO-8601 UTC}``.

        Returns:
            True if ``owner`` holds the lease now.

        Raises:
            StudyNotFoundError: no such study.
            ValueError: bad name or owner, or ``ttl <= 0``.
        """
        check_id(study_id, "study_id")
        check_name(name, "lease name")
        check_name(owner, "lease owner")
        if not ttl > 0:
            raise ValueError(f"lease ttl must be > 0 seconds, got {ttl!r}")
        key = lease_key(name)

        def work(conn: Connection) -> bool:
            self._require_study(conn, study_id, lock=True)
            now = self._now()
            current = _lease_value(conn, study_id, key)
            if current is not None:
                holder, expires = current
                if holder not in (owner, take_from) and expires > now:
                    return False
            value = {"owner": owner, "expires": (now + timedelta(seconds=ttl)).isoformat()}
            conn.execute(
                delete(StudyUserAttr).where(
                    StudyUserAttr.study_id == study_id, StudyUserAttr.key == key
                )
            )
            conn.execute(
                insert(StudyUserAttr).values(
                    study_id=study_id, key=key, value_json=dumps(value, key)
                )
            )
            return True

        return self._write(f"acquire_lease({study_id}, {name!r})", work)

    def release_lease(self, study_id: int, name: str, owner: str) -> bool:
        """Give the lease back if ``owner`` holds it; returns whether it did.

        Raises:
            StudyNotFoundError: no such study.
        """
        check_id(study_id, "study_id")
        key = lease_key(name)

        def work(conn: Connection) -> bool:
            self._require_study(conn, study_id, lock=True)
            current = _lease_value(conn, study_id, key)
            if current is None or current[0] != owner:
                return False
            conn.execute(
                delete(StudyUserAttr).where(
                    StudyUserAttr.study_id == study_id, StudyUserAttr.key == key
                )
            )
            return True

        return self._write(f"release_lease({study_id}, {name!r})", work)

    def get_lease(self, study_id: int, name: str) -> tuple[str, datetime] | None:
        """``(owner, expires)`` of the study's lease ``name``, or ``None`` when nobody ever
        held it or it was released (an expired lease is still returned).

        Raises:
            StudyNotFoundError: no such study.
        """
        check_id(study_id, "study_id")
        key = lease_key(name)

        def work(conn: Connection) -> tuple[str, datetime] | None:
            self._require_study(conn, study_id)
            return _lease_value(conn, study_id, key)

        return self._read(f"get_lease({study_id}, {name!r})", work)


def _lease_value(conn: Connection, study_id: int, key: str) -> tuple[str, datetime] | None:
    """The lease stored under ``key``: ``(owner, expires)``; a malformed value counts as
    expired (anyone may take it)."""
    raw = conn.execute(
        select(StudyUserAttr.value_json).where(
            StudyUserAttr.study_id == study_id, StudyUserAttr.key == key
        )
    ).scalar()
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        expires = datetime.fromisoformat(value["expires"])
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return str(value["owner"]), expires
    except (ValueError, KeyError, TypeError):
        return "", datetime.min.replace(tzinfo=UTC)
