"""RDBStorage's per-trial hot path: SQL statements per call, and fast-path corner cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from nas._types import Objective, Proposal, TrialState
from nas.storage import RDBStorage
from nas.storage._models import TrialValue

T = TypeVar("T")
_OBJECTIVES = [Objective("loss", "minimize"), Objective("acc", "maximize")]


class _StatementLog:
    """Records the SQL text of every statement the storage's engine executes."""

    def __init__(self, storage: RDBStorage) -> None:
        self.statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            self.statements.append(statement)

        sa.event.listen(storage._engine, "before_cursor_execute", record)

    def run(self, call: Callable[[], T]) -> tuple[T, list[str]]:
        self.statements.clear()
        result = call()
        return result, [s.split()[0] for s in self.statements]


def test_statements_per_call_on_the_hot_path(sqlite_url: str) -> None:
    """A regression guard: each count is the minimum the current design needs.

    Raising one is a deliberate decision (it costs ~0.05 ms on SQLite, a round trip on
    PostgreSQL per trial); the leading ``BEGIN`` is the SQLite transaction itself.
    """
    storage = RDBStorage(sqlite_url)
    study_id = storage.create_study("s", _OBJECTIVES, {}, {"name": "random"}, 0)
    log = _StatementLog(storage)
    proposal = Proposal({"x": 0.5, "k": 3}, info={"generation": 1})

    (_, trial), kinds = log.run(
        lambda: storage.add_trials(study_id, [proposal], max_trials=100, claim_worker="w")
    )
    assert trial is not None
    # lock + read the counter, the trial, its params, its system attrs, advance the counter;
    # no read-back of what was written.
    assert kinds == ["BEGIN", "SELECT", "INSERT", "INSERT", "INSERT", "UPDATE"]

    _, kinds = log.run(lambda: storage.heartbeat(trial.trial_id, "w"))
    assert kinds == ["BEGIN", "UPDATE"]

    _, kinds = log.run(lambda: storage.report(trial.trial_id, 0, {0: 0.5}))
    # one UPDATE checks state and objective indices, locks the row and stamps updated_at.
    assert kinds == ["BEGIN", "UPDATE", "DELETE", "INSERT"]

    _, kinds = log.run(lambda: storage.set_trial_user_attr(trial.trial_id, "k", 1))
    # the UPDATE stamping updated_at is the existence check and the row lock.
    assert kinds == ["BEGIN", "UPDATE", "DELETE", "INSERT"]

    done, kinds = log.run(
        lambda: storage.finish_trial(
            trial.trial_id, TrialState.COMPLETE, values={0: 0.1, 1: 0.9}, worker_id="w"
        )
    )
    # lock the trial row, all its children in one UNION ALL, the update, the values.
    assert kinds == ["BEGIN", "SELECT", "SELECT", "UPDATE", "INSERT"]
    assert done.intermediate_values == {"loss": {0: 0.5}}

    # The runner's refresh after a trial: nothing new (then the study's existence is checked).
    fresh, kinds = log.run(lambda: storage.get_trials(study_id, min_number=1))
    assert fresh == [] and kinds == ["BEGIN", "SELECT", "SELECT"]
    fresh, kinds = log.run(lambda: storage.get_trials(study_id, min_number=0))
    assert fresh == [done] and kinds == ["BEGIN", "SELECT", "SELECT"]

    # Many trials: one SELECT per table (objectives, params, user/system attrs, values,
    # intermediate values), however many trials.
    storage.add_trials(study_id, [proposal] * 30)
    everything, kinds = log.run(lambda: storage.get_trials(study_id))
    assert len(everything) == 31 and kinds == ["BEGIN", "SELECT"] + ["SELECT"] * 6

    claimed, kinds = log.run(lambda: storage.claim_waiting_trial(study_id, "w2"))
    assert claimed is not None and claimed.number == 1
    # candidates, the conditional update, the trial row, its children.
    assert kinds == ["BEGIN", "SELECT", "UPDATE", "SELECT", "SELECT"]
    storage.dispose()


def test_finish_replaces_final_values_found_on_a_running_trial(storage_url: str) -> None:
    """finish_trial reads the children before writing; stray final values are replaced.

    The storage itself never leaves final values on a RUNNING trial; a hand-edited or
    partially migrated database might. Like before the fast path, giving values replaces
    them, and giving none keeps them.
    """
    storage = RDBStorage(storage_url)
    study_id = storage.create_study("s", _OBJECTIVES, {}, {"name": "random"}, 0)
    inserted, first = storage.add_trials(study_id, [Proposal({"x": 1})] * 2, claim_worker="w")
    second = storage.claim_waiting_trial(study_id, "w")
    assert first is not None and second is not None
    engine = sa.create_engine(storage_url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(TrialValue),
            [
                {"trial_id": trial_id, "objective_idx": 0, "value": 42.0}
                for trial_id in (first.trial_id, second.trial_id)
            ],
        )
    engine.dispose()

    replaced = storage.finish_trial(first.trial_id, TrialState.COMPLETE, values={0: 1.0, 1: 2.0})
    assert replaced.values == {"loss": 1.0, "acc": 2.0}
    assert storage.get_trial(first.trial_id) == replaced
    kept = storage.finish_trial(second.trial_id, TrialState.FAILED, failure_reason="x")
    assert kept.values == {"loss": 42.0}
    assert storage.get_trial(second.trial_id) == kept
    assert [t.number for t in inserted] == [0, 1]
    storage.dispose()
