"""One way into a study (``nas.study.open_study``): every value validated once before anything
is written, the study row and its run attributes in one transaction, one searcher built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import nas
from nas.exceptions import IncompatibleStudyError, StorageError, StudyConfigError
from nas.searchers import Searcher, _registry
from nas.storage import RDBStorage
from nas.study import (
    OBJECTIVE_ATTR,
    RUN_ATTR,
    StudyPlan,
    create_study_from_config,
    load_study_config,
    open_study,
    plan_study,
    run_local_workers,
    stored_objective,
    worker_command,
)
from nas.testing.cli import run_cli

STUDY = """\
name: s
space: {params: {x1: {type: float, low: -5.0, high: 10.0}, x2: {type: float, low: 0.0, high: 15.0}}}
objective: nas.benchmarks.functions:branin_objective
objectives: {value: minimize}
searcher: random
n_trials: 4
seed: 3
"""
BRANIN = "nas.benchmarks.functions:branin_objective"

NAS_STUDY = """\
name: tiny_nas
objective:
  type: supernet
  space:
    supernet:
      input: {channels: 1, height: 8, width: 8}
      classes: 10
      stem: {channels: 4}
      stages:
        - {channels: 4, stride: 1, depth: [1, 2], ops: [conv, skip], kernel: 3, width: [2, 4]}
  train: {epochs: 1, batch_size: 128}
  eval: {calibration: 128}
objectives: {accuracy: maximize, mflops: minimize}
searcher: random
n_trials: 2
seed: 0
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    (tmp_path / "s.yaml").write_text(STUDY)
    return tmp_path


