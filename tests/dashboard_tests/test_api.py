"""The dashboard's JSON API over a real SQLite storage: every answer is checked against the
database (or ``nas.Study``) computed independently, and the security rules (read-only by
default, same-origin JSON writes, allowed hosts, no user data in HTML, local assets only).

Fixtures ``dashboard_db``, ``make_client`` and ``instant_refresh``: see ``conftest.py``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nas
from nas import TrialState
from nas.dashboard import EXCLUDED_ATTR, PLOTLY_URL, _view
from nas.dashboard._bundle import VENDOR, load_bundle
from nas.pareto import pareto_mask
from nas.storage import RDBStorage, get_storage

COMPLETE = TrialState.COMPLETE


@pytest.fixture(scope="module")
def db(shared_dashboard_db):
    """The read-only database of this module's tests (tests that write use ``mdb``)."""
    return shared_dashboard_db


@pytest.fixture(scope="module")
def storage(db):
    store = db.storage()
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def client(db):
    """One server for the read-only tests (building an app costs ~0.3 s)."""
    from fastapi.testclient import TestClient

    from nas.dashboard import create_app

    with TestClient(create_app(db.url, allowed_hosts=("testserver",))) as shared:
        yield shared


@pytest.fixture
def mdb(dashboard_db):
    """A private copy for a test that writes."""
    return dashboard_db


@pytest.fixture
def mstorage(mdb):
    store = mdb.storage()
    yield store
    store.dispose()


@pytest.fixture
def mclient(mdb, make_client):
    return make_client(mdb.url)


@pytest.fixture
def writer(mdb, make_client):
    return make_client(mdb.url, allow_write=True)


