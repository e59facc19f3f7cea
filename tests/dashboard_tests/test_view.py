"""The dashboard's incrementally refreshed study views (``nas.dashboard._view``): what is read
from the database and when, change numbers, memoised results, multi-fidelity final trials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nas import FrozenTrial, Objective, TrialState
from nas.dashboard import EXCLUDED_ATTR, _view
from nas.dashboard._view import OVERLAP, StudyView, Views, excluded_reason
from nas.exceptions import StudyNotFoundError
from nas.storage import RDBStorage, StudyRecord


class Spy:
    """Wraps a storage and records the ``updated_since`` of each ``get_trials`` call and how
    many trials it returned."""

    def __init__(self, storage: RDBStorage) -> None:
        self.storage = storage
        self.calls: list[tuple[datetime | None, int]] = []

    def get_study(self, study_id: int) -> StudyRecord:
        return self.storage.get_study(study_id)

    def get_trials(self, study_id: int, **kwargs: Any) -> list[FrozenTrial]:
        trials = self.storage.get_trials(study_id, **kwargs)
        self.calls.append((kwargs.get("updated_since"), len(trials)))
        return trials

    def list_studies(self) -> Any:
        return self.storage.list_studies()


@pytest.fixture
def storage(dashboard_db):
    store = dashboard_db.storage()
    yield store
    store.dispose()


@pytest.fixture
def spy(storage) -> Spy:
    return Spy(storage)


def view_of(spy: Spy, study_id: int) -> StudyView:
    return StudyView(spy, study_id).refresh()  # type: ignore[arg-type]


def test_first_refresh_reads_everything_then_only_since_the_cursor(dashboard_db, spy) -> None:
    now = [datetime(2000, 1, 1, tzinfo=UTC)]  # this server's clock, behind every stamp at first
    view = StudyView(spy, dashboard_db.multi, clock=lambda: now[0]).refresh()  # type: ignore[arg-type]
    assert spy.calls == [(None, 60)]
    trials = spy.storage.get_trials(dashboard_db.multi)
    _, snapshot, seq = view.snapshot()
    assert snapshot == trials and seq == view.seq == 61  # the record, then 60 trials
    changed, study_changed = view.changes(0)
    assert changed == trials and study_changed is True

    # Re-read trials that did not change get no new change number.
    cursor = max(t.datetime_updated for t in trials)
    view.refresh(force=True)
    assert spy.calls[1][0] == cursor - OVERLAP
    assert view.seq == 61 and view.changes(61) == ([], False)
    # An idle study: once a refresh started well after the last write, the next one reads
    # from that start (minus the overlap), i.e. nothing - not the last 5 s of writes forever.
    now[0] = cursor + timedelta(minutes=1)
    view.refresh(force=True)
    view.refresh(force=True)
    assert spy.calls[3] == (cursor + timedelta(minutes=1) - OVERLAP, 0)
    assert view.seq == 61


def test_changes_are_exactly_what_was_written(dashboard_db, spy, storage) -> None:
    view = view_of(spy, dashboard_db.multi)
    before = view.seq
    trials = storage.get_trials(dashboard_db.multi)
    storage.set_trial_user_attr(trials[12].trial_id, "seen", True)
    storage.set_trial_user_attr(trials[4].trial_id, "seen", True)
    view.refresh(force=True)
    changed, study_changed = view.changes(before)
    assert [t.number for t in changed] == [4, 12] and study_changed is False
    assert changed[0].user_attrs == {"seen": True}
    assert view.trial(12) is not None and view.trial(12).user_attrs == {"seen": True}

    middle = view.seq
    storage.set_study_user_attr(dashboard_db.multi, "owner", "me")
    view.refresh(force=True)
    assert view.changes(middle) == ([], True)
    assert view.record is not None and view.record.user_attrs == {"owner": "me"}
    assert [t.number for t in view.changes(before)[0]] == [4, 12]


def test_refresh_is_throttled_unless_forced(dashboard_db, spy, storage, monkeypatch) -> None:
    monkeypatch.setattr(_view, "MIN_REFRESH_SECONDS", 3600.0)
    view = view_of(spy, dashboard_db.single)
    storage.set_trial_user_attr(storage.get_trials(dashboard_db.single)[0].trial_id, "k", 1)
    view.refresh()
    assert len(spy.calls) == 1 and view.trial(0).user_attrs == {}
    view.refresh(force=True)
    assert len(spy.calls) == 2 and view.trial(0).user_attrs == {"k": 1}


def test_a_late_commit_with_an_older_stamp_is_still_seen() -> None:
    """PostgreSQL writers commit out of timestamp order: trial 1 stamped before trial 2 may
    become visible after a refresh that saw trial 2. The OVERLAP re-read catches it."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    record = StudyRecord(1, "s", (Objective("v", "minimize"),), {}, {}, 0, {}, t0, 3)

    def made(number: int, seconds: float, state: str = "RUNNING") -> FrozenTrial:
        return FrozenTrial(
            trial_id=number + 1,
            number=number,
            state=TrialState(state),
            params={},
            values={"v": 1.0} if state == "COMPLETE" else {},
            datetime_updated=t0 + timedelta(seconds=seconds),
        )

    class Storage:
        def __init__(self) -> None:
            self.visible = [made(0, 1), made(2, 3)]
            self.asked: list[datetime | None] = []

        def get_study(self, study_id: int) -> StudyRecord:
            return record

        def get_trials(self, study_id: int, updated_since: datetime | None = None) -> list:
            self.asked.append(updated_since)
            return [
                t
                for t in self.visible
                if updated_since is None or t.datetime_updated >= updated_since
            ]

    storage = Storage()
    view = StudyView(storage, 1, clock=lambda: t0).refresh()  # type: ignore[arg-type]
    assert view.trial(1) is None and [t.number for t in view.snapshot()[1]] == [0, 2]
    seq = view.seq
    storage.visible = [made(0, 1), made(1, 2), made(2, 3)]  # trial 1 commits late
    view.refresh(force=True)
    assert storage.asked[-1] == t0 + timedelta(seconds=3) - OVERLAP
    assert [t.number for t in view.changes(seq)[0]] == [1]
    assert [t.number for t in view.snapshot()[1]] == [0, 1, 2]

    seq = view.seq
    storage.visible = [made(0, 1), made(1, 2), made(2, 4, "COMPLETE")]
    view.refresh(force=True)
    changed, _ = view.changes(seq)
    assert [(t.number, t.state) for t in changed] == [(2, TrialState.COMPLETE)]


