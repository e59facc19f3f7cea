"""get_trials must stay fast on a large study: 10,000 trials x 5 params x 2 objectives.

Speed is measured by benchmarks/bench_storage.py, not asserted here (a loaded CI machine would
make a time limit flaky); what a test can pin down is the cause of a slow load: the number of
SQL statements must not grow with the number of trials.
"""

from __future__ import annotations

import sqlalchemy as sa

from nas._types import Objective, Proposal, TrialState
from nas.storage import RDBStorage, TrialImport
from nas.storage._models import Trial, TrialValue

N_TRIALS = 10_000


def test_get_trials_loads_10k_trials_in_a_bounded_number_of_queries(sqlite_url: str) -> None:
    storage = RDBStorage(sqlite_url)
    objectives = [Objective("loss", "minimize"), Objective("acc", "maximize")]
    study_id = storage.create_study("big", objectives, {}, {"name": "random"}, 0)
    proposals = [
        Proposal({"lr": i / N_TRIALS, "layers": i % 7, "act": "relu", "bn": i % 2 == 0, "d": None})
        for i in range(N_TRIALS)
    ]
    inserted, _ = storage.add_trials(study_id, proposals)
    # Finishing 10,000 trials one call at a time would dominate the test: write the values
    # and states in bulk, as the workers would have.
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(TrialValue),
            [
                {"trial_id": t.trial_id, "objective_idx": k, "value": t.number + k / 10}
                for t in inserted
                for k in range(2)
            ],
        )
        connection.execute(
            sa.update(Trial).where(Trial.study_id == study_id).values(state="COMPLETE")
        )
    engine.dispose()

    statements: list[str] = []
    sa.event.listen(
        storage._engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: statements.append(statement),
    )
    trials = storage.get_trials(study_id)
    # One SELECT of the trials and one per child table (params, values, intermediate values,
    # user and system attributes), whatever the number of trials - never one per trial.
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert 1 <= len(selects) <= 8, statements
    assert len(trials) == N_TRIALS
    last = trials[-1]
    assert last.state is TrialState.COMPLETE and last.number == N_TRIALS - 1
    assert last.values == {"loss": N_TRIALS - 1, "acc": N_TRIALS - 1 + 0.1}
    assert last.params == proposals[-1].params
    storage.dispose()


def test_import_trials_writes_in_a_bounded_number_of_statements(sqlite_url: str) -> None:
    """import_trials (``nas import``, ``nas copy``) batches its rows: the number of statements
    is the same for 10 trials as for 2,000 (one executemany per table)."""
    storage = RDBStorage(sqlite_url)
    objectives = [Objective("loss", "minimize"), Objective("acc", "maximize")]
    study_id = storage.create_study("big", objectives, {}, {"name": "random"}, 0)

    def imports(n: int) -> list[TrialImport]:
        return [
            TrialImport(
                TrialState.COMPLETE,
                {"lr": i / n, "layers": i % 7},
                values={0: float(i), 1: 0.5},
                intermediate_values={0: {0: 1.0, 1: 0.5}},
                user_attrs={"i": i},
                system_attrs={"g": 1},
                metrics={"m": 1.0},
            )
            for i in range(n)
        ]

    counts = []
    for n in (10, 2_000):
        statements: list[str] = []

        def record(conn, cursor, statement, *args, sink=statements) -> None:
            sink.append(statement)

        sa.event.listen(storage._engine, "before_cursor_execute", record)
        inserted = storage.import_trials(study_id, imports(n))
        sa.event.remove(storage._engine, "before_cursor_execute", record)
        assert len(inserted) == n
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert storage.get_trials(study_id, min_number=10)[-1] == inserted[-1]
    storage.dispose()
