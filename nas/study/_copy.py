"""Copying a study -- its definition, its trials, its artifacts -- to another storage or under
another name (:func:`copy_study`, ``nas copy``), e.g. from a laptop's SQLite file to the team's
PostgreSQL server and back.
"""

from __future__ import annotations

import contextlib
import secrets

from nas._attrs import LEASE_PREFIX
from nas.exceptions import DuplicatedStudyError, StorageError, StudyNotFoundError
from nas.storage import RDBStorage, get_storage, mask_url, trial_import_of
from nas.study._study import DEFAULT_STORAGE, Study
from nas.study._values import check_study_name

__all__ = ["copy_study"]

#: The name a copy has while it is being written (a suffix is added): never the final name,
#: so a copy cut short (killed) is never mistaken for a complete one.
_IN_PROGRESS = ".nas-copy-in-progress-"


def copy_study(
    name: str,
    from_storage: str | RDBStorage = DEFAULT_STORAGE,
    to_storage: str | RDBStorage = DEFAULT_STORAGE,
    new_name: str | None = None,
) -> Study:
    """Copy study ``name`` of ``from_storage`` to ``to_storage`` as ``new_name`` (default: the
    same name), with everything it holds.

    Copied: the definition (space, objectives, searcher and its options, seed, constraints),
    every study user attribute except leases (``nas.lease.*``: held by processes working on
    the source), every trial with every field and its number (params, budget, values,
    intermediate values, user and system attributes, metrics, constraint values, failure
    reason, worker, restarts, times), and every artifact (its record with its creation time;
    a content stored in the database is copied and checked against its digest, a path-only
    artifact keeps its path). A RUNNING trial -- its worker is working on the source, not on
    the copy -- is copied as WAITING, as if re-queued (no worker, start or heartbeat; its
    intermediate values kept), so the copy's workers run it again; WAITING trials stay
    WAITING. Each trial's ``datetime_updated`` is the time of the copy.

    The source is read as it is at the start (trials in one snapshot); a study that is being
    run may gain trials meanwhile, which are not copied (nor their artifacts).

    The copy is written under a temporary name (``<new name> .nas-copy-in-progress-<hex>``)
    and renamed when complete: the new name never holds a partial study. On an error the
    partial copy is deleted; a copy killed midway leaves the temporary study behind (delete
    it with ``nas delete``).

    Args:
        name: the study to copy.
        from_storage / to_storage: URLs or storages; may be the same (with ``new_name``).
        new_name: the copy's name; default ``name``.

    Returns:
        The copy, opened on ``to_storage``.

    Raises:
        StudyNotFoundError: no study ``name`` in ``from_storage``.
        DuplicatedStudyError: ``to_storage`` already has a study named like the copy
            (nothing is written).
        StudyConfigError: ``new_name`` is empty.
        StorageError: a database failed (the partial copy is removed).
    """
    target = check_study_name(name if new_name is None else new_name, "new name")
    source = get_storage(from_storage)
    dest = get_storage(to_storage)
    source_id = source.get_study_id(name)
    _refuse_taken(dest, target)
    record = source.get_study(source_id)
    trials = source.get_trials(source_id)
    artifacts = source.get_artifacts(source_id)
    names = [o.name for o in record.objectives]
    if [t.number for t in trials] != list(range(len(trials))):
        raise StorageError(  # pragma: no cover - numbers are gap-free by construction
            f"study {name!r} in {mask_url(source.url)} has trial numbers that are not 0..n-1"
        )
    attrs = {k: v for k, v in record.user_attrs.items() if not k.startswith(LEASE_PREFIX)}
    temporary = f"{target[:400]} {_IN_PROGRESS}{secrets.token_hex(6)}"
    copy_id = dest.create_study(
        temporary,
        record.objectives,
        record.space,
        record.searcher,
        record.seed,
        user_attrs=attrs,
        constraints=record.constraints,
    )
    try:
        copies = dest.import_trials(
            copy_id, [trial_import_of(t, names) for t in trials], expected_next_number=0
        )
        trial_ids = {t.trial_id: c.trial_id for t, c in zip(trials, copies, strict=True)}
        for a in artifacts:
            if a.trial_id is not None and a.trial_id not in trial_ids:
                continue  # of a trial added after the snapshot
            dest.import_artifact(
                copy_id,
                a.kind,
                a.path,
                a.sha256,
                a.size,
                trial_id=None if a.trial_id is None else trial_ids[a.trial_id],
                created_at=a.created_at,
                data=source.read_artifact(a.artifact_id) if a.stored else None,
            )
        dest.rename_study(copy_id, target)
    except BaseException:
        with contextlib.suppress(Exception):
            dest.delete_study(copy_id)
        raise
    return Study(dest, copy_id)


def _refuse_taken(storage: RDBStorage, name: str) -> None:
    """Raise DuplicatedStudyError when ``storage`` has a study ``name``."""
    try:
        storage.get_study_id(name)
    except StudyNotFoundError:
        return
    raise DuplicatedStudyError(
        f"a study named {name!r} already exists in {mask_url(storage.url)}; choose another "
        "name for the copy (--name NEW), or delete that study first with `nas delete`"
    )