def test_trial_lookup(dashboard_db, spy) -> None:
    view = view_of(spy, dashboard_db.multi)
    assert view.trial(59) is not None and view.trial(59).number == 59
    assert view.trial(60) is None and view.trial(-1) is None


def test_derived_values_are_memoised_until_the_study_changes(dashboard_db, spy, storage) -> None:
    view = view_of(spy, dashboard_db.single)
    runs: list[int] = []

    def count(record: StudyRecord, trials: list[FrozenTrial]) -> int:
        runs.append(len(trials))
        return sum(t.user_attrs.get("k", 0) for t in trials)

    assert view.derived("k", count) == 0 and view.derived("k", count) == 0
    assert runs == [31] and view.derived_seq("k") == view.seq
    assert view.derived_seq("other") == -1
    storage.set_trial_user_attr(storage.get_trials(dashboard_db.single)[3].trial_id, "k", 5)
    view.refresh(force=True)
    assert view.derived("k", count) == 5 and runs == [31, 31]
    view.refresh(force=True)  # nothing changed
    assert view.derived("k", count) == 5 and runs == [31, 31]


def made_trial(
    number: int, budget: float | None, state: str = "COMPLETE", **attrs: Any
) -> FrozenTrial:
    return FrozenTrial(
        trial_id=number + 1,
        number=number,
        state=TrialState(state),
        params={},
        budget=budget,
        values={"v": float(number)} if state == "COMPLETE" else {},
        user_attrs=attrs,
    )


def test_final_trials() -> None:
    view = StudyView(None, 1)  # type: ignore[arg-type]
    plain = [made_trial(0, None), made_trial(1, None, "FAILED"), made_trial(2, None)]
    assert [t.number for t in view.final_trials(plain)] == [0, 2]
    fidelity = [
        made_trial(0, 1.0),
        made_trial(1, 9.0),
        made_trial(2, 3.0),
        made_trial(3, 9.0, **{EXCLUDED_ATTR: "bad"}),
        made_trial(4, 9.0),
        made_trial(5, 27.0, "RUNNING"),  # not finished: does not raise the bar
    ]
    assert [t.number for t in view.final_trials(fidelity)] == [1, 4]
    # A trial without a budget counts as full fidelity (as nas.Study.final_trials).
    assert [t.number for t in view.final_trials([*fidelity, made_trial(6, None)])] == [6]
    # Excluding every top-budget trial makes the next budget the final one.
    top_excluded = [made_trial(0, 1.0), made_trial(1, 9.0, **{EXCLUDED_ATTR: "x"})]
    assert [t.number for t in view.final_trials(top_excluded)] == [0]


def test_excluded_reason() -> None:
    assert excluded_reason(made_trial(0, None, **{EXCLUDED_ATTR: "flaky GPU"})) == "flaky GPU"
    for value in (None, True, 1, ["x"]):
        assert excluded_reason(made_trial(0, None, **{EXCLUDED_ATTR: value})) is None
    assert excluded_reason(made_trial(0, None)) is None


def test_views_create_drop_and_forget_missing_studies(
    dashboard_db, storage, instant_refresh
) -> None:
    views = Views(storage)
    assert views.instance != Views(storage).instance
    assert views.peek(dashboard_db.multi) is None
    view = views.get(dashboard_db.multi)
    assert views.peek(dashboard_db.multi) is view and views.get(dashboard_db.multi) is view
    with pytest.raises(StudyNotFoundError):
        views.get(9999)
    assert views.peek(9999) is None
    # a view loaded before its study is deleted is dropped on the next refresh
    views.get(dashboard_db.single)
    storage.delete_study(dashboard_db.single)
    with pytest.raises(StudyNotFoundError):
        views.get(dashboard_db.single)
    assert views.peek(dashboard_db.single) is None


def test_preload_loads_the_latest_studies_within_the_budget(dashboard_db, spy) -> None:
    views = Views(spy)  # type: ignore[arg-type]
    # Latest first: xss (3 trials), single (31), then multi (60) would exceed 40 in all.
    views.preload(max_trials=40)
    assert views.peek(dashboard_db.xss) is not None
    assert views.peek(dashboard_db.single) is not None
    assert views.peek(dashboard_db.multi) is None
    assert sorted(n for _, n in spy.calls) == [3, 31]