def ok(response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def trials_page(client, study_id: int, **params: Any) -> dict[str, Any]:
    return ok(client.get(f"/api/studies/{study_id}/trials", params={"limit": 500, **params}))


def numbers(page: dict[str, Any]) -> list[int]:
    return [row["number"] for row in page["rows"]]


def complete(storage: RDBStorage, study_id: int) -> list[nas.FrozenTrial]:
    return [t for t in storage.get_trials(study_id) if t.state is COMPLETE]


JSON = {"Content-Type": "application/json"}


# ---------------------------------------------------------------------------- studies


def test_studies_list_matches_the_database(db, client, storage) -> None:
    items = ok(client.get("/api/studies"))
    assert [i["id"] for i in items] == [db.multi, db.single, db.xss]
    assert [i["name"] for i in items] == [db.multi_name, db.single_name, db.xss_name]
    by_id = {i["id"]: i for i in items}
    assert by_id[db.multi]["objectives"] == [
        {"name": "loss", "direction": "minimize"},
        {"name": "acc", "direction": "maximize"},
    ]
    assert by_id[db.single]["objectives"] == [{"name": "acc", "direction": "maximize"}]
    for item in items:
        trials = storage.get_trials(item["id"])
        counts = Counter(t.state.value for t in trials)
        assert item["states"] == {s.value: counts.get(s.value, 0) for s in TrialState}
        assert item["n_trials"] == len(trials)
        assert item["searcher"] == "random"
        last = max(t.datetime_updated for t in trials)
        assert datetime.fromisoformat(item["last_update"]) == last
    assert by_id[db.multi]["states"]["FAILED"] == 1 and by_id[db.multi]["states"]["PRUNED"] == 1


def test_single_objective_best_is_the_best_complete_trial(db, client, storage) -> None:
    detail = ok(client.get(f"/api/studies/{db.single}"))
    done = complete(storage, db.single)
    best = max(done, key=lambda t: t.values["acc"])
    assert detail["best"] == {"number": best.number, "value": best.values["acc"]}
    # The PRUNED trial's 5.0 is better but is no result.
    pruned = storage.get_trials(db.single)[db.single_pruned_number]
    assert pruned.state is TrialState.PRUNED and pruned.values["acc"] > best.values["acc"]
    assert detail["pareto_size"] is None and detail["n_final"] == len(done) == 30
    assert detail["params"] == ["x", "n", "act"] and detail["n_trials"] == db.n_single
    assert detail["states"]["COMPLETE"] == 30 and detail["states"]["PRUNED"] == 1


def test_multi_objective_summary_has_the_pareto_size(db, client) -> None:
    detail = ok(client.get(f"/api/studies/{db.multi}"))
    study = nas.load_study(db.multi_name, storage=db.url)
    assert detail["best"] is None
    assert detail["pareto_size"] == len(study.pareto_front()) > 1
    assert detail["n_final"] == 58 and detail["n_excluded"] == 0
    assert detail["name"] == db.multi_name and detail["searcher"]["name"] == "random"
    assert detail["params"] == ["x", "lr", "opt", "momentum", "depth"]


@pytest.mark.parametrize(
    "path",
    ["", "/trials", "/trials/0", "/data", "/changes?cursor=x.1", "/pareto", "/plots/history"],
)
def test_unknown_study_is_404_with_a_json_detail(client, path: str) -> None:
    response = client.get(f"/api/studies/9999{path}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "9999" in response.json()["detail"]


# ---------------------------------------------------------------------------- multi-fidelity

HB_OPTIONS = {"min_budget": 1, "max_budget": 9, "eta": 3}


@pytest.fixture(scope="module")
def hyperband_url(tmp_path_factory) -> str:
    """A 30-trial hyperband study whose low-budget results look better than the final ones."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hb')}/hb.db"
    study = nas.create_study(
        name="hb",
        space={"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}},
        objectives={"loss": "minimize"},
        searcher="hyperband",
        searcher_options=HB_OPTIONS,
        storage=url,
        seed=0,
    )

    def objective(trial: nas.Trial) -> float:
        for step in range(int(trial.budget)):
            trial.report(step, (trial.params["x"] - 0.3) ** 2 + 0.05 * step)
        return (trial.params["x"] - 0.3) ** 2 + 0.05 * trial.budget

    study.optimize(objective, n_trials=30)
    study.storage.dispose()
    return url


def test_multi_fidelity_best_comes_from_the_largest_budget(hyperband_url, make_client) -> None:
    client = make_client(hyperband_url)
    study = nas.load_study("hb", storage=hyperband_url)
    detail = ok(client.get(f"/api/studies/{study.study_id}"))
    expected = study.best_trial
    assert detail["best"] == {"number": expected.number, "value": expected.values["loss"]}
    assert detail["budgets"] == [1.0, 3.0, 9.0]
    assert detail["n_final"] == len(study.final_trials())
    # The test has teeth: a lower budget holds a better-looking (but unfinished) result.
    overall = min(study.get_trials((COMPLETE,)), key=lambda t: t.values["loss"])
    assert overall.budget < 9 and overall.number != expected.number


def test_intermediate_curves_of_hyperband_trials_carry_bracket_and_rung(
    hyperband_url, make_client
) -> None:
    client = make_client(hyperband_url)
    study = nas.load_study("hb", storage=hyperband_url)
    data = ok(client.get(f"/api/studies/{study.study_id}/plots/intermediate"))
    by_number = {t.number: t for t in study.trials}
    assert [c["number"] for c in data["curves"]] == sorted(by_number)
    for curve in data["curves"]:
        t = by_number[curve["number"]]
        assert curve["steps"] == list(range(int(t.budget)))
        assert curve["values"] == [t.intermediate_values["loss"][s] for s in curve["steps"]]
        assert curve["budget"] == t.budget
        assert curve["bracket"] == t.system_attrs["bracket"] is not None
        assert curve["rung"] == t.system_attrs["rung"] is not None
    assert {c["rung"] for c in data["curves"]} == {0, 1, 2}


# ---------------------------------------------------------------------------- trials table


def test_pagination_covers_every_trial_once(db, client) -> None:
    seen: list[int] = []
    offset = 0
    while True:
        page = trials_page(client, db.multi, offset=offset, limit=7)
        assert page["total"] == page["n_trials"] == 60
        assert page["offset"] == offset and page["limit"] == 7
        assert len(page["rows"]) == min(7, 60 - offset)
        seen += numbers(page)
        offset += 7
        if offset >= 60:
            break
    assert seen == list(range(60))
    assert trials_page(client, db.multi, offset=60)["rows"] == []
    page = trials_page(client, db.multi, offset=55, limit=50)
    assert numbers(page) == [55, 56, 57, 58, 59] and page["total"] == 60


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_by_objective_puts_missing_values_last(db, client, storage, order) -> None:
    page = trials_page(client, db.multi, sort="loss", order=order)
    # COMPLETE trials, and the PRUNED one with the loss it last reported (no acc), by loss
    valued = [t for t in storage.get_trials(db.multi) if "loss" in t.values]
    pruned = storage.get_trials(db.multi)[db.pruned_number]
    assert len(valued) == 59 and pruned.values.keys() == {"loss"}
    expected = sorted(valued, key=lambda t: t.values["loss"], reverse=order == "desc")
    assert numbers(page)[:59] == [t.number for t in expected]
    assert numbers(page)[59:] == [db.failed_number]
    assert page["rows"][-1]["values"] == [None, None]
    # values.NAME is the same field
    assert numbers(trials_page(client, db.multi, sort="values.loss", order=order)) == numbers(page)


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sort_by_a_param_puts_inactive_ones_last(db, client, storage, order) -> None:
    page = trials_page(client, db.multi, sort="momentum", order=order)
    trials = storage.get_trials(db.multi)
    sgd = sorted(
        (t for t in trials if "momentum" in t.params),
        key=lambda t: t.params["momentum"],
        reverse=order == "desc",
    )
    adam = [t.number for t in trials if "momentum" not in t.params]
    assert sgd and adam
    assert numbers(page) == [t.number for t in sgd] + adam
    by_lr = trials_page(client, db.multi, sort="params.lr", order=order)
    lrs = [row["params"]["lr"] for row in by_lr["rows"]]
    assert lrs == sorted(lrs, reverse=order == "desc")


FILTERS: list[tuple[str, Any]] = [
    ("loss < 0.3", lambda t: t.state is COMPLETE and t.values["loss"] < 0.3),
    ("values.acc >= 0.8", lambda t: t.state is COMPLETE and t.values["acc"] >= 0.8),
    ("opt == sgd", lambda t: t.params["opt"] == "sgd"),
    ("opt == 'sgd'", lambda t: t.params["opt"] == "sgd"),
    ("params.opt == adam and x > 0.5", lambda t: t.params["opt"] == "adam" and t.params["x"] > 0.5),
    ("state in (FAILED, PRUNED)", lambda t: t.state in (TrialState.FAILED, TrialState.PRUNED)),
    ("state ~ plet", lambda t: t.state is COMPLETE),
    ("number in (1, 2, 3) and opt != adam", lambda t: t.number in (1, 2, 3) and t.params["opt"] != "adam"),
    ("number >= 55", lambda t: t.number >= 55),
    # an inactive parameter matches no comparison, not even !=
    ("momentum != 0.5", lambda t: "momentum" in t.params),
    ("momentum < 0.5", lambda t: t.params.get("momentum", 1.0) < 0.5),
    ("depth == 2 AND lr <= 0.001", lambda t: t.params["lr"] <= 0.001),
    ("excluded == false and state == COMPLETE", lambda t: t.state is COMPLETE),
    ("", lambda t: True),
]  # fmt: skip


@pytest.mark.parametrize(("text", "predicate"), FILTERS, ids=[f[0] or "empty" for f in FILTERS])
def test_filter_language(db, client, storage, text, predicate) -> None:
    expected = [t.number for t in storage.get_trials(db.multi) if predicate(t)]
    page = trials_page(client, db.multi, filter=text)
    assert numbers(page) == expected
    assert page["total"] == len(expected) and page["n_trials"] == 60


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("nope < 1", "'nope'"),
        ("values.nope > 1", "'values.nope'"),
        ("params.nope > 1", "'params.nope'"),
        ("x <", "value"),
        ("x 0.5", "operator"),
        ("x < 1 or x > 2", "'or'"),
        ("state in COMPLETE", "parentheses"),
        ("state in (COMPLETE", "')'"),
        ("x < 'open", "'open"),
        ("x < 1 and", "field name"),
    ],
)
def test_bad_filter_is_400_naming_the_problem(db, client, text, names) -> None:
    response = client.get(f"/api/studies/{db.multi}/trials", params={"filter": text})
    assert response.status_code == 400, response.text
    assert names in response.json()["detail"]


def test_bad_sort_or_paging_is_refused(db, client) -> None:
    url = f"/api/studies/{db.multi}/trials"
    response = client.get(url, params={"sort": "nope"})
    assert response.status_code == 400 and "'nope'" in response.json()["detail"]
    response = client.get(url, params={"sort": "params.nope"})
    assert response.status_code == 400 and "'params.nope'" in response.json()["detail"]
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"order": "up"}):
        assert client.get(url, params=params).status_code == 422, params
    assert len(ok(client.get(url, params={"limit": 500}))["rows"]) == 60


# ---------------------------------------------------------------------------- one trial


def test_trial_detail(db, client, storage) -> None:
    trials = storage.get_trials(db.multi)
    for number in (0, 3):
        detail = ok(client.get(f"/api/studies/{db.multi}/trials/{number}"))
        t = trials[number]
        assert detail["number"] == number and detail["state"] == "COMPLETE"
        assert detail["params"] == t.params and detail["values"] == t.values
        assert detail["intermediate_values"] == {
            "loss": {
                "steps": [0, 1, 2],
                "values": [t.intermediate_values["loss"][s] for s in range(3)],
            }
        }
        assert detail["failure_reason"] is None and detail["excluded"] is None
    failed = ok(client.get(f"/api/studies/{db.multi}/trials/{db.failed_number}"))
    assert failed["state"] == "FAILED" and failed["values"] == {}
    assert failed["failure_reason"].startswith("Traceback (most recent call last)")
    assert "RuntimeError: diverged at step 2" in failed["failure_reason"]
    assert failed["intermediate_values"]["loss"]["steps"] == [0, 1, 2]
    # an inactive parameter is absent, not null
    adam = next(t for t in trials if t.params["opt"] == "adam")
    assert (
        "momentum" not in ok(client.get(f"/api/studies/{db.multi}/trials/{adam.number}"))["params"]
    )


@pytest.mark.parametrize("number", [60, 10**6])
def test_unknown_trial_is_404(db, client, number) -> None:
    response = client.get(f"/api/studies/{db.multi}/trials/{number}")
    assert response.status_code == 404 and str(number) in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/studies/1/trials/-1",
        f"/api/studies/{2**70}",
        f"/api/artifacts/{2**70}",
        "/api/studies/-3/data",
    ],
)
def test_out_of_range_ids_are_refused_not_crashing(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text


def test_artifacts_are_listed_and_downloaded_byte_for_byte(mdb, mclient, mstorage) -> None:
    t = mstorage.get_trials(mdb.multi)[4]
    content = bytes(range(256)) * 40 + b"\x00\r\n"
    stored = mstorage.store_artifact(
        mdb.multi, "checkpoint", "weights/epoch-3.pt", content, t.trial_id
    )
    recorded = mstorage.add_artifact(
        mdb.multi, "log", "/elsewhere/log.txt", "0" * 64, 12, t.trial_id
    )
    detail = ok(mclient.get(f"/api/studies/{mdb.multi}/trials/4"))
    listed = {a["id"]: a for a in detail["artifacts"]}
    assert set(listed) == {stored, recorded}
    assert listed[stored]["path"] == "weights/epoch-3.pt" and listed[stored]["stored"] is True
    assert listed[stored]["size"] == len(content) and listed[stored]["kind"] == "checkpoint"
    assert listed[recorded]["stored"] is False
    assert ok(mclient.get(f"/api/studies/{mdb.multi}/trials/5"))["artifacts"] == []

    response = mclient.get(f"/api/artifacts/{stored}")
    assert response.status_code == 200 and response.content == content
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["content-type"] == "application/octet-stream"
    # A path-only artifact has no content here; an unknown id is 404 too.
    for missing in (recorded, 10**6):
        response = mclient.get(f"/api/artifacts/{missing}")
        assert response.status_code == 404 and "detail" in response.json()


# ---------------------------------------------------------------------------- polling


def data(client, study_id: int) -> dict[str, Any]:
    return ok(client.get(f"/api/studies/{study_id}/data"))


def changes(client, study_id: int, cursor: str) -> dict[str, Any]:
    return ok(client.get(f"/api/studies/{study_id}/changes", params={"cursor": cursor}))


def more_trials(url: str, name: str, total: int) -> None:
    study = nas.load_study(name, storage=url)
    study.optimize(lambda t: {"loss": t.params["x"], "acc": 0.5}, n_trials=total)
    study.storage.dispose()


def test_changes_cursor_protocol(mdb, mclient, mstorage, instant_refresh) -> None:
    first = data(mclient, mdb.multi)
    assert first["reset"] is True and first["n_trials"] == 60
    assert first["trials"]["number"] == list(range(60))
    assert first["trials"]["values"][0][0] == mstorage.get_trials(mdb.multi)[0].values["loss"]
    assert first["trials"]["state"][mdb.failed_number] == "FAILED"

    quiet = changes(mclient, mdb.multi, first["cursor"])
    assert quiet["reset"] is False and quiet["trials"]["number"] == []
    assert quiet["study_changed"] is False and quiet["cursor"] == first["cursor"]

    more_trials(mdb.url, mdb.multi_name, 63)
    grown = changes(mclient, mdb.multi, quiet["cursor"])
    assert grown["reset"] is False and grown["n_trials"] == 63
    assert grown["trials"]["number"] == [60, 61, 62]
    assert grown["trials"]["state"] == ["COMPLETE"] * 3
    assert changes(mclient, mdb.multi, grown["cursor"])["trials"]["number"] == []

    mstorage.set_trial_user_attr(mstorage.get_trials(mdb.multi)[3].trial_id, "note", "look")
    touched = changes(mclient, mdb.multi, grown["cursor"])
    assert touched["trials"]["number"] == [3] and touched["study_changed"] is False
    # An old cursor still gets everything since it, once each.
    assert changes(mclient, mdb.multi, quiet["cursor"])["trials"]["number"] == [3, 60, 61, 62]

    for bogus in ("0123456789ab.5", "garbage", first["cursor"].split(".")[0] + ".x"):
        reset = changes(mclient, mdb.multi, bogus)
        assert reset["reset"] is True and reset["trials"]["number"] == list(range(63))


def test_changes_from_another_server_instance_reset(mdb, make_client) -> None:
    one, two = make_client(mdb.url), make_client(mdb.url)
    cursor = data(one, mdb.multi)["cursor"]
    reset = changes(two, mdb.multi, cursor)
    assert reset["reset"] is True and reset["trials"]["number"] == list(range(60))
    assert changes(two, mdb.multi, reset["cursor"])["trials"]["number"] == []


def test_a_poll_reads_only_the_recent_trials(
    mdb, make_client, mstorage, instant_refresh, monkeypatch
) -> None:
    """The server never re-reads the whole study on a poll: it asks the mstorage for the trials
    updated since its cursor (minus OVERLAP)."""
    calls: list[tuple[int, datetime | None, int]] = []
    original = RDBStorage.get_trials

    def spy(self, study_id, **kwargs):
        result = original(self, study_id, **kwargs)
        calls.append((study_id, kwargs.get("updated_since"), len(result)))
        return result

    monkeypatch.setattr(RDBStorage, "get_trials", spy)
    # The fixture's trials were all written moments ago, well within the real OVERLAP: with it
    # a re-read of all 60 would be right. Here the window is empty so the count is exact.
    monkeypatch.setattr(_view, "OVERLAP", timedelta(0))
    mclient = make_client(mdb.url, preload=False)
    cursor = data(mclient, mdb.multi)["cursor"]
    assert [(s, since) for s, since, _ in calls] == [(mdb.multi, None)]
    assert calls[0][2] == 60
    trials = mstorage.get_trials(mdb.multi)
    last = max(t.datetime_updated for t in trials)

    calls.clear()
    mstorage.set_trial_user_attr(trials[3].trial_id, "note", "look")
    polled = changes(mclient, mdb.multi, cursor)
    assert polled["trials"]["number"] == [3]
    mine = [c for c in calls if c[0] == mdb.multi]
    assert mine and all(since is not None and since >= last for _, since, _ in mine)
    assert all(n <= 2 for _, _, n in mine), mine  # trial 3 (+ the last one, inclusive bound)

    calls.clear()
    changes(mclient, mdb.multi, polled["cursor"])
    assert all(since is not None and n <= 2 for s, since, n in calls if s == mdb.multi), calls


def test_a_refresh_between_reading_changes_and_answering_is_not_lost(
    mdb, mclient, mstorage, instant_refresh, monkeypatch
) -> None:
    """Another request may refresh the view while a poll is being answered: the cursor handed
    back must not claim changes the poll did not send."""
    cursor = data(mclient, mdb.multi)["cursor"]
    trial = mstorage.get_trials(mdb.multi)[9]
    original = _view.StudyView.changes
    raced = []

    def changes_then_a_concurrent_refresh(self, since):
        out = original(self, since)
        if not raced:
            raced.append(True)
            mstorage.set_trial_user_attr(trial.trial_id, "k", 1)
            self.refresh(force=True)
        return out

    monkeypatch.setattr(_view.StudyView, "changes", changes_then_a_concurrent_refresh)
    first = changes(mclient, mdb.multi, cursor)
    assert first["trials"]["number"] == []
    monkeypatch.setattr(_view.StudyView, "changes", original)
    assert 9 in changes(mclient, mdb.multi, first["cursor"])["trials"]["number"]


# ---------------------------------------------------------------------------- pareto and plots


def test_pareto_is_the_study_pareto_front(db, client) -> None:
    study = nas.load_study(db.multi_name, storage=db.url)
    expected = study.pareto_front()
    front = ok(client.get(f"/api/studies/{db.multi}/pareto"))
    assert sorted(front["numbers"]) == [t.number for t in expected]
    assert front["n_final"] == 58
    by_number = {t.number: t for t in expected}
    losses = [by_number[n].values["loss"] for n in front["numbers"]]
    assert losses == sorted(losses)  # front order: by the first objective
    assert [r["number"] for r in front["trials"]] == front["numbers"]
    assert front["trials"][0]["values"] == [
        by_number[front["numbers"][0]].values["loss"],
        by_number[front["numbers"][0]].values["acc"],
    ]


def test_nas_front_has_one_row_per_architecture_with_its_trials(tmp_path, make_client) -> None:
    url = f"sqlite:///{tmp_path}/archs.db"
    study = nas.create_study(
        "archs",
        {"params": {"x": {"type": "int", "low": 0, "high": 5}}},
        {"accuracy": "maximize", "mflops": "minimize"},
        storage=url,
    )
    study.set_user_attr("nas.objective", {"type": "supernet"})
    widths = {0: 4, 1: 4, 2: 8, 3: 8, 4: 8, 5: 16}

    def objective(trial):  # trials 0-1, 2-4 and 5 share an architecture (values differ)
        w = widths[trial.params["x"]]
        trial.set_user_attr("arch", {"depths": [1], "layers": [[["conv", 3, w]]]})
        return {"accuracy": w + 0.1 * trial.params["x"], "mflops": float(w)}

    for x in range(6):
        study.enqueue({"x": x})
    study.optimize(objective, n_trials=6)
    front = ok(make_client(url).get(f"/api/studies/{study.study_id}/pareto"))
    # the front holds trials 1, 4 and 5 (the most accurate of each width)
    assert sorted(front["numbers"]) == [1, 4, 5]
    rows = {r["arch"]: r["trials"] for r in front["architectures"]}
    assert rows == {"conv3/4": [0, 1], "conv3/8": [2, 3, 4], "conv3/16": [5]}


def test_a_split_family_shows_its_leaves_and_splits(tmp_path, make_client) -> None:
    from nas.space import ArchSpace
    from nas.supernet._splits import Family, SplitRecord, score_slot
    from nas.testing.supernet import TINY_SPACE

    space = ArchSpace.from_dict(TINY_SPACE)
    family = Family.root(space)
    choices = space.slot_choices(0, 0)  # conv w2, conv w4, skip
    d = np.array([[0, 0.1, 0.9], [0.1, 0, 0.8], [0.9, 0.8, 0]])
    scores = (score_slot((0, 0), choices, d, 2),)
    family.split("root", (0, 0), [choices[:2], choices[2:]],
                 lambda ids: SplitRecord("root", ids, (0, 0), (tuple(choices[:2]), tuple(choices[2:])),
                                         "gm", 30, False, scores))  # fmt: skip
    url = f"sqlite:///{tmp_path}/fam.db"
    study = nas.create_study("fam", {"params": {"x": {"type": "int", "low": 0, "high": 2}}},
                             {"accuracy": "maximize", "mflops": "minimize"}, storage=url)  # fmt: skip
    study.set_user_attr("nas.objective", {"type": "supernet"})
    study.set_user_attr("supernet.family", family.to_dict())

    def objective(trial):
        c = choices[trial.params["x"]]
        trial.set_user_attr("arch", {"depths": [1], "layers": [[[c.op, c.kernel, c.width]]]})
        trial.set_user_attr("supernet.leaf", "0" if trial.params["x"] < 2 else "1")
        return {"accuracy": float(trial.params["x"]), "mflops": float(trial.params["x"])}

    for x in range(3):
        study.enqueue({"x": x})
    study.optimize(objective, n_trials=3)
    client = make_client(url)
    detail = ok(client.get(f"/api/studies/{study.study_id}"))
    assert detail["family"]["splits"][0]["scores"][0]["groups"] == [0, 0, 1]
    assert "supernet.family" not in detail["user_attrs"]  # shown once, as "family"
    page = ok(client.get(f"/api/studies/{study.study_id}/trials", params={"sort": "leaf"}))
    assert [r["leaf"] for r in page["rows"]] == ["0", "0", "1"]
    only = ok(client.get(f"/api/studies/{study.study_id}/trials", params={"filter": "leaf == 1"}))
    assert [r["number"] for r in only["rows"]] == [2]
    trial = ok(client.get(f"/api/studies/{study.study_id}/trials/2"))
    assert trial["leaf"] == "1"
    front = ok(client.get(f"/api/studies/{study.study_id}/pareto"))
    assert {r["leaf"] for r in front["architectures"]} <= {"0", "1"}


def test_pareto_on_chosen_objectives(db, client, storage) -> None:
    done = complete(storage, db.multi)
    url = f"/api/studies/{db.multi}/pareto"
    assert ok(client.get(url, params={"objectives": "loss"}))["numbers"] == [
        min(done, key=lambda t: t.values["loss"]).number
    ]
    assert ok(client.get(url, params={"objectives": "acc"}))["numbers"] == [
        max(done, key=lambda t: t.values["acc"]).number
    ]
    both = ok(client.get(url, params={"objectives": "acc,loss"}))
    assert both["objectives"][0]["name"] == "acc"
    assert sorted(both["numbers"]) == sorted(ok(client.get(url))["numbers"])
    for bad, word in (("loss,nope", "'nope'"), ("loss,loss", "twice")):
        response = client.get(url, params={"objectives": bad})
        assert response.status_code == 400 and word in response.json()["detail"]


def test_history_best_so_far_minimize_and_maximize(db, client, storage) -> None:
    for study_id, name, better in ((db.multi, "loss", min), (db.single, "acc", max)):
        done = complete(storage, study_id)
        history = ok(
            client.get(f"/api/studies/{study_id}/plots/history", params={"objective": name})
        )
        assert history["objective"]["name"] == name
        assert history["number"] == [t.number for t in done]
        assert history["value"] == [t.values[name] for t in done]
        best, running = [], None
        for t in done:
            running = t.values[name] if running is None else better(running, t.values[name])
            best.append(running)
        assert history["best"] == best
        assert history["best"][-1] != history["value"][-1]  # the test has teeth
    # default: the first objective
    assert ok(client.get(f"/api/studies/{db.multi}/plots/history"))["objective"]["name"] == "loss"
    response = client.get(f"/api/studies/{db.multi}/plots/history", params={"objective": "nope"})
    assert response.status_code == 400 and "'nope'" in response.json()["detail"]


def test_parallel_coordinates(db, client, storage) -> None:
    done = complete(storage, db.multi)
    plot = ok(client.get(f"/api/studies/{db.multi}/plots/parallel", params={"objective": "acc"}))
    assert plot["number"] == [t.number for t in done]
    assert plot["color"] == [t.values["acc"] for t in done]
    dims = {d["name"]: d for d in plot["dimensions"]}
    assert list(dims) == ["x", "lr", "opt", "momentum"]  # the fixed "depth" has no axis
    opt = dims["opt"]
    assert opt["kind"] == "categorical" and opt["ticktext"] == ["adam", "sgd"]
    assert [opt["ticktext"][i] for i in opt["values"]] == [t.params["opt"] for t in done]
    lr = dims["lr"]
    assert lr["kind"] == "log" and lr["range"] == pytest.approx([-4.0, -1.0])
    assert lr["values"] == pytest.approx([math.log10(t.params["lr"]) for t in done])
    assert [float(v) for v in lr["ticktext"]] == pytest.approx([10.0**v for v in lr["tickvals"]])
    assert dims["x"]["values"] == [t.params["x"] for t in done]
    assert dims["x"]["range"] == [0.0, 1.0] and "inactive" not in dims["x"]["ticktext"]
    # An inactive parameter has a labelled position of its own, outside the parameter's range.
    momentum = dims["momentum"]
    label = dict(zip(momentum["tickvals"], momentum["ticktext"], strict=True))
    inactive = [
        v for v, t in zip(momentum["values"], done, strict=True) if "momentum" not in t.params
    ]
    assert inactive and {label.get(v) for v in inactive} == {"inactive"}
    assert all(v < 0.0 for v in inactive) and momentum["range"][0] <= min(inactive)
    assert [
        v for v, t in zip(momentum["values"], done, strict=True) if "momentum" in t.params
    ] == [t.params["momentum"] for t in done if "momentum" in t.params]


def test_intermediate_values(db, client, storage) -> None:
    trials = storage.get_trials(db.multi)
    plot = ok(client.get(f"/api/studies/{db.multi}/plots/intermediate"))
    assert plot["n_total"] == 60
    curves = {c["number"]: c for c in plot["curves"]}
    assert sorted(curves) == list(range(60))
    for t in trials:
        curve = curves[t.number]
        assert curve["steps"] == [0, 1, 2] and curve["state"] == t.state.value
        assert curve["values"] == [t.intermediate_values["loss"][s] for s in range(3)]
        assert curve["bracket"] is None and curve["budget"] is None
    latest = ok(client.get(f"/api/studies/{db.multi}/plots/intermediate", params={"limit": 5}))
    assert [c["number"] for c in latest["curves"]] == [55, 56, 57, 58, 59]
    assert latest["n_total"] == 60
    assert (
        ok(client.get(f"/api/studies/{db.multi}/plots/intermediate", params={"objective": "acc"}))[
            "curves"
        ]
        == []
    )


def test_importance_ranks_the_driving_parameter_first(db, client) -> None:
    result = ok(client.get(f"/api/studies/{db.single}/plots/importance"))
    scores = result["importances"]
    assert set(scores) == {"x", "n", "act"}
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-6)
    assert max(scores, key=scores.get) == "x" and scores["x"] > 0.5
    assert result["n_trials"] == 30


# ---------------------------------------------------------------------------- exclusion


def exclude(writer, study_id: int, number: int, excluded: bool, reason: str = "") -> dict:
    return ok(
        writer.put(
            f"/api/studies/{study_id}/trials/{number}/excluded",
            json={"excluded": excluded, "reason": reason},
        )
    )


def test_excluded_trials_leave_the_analyses_until_included_again(mdb, writer, mstorage) -> None:
    # Single objective: exclude the best trial; the second best takes its place.
    done = sorted(complete(mstorage, mdb.single), key=lambda t: -t.values["acc"])
    best, second = done[0], done[1]
    assert exclude(writer, mdb.single, best.number, True, "bad seed")["excluded"] == "bad seed"
    detail = ok(writer.get(f"/api/studies/{mdb.single}"))
    assert detail["best"]["number"] == second.number and detail["n_excluded"] == 1
    history = ok(writer.get(f"/api/studies/{mdb.single}/plots/history"))
    assert best.number not in history["number"] and max(history["best"]) == second.values["acc"]
    row = next(r for r in trials_page(writer, mdb.single)["rows"] if r["number"] == best.number)
    assert row["excluded"] == "bad seed"
    assert numbers(trials_page(writer, mdb.single, filter="excluded == true")) == [best.number]
    assert mstorage.get_trials(mdb.single)[best.number].user_attrs[EXCLUDED_ATTR] == "bad seed"
    cols = data(writer, mdb.single)["trials"]
    assert [n for n, e in zip(cols["number"], cols["excluded"], strict=True) if e] == [best.number]

    exclude(writer, mdb.single, best.number, False)
    assert ok(writer.get(f"/api/studies/{mdb.single}"))["best"]["number"] == best.number
    assert best.number in ok(writer.get(f"/api/studies/{mdb.single}/plots/history"))["number"]

    # Two objectives: exclude a front member; the front is recomputed without it.
    front = ok(writer.get(f"/api/studies/{mdb.multi}/pareto"))["numbers"]
    gone = front[0]
    exclude(writer, mdb.multi, gone, True)
    rest = [t for t in complete(mstorage, mdb.multi) if t.number != gone]
    points = np.array([[t.values["loss"], -t.values["acc"]] for t in rest])
    expected = [t.number for t, keep in zip(rest, pareto_mask(points), strict=True) if keep]
    after = ok(writer.get(f"/api/studies/{mdb.multi}/pareto"))
    assert sorted(after["numbers"]) == expected and after["n_final"] == 57
    assert ok(writer.get(f"/api/studies/{mdb.multi}"))["pareto_size"] == len(expected)
    row = ok(writer.get(f"/api/studies/{mdb.multi}/trials/{gone}"))
    assert row["excluded"] == "excluded from the dashboard"  # the default reason
    exclude(writer, mdb.multi, gone, False)
    assert ok(writer.get(f"/api/studies/{mdb.multi}/pareto"))["numbers"] == front


def test_excluding_an_unknown_trial_is_404(mdb, writer) -> None:
    response = writer.put(f"/api/studies/{mdb.multi}/trials/60/excluded", json={"excluded": True})
    assert response.status_code == 404
    response = writer.put("/api/studies/9999/trials/0/excluded", json={"excluded": True})
    assert response.status_code == 404


# ---------------------------------------------------------------------------- write API

WRITES = [
    ("post", "/api/studies/{id}/rename", {"name": "renamed"}),
    ("put", "/api/studies/{id}/note", {"note": "hello"}),
    ("put", "/api/studies/{id}/trials/0/excluded", {"excluded": True}),
    ("delete", "/api/studies/{id}", None),
]


def write(client, method: str, path: str, body: Any, **kwargs: Any):
    if body is None:
        return client.request(method, path, headers=kwargs.pop("headers", JSON), **kwargs)
    return client.request(method, path, json=body, **kwargs)


def assert_untouched(mdb, mstorage) -> None:
    assert mstorage.get_study(mdb.multi).name == mdb.multi_name
    assert "nas.note" not in mstorage.get_study(mdb.multi).user_attrs
    assert EXCLUDED_ATTR not in mstorage.get_trials(mdb.multi)[0].user_attrs


def test_read_only_server_has_no_write_endpoints(mdb, mclient, mstorage) -> None:
    for method, path, body in WRITES:
        response = write(mclient, method, path.format(id=mdb.multi), body)
        # DELETE shares its path with GET /api/studies/{id}: 405 there, 404 elsewhere.
        assert response.status_code in ((404, 405) if method == "delete" else (404,)), path
    assert_untouched(mdb, mstorage)
    schema = ok(mclient.get("/openapi.json"))
    paths = list(schema["paths"])
    assert not [p for p in paths if p.endswith(("/rename", "/note", "/excluded"))], paths
    assert set(schema["paths"]["/api/studies/{study_id}"]) == {"get"}
    assert ok(mclient.get("/api/config"))["allow_write"] is False


def test_write_endpoints_with_allow_write(mdb, writer, mstorage) -> None:
    schema = ok(writer.get("/openapi.json"))
    assert "/api/studies/{study_id}/rename" in schema["paths"]
    assert "delete" in schema["paths"]["/api/studies/{study_id}"]

    # rename: visible at once (the study's view was loaded before), in the list and the study
    assert ok(writer.get(f"/api/studies/{mdb.multi}"))["name"] == mdb.multi_name
    assert (
        ok(writer.post(f"/api/studies/{mdb.multi}/rename", json={"name": "renamed"}))["name"]
        == "renamed"
    )
    assert ok(writer.get(f"/api/studies/{mdb.multi}"))["name"] == "renamed"
    assert ok(writer.get("/api/studies"))[0]["name"] == "renamed"
    # a taken name: 409, nothing changes
    response = writer.post(f"/api/studies/{mdb.multi}/rename", json={"name": mdb.single_name})
    assert response.status_code == 409 and mdb.single_name in response.json()["detail"]
    assert mstorage.get_study(mdb.multi).name == "renamed"
    assert mstorage.get_study(mdb.single).name == mdb.single_name
    assert writer.post(f"/api/studies/{mdb.multi}/rename", json={"name": ""}).status_code == 422
    assert writer.post("/api/studies/9999/rename", json={"name": "z"}).status_code == 404

    # note
    note = "ran on <b>gpu-3</b>\nsecond line"
    assert ok(writer.put(f"/api/studies/{mdb.multi}/note", json={"note": note}))["note"] == note
    assert ok(writer.get(f"/api/studies/{mdb.multi}"))["note"] == note
    assert mstorage.get_study(mdb.multi).user_attrs["nas.note"] == note

    # delete: the study and its trials are gone
    assert ok(writer.delete(f"/api/studies/{mdb.xss}", headers=JSON)) == {"deleted": mdb.xss}
    assert writer.get(f"/api/studies/{mdb.xss}").status_code == 404
    assert [s["id"] for s in ok(writer.get("/api/studies"))] == [mdb.multi, mdb.single]
    assert writer.delete(f"/api/studies/{mdb.xss}", headers=JSON).status_code == 404
    assert mstorage.get_study(mdb.multi).name == "renamed"  # the others are untouched


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_writes_must_be_json(mdb, writer, mstorage, content_type) -> None:
    for method, path, body in WRITES:
        headers = {} if content_type is None else {"Content-Type": content_type}
        content = "" if body is None else str(body)
        response = writer.request(
            method, path.format(id=mdb.multi), content=content, headers=headers
        )
        assert response.status_code == 415, (path, response.text)
    assert_untouched(mdb, mstorage)


def test_cross_origin_writes_are_refused(mdb, writer, mstorage) -> None:
    for origin in ("http://evil.example", "http://testserver.evil.example", "null"):
        for method, path, body in WRITES:
            response = write(
                writer, method, path.format(id=mdb.multi), body, headers={**JSON, "Origin": origin}
            )
            assert response.status_code == 403, (origin, path)
    assert_untouched(mdb, mstorage)
    response = writer.put(
        f"/api/studies/{mdb.multi}/note",
        json={"note": "n"},
        headers={"Origin": "http://testserver"},
    )
    assert response.status_code == 200


def test_unknown_hosts_are_refused(db, make_client) -> None:
    client = make_client(db.url)
    response = client.get("/api/studies", headers={"Host": "evil.example"})
    assert response.status_code == 400 and "evil.example" in response.json()["detail"]
    assert client.get("/", headers={"Host": "evil.example:80"}).status_code == 400
    assert client.get("/api/studies", headers={"Host": "testserver:8080"}).status_code == 200

    from fastapi.testclient import TestClient

    from nas.dashboard import create_app

    app = create_app(db.url)  # the defaults: loopback names only
    with TestClient(app, base_url="http://localhost:8080") as local:
        assert local.get("/api/studies").status_code == 200
        assert local.get("/api/studies", headers={"Host": "127.0.0.1:8080"}).status_code == 200
        assert local.get("/api/studies", headers={"Host": "[::1]:8080"}).status_code == 200
        assert local.get("/api/studies", headers={"Host": "attacker.example"}).status_code == 400
    anyone = make_client(db.url, allowed_hosts=("*",))
    assert anyone.get("/api/studies", headers={"Host": "dash.example.org"}).status_code == 200


# ---------------------------------------------------------------------------- HTML, assets


def script_src(csp: str) -> list[str]:
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    return directives.get("script-src", directives.get("default-src", []))


def test_pages_are_shells_without_user_data_under_a_strict_csp(db, client) -> None:
    for path in ("/", f"/studies/{db.xss}", f"/studies/{db.xss}/trials/0", f"/studies/{db.multi}"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/html"
        )
        csp = response.headers["content-security-policy"]
        sources = script_src(csp)
        assert sources and "'unsafe-inline'" not in sources and "*" not in sources
        assert not any(s.startswith(("http:", "https:", "data:")) for s in sources)
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        html = response.text
        assert db.xss_name not in html and "alert(" not in html and db.xss_choice not in html
        assert not re.search(r"(?:src|href)=[\"']?(?:https?:)?//", html), path


def test_user_strings_come_back_verbatim_as_json(db, client) -> None:
    response = client.get("/api/studies")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert db.xss_name in [s["name"] for s in response.json()]
    detail = ok(client.get(f"/api/studies/{db.xss}"))
    assert detail["name"] == db.xss_name
    assert detail["space"]["params"]["choice"]["choices"][0] == db.xss_choice
    detail = ok(client.get(f"/api/studies/{db.xss}/trials/0"))
    assert detail["study_name"] == db.xss_name
    assert detail["params"]["choice"] in (db.xss_choice, "ok")


def test_docs_and_openapi_are_local(client) -> None:
    schema = ok(client.get("/openapi.json"))
    assert {
        "/api/studies",
        "/api/studies/{study_id}/trials",
        "/api/studies/{study_id}/changes",
    } <= set(schema["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert not re.search(r"https?://", docs.text), "the docs page must not load a CDN"
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset


def test_plotly_bundle_is_served_locally_gzipped_and_cached(db, client) -> None:
    bundle = load_bundle()
    page = client.get(f"/studies/{db.multi}").text
    # The page preloads the main entry and its chunk; its scripts find every entry in CONFIG.
    preloaded = re.findall(r'<link rel="modulepreload" href="(/static/vendor/[^"]+)">', page)
    assert preloaded == bundle.preload_urls() and preloaded[0] == PLOTLY_URL
    config = client.get("/api/config").json()["plotly"]
    assert config["url"] == PLOTLY_URL and "scattergl" in config["traces"]
    assert set(config["more"]) == {"scatter3d"}
    urls = {bundle.url(name) for name in bundle.files}
    assert set(preloaded) | set(config["more"].values()) <= urls
    for name in bundle.files:
        raw = (VENDOR / name).read_bytes()
        zipped = client.get(bundle.url(name), headers={"Accept-Encoding": "gzip"})
        assert zipped.status_code == 200 and zipped.headers["content-encoding"] == "gzip"
        assert zipped.content == raw  # httpx decodes it: no double compression
        assert int(zipped.headers["content-length"]) < len(raw) // 2
        plain = client.get(bundle.url(name), headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == raw
        for response in (zipped, plain):
            cache = response.headers["cache-control"]
            assert "immutable" in cache
            assert int(re.search(r"max-age=(\d+)", cache)[1]) >= 86400 * 365
            # module scripts are refused unless served with a JavaScript MIME type
            assert response.headers["content-type"].startswith("text/javascript")
            # the bytes differ by Accept-Encoding: a shared cache must not mix them up
            assert "accept-encoding" in response.headers.get("vary", "").lower()
    # Only the bundle's files: not its manifest or licences, nothing else of the package.
    for name in ("manifest.json", "LICENSE.txt", "../study.js", "nosuch.mjs"):
        assert client.get(f"{bundle.base_url}/{name}").status_code == 404, name


# ---------------------------------------------------------------------------- SQL


def test_sql_metacharacters_are_just_text(mdb, writer, mstorage) -> None:
    evil = "x'; DROP TABLE trials; --"
    study = nas.create_study(
        name=evil,
        space={"params": {"p": {"type": "categorical", "choices": [evil, "b"]}}},
        objectives={"v": "minimize"},
        storage=mstorage,
        seed=0,
    )
    study.enqueue({"p": evil})
    study.enqueue({"p": "b"})
    study.optimize(lambda t: 1.0, n_trials=2)
    listed = {s["name"]: s for s in ok(writer.get("/api/studies"))}
    assert listed[evil]["n_trials"] == 2 and listed[evil]["id"] == study.study_id
    for text, expected in ((f'p == "{evil}"', [0]), ('p == "x\'"', []), ("p ~ DROP", [0])):
        assert numbers(trials_page(writer, study.study_id, filter=text)) == expected, text
    assert client_status(writer, study.study_id, filter=evil) == 400
    assert client_status(writer, study.study_id, sort=evil) == 400
    renamed = evil + " OR 1=1"
    assert (
        ok(writer.post(f"/api/studies/{mdb.single}/rename", json={"name": renamed}))["name"]
        == renamed
    )
    assert mstorage.get_study(mdb.single).name == renamed
    assert mstorage.get_study(mdb.multi).name == mdb.multi_name  # only the one row changed
    assert len(mstorage.get_trials(mdb.multi)) == 60 and len(mstorage.list_studies()) == 4


def client_status(client, study_id: int, **params: Any) -> int:
    return client.get(f"/api/studies/{study_id}/trials", params=params).status_code


def test_polling_on_both_backends(storage_url, make_client, instant_refresh) -> None:
    """The cursor protocol over SQLite and PostgreSQL (timestamps with time zones, the
    (study_id, updated_at) index): a poll returns exactly the trials written since."""
    study = nas.create_study(
        name="poll",
        space={"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}},
        objectives={"v": "minimize"},
        storage=storage_url,
    )
    study.optimize(lambda t: t.params["x"], n_trials=6)
    client = make_client(storage_url, preload=False)
    data = client.get(f"/api/studies/{study.study_id}/data").json()
    assert data["trials"]["number"] == list(range(6))
    quiet = client.get(f"/api/studies/{study.study_id}/changes", params={"cursor": data["cursor"]})
    assert quiet.json()["trials"]["number"] == []
    study.optimize(lambda t: t.params["x"], n_trials=9)
    get_storage(storage_url).set_trial_user_attr(study.trials[2].trial_id, "seen", True)
    changes = client.get(
        f"/api/studies/{study.study_id}/changes", params={"cursor": quiet.json()["cursor"]}
    ).json()
    assert changes["reset"] is False
    assert sorted(changes["trials"]["number"]) == [2, 6, 7, 8]
    assert changes["trials"]["state"] == ["COMPLETE"] * 4


# ---------------------------------------------------------------------------- constraints


def test_constrained_study_feasibility_in_summary_table_pareto_and_columns(
    tmp_path: Path, make_client
) -> None:
    from nas.benchmarks.functions import BNH_CONSTRAINTS, bnh_objective

    url = f"sqlite:///{tmp_path}/c.db"
    space = {
        "params": {
            "x": {"type": "float", "low": 0.0, "high": 5.0},
            "y": {"type": "float", "low": 0.0, "high": 3.0},
        }
    }
    study = nas.create_study(
        "c", space, {"f1": "minimize", "f2": "minimize"}, storage=url, constraints=BNH_CONSTRAINTS
    )
    study.optimize(bnh_objective, n_trials=40)
    trials = study.trials
    infeasible = {t.number for t in trials if t.feasible is False}
    assert infeasible, "the test needs infeasible trials"
    client = make_client(url)
    base = f"/api/studies/{study.study_id}"
    detail = ok(client.get(base))
    assert detail["constraints"] == ["c1 <= 25", "c2 >= 7.7"]
    assert detail["n_feasible"] == 40 - len(infeasible)
    front = ok(client.get(f"{base}/pareto"))
    assert front["numbers"] and not set(front["numbers"]) & infeasible
    assert sorted(front["numbers"]) == [t.number for t in study.pareto_front()]
    page = ok(client.get(f"{base}/trials", params={"filter": "feasible == false", "limit": 100}))
    assert {r["number"] for r in page["rows"]} == infeasible
    assert all(r["feasible"] is False and r["violation"] > 0 for r in page["rows"])
    data = ok(client.get(f"{base}/data"))
    columns = data["trials"]
    assert [n for n, f in zip(columns["number"], columns["feasible"], strict=True) if f is False]
    one = ok(client.get(f"{base}/trials/{min(infeasible)}"))
    assert one["feasible"] is False and set(one["metrics"]) == {"c1", "c2"}
    assert len(one["constraint_values"]) == 2
