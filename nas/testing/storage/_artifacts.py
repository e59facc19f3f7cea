"""Conformance of the artifact operations: path-only records, contents stored in the database,
filters, deletion and corruption detection."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
import sqlalchemy as sa

from nas.exceptions import (
    ArtifactNotFoundError,
    StorageError,
)
from nas.storage import RDBStorage, TrialNotFoundError
from nas.testing.storage._base import (
    MISSING_ID,
    SHA,
    StorageFixture,
    assert_utc,
    make_study,
    proposals,
    row_counts,
)

__all__ = ["ArtifactConformance"]


class ArtifactConformance(StorageFixture):
    """Artifacts: record, store, read back exactly, filter, delete, detect corruption."""

    def test_artifacts(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        other = make_study(storage, "other")
        _, trial = storage.add_trials(study_id, proposals(1), claim_worker="w")
        _, foreign = storage.add_trials(other, proposals(1), claim_worker="w")
        assert trial is not None and foreign is not None
        study_level = storage.add_artifact(study_id, "plot", "/tmp/plot.html", SHA, 0)
        trial_level = storage.add_artifact(
            study_id, "checkpoint", "/tmp/c.pt", "0f" * 32, 2**40, trial_id=trial.trial_id
        )
        records = storage.get_artifacts(study_id)
        assert [r.artifact_id for r in records] == [study_level, trial_level]
        assert records[0].trial_id is None and records[0].kind == "plot"
        assert [r.stored for r in records] == [False, False]
        ckpt = records[1]
        assert (ckpt.study_id, ckpt.trial_id, ckpt.path) == (study_id, trial.trial_id, "/tmp/c.pt")
        assert (ckpt.sha256, ckpt.size) == ("0f" * 32, 2**40)
        assert_utc(ckpt.created_at)
        assert storage.get_artifacts(study_id, trial_id=trial.trial_id) == [ckpt]
        assert storage.get_artifacts(other) == []
        with pytest.raises(ValueError, match="belongs to study"):
            storage.add_artifact(study_id, "x", "/p", SHA, 1, trial_id=foreign.trial_id)
        with pytest.raises(TrialNotFoundError):
            storage.add_artifact(study_id, "x", "/p", SHA, 1, trial_id=MISSING_ID)
        with pytest.raises(ValueError, match="sha256"):
            storage.add_artifact(study_id, "x", "/p", "ABC", 1)
        with pytest.raises(ValueError, match="size"):
            storage.add_artifact(study_id, "x", "/p", SHA, -1)
        assert len(storage.get_artifacts(study_id)) == 2

    def test_stored_artifacts_round_trip_exactly(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        _, trial = storage.add_trials(study_id, proposals(1), claim_worker="w")
        assert trial is not None
        big = random.Random(7).randbytes(3 * 2**20 + 7)  # ~3 MB, every byte value
        contents: list[tuple[str, bytes, int | None]] = [
            ("empty", b"", None),
            ("small", b"\x00\xffcheckpoint\x00\r\n\x80", trial.trial_id),
            ("supernet/3f2a/epoch-0004.pt", big, trial.trial_id),
        ]
        ids = [
            storage.store_artifact(study_id, "checkpoint", name, data, trial_id=t_id)
            for name, data, t_id in contents
        ]
        assert len(set(ids)) == 3
        for artifact_id, (_, data, _) in zip(ids, contents, strict=True):
            read = storage.read_artifact(artifact_id)
            assert type(read) is bytes
            assert read == data
        records = storage.get_artifacts(study_id)
        assert [r.artifact_id for r in records] == ids
        for record, (name, data, t_id) in zip(records, contents, strict=True):
            assert record.stored is True
            assert (record.study_id, record.trial_id) == (study_id, t_id)
            assert (record.kind, record.path) == ("checkpoint", name)
            assert record.sha256 == hashlib.sha256(data).hexdigest()
            assert record.size == len(data)
            assert_utc(record.created_at)
        assert records[0].sha256 == hashlib.sha256(b"").hexdigest()
        assert storage.get_artifacts(study_id, trial_id=trial.trial_id) == records[1:]
        # Other bytes-like objects are stored as their bytes; a later mutation changes nothing.
        buffer = bytearray(b"abc")
        from_bytearray = storage.store_artifact(study_id, "x", "ba", buffer)  # type: ignore[arg-type]
        buffer[0] = ord("z")
        view = memoryview(b"0123456")[2:5]
        from_view = storage.store_artifact(study_id, "x", "mv", view)  # type: ignore[arg-type]
        assert storage.read_artifact(from_bytearray) == b"abc"
        assert storage.read_artifact(from_view) == b"234"
        assert [r.size for r in storage.get_artifacts(study_id, kind="x")] == [3, 3]

    def test_path_only_artifact_has_no_stored_content(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        recorded = storage.add_artifact(study_id, "plot", "/tmp/plot.html", SHA, 5)
        stored = storage.store_artifact(study_id, "plot", "plot.html", b"<svg>")
        assert [(r.artifact_id, r.stored) for r in storage.get_artifacts(study_id)] == [
            (recorded, False),
            (stored, True),
        ]
        with pytest.raises(ArtifactNotFoundError, match="no content") as info:
            storage.read_artifact(recorded)
        assert isinstance(info.value, KeyError)
        message = str(info.value)
        assert str(recorded) in message and "add_artifact" in message
        assert "/tmp/plot.html" in message and not message.startswith(("'", '"'))
        assert storage.read_artifact(stored) == b"<svg>"

    def test_store_artifact_validates_before_writing(
        self, storage: RDBStorage, storage_url: str
    ) -> None:
        study_id = make_study(storage)
        other = make_study(storage, "other")
        _, foreign = storage.add_trials(other, proposals(1), claim_worker="w")
        assert foreign is not None
        with pytest.raises(ValueError, match="belongs to study"):
            storage.store_artifact(study_id, "ckpt", "n", b"data", trial_id=foreign.trial_id)
        bad_calls = [
            lambda: storage.store_artifact(study_id, "", "n", b"x"),
            lambda: storage.store_artifact(study_id, "k" * 65, "n", b"x"),
            lambda: storage.store_artifact(study_id, "ckpt", "", b"x"),
            lambda: storage.store_artifact(study_id, "ckpt", None, b"x"),  # type: ignore[arg-type]
            lambda: storage.store_artifact(study_id, "ckpt", "n", "text"),  # type: ignore[arg-type]
            lambda: storage.store_artifact(study_id, "ckpt", "n", None),  # type: ignore[arg-type]
            lambda: storage.store_artifact(study_id, "ckpt", "n", [1, 2]),  # type: ignore[arg-type]
        ]
        for call in bad_calls:
            with pytest.raises(ValueError):
                call()
        with pytest.raises(TypeError):
            storage.store_artifact(True, "ckpt", "n", b"x")
        with pytest.raises(TypeError):
            storage.store_artifact(study_id, "ckpt", "n", b"x", trial_id="1")  # type: ignore[arg-type]
        assert storage.get_artifacts(study_id) == [] and storage.get_artifacts(other) == []
        counts = row_counts(storage_url)
        assert (counts["artifacts"], counts["artifact_blobs"]) == (0, 0)

    def test_store_artifact_writes_row_and_content_atomically(
        self, storage: RDBStorage, storage_url: str
    ) -> None:
        """A failure while writing the content leaves no artifact row behind."""
        study_id = make_study(storage)

        class SimulatedCrashError(Exception):
            pass

        def crash_on_blob(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if "artifact_blobs" in statement and statement.lstrip().upper().startswith("INSERT"):
                raise SimulatedCrashError(
                    "simulated crash between the artifact row and its content"
                )

        engine = storage._engine
        sa.event.listen(engine, "before_cursor_execute", crash_on_blob)
        try:
            with pytest.raises(SimulatedCrashError):
                storage.store_artifact(study_id, "ckpt", "epoch-1.pt", b"weights")
        finally:
            sa.event.remove(engine, "before_cursor_execute", crash_on_blob)
        assert storage.get_artifacts(study_id) == []
        counts = row_counts(storage_url)
        assert (counts["artifacts"], counts["artifact_blobs"]) == (0, 0)
        artifact_id = storage.store_artifact(study_id, "ckpt", "epoch-1.pt", b"weights")
        assert storage.read_artifact(artifact_id) == b"weights"

    def test_get_artifacts_kind_filter(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        other = make_study(storage, "other")
        _, trial = storage.add_trials(study_id, proposals(1), claim_worker="w")
        assert trial is not None
        a = storage.store_artifact(study_id, "checkpoint", "a", b"a")
        b = storage.add_artifact(study_id, "plot", "/b", SHA, 1)
        c = storage.store_artifact(study_id, "checkpoint", "c", b"c", trial_id=trial.trial_id)
        d = storage.add_artifact(study_id, "checkpoint", "/d", SHA, 1, trial_id=trial.trial_id)
        e = storage.store_artifact(study_id, "plot", "e", b"e", trial_id=trial.trial_id)
        storage.store_artifact(other, "checkpoint", "o", b"o")

        def ids(**filters: Any) -> list[int]:
            return [r.artifact_id for r in storage.get_artifacts(study_id, **filters)]

        assert ids() == [a, b, c, d, e]
        assert ids(kind="checkpoint") == [a, c, d]
        assert ids(kind="plot") == [b, e]
        assert ids(kind="checkpoint", trial_id=trial.trial_id) == [c, d]
        assert ids(kind="plot", trial_id=trial.trial_id) == [e]
        assert ids(kind="Checkpoint") == [] and ids(kind="none") == []
        assert [r.stored for r in storage.get_artifacts(study_id, kind="checkpoint")] == [
            True,
            True,
            False,
        ]
        with pytest.raises(ValueError, match="kind"):
            storage.get_artifacts(study_id, kind="")

    def test_delete_artifact_removes_row_and_content(
        self, storage: RDBStorage, storage_url: str
    ) -> None:
        study_id = make_study(storage)
        doomed = storage.store_artifact(study_id, "ckpt", "doomed.pt", b"doomed" * 1000)
        kept = storage.store_artifact(study_id, "ckpt", "kept.pt", b"kept")
        recorded = storage.add_artifact(study_id, "ckpt", "/file.pt", SHA, 3)
        assert row_counts(storage_url)["artifact_blobs"] == 2

        storage.delete_artifact(doomed)

        assert [r.artifact_id for r in storage.get_artifacts(study_id)] == [kept, recorded]
        assert row_counts(storage_url)["artifact_blobs"] == 1
        with pytest.raises(ArtifactNotFoundError, match=str(doomed)):
            storage.read_artifact(doomed)
        with pytest.raises(ArtifactNotFoundError, match=str(doomed)):
            storage.delete_artifact(doomed)
        assert storage.read_artifact(kept) == b"kept"
        storage.delete_artifact(recorded)  # a path-only record can be deleted too
        assert [r.artifact_id for r in storage.get_artifacts(study_id)] == [kept]
        assert row_counts(storage_url)["artifact_blobs"] == 1
        assert storage.read_artifact(kept) == b"kept"

    def test_delete_study_deletes_stored_contents(
        self, storage: RDBStorage, storage_url: str
    ) -> None:
        doomed = make_study(storage, "doomed")
        kept = make_study(storage, "kept")
        kept_ids = []
        for study_id in (doomed, kept):
            _, trial = storage.add_trials(study_id, proposals(1), claim_worker="w")
            assert trial is not None
            payload = f"study {study_id}".encode()
            kept_ids = [
                storage.store_artifact(study_id, "ckpt", "s.pt", payload),
                storage.store_artifact(study_id, "ckpt", "t.pt", payload, trial_id=trial.trial_id),
            ]
        doomed_ids = [r.artifact_id for r in storage.get_artifacts(doomed)]
        assert row_counts(storage_url)["artifact_blobs"] == 4

        storage.delete_study(doomed)

        counts = row_counts(storage_url)
        assert (counts["artifacts"], counts["artifact_blobs"]) == (2, 2)
        for artifact_id in doomed_ids:
            with pytest.raises(ArtifactNotFoundError):
                storage.read_artifact(artifact_id)
        for artifact_id in kept_ids:
            assert storage.read_artifact(artifact_id) == f"study {kept}".encode()

    def test_corrupted_content_is_detected(self, storage: RDBStorage) -> None:
        study_id = make_study(storage)
        data = bytes(range(256)) * 4
        flipped = storage.store_artifact(study_id, "ckpt", "flipped.pt", data)
        truncated = storage.store_artifact(study_id, "ckpt", "truncated.pt", data)
        intact = storage.store_artifact(study_id, "ckpt", "intact.pt", data)
        same_size = bytearray(data)
        same_size[100] ^= 0x01  # one bit: only the digest can tell
        blobs = sa.table("artifact_blobs", sa.column("artifact_id"), sa.column("data"))
        with storage._engine.begin() as connection:
            for artifact_id, tampered in ((flipped, bytes(same_size)), (truncated, data[:-1])):
                result = connection.execute(
                    sa.update(blobs)
                    .where(blobs.c.artifact_id == artifact_id)
                    .values(data=tampered)
                )
                assert result.rowcount == 1
        for artifact_id, name in ((flipped, "flipped.pt"), (truncated, "truncated.pt")):
            with pytest.raises(StorageError, match="corrupt") as info:
                storage.read_artifact(artifact_id)
            assert str(artifact_id) in str(info.value) and name in str(info.value)
            assert not isinstance(info.value, KeyError)
        assert storage.read_artifact(intact) == data
