"""The artifacts of a study or of its trials: file records, and contents kept in the database
(RDBStorage's artifact operations).

An artifact is an ``artifacts`` row (kind, path or logical name, SHA-256, size); a stored one
also has its content in ``artifact_blobs``, written in the same transaction and checked against
the recorded digest and size when read.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from nas.exceptions import ArtifactNotFoundError, StorageError
from nas.storage._core import StorageCore, check_id, check_name, inserted_id
from nas.storage._models import Artifact, ArtifactBlob
from nas.storage._records import ArtifactRecord

__all__ = ["ArtifactsMixin"]

_MAX_KIND_LENGTH = 64
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _check_artifact_args(
    study_id: int, trial_id: int | None, kind: str, path: str, sha256: str, size: int
) -> None:
    """The argument checks of :meth:`ArtifactsMixin.add_artifact` (and of its import twin).

    Raises:
        ValueError: a bad id, kind, path, digest or size.
    """
    check_id(study_id, "study_id")
    check_name(kind, "artifact kind", _MAX_KIND_LENGTH)
    if not isinstance(path, str) or not path:
        raise ValueError(f"artifact path must be a non-empty string, got {path!r}")
    if not isinstance(sha256, str) or _SHA256_RE.fullmatch(sha256) is None:
        raise ValueError(f"sha256 must be 64 lowercase hex characters, got {sha256!r}")
    check_id(size, "artifact size")
    if size < 0:
        raise ValueError(f"artifact size must be >= 0 bytes, got {size}")
    if trial_id is not None:
        check_id(trial_id, "trial_id")


class ArtifactsMixin(StorageCore):
    """RDBStorage's artifact operations (see :class:`~nas.storage.RDBStorage` for the contract
    they share)."""

    def _artifact_missing(self, artifact_id: int) -> ArtifactNotFoundError:
        """The error for a missing artifact, naming its id and the (masked) URL."""
        return ArtifactNotFoundError(f"no artifact with id {artifact_id} in {self._masked_url}")

    def add_artifact(
        self,
        study_id: int,
        kind: str,
        path: str,
        sha256: str,
        size: int,
        trial_id: int | None = None,
    ) -> int:
        """Record a file of the study (or of one of its trials); return the artifact id.

        Only the record is written: the content stays wherever ``path`` points, and
        :meth:`read_artifact` refuses it (use :meth:`store_artifact` to keep the content in
        the database).

        Args:
            study_id: the study.
            kind: category, 1 to 64 characters.
            path: where the file is; the storage does not check it.
            sha256: lowercase hex digest, 64 characters.
            size: bytes, >= 0.
            trial_id: the trial it belongs to, or ``None`` for a study-level artifact.

        Raises:
            StudyNotFoundError / TrialNotFoundError: no such study / trial.
            ValueError: bad digest, negative size, or the trial belongs to another study.
        """
        _check_artifact_args(study_id, trial_id, kind, path, sha256, size)

        def work(conn: Connection) -> int:
            return self._insert_artifact(conn, study_id, trial_id, kind, path, sha256, size)

        return self._write(f"add_artifact(study {study_id})", work)

    def _insert_artifact(
        self,
        conn: Connection,
        study_id: int,
        trial_id: int | None,
        kind: str,
        path: str,
        sha256: str,
        size: int,
        created_at: datetime | None = None,
    ) -> int:
        """Insert an ``artifacts`` row after checking the study, the trial and its owner
        (``created_at``: now when ``None``)."""
        self._require_study(conn, study_id)
        if trial_id is not None:
            owner = self._require_trial(conn, trial_id).study_id
            if owner != study_id:
                raise ValueError(
                    f"trial {trial_id} belongs to study {owner}, not to study {study_id}"
                )
        result = conn.execute(
            insert(Artifact).values(
                study_id=study_id,
                trial_id=trial_id,
                kind=kind,
                path=path,
                sha256=sha256,
                size=size,
                created_at=created_at or self._now(),
            )
        )
        return inserted_id(result, "artifacts")

    def store_artifact(
        self,
        study_id: int,
        kind: str,
        name: str,
        data: bytes,
        trial_id: int | None = None,
    ) -> int:
        """Store ``data`` in the database as an artifact of the study (or of one of its trials).

        The ``artifacts`` row gets ``path=name``, and the SHA-256 and size of ``data``; the
        content goes to ``artifact_blobs``. Row and content are written in one transaction: a
        crash leaves both or neither. Any worker that can reach the database can then read the
        content with :meth:`read_artifact`. Storing the same name twice makes two artifacts.

        The whole content travels in one statement and is held in memory; the database bounds
        its size (PostgreSQL: 1 GB; SQLite: 1 GB by default; MySQL/MariaDB:
        ``max_allowed_packet``), and a larger one raises :class:`StorageError`.

        Args:
            study_id: the study.
            kind: category, 1 to 64 characters, e.g. ``"checkpoint"``.
            name: logical name, a non-empty string, e.g.
                ``"supernet/3f2a.../epoch-0004.pt"``; stored as the artifact's ``path``.
            data: the content: ``bytes``, ``bytearray`` or ``memoryview`` (may be empty).
            trial_id: the trial it belongs to, or ``None`` for a study-level artifact.

        Returns:
            The artifact id.

        Raises:
            StudyNotFoundError / TrialNotFoundError: no such study / trial.
            ValueError: bad kind or name, ``data`` not bytes-like, or the trial belongs to
                another study (nothing is written).
        """
        check_id(study_id, "study_id")
        check_name(kind, "artifact kind", _MAX_KIND_LENGTH)
        if not isinstance(name, str) or not name:
            raise ValueError(f"artifact name must be a non-empty string, got {name!r}")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(
                "artifact data must be bytes-like (bytes, bytearray or memoryview), got "
                f"{type(data).__name__}"
            )
        if trial_id is not None:
            check_id(trial_id, "trial_id")
        content = bytes(data)  # immutable: a bytearray mutated later cannot change the hash
        sha256 = hashlib.sha256(content).hexdigest()

        def work(conn: Connection) -> int:
            artifact_id = self._insert_artifact(
                conn, study_id, trial_id, kind, name, sha256, len(content)
            )
            conn.execute(insert(ArtifactBlob).values(artifact_id=artifact_id, data=content))
            return artifact_id

        return self._write(f"store_artifact(study {study_id}, {name!r})", work)

    def import_artifact(
        self,
        study_id: int,
        kind: str,
        path: str,
        sha256: str,
        size: int,
        *,
        trial_id: int | None = None,
        created_at: datetime | None = None,
        data: bytes | None = None,
    ) -> int:
        """Record an artifact that exists elsewhere (another study, another database) as it is:
        path-only like :meth:`add_artifact` when ``data`` is ``None``, else stored with its
        content like :meth:`store_artifact`, in one transaction; its creation time kept.

        Args:
            study_id / kind / path / sha256 / size / trial_id: as :meth:`add_artifact`.
            created_at: when the artifact was created (aware); ``None``: now.
            data: the content, which must match ``sha256`` and ``size``; ``None``: record the
                path only.

        Returns:
            The new artifact id.

        Raises:
            StudyNotFoundError / TrialNotFoundError: no such study / trial.
            ValueError: bad arguments as for :meth:`add_artifact`, a naive ``created_at``, or
                ``data`` whose digest or size differs from ``sha256``/``size`` (nothing is
                written).
        """
        _check_artifact_args(study_id, trial_id, kind, path, sha256, size)
        if created_at is not None and (
            not isinstance(created_at, datetime) or created_at.utcoffset() is None
        ):
            raise ValueError(f"created_at must be an aware datetime, got {created_at!r}")
        content = None
        if data is not None:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise ValueError(f"artifact data must be bytes-like, got {type(data).__name__}")
            content = bytes(data)
            actual = hashlib.sha256(content).hexdigest()
            if actual != sha256 or len(content) != size:
                raise ValueError(
                    f"artifact {path!r}: the content has {len(content)} bytes with sha256 "
                    f"{actual}, not the {size} bytes with sha256 {sha256} recorded"
                )

        def work(conn: Connection) -> int:
            artifact_id = self._insert_artifact(
                conn, study_id, trial_id, kind, path, sha256, size, created_at
            )
            if content is not None:
                conn.execute(insert(ArtifactBlob).values(artifact_id=artifact_id, data=content))
            return artifact_id

        return self._write(f"import_artifact(study {study_id}, {path!r})", work)

    def read_artifact(self, artifact_id: int) -> bytes:
        """The content of an artifact stored with :meth:`store_artifact`.

        The content is checked against the SHA-256 and size recorded when it was stored.

        Raises:
            ArtifactNotFoundError: no such artifact, or the artifact has no content in the
                database (it was recorded with :meth:`add_artifact`: read the file at its
                path instead).
            StorageError: the stored content does not match its recorded SHA-256 or size
                (corrupted database).
        """
        check_id(artifact_id, "artifact_id")

        def work(conn: Connection) -> tuple[str, str, int, bytes | None]:
            row = conn.execute(
                select(Artifact.path, Artifact.sha256, Artifact.size, ArtifactBlob.data)
                .select_from(Artifact)
                .outerjoin(ArtifactBlob, ArtifactBlob.artifact_id == Artifact.id)
                .where(Artifact.id == artifact_id)
            ).first()
            if row is None:
                raise self._artifact_missing(artifact_id)
            path, digest, size, data = row
            return path, digest, int(size), None if data is None else bytes(data)

        path, digest, size, data = self._read(f"read_artifact({artifact_id})", work)
        if data is None:
            raise ArtifactNotFoundError(
                f"artifact {artifact_id} has no content stored in {self._masked_url}: it was "
                f"recorded with add_artifact (path only); its file is at {path!r}"
            )
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest or len(data) != size:
            raise StorageError(
                f"artifact {artifact_id} ({path!r}) in {self._masked_url} is corrupted: its "
                f"stored content has {len(data)} bytes with sha256 {actual}, but {size} bytes "
                f"with sha256 {digest} were recorded"
            )
        return data

    def delete_artifact(self, artifact_id: int) -> None:
        """Delete the artifact row and its content stored in the database, if any.

        A file recorded with :meth:`add_artifact` is not touched, only its record.

        Raises:
            ArtifactNotFoundError: no such artifact.
        """
        check_id(artifact_id, "artifact_id")

        def work(conn: Connection) -> None:
            # Explicit, not only ON DELETE CASCADE: also right where foreign keys are off.
            conn.execute(delete(ArtifactBlob).where(ArtifactBlob.artifact_id == artifact_id))
            if conn.execute(delete(Artifact).where(Artifact.id == artifact_id)).rowcount != 1:
                raise self._artifact_missing(artifact_id)

        self._write(f"delete_artifact({artifact_id})", work)

    def get_artifacts(
        self, study_id: int, trial_id: int | None = None, *, kind: str | None = None
    ) -> list[ArtifactRecord]:
        """The study's artifacts in insertion order, without their contents.

        Args:
            study_id: the study.
            trial_id: only this trial's artifacts; ``None`` for all (study- and trial-level).
            kind: only artifacts of this kind; ``None`` for every kind.

        Raises:
            StudyNotFoundError: no such study.
            ValueError: ``kind`` is not a 1 to 64 character string.
        """
        check_id(study_id, "study_id")
        if trial_id is not None:
            check_id(trial_id, "trial_id")
        if kind is not None:
            check_name(kind, "artifact kind", _MAX_KIND_LENGTH)

        def work(conn: Connection) -> list[ArtifactRecord]:
            self._require_study(conn, study_id)
            query = select(
                Artifact.id,
                Artifact.trial_id,
                Artifact.kind,
                Artifact.path,
                Artifact.sha256,
                Artifact.size,
                Artifact.created_at,
                ArtifactBlob.artifact_id.is_not(None),  # only the key: contents stay unread
            )
            query = (
                query.select_from(Artifact)
                .outerjoin(ArtifactBlob, ArtifactBlob.artifact_id == Artifact.id)
                .where(Artifact.study_id == study_id)
            )
            if trial_id is not None:
                query = query.where(Artifact.trial_id == trial_id)
            if kind is not None:
                query = query.where(Artifact.kind == kind)
            return [
                ArtifactRecord(
                    artifact_id=int(a_id),
                    study_id=study_id,
                    trial_id=t_id,
                    kind=a_kind,
                    path=path,
                    sha256=digest,
                    size=int(size),
                    created_at=created_at,
                    stored=bool(stored),
                )
                for a_id, t_id, a_kind, path, digest, size, created_at, stored in conn.execute(
                    query.order_by(Artifact.id)
                )
            ]

        return self._read(f"get_artifacts(study {study_id})", work)
