"""get_trials must stay fast on a large study: 10,000 trials x 5 params x 2 objectives."""

from __future__ import annotations

import time

import sqlalchemy as sa

from nas._types import Objective, Proposal, TrialState
from nas.storage import RDBStorage
from nas.storage._models import Trial, TrialValue

N_TRIALS = 10_000


def test_get_trials_loads_10k_trials_in_well_under_a_second(sqlite_url: str) -> None:
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

    timings = []
    for _ in range(2):
        started = time.perf_counter()
        trials = storage.get_trials(study_id)
        timings.append(time.perf_counter() - started)
    assert min(timings) < 1.0, timings
    assert len(trials) == N_TRIALS
    last = trials[-1]
    assert last.state is TrialState.COMPLETE and last.number == N_TRIALS - 1
    assert last.values == {"loss": N_TRIALS - 1, "acc": N_TRIALS - 1 + 0.1}
    assert last.params == proposals[-1].params
    storage.dispose()
