"""Results in and out of a study: Study.add_trials, Study.to_dataframe, trial files
(read_trials_file / import_trials_file) and copy_study."""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

import nas
from nas._attrs import SUPERNET_LEASE, lease_key
from nas.exceptions import DuplicatedStudyError, NasError, StudyConfigError, StudyNotFoundError
from nas.storage import RDBStorage
from nas.study import copy_study, import_trials_file, read_trials_file, trial_record

SPACE = {
    "params": {
        "x": {"type": "float", "low": 0.0, "high": 1.0},
        "n": {"type": "int", "low": 1, "high": 8},
        "opt": {"type": "categorical", "choices": ["sgd", "adam", None, True, 3]},
        "mom": {
            "type": "float",
            "low": 0.0,
            "high": 0.9,
            "condition": {"parent": "opt", "in": ["sgd"]},
        },
        "c": {"type": "fixed", "value": "k"},
    }
}
OBJECTIVES = {"loss": "minimize", "acc": "maximize"}
#: Every field a copy or an export/import keeps (``trial_id`` and ``datetime_updated`` are the
#: destination's own).
KEPT = (
    "number",
    "state",
    "params",
    "budget",
    "values",
    "intermediate_values",
    "user_attrs",
    "system_attrs",
    "failure_reason",
    "worker_id",
    "datetime_created",
    "datetime_start",
    "datetime_complete",
    "heartbeat",
    "restarts",
    "constraint_values",
    "infeasible_reason",
)


def objective(trial: nas.Trial) -> dict[str, float]:
    x = trial.params["x"]
    for step in range(3):
        trial.report(step, {"loss": x + step})
    trial.set_user_attr("note", {"ü": [trial.number]})
    if trial.number % 5 == 3:
        raise ValueError("boom")
    if trial.number % 5 == 4:
        raise nas.TrialPruned("slow")
    return {"loss": x, "acc": 1.0 - x, "lat": float(trial.params["n"]), "odd": math.inf}


def make(name: str, url: str, *, constrained: bool = True, **kwargs: Any) -> nas.Study:
    return nas.create_study(
        name,
        SPACE,
        OBJECTIVES,
        storage=url,
        constraints={"lat": {"max": 4}} if constrained else None,
        **kwargs,
    )


@pytest.fixture
def source(sqlite_url: str) -> nas.Study:
    study = make("src", sqlite_url)
    study.optimize(objective, n_trials=12)
    return study