def _file(tmp_path: Path, text: str = STUDY, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _no_study(url: str, db: Path | None = None) -> bool:
    """No study in the database (or no database file at all)."""
    if db is not None and not db.exists():
        return True
    return RDBStorage(url).list_studies() == []


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every construction of a registered searcher, by its registered name (wrappers such as
    UniqueProposals, and the registry itself, left alone)."""
    _registry._load_builtins()
    names = {cls: name for name, cls in _registry._REGISTRY.items()}
    made: list[str] = []
    original = Searcher.__init__

    def counted(self: Searcher, *args: Any, **kwargs: Any) -> None:
        if type(self) in names:
            made.append(names[type(self)])
        original(self, *args, **kwargs)

    monkeypatch.setattr(Searcher, "__init__", counted)
    return made


# --------------------------------------------------------------------------- the entry


def test_a_study_file_opens_ready_to_run(tmp_path: Path, storage_url: str) -> None:
    path = _file(tmp_path)
    opened = open_study(path, storage=storage_url, n_trials=6, timeout=30.5)
    assert opened.created and opened.source == path
    assert (opened.n_trials, opened.timeout, opened.max_restarts) == (6, 30.5, 3)
    assert opened.objective is nas.benchmarks.functions.branin_objective
    study = opened.study
    assert study.seed == 3 and study.searcher_name == "random"
    run = study.user_attrs[RUN_ATTR]
    assert run == {
        "objective": BRANIN,
        "n_trials": 6,
        "timeout": 30.5,
        "file": str(path.resolve()),
    }
    opened.optimize()
    assert len(study.trials) == 6
    # Reopened with the file's own total: the attribute follows; the trials stay.
    again = open_study(path, storage=storage_url)
    assert not again.created and again.study.study_id == study.study_id
    assert again.study.user_attrs[RUN_ATTR]["n_trials"] == 4 and len(again.study.trials) == 6


def test_the_study_row_and_its_run_attributes_are_one_transaction(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure writing the attributes leaves no study behind: they are written in the
    transaction that inserts the study, not after it (a crash in between used to leave a
    study `nas worker NAME` refused)."""
    path = _file(tmp_path)

    def fail_on_attrs(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO STUDY_USER_ATTRS"):
            raise RuntimeError("the attribute write failed")

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", fail_on_attrs)
    try:
        with pytest.raises((RuntimeError, StorageError)):
            open_study(path, storage=storage_url)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", fail_on_attrs)
    assert _no_study(storage_url)
    # Without the failure: no separate attribute write happens at creation...
    writes: list[str] = []
    original = RDBStorage.set_study_user_attr

    def spy(self: RDBStorage, study_id: int, key: str, value: Any) -> None:
        writes.append(key)
        original(self, study_id, key, value)

    monkeypatch.setattr(RDBStorage, "set_study_user_attr", spy)
    study = create_study_from_config(load_study_config(path), storage=storage_url)
    assert writes == [] and study.user_attrs[RUN_ATTR]["n_trials"] == 4
    # ... and none when reopening with the same values (only a changed total is written).
    open_study(path, storage=storage_url)
    assert writes == []
    open_study(path, storage=storage_url, n_trials=9)
    assert writes == [RUN_ATTR]


def test_a_study_opened_by_name_runs_what_the_file_recorded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nas.db"
    path = _file(tmp_path)
    open_study(path, storage=url, n_trials=0)  # 0: create it and run nothing here...
    by_name = open_study("s", storage=url)
    assert not by_name.created and by_name.source is None and by_name.plot is None
    # ... and the file's total is what workers joining by name run to
    assert by_name.n_trials == 4 and by_name.objective is nas.benchmarks.functions.branin_objective
    assert stored_objective(by_name.study) is by_name.objective
    by_name = open_study("s", storage=url, n_trials=3, timeout=60)
    by_name.optimize()
    assert len(by_name.study.trials) == 3
    assert by_name.study.user_attrs[RUN_ATTR]["n_trials"] == 4  # joining by name writes nothing
    with pytest.raises(StudyConfigError, match=r"^seed: study 's' keeps its seed \(3\)"):
        open_study("s", storage=url, seed=4)
    with pytest.raises(StudyConfigError, match="only a supernet objective"):
        open_study("s", storage=url, device="cuda")
    nas.create_study("api", {"params": {"x": {"type": "float", "low": 0, "high": 1}}},
                     {"y": "minimize"}, storage=url)  # fmt: skip
    with pytest.raises(StudyConfigError, match="pass the study file instead"):
        open_study("api", storage=url)


def test_reopening_with_another_definition_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nas.db"
    path = _file(tmp_path)
    open_study(path, storage=url)
    before = RDBStorage(url).get_study(RDBStorage(url).get_study_id("s")).user_attrs
    with pytest.raises(IncompatibleStudyError, match="seed differs"):
        open_study(path, storage=url, seed=5, n_trials=99)
    assert RDBStorage(url).get_study(RDBStorage(url).get_study_id("s")).user_attrs == before


# --------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timeout": 0}, "timeout: must be a positive number of seconds"),
        ({"timeout": -1.5}, "timeout: must be a positive number of seconds"),
        ({"timeout": float("nan")}, "timeout: must be a positive number of seconds"),
        ({"n_trials": -1}, "n_trials: must be a non-negative integer"),
        ({"n_trials": 2.5}, "n_trials: must be a non-negative integer"),
        ({"seed": -1}, "seed: must be an integer in [0, 2**63)"),
        ({"seed": 2**63}, "seed: must be an integer in [0, 2**63)"),
        ({"seed": True}, "seed: must be an integer in [0, 2**63)"),
        ({"max_restarts": -1}, "max_restarts: must be a non-negative integer"),
        ({"storage": "nas.db"}, "storage: must be a database URL like sqlite:///nas.db"),
        ({"device": "cuda"}, "device cuda: only a supernet objective"),
        ({"device": ""}, "device: must be a device such as cpu"),
    ],
)
def test_every_bad_override_is_refused_before_anything_is_written(
    workdir: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(StudyConfigError) as info:
        open_study(workdir / "s.yaml", **overrides)
    assert str(info.value).startswith(message.split(":")[0]) and message in str(info.value)
    assert "\n" not in str(info.value)
    assert not (workdir / "nas.db").exists()


CLI_BAD = [
    (
        ("--timeout", "0"),
        "--timeout: must be a positive number of seconds (leave it out for no limit), got 0.0",
    ),
    (("--timeout", "-1"), "--timeout: must be a positive number of seconds"),
    (("--n-trials", "-1"), "--n-trials: must be a non-negative integer"),
    (("--seed", "-1"), "--seed: must be an integer in [0, 2**63), got -1"),
    (("--seed", str(2**63)), "--seed: must be an integer in [0, 2**63)"),
    (("--max-restarts", "-2"), "--max-restarts: must be a non-negative integer, got -2"),
    (("--device", "cuda:9"), "--device cuda:9: only a supernet objective"),
    (("--storage", "nas.db"), "--storage: must be a database URL"),
]


CLI_CASES = [
    (verb, args, message)
    for verb in ("run", "worker")
    for args, message in CLI_BAD
    if not (verb == "worker" and args[0] == "--seed")  # nas worker has no --seed
]


@pytest.mark.parametrize(
    ("verb", "args", "message"), CLI_CASES, ids=[f"{v} {' '.join(a)}" for v, a, _ in CLI_CASES]
)
def test_bad_values_on_the_command_line_are_one_line_exit_2_and_no_study(
    workdir: Path, verb: str, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run_cli(verb, "s.yaml", *args)
    assert code == 2, (out, err)
    assert err.startswith(f"error: {message}"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _no_study("sqlite:///nas.db", workdir / "nas.db")


FILE_BAD = [
    ("timeout: 0", "f.yaml: timeout: must be a positive number of seconds"),
    ("timeout: -5", "f.yaml: timeout: must be a positive number of seconds"),
    ("n_trials: -1", "f.yaml: n_trials: must be a non-negative integer"),
    ("seed: -1", "f.yaml: seed: must be an integer in [0, 2**63), got -1"),
    ("seed: abc", "f.yaml: seed: must be an integer in [0, 2**63), got 'abc'"),
    ("storage: nas.db", "f.yaml: storage: must be a database URL"),
    ("searcher: {name: random, options: {x: .nan}}", "f.yaml: searcher.options: must be JSON"),
]


@pytest.mark.parametrize(("line", "message"), FILE_BAD, ids=[line for line, _ in FILE_BAD])
def test_bad_values_in_a_study_file_are_one_line_exit_2_and_no_study(
    workdir: Path, line: str, message: str
) -> None:
    key = line.split(":")[0]
    kept = [x for x in STUDY.splitlines() if not x.startswith(f"{key}:")]
    (workdir / "f.yaml").write_text("\n".join([*kept, line]) + "\n")
    code, _, err = run_cli("run", "f.yaml")
    assert code == 2 and err.startswith(f"error: {message}"), err
    assert err.count("\n") == 1
    assert not (workdir / "nas.db").exists()


def test_timeout_zero_used_to_crash_after_creating_the_study(workdir: Path) -> None:
    code, _, err = run_cli("run", "s.yaml", "--timeout", "0")
    assert code == 2
    assert err == (
        "error: --timeout: must be a positive number of seconds (leave it out for no limit), "
        "got 0.0\n"
    )
    assert not (workdir / "nas.db").exists()
    # The same rule for the file's value, and for Study.optimize.
    (workdir / "t.yaml").write_text(STUDY.replace("n_trials: 4", "timeout: 0"))
    code, _, err = run_cli("run", "t.yaml")
    assert code == 2 and err.startswith("error: t.yaml: timeout: must be a positive number")
    assert not (workdir / "nas.db").exists()
    study = nas.create_study(
        "api", {"params": {"x": {"type": "float", "low": 0, "high": 1}}}, {"y": "minimize"}
    )
    with pytest.raises(StudyConfigError, match=r"^timeout: must be a positive number"):
        study.optimize(lambda t: 0.0, timeout=0)
    assert study.trials == []


def test_worker_by_name_refuses_bad_values_without_writing(workdir: Path) -> None:
    assert run_cli("run", "s.yaml", "--n-trials", "0", "-q")[0] == 0
    before = RDBStorage("sqlite:///nas.db").get_study(1).user_attrs
    for args, message in [
        (("--timeout", "0"), "--timeout: must be a positive"),
        (("--n-trials", "-3"), "--n-trials: must be a non-negative"),
        (("--device", "cpu"), "--device cpu: only a supernet objective"),
    ]:
        code, _, err = run_cli("worker", "s", *args)
        assert code == 2 and err.startswith(f"error: {message}") and err.count("\n") == 1
    assert RDBStorage("sqlite:///nas.db").get_study(1).user_attrs == before
    assert nas.load_study("s", "sqlite:///nas.db").trials == []


def test_n_trials_zero_creates_the_study_for_workers_and_runs_nothing(workdir: Path) -> None:
    code, _, err = run_cli("run", "s.yaml", "--n-trials", "0", "-q")
    assert code == 0, err
    study = nas.load_study("s", "sqlite:///nas.db")
    # The total recorded for `nas worker NAME` / `nas ask NAME` is the file's, not the 0.
    assert study.trials == [] and study.user_attrs[RUN_ATTR]["n_trials"] == 4


# --------------------------------------------------------------------------- one searcher


def test_one_searcher_is_built_before_trial_0(tmp_path: Path, builds: list[str]) -> None:
    url = f"sqlite:///{tmp_path}/nas.db"
    path = _file(tmp_path)
    opened = open_study(path, storage=url, n_trials=3)
    assert builds == ["random"]
    opened.optimize()
    assert builds == ["random"] and len(opened.study.trials) == 3
    builds.clear()
    again = open_study(path, storage=url, n_trials=5)  # reopened: one again, and used
    again.optimize()
    assert builds == ["random"]
    builds.clear()
    nas.create_study(
        "api", {"params": {"x": {"type": "float", "low": 0, "high": 1}}}, {"y": "minimize"},
        storage=url,
    ).optimize(lambda t: t.params["x"], n_trials=2)  # fmt: skip
    assert builds == ["random"]


def test_a_nas_study_builds_its_searcher_once_while_choosing_the_encoding(
    tmp_path: Path, builds: list[str]
) -> None:
    url = f"sqlite:///{tmp_path}/nas.db"
    path = _file(tmp_path, NAS_STUDY)
    opened = open_study(path, storage=url, seed=7)  # the override seed reaches the probe
    assert builds == ["random"]
    study = opened.study
    assert study.seed == 7 and study.searcher.seed == 7
    assert builds == ["random"]  # the study uses the one the file's loader built
    # Its typed objective is pinned with the study, in the same transaction.
    assert study.user_attrs[OBJECTIVE_ATTR]["type"] == "supernet"
    assert study.user_attrs[RUN_ATTR]["objective"] == {"type": "supernet"}
    by_name = open_study("tiny_nas", storage=url)
    assert by_name.objective.definition() == opened.objective.definition()


def test_a_bad_device_names_the_override(tmp_path: Path) -> None:
    path = _file(tmp_path, NAS_STUDY)
    for device, message in [
        ("tpu", r"^--device: 'tpu' is not a device|^--device: unsupported device type"),
        ("cuda:99", r"^--device: 'cuda:99' requested but"),
    ]:
        with pytest.raises(nas.NasError, match=message):
            open_study(path, storage=f"sqlite:///{tmp_path}/nas.db", device=device, flags=True)
    assert not (tmp_path / "nas.db").exists()


def test_plan_writes_nothing_until_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nas.db"
    plan = plan_study(_file(tmp_path), storage=url, n_trials=2)
    assert isinstance(plan, StudyPlan) and plan.name == "s" and plan.n_trials == 2
    assert not (tmp_path / "nas.db").exists()
    opened = plan.open(record=False)  # e.g. a data-parallel process that does not write
    assert RUN_ATTR not in opened.study.user_attrs
    assert plan.open().study.user_attrs[RUN_ATTR]["n_trials"] == 2


def test_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/nas.db"
    _file(tmp_path, name="plain")  # an existing file without the suffix is a file
    assert open_study("plain", storage=url).source == Path("plain")
    with pytest.raises(StudyConfigError, match=r"^missing\.yaml: file not found$"):
        open_study("missing.yaml", storage=url)  # the suffix says file, not name
    with pytest.raises(nas.exceptions.StudyNotFoundError):
        open_study("missing", storage=url)  # anything else is a name
    with pytest.raises(StudyConfigError, match="a study file or a study name is needed"):
        open_study(3, storage=url)  # type: ignore[arg-type]


def test_local_workers_join_with_what_the_study_was_opened_with(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nas.db"
    path = _file(tmp_path)
    opened = open_study(path, storage=url, n_trials=5, timeout=90.0, max_restarts=1)
    args = worker_command(opened)
    assert args[3:6] == ["worker", str(path), "--storage"] and url in args
    assert args[args.index("--n-trials") + 1] == "5"
    assert args[args.index("--timeout") + 1] == "90.0"
    assert args[args.index("--max-restarts") + 1] == "1"
    assert "--device" not in args
    assert worker_command(open_study("s", storage=url))[4] == "s"  # opened by name
    with pytest.raises(StudyConfigError, match="workers: must be an integer >= 1, got 0"):
        run_local_workers(opened, 0)
    run_local_workers(opened, 2)
    assert [t.number for t in opened.study.trials] == [0, 1, 2, 3, 4]
