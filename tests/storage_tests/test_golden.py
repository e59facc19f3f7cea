"""The golden databases: one small SQLite file per schema revision (``fixtures/<revision>.db``,
written by ``fixtures/make_golden.py`` with raw SQL in that revision's schema), each upgraded to
the head revision and read through the public API (``nas.load_study``, ``RDBStorage``).

Everything the revision could hold must come back exactly (types included: a JSON ``true``
read back as ``1`` fails); what it could not hold must come back empty, and ``updated_at``
as the v0.3.0.a migration backfills it.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import sys
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

import nas
from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import ArtifactNotFoundError, SchemaVersionError
from nas.storage import (
    HEAD_REVISION,
    ArtifactRecord,
    RDBStorage,
    current_revision,
    upgrade,
)
from nas.storage._schema import known_revisions

MAKER = Path(__file__).parent / "fixtures" / "make_golden.py"


def _load_maker() -> ModuleType:
    """The maker script as a module: its data is the expected content."""
    spec = importlib.util.spec_from_file_location("nas_golden_databases", MAKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


golden = _load_maker()
STUDY: dict[str, Any] = golden.STUDY
NAMES = [name for name, _ in STUDY["objectives"]]


def _same(got: Any, expected: Any) -> bool:
    """Equal, of the same type, in the same order (dicts), with NaN equal to NaN."""
    if type(got) is not type(expected):
        return False
    if isinstance(expected, float):
        return got == expected or (math.isnan(got) and math.isnan(expected))
    if isinstance(expected, dict):
        return list(got) == list(expected) and all(_same(got[k], expected[k]) for k in expected)
    if isinstance(expected, list | tuple):
        return len(got) == len(expected) and all(
            _same(g, e) for g, e in zip(got, expected, strict=True)
        )
    return bool(got == expected)


def _expected_trial(t: Any, has: frozenset[str]) -> FrozenTrial:
    """The FrozenTrial a golden trial must read back as, once its revision is upgraded."""
    constrained = "constraints" in has
    return FrozenTrial(
        trial_id=t.trial_id,
        number=t.number,
        state=TrialState(t.state),
        params=t.params,
        budget=t.budget,
        values={NAMES[i]: v for i, v in enumerate(t.values)},
        intermediate_values=(
            {NAMES[i]: steps for i, steps in t.intermediate.items()}
            if "intermediate_values" in has
            else {}
        ),
        user_attrs=t.user_attrs if "trial_attrs" in has else {},
        system_attrs=t.system_attrs if "trial_attrs" in has else {},
        failure_reason=t.failure_reason,
        worker_id=t.worker,
        datetime_created=t.created,
        datetime_start=t.started,
        datetime_complete=t.finished,
        heartbeat=t.heartbeat,
        restarts=t.restarts,
        # v0.3.0.a backfilled updated_at = COALESCE(finished_at, started_at, created_at).
        datetime_updated=t.updated
        if "updated_at" in has
        else t.finished or t.started or t.created,
        metrics=t.metrics if constrained else {},
        constraint_values=t.constraint_values if constrained else (),
        infeasible_reason=t.infeasible_reason if constrained else None,
    )


def _expected_artifacts(has: frozenset[str]) -> list[ArtifactRecord]:
    if "artifacts" not in has:
        return []
    return [
        ArtifactRecord(
            artifact_id=a.artifact_id,
            study_id=STUDY["id"],
            trial_id=None if a.trial_number is None else 100 + a.trial_number,
            kind=a.kind,
            path=a.path,
            sha256=a.sha256,
            size=a.size,
            created_at=a.created,
            stored=a.data is not None,
        )
        for a in golden.ARTIFACTS
        if a.data is None or "stored_artifacts" in has
    ]


def _upgraded_copy(revision: str, tmp_path: Path) -> str:
    """The URL of a copy of the revision's golden database, refused as is, then upgraded."""
    path = tmp_path / f"{revision}.db"
    shutil.copyfile(golden.path_of(revision), path)
    url = f"sqlite:///{path}"
    assert current_revision(url) == revision
    if revision != HEAD_REVISION:
        with pytest.raises(SchemaVersionError) as info:
            RDBStorage(url)
        message = str(info.value)
        assert revision in message and HEAD_REVISION in message
        assert f"nas db upgrade --storage {url}" in message
    assert upgrade(url) == (revision, HEAD_REVISION)
    assert current_revision(url) == HEAD_REVISION
    return url


def test_every_revision_has_a_small_golden_database() -> None:
    assert list(golden.REVISIONS) == known_revisions()
    for revision in known_revisions():
        path = golden.path_of(revision)
        assert path.is_file(), f"no golden database for {revision}: run {MAKER.name}"
        assert path.stat().st_size < 64 * 1024, path