def same_metrics(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


def assert_same_trial(
    a: nas.FrozenTrial, b: nas.FrozenTrial, fields: tuple[str, ...], *, metrics: bool = True
) -> None:
    for field in fields:
        assert getattr(a, field) == getattr(b, field), (a.number, field)
    assert not metrics or same_metrics(a.metrics, b.metrics), a.number


# ------------------------------------------------------------------------ add_trials


def test_add_trials_of_another_study_keeps_every_outcome(source: nas.Study, sqlite_url: str):
    dest = make("dest", sqlite_url)
    dest.enqueue({"x": 0.5, "n": 2, "opt": "adam", "c": "k"})
    added = dest.add_trials(source.trials)
    assert [t.number for t in added] == list(range(1, 13))
    assert dest.trials[1:] == added  # ordinary history, cached or not
    fields = tuple(f for f in KEPT if f not in ("number", "system_attrs", "heartbeat"))
    for a, b in zip(source.trials, added, strict=True):
        assert_same_trial(a, b, fields)
        assert b.system_attrs == {} and b.heartbeat is None
    states = {t.state for t in added}
    assert states == {nas.TrialState.COMPLETE, nas.TrialState.PRUNED, nas.TrialState.FAILED}
    assert any(t.feasible is False for t in added) and any(t.feasible for t in added)
    assert dest.best_trial if len(dest.objectives) == 1 else dest.pareto_front()


def test_add_trials_mapping_forms(sqlite_url: str):
    study = nas.create_study("one", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    base = {"params": {"x": 0.25, "n": 3, "opt": "adam", "c": "k"}}
    local = datetime(2024, 5, 17, 10, 30)  # no time zone: the machine's local time
    before = datetime.now(UTC)
    added = study.add_trials(
        [
            {**base, "values": 0.5},
            {**base, "values": [0.25], "state": "pruned", "budget": 3},
            {**base, "values": {"loss": None}, "state": "FAIL", "failure_reason": "oom"},
            {
                **base,
                "values": {"loss": 0.125},
                "intermediate_values": {"loss": {"0": 0.9, "10": 0.2}},
                "datetime_start": "2024-05-17T08:30:15+02:00",
                "datetime_complete": local,
                "worker_id": "elsewhere",
                "restarts": 2,
                "metrics": {"lat": None, "mem": 3},
            },
            {**base, "values": 1.0, "datetime_complete": "2024-05-17T09:00:00Z"},
        ]
    )
    plain, pruned, failed, full, one_time = added
    assert plain.state is nas.TrialState.COMPLETE and plain.values == {"loss": 0.5}
    assert before <= plain.datetime_start <= plain.datetime_complete <= datetime.now(UTC)
    assert plain.params == {"x": 0.25, "n": 3, "opt": "adam", "c": "k"}
    assert (pruned.state, pruned.values, pruned.budget) == ("PRUNED", {"loss": 0.25}, 3.0)
    assert (failed.state, failed.values, failed.failure_reason) == ("FAILED", {}, "oom")
    assert full.intermediate_values == {"loss": {0: 0.9, 10: 0.2}}
    assert full.datetime_start == datetime(2024, 5, 17, 6, 30, 15, tzinfo=UTC)
    assert full.datetime_complete == local.astimezone(UTC)
    assert (full.worker_id, full.restarts) == ("elsewhere", 2)
    assert math.isnan(full.metrics["lat"]) and full.metrics["mem"] == 3.0
    assert one_time.datetime_start == one_time.datetime_complete
    assert one_time.datetime_complete == datetime(2024, 5, 17, 9, tzinfo=UTC)


DELETE = object()
BAD_RECORDS = [
    ({"params": DELETE}, "trials[1]: params: missing"),
    ({"params": {"x": 2.0, "n": 1, "opt": "adam"}}, "trials[1]: params: parameter 'x'"),
    ({"params": {"x": 0.5, "n": 1, "opt": "adam", "mom": 0.1}}, "'mom' is inactive"),
    ({"values": {"loss": 1.0}}, "needs a value for objective 'acc'"),
    ({"values": {"loss": 1.0, "acc": math.nan}}, "objective 'acc' must be a finite number"),
    ({"values": {"loss": 1.0, "acc": 2.0, "err": 1.0}}, "unknown objective(s) ['err']"),
    ({"values": 1.0}, "needs a mapping name -> value"),
    ({"values": [1.0]}, "1 values for 2 objectives"),
    ({"state": "RUNNING"}, "RUNNING trials cannot be added"),
    ({"state": "DONE"}, "expected COMPLETE, PRUNED or FAILED"),
    ({"budget": -1}, "budget: must be a finite number > 0"),
    ({"intermediate_values": {"loss": {"-1": 0.5}}}, "a step must be an integer >= 0"),
    ({"intermediate_values": {"zzz": {"1": 0.5}}}, "unknown objective 'zzz'"),
    ({"user_attrs": {"k": math.inf}}, "user_attrs: values must be JSON"),
    ({"metrics": {"loss": 1.0}}, "'loss' is an objective"),
    ({"metrics": {"lat": "fast"}}, "metrics.lat: expected a number"),
    ({"datetime_start": "yesterday"}, "datetime_start: 'yesterday' is not an ISO 8601"),
    (
        {"datetime_start": "2024-01-02T00:00:00+00:00", "datetime_complete": "2024-01-01"},
        "is before datetime_start",
    ),
    ({"restarts": -1}, "restarts: expected an integer >= 0"),
    ({"paramz": {}}, "unknown key(s) ['paramz']"),
]


@pytest.mark.parametrize(("change", "message"), BAD_RECORDS, ids=[m for _, m in BAD_RECORDS])
def test_add_trials_validates_everything_before_writing(sqlite_url: str, change, message):
    study = make("s", sqlite_url)
    good = {"params": {"x": 0.5, "n": 1, "opt": "adam", "c": "k"}, "values": [1.0, 2.0]}
    bad = {k: v for k, v in {**good, **change}.items() if v is not DELETE}
    with pytest.raises(StudyConfigError) as info:
        study.add_trials([good, bad])
    assert message in str(info.value)
    assert study.trials == [] and study.storage.get_study(study.study_id).next_trial_number == 0
    with pytest.raises(StudyConfigError, match=r"trials\[0\]: expected a nas.FrozenTrial"):
        study.add_trials([42])


def test_constraints_are_the_study_own(sqlite_url: str):
    study = make("c", sqlite_url)
    params = {"x": 0.5, "n": 1, "opt": "adam", "c": "k"}
    ok, far, unknown, pruned = study.add_trials(
        [
            {"params": params, "values": [1, 0], "metrics": {"lat": 3}, "feasible": False},
            {"params": params, "values": [1, 0], "metrics": {"lat": 9}, "constraint_values": [-1]},
            {"params": params, "values": [1, 0]},
            {"params": params, "state": "PRUNED", "metrics": {"lat": 3}},
        ]
    )
    assert ok.feasible is True and ok.constraint_values == (-1.0,)
    assert far.feasible is False and far.constraint_values == (5.0,)
    assert unknown.feasible is False and unknown.constraint_values == (math.inf,)
    assert "'lat' was not returned" in unknown.infeasible_reason
    assert pruned.feasible is None and pruned.constraint_values == ()
    assert [t.number for t in study.feasible_trials()] == [ok.number]


def test_export_import_round_trip(source: nas.Study, sqlite_url: str):
    records = json.loads(json.dumps([trial_record(t) for t in source.trials]))
    dest = make("dest", sqlite_url)
    added = dest.add_trials(records)
    fields = tuple(f for f in KEPT if f not in ("system_attrs", "heartbeat"))
    for a, b in zip(source.trials, added, strict=True):
        assert_same_trial(a, b, fields)
    again = [trial_record(t) for t in dest.trials]
    ignored = ("trial_id", "datetime_updated", "system_attrs", "heartbeat")
    for a, b in zip(records, json.loads(json.dumps(again)), strict=True):
        assert {k: v for k, v in a.items() if k not in ignored} == {
            k: v for k, v in b.items() if k not in ignored
        }


# ------------------------------------------------------------------------ searchers

STEER_SPACE = {
    "params": {
        "x": {"type": "float", "low": -5.0, "high": 5.0},
        "y": {"type": "float", "low": -5.0, "high": 5.0},
    }
}


def _bowl(params: dict[str, float]) -> float:
    return (params["x"] - 3.0) ** 2 + (params["y"] - 3.0) ** 2


def _distance_to_optimum(study: nas.Study) -> float:
    proposals = study.searcher.propose(study.trials, 8)
    return float(np.mean([math.sqrt(_bowl(p.params)) for p in proposals]))


@pytest.mark.parametrize(
    ("searcher", "options"),
    [
        ("evolution", {}),
        ("optuna", {}),
        ("bohb", {"min_budget": 1, "max_budget": 9}),
        ("map", {}),
    ],
)
def test_model_based_searchers_learn_from_added_trials(sqlite_url: str, searcher, options):
    """Forty random results added from elsewhere bring the next proposals nearer the optimum
    than the same searcher and seed propose on an empty study."""
    rng = np.random.default_rng(0)
    points = [{"x": float(v), "y": float(w)} for v, w in rng.uniform(-5, 5, size=(40, 2))]
    records = [{"params": p, "values": _bowl(p)} for p in points]
    for seed in (0, 1):
        blank = nas.create_study(
            f"blank{seed}", STEER_SPACE, {"f": "minimize"}, searcher, options, sqlite_url, seed
        )
        informed = nas.create_study(
            f"informed{seed}", STEER_SPACE, {"f": "minimize"}, searcher, options, sqlite_url, seed
        )
        informed.add_trials(records)
        assert _distance_to_optimum(informed) < _distance_to_optimum(blank), (searcher, seed)


def test_nsga2_reads_added_trials(sqlite_url: str):
    space = STEER_SPACE
    rng = np.random.default_rng(1)
    points = [{"x": float(v), "y": float(w)} for v, w in rng.uniform(-5, 5, size=(30, 2))]
    records = [{"params": p, "values": [p["x"] ** 2, (p["y"] - 1) ** 2]} for p in points]
    objectives = {"a": "minimize", "b": "minimize"}
    blank = nas.create_study("b", space, objectives, "nsga2", storage=sqlite_url)
    informed = nas.create_study("i", space, objectives, "nsga2", storage=sqlite_url)
    informed.add_trials(records)
    ask = [s.searcher.propose(s.trials, 4) for s in (blank, informed)]
    assert [p.params for p in ask[0]] != [p.params for p in ask[1]]
    informed.optimize(lambda t: [t.params["x"] ** 2, (t.params["y"] - 1) ** 2], n_trials=40)
    assert len(informed.trials) == 40 and informed.pareto_front()


# ------------------------------------------------------------------------ DataFrame


def test_to_dataframe_has_every_field(source: nas.Study):
    df = source.to_dataframe()
    trials = source.trials
    assert len(df) == len(trials) and list(df["number"]) == [t.number for t in trials]
    expected = [
        "number",
        "state",
        "values_loss",
        "values_acc",
        "params_x",
        "params_n",
        "params_opt",
        "params_mom",
        "params_c",
        "user_attrs_note",
        "datetime_start",
        "datetime_complete",
        "duration",
        "budget",
        "metrics_lat",
        "metrics_odd",
        "constraint_0",
        "feasible",
        "infeasible_reason",
        "failure_reason",
        "intermediate_loss",
        "intermediate_acc",
        "worker_id",
        "restarts",
        "datetime_created",
        "datetime_updated",
        "heartbeat",
        "trial_id",
    ]
    assert list(df.columns) == expected
    for (_, row), t in zip(df.iterrows(), trials, strict=True):
        assert row["state"] == t.state.value and row["trial_id"] == t.trial_id
        assert row["intermediate_loss"] == t.intermediate_values["loss"]
        assert row["datetime_start"].to_pydatetime() == t.datetime_start
        assert row["duration"].total_seconds() == pytest.approx(t.duration)
        assert row["user_attrs_note"] == t.user_attrs["note"]
        assert row["worker_id"] == t.worker_id and row["restarts"] == t.restarts
        if t.state is nas.TrialState.COMPLETE:
            assert row["values_loss"] == t.values["loss"] and row["feasible"] == t.feasible
            assert row["constraint_0"] == t.constraint_values[0]
            assert math.isnan(row["metrics_odd"])  # non-finite metrics are stored as NaN
        elif "loss" in t.values:  # a PRUNED trial keeps its last reported values
            assert t.state is nas.TrialState.PRUNED and row["values_loss"] == t.values["loss"]
        else:
            assert math.isnan(row["values_loss"]) and row["feasible"] is None
        assert (
            (row["params_mom"] == t.params["mom"])
            if "mom" in t.params
            else (row["params_mom"] is None or math.isnan(row["params_mom"]))
        )
    assert str(df["datetime_start"].dt.tz) == "UTC"


def test_to_dataframe_of_an_empty_study_and_without_pandas(sqlite_url, monkeypatch):
    study = make("e", sqlite_url, constrained=False)
    df = study.to_dataframe()
    assert len(df) == 0 and "values_loss" in df.columns and "params_x" in df.columns
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(NasError, match="pip install pandas"):
        study.to_dataframe()


# ------------------------------------------------------------------------ files


def test_csv_export_reads_back(source: nas.Study, sqlite_url: str, tmp_path):
    from nas.study import trials_table
    from nas.testing.cli import run_cli

    code, out, err = run_cli("trials", "src", "--storage", sqlite_url, "--format", "csv")
    assert code == 0, err
    path = tmp_path / "t.csv"
    path.write_text(out)
    records = read_trials_file(path, source)
    assert len(records) == 12 and records[0]["params"] == source.trials[0].params
    dest = make("dest", sqlite_url)
    added = import_trials_file(dest, path)
    fields = tuple(f for f in KEPT if f not in ("system_attrs", "heartbeat"))
    for a, b in zip(source.trials, added, strict=True):
        assert_same_trial(a, b, fields)
    assert out.splitlines()[0].split(",") == trials_table(source, source.trials, full=True).columns


def test_dataframe_csv_imports(source: nas.Study, sqlite_url: str, tmp_path):
    path = tmp_path / "df.csv"
    source.to_dataframe().to_csv(path)
    dest = make("dest", sqlite_url)
    added = import_trials_file(dest, path)
    fields = ("state", "params", "values", "intermediate_values", "user_attrs", "budget")
    fields += ("failure_reason", "worker_id", "restarts", "constraint_values")
    fields += ("datetime_created", "datetime_start", "datetime_complete")
    for a, b in zip(source.trials, added, strict=True):
        # A NaN metric is an empty cell, as a missing one: only the finite ones come back.
        assert_same_trial(a, b, fields, metrics=False)
        assert b.metrics == {k: v for k, v in a.metrics.items() if not math.isnan(v)}


def test_optuna_csv_imports(sqlite_url: str, tmp_path):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def f(trial: Any) -> float:
        opt = trial.suggest_categorical("opt", ["sgd", "adam", True, 3])
        n = trial.suggest_int("n", 1, 8)
        x = trial.suggest_float("x", 0.0, 1.0)
        if opt == "sgd":
            trial.suggest_float("mom", 0.0, 0.9)
        trial.set_user_attr("tag", "t" if n % 2 else 7)
        if n == 8:
            raise optuna.TrialPruned()
        if n == 7:
            raise ValueError("fails")
        return x

    ostudy = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    ostudy.optimize(f, n_trials=30, catch=(ValueError,))
    path = tmp_path / "optuna.csv"
    ostudy.trials_dataframe().to_csv(path)
    study = nas.create_study("o", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    added = import_trials_file(study, path)
    assert len(added) == 30
    for ot, t in zip(ostudy.trials, added, strict=True):
        assert t.params == {**ot.params, "c": "k"}, ot.number
        assert t.state.value == {"FAIL": "FAILED"}.get(ot.state.name, ot.state.name)
        if ot.state.name == "COMPLETE":
            assert t.values == {"loss": ot.value}
        assert t.user_attrs == ot.user_attrs
        assert abs(t.datetime_start - ot.datetime_start.astimezone(UTC)) < timedelta(
            microseconds=1
        )


BAD_CSV = [
    ("number,state,loss\n0,COMPLETE,1\n", "line 1: no parameter column"),
    ("param:x,param:zz\n0.5,1\n", "line 1, column 'param:zz': unknown column"),
    ("param:x,param:x\n0.5,0.5\n", "column 'param:x': the column appears twice"),
    (
        "param:x,param:n,param:opt,loss\nfast,1,adam,1\n",
        "line 2, column 'param:x': expected a number, got 'fast'",
    ),
    ("param:x,param:n,param:opt,loss\n0.5,1.5,adam,1\n", "line 2: params: parameter 'n'"),
    (
        "param:x,param:n,param:opt,loss\n0.5,1,rmsprop,1\n",
        "column 'param:opt': 'rmsprop' is not one of the choices",
    ),
    (
        "param:x,param:n,param:opt,param:mom,loss\n0.5,1,adam,0.3,1\n",
        "column 'param:mom': '0.3' given, but parameter 'mom' is inactive",
    ),
    (
        "param:x,param:n,param:opt,loss\n0.5,1,sgd,1\n",
        "line 2: parameter 'mom' is active but the file has no column",
    ),
    ("param:x,param:n,param:opt,loss\n0.5,1,adam\n", "line 2: 3 cells, but the header has 4"),
    (
        "param:x,param:n,param:opt,loss\n0.5,1,adam,1\n0.5,1,adam,\n",
        "line 3: values: a COMPLETE trial needs a value",
    ),
    ("param:x,param:n,param:opt,loss,state\n0.5,1,adam,1,RUNNING\n", "line 2: state: RUNNING"),
    (
        "param:x,param:n,param:opt,loss,user_attrs\n0.5,1,adam,1,{oops\n",
        "column 'user_attrs': invalid JSON",
    ),
    ("", "empty file"),
]


@pytest.mark.parametrize(("content", "message"), BAD_CSV, ids=[m for _, m in BAD_CSV])
def test_bad_csv_one_clear_message_nothing_written(sqlite_url, tmp_path, content, message):
    study = nas.create_study("o", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(StudyConfigError) as info:
        import_trials_file(study, path)
    assert str(info.value).startswith(str(path)) and message in str(info.value)
    assert "\n" not in str(info.value)
    assert study.trials == []


def test_bad_json_and_paths(sqlite_url, tmp_path):
    study = nas.create_study("o", SPACE, {"loss": "minimize"}, storage=sqlite_url)
    cases = {
        "a.json": ("[1, 2", "line 1, column 6: invalid JSON"),
        "b.json": ('{"runs": []}', "expected a list of trial records"),
        "c.json": ("[3]", "trials[0]: expected an object, got int"),
        "d.json": ('{"trials": [{"params": {"x": 9}}]}', "trials[0]: params: parameter 'x'"),
        "e.txt": ("", "unknown trial file format '.txt'"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(content)
        with pytest.raises(StudyConfigError, match=None) as info:
            import_trials_file(study, tmp_path / name)
        assert message in str(info.value), name
    with pytest.raises(StudyConfigError, match=r"missing\.json: file not found"):
        import_trials_file(study, tmp_path / "missing.json")
    good = {"params": {"x": 0.5, "n": 1, "opt": "adam", "c": "k"}, "values": 1}
    (tmp_path / "ok.json").write_text(json.dumps({"trials": [good, good]}))
    assert [t.number for t in import_trials_file(study, tmp_path / "ok.json")] == [0, 1]


# ------------------------------------------------------------------------ copy_study


def _populate(url: str, artifacts_dir) -> nas.Study:
    """A study with every kind of trial (RUNNING and WAITING too), artifacts and attributes."""
    study = make("s", url, seed=5, searcher="evolution", searcher_options={"population_size": 4})
    study.set_user_attr("owner", {"team": "ü"})
    study.optimize(objective, n_trials=10)
    storage = study.storage
    storage.acquire_lease(study.study_id, SUPERNET_LEASE, "worker-x", 600)
    study.enqueue({"x": 0.5, "n": 2, "opt": "adam", "c": "k"}, budget=3)
    _, running = storage.add_trials(
        study.study_id, [nas.Proposal({"x": 0.1, "n": 1, "opt": 3, "c": "k"})], claim_worker="w"
    )
    assert running is not None
    storage.report(running.trial_id, 7, {0: 0.5})
    first = study.trials[0]
    storage.store_artifact(study.study_id, "checkpoint", "supernet/e1.pt", bytes(range(256)) * 50)
    storage.store_artifact(
        study.study_id, "weights", "t0.pt", b"trial zero", trial_id=first.trial_id
    )
    path = artifacts_dir / "plot.html"
    path.write_text("<html/>")
    storage.add_artifact(study.study_id, "plot", str(path), "ab" * 32, 7, trial_id=first.trial_id)
    return study


def _assert_copy(source: nas.Study, copy: nas.Study) -> None:
    assert copy.name == source.name and copy.space == source.space
    assert copy.objectives == source.objectives and copy.constraints == source.constraints
    assert (copy.searcher_name, copy.searcher_options, copy.seed) == (
        source.searcher_name,
        source.searcher_options,
        source.seed,
    )
    assert copy.user_attrs == {
        k: v for k, v in source.user_attrs.items() if k != lease_key(SUPERNET_LEASE)
    }
    a_trials, b_trials = source.trials, copy.trials
    assert [t.number for t in b_trials] == [t.number for t in a_trials]
    for a, b in zip(a_trials, b_trials, strict=True):
        if a.state is nas.TrialState.RUNNING:
            assert b.state is nas.TrialState.WAITING
            assert (b.worker_id, b.datetime_start, b.heartbeat) == (None, None, None)
            assert_same_trial(a, b, ("params", "intermediate_values", "restarts", "budget"))
        else:
            assert_same_trial(a, b, KEPT)
    a_art = source.storage.get_artifacts(source.study_id)
    b_art = copy.storage.get_artifacts(copy.study_id)
    numbers = {t.trial_id: t.number for t in a_trials}
    copy_numbers = {t.trial_id: t.number for t in b_trials}
    assert len(a_art) == len(b_art) == 3
    for x, y in zip(a_art, b_art, strict=True):
        assert (x.kind, x.path, x.sha256, x.size, x.stored, x.created_at) == (
            y.kind,
            y.path,
            y.sha256,
            y.size,
            y.stored,
            y.created_at,
        )
        assert numbers.get(x.trial_id) == copy_numbers.get(y.trial_id)
        if x.stored:
            assert source.storage.read_artifact(x.artifact_id) == copy.storage.read_artifact(
                y.artifact_id
            )


@pytest.mark.postgres
def test_copy_sqlite_postgres_sqlite_round_trip(tmp_path, postgres_url):
    first = f"sqlite:///{tmp_path}/a.db"
    back = f"sqlite:///{tmp_path}/b.db"
    source = _populate(first, tmp_path)
    on_postgres = copy_study("s", first, postgres_url)
    _assert_copy(source, on_postgres)
    returned = copy_study("s", postgres_url, back)
    _assert_copy(source, returned)
    # The copy is a study like any other: it runs its WAITING trials and goes on.
    returned.optimize(objective, n_trials=len(returned.trials) + 2)
    assert all(t.state.is_finished for t in returned.trials)


def test_copy_errors_write_nothing(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/a.db"
    other = f"sqlite:///{tmp_path}/b.db"
    _populate(url, tmp_path)
    with pytest.raises(DuplicatedStudyError, match="choose another name"):
        copy_study("s", url, url)
    with pytest.raises(StudyNotFoundError):
        copy_study("nope", url, other)
    with pytest.raises(StudyConfigError):
        copy_study("s", url, other, new_name=" ")
    make("taken", other)
    with pytest.raises(DuplicatedStudyError, match="'taken' already exists"):
        copy_study("s", url, other, new_name="taken")
    # A failure midway (here: while copying the artifacts) removes the partial copy.
    calls = []

    def broken(self: RDBStorage, *args: Any, **kwargs: Any) -> int:
        calls.append(args)
        raise OSError("disk full")

    monkeypatch.setattr(RDBStorage, "import_artifact", broken)
    with pytest.raises(OSError, match="disk full"):
        copy_study("s", url, other, new_name="copy")
    assert calls
    assert [s.name for s in RDBStorage(other).list_studies()] == ["taken"]
    monkeypatch.undo()
    fork = copy_study("s", url, url, new_name="fork")
    assert fork.name == "fork" and len(fork.trials) == len(nas.load_study("s", url).trials)