@pytest.mark.parametrize("revision", known_revisions())
def test_golden_database_upgrades_with_its_data_intact(revision: str, tmp_path: Path) -> None:
    has = golden.features(revision)
    url = _upgraded_copy(revision, tmp_path)
    study = nas.load_study(STUDY["name"], storage=url)
    storage = study.storage
    try:
        assert study.study_id == STUDY["id"]
        assert study.objectives == tuple(Objective(n, d) for n, d in STUDY["objectives"])
        assert study.seed == STUDY["seed"]
        assert (study.searcher_name, study.searcher_options) == ("random", {})
        assert list(study.space.names) == list(STUDY["space"]["params"])
        assert _same(study.user_attrs, STUDY["user_attrs"])
        if "constraints" in has:
            assert study.constraints is not None
            assert study.constraints.to_json() == STUDY["constraints"]
        else:
            assert study.constraints is None
        record = storage.get_study(study.study_id)
        assert record.created_at == STUDY["created_at"]
        assert record.next_trial_number == len(golden.TRIALS)

        trials = study.trials
        assert [t.number for t in trials] == [t.number for t in golden.TRIALS]
        for got, spec in zip(trials, golden.TRIALS, strict=True):
            expected = _expected_trial(spec, has)
            for f in fields(FrozenTrial):
                assert _same(getattr(got, f.name), getattr(expected, f.name)), (
                    spec.number,
                    f.name,
                    getattr(got, f.name),
                )
            assert storage.get_trial(spec.trial_id) == got

        # The constraint information decides what is reported.
        feasible = [t.number for t in study.feasible_trials()]
        front = [t.number for t in study.pareto_front()]
        if "constraints" in has:
            assert (feasible, front) == ([0], [0])
            assert [t.feasible for t in trials] == [True, False, None, None, None, None, False]
        else:
            assert (feasible, front) == ([0, 1, 6], [1, 6])
            assert all(t.feasible is None for t in trials)

        # Change tracking works on the upgraded (or backfilled) updated_at and its index.
        since = datetime(2024, 6, 2, 10, 6, 30, tzinfo=UTC)
        changed = storage.get_trials(study.study_id, updated_since=since)
        # Stored from v0.3.0.a; before, backfilled: trials 3 and 4 look older (created/started).
        assert [t.number for t in changed] == ([3, 4, 5, 6] if "updated_at" in has else [5, 6])
        (summary,) = storage.list_studies()
        assert (summary.name, summary.searcher, summary.n_trials) == ("golden", "random", 7)
        assert summary.state_counts == storage.count_trials(study.study_id)
        assert summary.state_counts == {
            TrialState.WAITING: 1,
            TrialState.RUNNING: 1,
            TrialState.COMPLETE: 3,
            TrialState.PRUNED: 1,
            TrialState.FAILED: 1,
        }
        assert summary.last_update == max(t.datetime_updated for t in trials)

        assert storage.get_lease(study.study_id, "supernet") == (
            "worker-7",
            datetime(2024, 6, 2, 11, 0, tzinfo=UTC),
        )
        artifacts = storage.get_artifacts(study.study_id)
        assert artifacts == _expected_artifacts(has)
        for artifact in artifacts:
            if artifact.stored:
                (spec_artifact,) = [
                    a for a in golden.ARTIFACTS if a.artifact_id == artifact.artifact_id
                ]
                assert storage.read_artifact(artifact.artifact_id) == spec_artifact.data
            else:
                with pytest.raises(ArtifactNotFoundError, match="add_artifact"):
                    storage.read_artifact(artifact.artifact_id)
    finally:
        storage.dispose()


@pytest.mark.parametrize("revision", known_revisions())
def test_upgraded_golden_database_is_fully_usable(revision: str, tmp_path: Path) -> None:
    """New trials continue the numbering, old trials run on, new tables take rows, and
    deleting the study cascades through old and new tables alike."""
    url = _upgraded_copy(revision, tmp_path)
    storage = RDBStorage(url)
    try:
        study_id = storage.get_study_id(STUDY["name"])
        inserted, claimed = storage.add_trials(
            study_id,
            [Proposal({"lr": 0.2, "layers": 1, "act": "relu", "bn": False})],
            claim_worker="w",
        )
        assert [t.number for t in inserted] == [len(golden.TRIALS)]
        assert claimed is not None
        storage.report(claimed.trial_id, 1, {0: 0.3})
        storage.set_trial_user_attr(claimed.trial_id, "new", True)
        done = storage.finish_trial(
            claimed.trial_id,
            TrialState.COMPLETE,
            values={0: 0.3, 1: 0.7},
            metrics={"latency_ms": 1.0},
            constraint_values=[-14.0],
        )
        assert done == storage.get_trial(claimed.trial_id) and done.feasible is True
        running = storage.get_trial(104)  # the golden RUNNING trial, owned by w3
        assert running.state is TrialState.RUNNING
        assert storage.heartbeat(running.trial_id, "w3") is True
        storage.finish_trial(running.trial_id, TrialState.FAILED, worker_id="w3")
        waiting = storage.claim_waiting_trial(study_id, "w")
        assert waiting is not None and (waiting.number, waiting.restarts) == (3, 2)
        assert storage.claim_waiting_trial(study_id, "w") is None
        stored = storage.store_artifact(study_id, "ckpt", "c.pt", b"\x00w", trial_id=done.trial_id)
        assert storage.read_artifact(stored) == b"\x00w"
        assert storage.acquire_lease(study_id, "supernet", "w", ttl=60) is True  # expired

        storage.delete_study(study_id)
        assert storage.list_studies() == []
    finally:
        storage.dispose()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            tables = [
                t for t in sa.inspect(connection).get_table_names() if t != "alembic_version"
            ]
            counts = {
                table: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
                for table in tables
            }
    finally:
        engine.dispose()
    assert counts == dict.fromkeys(tables, 0)
