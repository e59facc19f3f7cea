"""Command objectives (``objective: {type: command}``): an external program per trial, its
params on the command line, stdin and ``NAS_PARAMS``, its result on its last stdout line, its
step lines reported (and pruned), its failures stored with its stderr, its process group
killed on timeout, pruning and Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nas
from nas.exceptions import IncompatibleStudyError, StudyConfigError
from nas.pruners import PRUNERS, Pruner, register_pruner
from nas.study import OBJECTIVE_ATTR, RUN_ATTR, open_study
from nas.study._command import CommandObjective
from nas.testing.cli import run_cli

PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]

SPACE = "{params: {x: {type: float, low: -2.0, high: 2.0}, k: {type: int, low: 1, high: 4}}}"

#: Records what it received (argv, stdin, environment) in record_<trial>.json, reports two
#: steps, and prints its result: loss and a metric.
RECORDER = """\
import json, os, sys
params = json.loads(sys.stdin.read())
record = {"argv": sys.argv[1:], "stdin": params, "cwd": os.getcwd(),
          "env": {k: v for k, v in os.environ.items() if k.startswith(("NAS_", "MY_"))}}
with open(f"record_{os.environ['NAS_TRIAL_NUMBER']}.json", "w") as f:
    json.dump(record, f)
print("a log line, not JSON")
print(json.dumps({"note": "a JSON line without step: ignored"}))
loss = (params["x"] - 1.0) ** 2 + params["k"]
print(json.dumps({"step": 0, "loss": loss + 1.0}))
print(json.dumps({"step": 1, "loss": loss + 0.5}))
print("to stderr", file=sys.stderr)
print(json.dumps({"loss": loss, "runtime_s": 0.25}))
"""


def _write(
    tmp_path: Path, program: str, objective: str, *, name: str = "cmd", **extra: Any
) -> Path:
    """A study file running ``program`` (saved as prog.py next to it) with ``objective``."""
    (tmp_path / "prog.py").write_text(textwrap.dedent(program))
    space = extra.pop("space", SPACE)
    lines = [
        f"name: {name}",
        *([] if space is None else [f"space: {space}"]),
        f"objective: {objective}",
        f"objectives: {extra.pop('objectives', '{loss: minimize}')}",
        f"n_trials: {extra.pop('n_trials', 3)}",
        "seed: 0",
    ]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _objective(**keys: Any) -> str:
    return json.dumps({"type": "command", **keys})


def _run(path: Path, url: str, *args: str) -> nas.Study:
    code, _, err = run_cli("run", str(path), "--storage", url, "-q", *args)
    assert code == 0, err
    return nas.load_study(path.stem, url)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def _gone(pid: int, within: float = 3.0) -> bool:
    end = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_STORAGE", raising=False)
    return f"sqlite:///{tmp_path}/nas.db"


# --------------------------------------------------------------------------- running


def test_a_study_file_runs_a_command_end_to_end(tmp_path: Path, url: str) -> None:
    run = [PY, "prog.py", "--x", "{x}", "--k={k:03d}", "{trial_number}", "{budget}"]
    path = _write(tmp_path, RECORDER, _objective(run=run, env={"MY_VAR": 7}))
    study = _run(path, url)
    trials = study.trials
    assert [t.state for t in trials] == [nas.TrialState.COMPLETE] * 3
    for t in trials:
        expected = (t.params["x"] - 1.0) ** 2 + t.params["k"]
        assert t.values["loss"] == pytest.approx(expected)
        assert t.metrics == {"runtime_s": 0.25}
        assert t.intermediate_values["loss"] == pytest.approx({0: expected + 1, 1: expected + 0.5})
        record = json.loads((tmp_path / f"record_{t.number}.json").read_text())
        # On the command line (formatted; no budget: empty), on stdin and in NAS_PARAMS.
        x, k = t.params["x"], t.params["k"]
        assert record["argv"] == ["--x", str(x), f"--k={k:03d}", str(t.number), ""]
        assert record["stdin"] == t.params == json.loads(record["env"]["NAS_PARAMS"])
        assert record["env"]["NAS_TRIAL_NUMBER"] == str(t.number)
        assert record["env"]["NAS_STUDY"] == "cmd"
        assert record["env"]["NAS_STORAGE"] == url  # no password in it
        assert record["env"]["MY_VAR"] == "7" and "NAS_BUDGET" not in record["env"]
        assert record["cwd"] == str(tmp_path)  # the study file's folder
    # The definition is pinned (cwd absolute), and the run attribute names its type.
    pinned = study.user_attrs[OBJECTIVE_ATTR]
    assert pinned == {
        "type": "command",
        "run": run,
        "timeout": None,
        "cwd": str(tmp_path),
        "env": {"MY_VAR": "7"},
        "kill_grace": 5.0,
    }
    assert study.user_attrs[RUN_ATTR]["objective"] == {"type": "command"}


def test_a_command_string_is_split_before_values_are_substituted(tmp_path: Path, url: str) -> None:
    program = """\
    import json, os, sys
    json.dump(sys.argv[1:], open(f"argv_{os.environ['NAS_TRIAL_NUMBER']}.json", "w"))
    print(1.5)
    """
    space = (
        "{params: {opt: {type: categorical, choices: [with space, sgd]}, "
        "mom: {type: float, low: 0.1, high: 0.9, condition: {parent: opt, in: [sgd]}}, "
        "b: {type: fixed, value: true}}}"
    )
    run = f"{PY} prog.py --opt {{opt}} '--mom={{mom:.2f}}' \"{{{{literal}}}}\" {{b}} {{python}}"
    path = _write(tmp_path, program, _objective(run=run), space=space, n_trials=6)
    trials = _run(path, url).trials
    assert all(t.values == {"loss": 1.5} for t in trials)  # a bare number: one objective
    for t in trials:
        argv = json.loads((tmp_path / f"argv_{t.number}.json").read_text())
        # One argument with its space; an inactive parameter renders empty; braces escaped.
        mom = f"{t.params['mom']:.2f}" if "mom" in t.params else ""
        assert argv == ["--opt", t.params["opt"], f"--mom={mom}", "{literal}", "True", PY]
    assert {t.params["opt"] for t in trials} == {"with space", "sgd"}


def test_several_objectives_read_from_the_mapping(tmp_path: Path, url: str) -> None:
    program = """\
    import json, os
    p = json.loads(os.environ["NAS_PARAMS"])
    if os.environ["NAS_TRIAL_NUMBER"] == "1":
        print(3.0)  # a bare number: only for one objective
    else:
        print(json.dumps({"f1": p["x"] ** 2, "f2": (p["x"] - 2) ** 2, "size": p["k"]}))
    """
    path = _write(
        tmp_path,
        program,
        _objective(run=[PY, "prog.py"]),
        objectives="{f1: minimize, f2: minimize}",
    )
    trials = _run(path, url).trials
    ok = [t for t in trials if t.number != 1]
    assert all(t.state == nas.TrialState.COMPLETE for t in ok)
    assert all(t.values["f2"] == pytest.approx((t.params["x"] - 2) ** 2) for t in ok)
    assert all(t.metrics == {"size": t.params["k"]} for t in ok)
    assert trials[1].state == nas.TrialState.FAILED
    assert "needs a mapping name -> value" in trials[1].failure_reason
    assert 'its last stdout line: "3.0"' in trials[1].failure_reason


def test_a_last_step_line_is_also_the_result(tmp_path: Path, url: str) -> None:
    program = """\
    print('{"step": 0, "loss": 2.0}')
    print('{"step": 1, "loss": 1.0, "acc": 0.5}'.replace(', "acc": 0.5', ""))
    print()
    """
    path = _write(tmp_path, program, _objective(run=[PY, "prog.py"]), n_trials=1)
    (trial,) = _run(path, url).trials
    assert trial.state == nas.TrialState.COMPLETE and trial.values == {"loss": 1.0}
    assert trial.intermediate_values == {"loss": {0: 2.0, 1: 1.0}} and trial.metrics == {}


def test_budget_and_device_reach_the_program(tmp_path: Path, url: str) -> None:
    program = """\
    import json, os, sys
    json.dump([sys.argv[1:], os.environ.get("NAS_BUDGET"), os.environ.get("NAS_DEVICE")],
              open(f"seen_{os.environ['NAS_TRIAL_NUMBER']}.json", "w"))
    print(float(sys.argv[1]))
    """
    path = _write(
        tmp_path,
        program,
        _objective(run=[PY, "prog.py", "{budget}"]),
        searcher="{name: hyperband, options: {min_budget: 1, max_budget: 9, eta: 3}}",
        n_trials=4,
    )
    study = _run(path, url, "--device", "cuda:3")
    for t in study.trials:
        argv, budget, device = json.loads((tmp_path / f"seen_{t.number}.json").read_text())
        assert t.budget is not None and t.budget == int(t.budget)
        assert argv == [str(int(t.budget))] and budget == str(int(t.budget))  # 9, not 9.0
        assert device == "cuda:3"


# --------------------------------------------------------------------------- pruning


@pytest.fixture
def prune_even_trials_at_step_2() -> Iterator[str]:
    """A pruner, registered for the test: even-numbered trials are pruned once they reported
    step 2."""
    name = "test_command_prune_even"

    class PruneEven(Pruner):
        def __init__(self, objectives: Any, seed: int = 0) -> None:
            super().__init__(objectives, seed)

        def prune(self, trial: nas.FrozenTrial, history: Any) -> str | None:
            last = self.last_step(trial)
            if trial.number % 2 == 0 and last is not None and last >= 2:
                return f"even trial at step {last}"
            return None

    register_pruner(name)(PruneEven)
    yield name
    PRUNERS.unregister(name)


def test_a_pruned_program_is_terminated_and_its_trial_pruned(
    tmp_path: Path, url: str, prune_even_trials_at_step_2: str
) -> None:
    program = """\
    import json, os, sys, time
    n = os.environ["NAS_TRIAL_NUMBER"]
    open(f"pid_{n}", "w").write(str(os.getpid()))
    for step in range(8):
        print(json.dumps({"step": step, "loss": 10.0 - step}))
        time.sleep(0.05)
    open(f"end_{n}", "w").write("reached the end")
    print(json.dumps({"loss": 1.0}))
    """
    objective = _objective(run=[PY, "prog.py"], kill_grace=0.5)
    path = _write(tmp_path, program, objective, n_trials=4, pruner=prune_even_trials_at_step_2)
    trials = _run(path, url).trials
    assert [t.state for t in trials] == ["PRUNED", "COMPLETE", "PRUNED", "COMPLETE"]
    for t in trials[::2]:
        assert t.failure_reason == "even trial at step 2 (the program was terminated)"
        assert t.intermediate_values == {"loss": {0: 10.0, 1: 9.0, 2: 8.0}}
        assert t.values == {"loss": 8.0}  # its last reported values
        assert not (tmp_path / f"end_{t.number}").exists()
        assert _gone(int((tmp_path / f"pid_{t.number}").read_text()))
    assert all((tmp_path / f"end_{n}").exists() for n in (1, 3))
    assert len(trials[1].intermediate_values["loss"]) == 8


# --------------------------------------------------------------------------- failures


def test_a_failing_program_fails_its_trial_with_its_stderr_and_the_study_goes_on(
    tmp_path: Path, url: str
) -> None:
    program = """\
    import os, sys
    if os.environ["NAS_TRIAL_NUMBER"] == "1":
        sys.stderr.write("noise\\n" * 2000 + "Traceback: the real error\\n")
        print('{"loss": 1.0}')  # a result does not save a non-zero exit
        sys.exit(3)
    if os.environ["NAS_TRIAL_NUMBER"] == "2":
        os.kill(os.getpid(), 9)
    print('{"loss": 0.5}')
    """
    path = _write(tmp_path, program, _objective(run=[PY, "prog.py"]), n_trials=4)
    trials = _run(path, url).trials
    states = [t.state for t in trials]
    assert states == ["COMPLETE", "FAILED", "FAILED", "COMPLETE"]
    reason = trials[1].failure_reason
    assert reason.startswith(f"command `{PY} prog.py` exited with status 3\n")
    assert "--- its stderr (last 4096 bytes) ---" in reason
    assert reason.endswith("Traceback: the real error") and len(reason) < 4096 + 300
    assert "Traceback (most recent call last)" not in reason  # no nas traceback
    assert trials[2].failure_reason.startswith(
        f"command `{PY} prog.py` was killed by signal SIGKILL"
    )
    assert "(its stderr was empty)" in trials[2].failure_reason


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("print('done')", r'got \(line 1\) "done"'),
        ("print('[1, 2]')", r'got \(line 1\) "\[1, 2\]"'),
        ("pass", "printed nothing on stdout"),
        ("print('{\"los\": 1}')", r"missing \['loss'\]\); its last stdout line: "),
        ("print('{\"loss\": NaN}')", "returned nan, not a finite number"),
        ('print(\'{"loss": 1, "tag": "a"}\')', "'tag': 'a' besides the objectives"),
    ],
)
def test_a_bad_last_line_fails_the_trial_quoting_it(
    tmp_path: Path, url: str, output: str, expected: str
) -> None:
    path = _write(tmp_path, output, _objective(run=[PY, "prog.py"]), n_trials=1)
    (trial,) = _run(path, url).trials
    assert trial.state == nas.TrialState.FAILED
    assert trial.failure_reason.startswith(f"command `{PY} prog.py` ")
    assert re.search(expected, trial.failure_reason), trial.failure_reason


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"step": 1, "acc": 0.5}', "unknown objective 'acc'"),
        ('{"step": 1, "loss": NaN}', "must be a finite number"),
        ('{"step": -1, "loss": 1}', "step must be a non-negative integer, got -1"),
        ('{"step": 2}', "a step line needs objective values"),
    ],
)
def test_a_bad_step_line_fails_the_trial_and_stops_the_program(
    tmp_path: Path, url: str, line: str, expected: str
) -> None:
    program = f"""\
    import os, time
    open("pid", "w").write(str(os.getpid()))
    print('{{"step": 0, "loss": 3}}')
    print({line!r}, flush=True)
    time.sleep(30)
    """
    objective = _objective(run=[PY, "prog.py"], kill_grace=0.5)
    path = _write(tmp_path, program, objective, n_trials=1)
    start = time.monotonic()
    (trial,) = _run(path, url).trials
    assert time.monotonic() - start < 15
    assert trial.state == nas.TrialState.FAILED
    assert expected in trial.failure_reason and "stdout line 2: " in trial.failure_reason
    assert trial.intermediate_values == {"loss": {0: 3.0}}
    assert _gone(int((tmp_path / "pid").read_text()))


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path, url: str) -> None:
    program = f"""\
    import os, subprocess, sys, time
    child = subprocess.Popen([{PY!r}, "-c", "import time; time.sleep(60)"])
    open(f"pids_{{os.environ['NAS_TRIAL_NUMBER']}}", "w").write(f"{{os.getpid()}} {{child.pid}}")
    print("working", file=sys.stderr, flush=True)
    if os.environ["NAS_TRIAL_NUMBER"] == "0":
        time.sleep(60)
    print(0.0)
    """
    objective = _objective(run=[PY, "prog.py"], timeout=1.5, kill_grace=0.5)
    path = _write(tmp_path, program, objective, n_trials=2)
    start = time.monotonic()
    trials = _run(path, url).trials
    assert time.monotonic() - start < 12
    assert [t.state for t in trials] == ["FAILED", "COMPLETE"]
    reason = trials[0].failure_reason
    assert "timed out after 1.5 s (objective.timeout)" in reason and reason.endswith("working")
    for n in (0, 1):  # the timed-out one, and the grandchild a finished program left behind
        pids = [int(p) for p in (tmp_path / f"pids_{n}").read_text().split()]
        assert all(_gone(pid) for pid in pids)


def test_a_program_that_leaves_a_process_holding_stdout_does_not_hang(
    tmp_path: Path, url: str
) -> None:
    # A process outside its group (setsid) keeps the pipe open: nas stops waiting for EOF.
    program = f"""\
    import os, subprocess
    child = subprocess.Popen([{PY!r}, "-c", "import time; time.sleep(20)"], start_new_session=True)
    open("escaped", "w").write(str(child.pid))
    print(2.0, flush=True)
    """
    path = _write(tmp_path, program, _objective(run=[PY, "prog.py"], kill_grace=0.3), n_trials=1)
    start = time.monotonic()
    try:
        (trial,) = _run(path, url).trials
        assert time.monotonic() - start < 8
        assert trial.state == nas.TrialState.COMPLETE and trial.values == {"loss": 2.0}
    finally:
        os.kill(int((tmp_path / "escaped").read_text()), signal.SIGKILL)


def test_ctrl_c_kills_the_program_and_gives_the_trial_back(tmp_path: Path, url: str) -> None:
    program = """\
    import os, time
    open("pid", "w").write(str(os.getpid()))
    time.sleep(60)
    """
    path = _write(tmp_path, program, _objective(run=[PY, "prog.py"], kill_grace=0.5), n_trials=1)
    opened = open_study(path, storage=url)
    pid_file = tmp_path / "pid"

    def interrupt() -> None:
        end = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < end:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        opened.optimize()
    assert _gone(int(pid_file.read_text()))
    assert [t.state for t in opened.study.trials] == [nas.TrialState.WAITING]


# --------------------------------------------------------------------------- study files


@pytest.mark.parametrize(
    ("objective", "extra", "expected"),
    [
        ({"run": [PY, "prog.py"], "timout": 3}, {}, "objective.timout: unknown key for a command"),
        ({}, {}, "objective.run: missing (required)"),
        ({"run": []}, {}, "objective.run: must be a non-empty list"),
        ({"run": "python 'unclosed"}, {}, "objective.run: cannot split"),
        ({"run": [PY, "prog.py", "{y}"]}, {}, r"objective.run[2]: {y} names no parameter"),
        ({"run": [PY, "prog.py", "{x"]}, {}, "objective.run[2]: '{x': "),
        ({"run": [PY, "prog.py", "{0}"]}, {}, "must name a parameter ({x}), not be positional"),
        ({"run": [PY, "prog.py", "{x:d}"]}, {}, "objective.run[2]: '{x:d}' cannot format x=-2.0"),
        ({"run": [PY, "prog.py"], "timeout": 0}, {}, "objective.timeout: must be a number of"),
        ({"run": [PY, "prog.py"], "kill_grace": -1}, {}, "objective.kill_grace: must be a"),
        ({"run": [PY, "prog.py"], "env": {"NAS_PARAMS": "x"}}, {}, "objective.env.NAS_PARAMS:"),
        ({"run": [PY, "prog.py"], "env": {"A": [1]}}, {}, "objective.env.A: must be a string"),
        ({"run": [PY, "prog.py"], "cwd": "nowhere"}, {}, "objective.cwd: "),
        ({"run": ["no-such-program-xyz", "a"]}, {}, "program 'no-such-program-xyz' not found"),
        ({"run": ["./missing.sh"]}, {}, "program './missing.sh' not found (a file relative"),
        ({"run": [PY, "missing.py"]}, {}, "objective.run[1]: script 'missing.py' not found"),
        ({"run": [PY, "prog.py"]}, {"objectives": "{step: minimize}"}, "'step' cannot be an"),
        ({"run": [PY, "prog.py"]}, {"space": None}, "space: missing (required with a command"),
        (
            {"run": [PY, "prog.py", "{budget}"]},
            {"space": "{params: {budget: {type: int, low: 1, high: 3}}}"},
            "{budget} is ambiguous",
        ),
    ],
)
def test_a_bad_command_objective_is_one_line_and_exit_2(
    tmp_path: Path, url: str, objective: dict[str, Any], extra: dict[str, Any], expected: str
) -> None:
    path = _write(tmp_path, "print(1)", _objective(**objective), **extra)
    code, out, err = run_cli("run", str(path), "--storage", url)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("error: ") and expected in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "nas.db").exists()  # nothing written


def test_parse_names_the_file_and_rebuilds_from_its_definition(tmp_path: Path) -> None:
    obj = CommandObjective.parse(
        {"type": "command", "run": "python sim.py --x {x}", "cwd": "sub", "timeout": 2},
        source="s.yaml",
        base_dir=tmp_path,
    )
    assert obj.run == ("python", "sim.py", "--x", "{x}") and obj.cwd == tmp_path / "sub"
    assert obj.timeout == 2.0 and obj.kill_grace == 5.0
    assert CommandObjective.from_definition(obj.definition()) == obj
    assert CommandObjective.from_definition(obj.definition(), device="cpu").device == "cpu"
    with pytest.raises(StudyConfigError, match=r"^s.yaml: objective.env: must be a mapping"):
        CommandObjective.parse({"run": ["a"], "env": "A=1"}, source="s.yaml")
    with pytest.raises(StudyConfigError, match="not a command objective definition"):
        CommandObjective.from_definition({"type": "command"})
    # What trials depend on: the command and its environment; not where or how long it runs.
    stored = obj.definition()
    assert obj.differences({**stored, "timeout": 9, "cwd": "/elsewhere"}, 0) == []
    assert obj.differences({**stored, "run": ["python", "sim.py"], "env": {"A": "1"}}, 0) == [
        "run",
        "env",
    ]


def test_reopening_refuses_another_command_and_follows_a_new_timeout(
    tmp_path: Path, url: str
) -> None:
    path = _write(tmp_path, "print(1.0)", _objective(run=[PY, "prog.py"]), n_trials=1)
    _run(path, url)
    _write(tmp_path, "print(1.0)", _objective(run=[PY, "prog.py"], timeout=30), n_trials=2)
    study = _run(path, url)
    assert study.user_attrs[OBJECTIVE_ATTR]["timeout"] == 30.0  # the newest opener's
    _write(tmp_path, "print(1.0)", _objective(run=[PY, "prog.py", "--x={x}"]), n_trials=3)
    code, _, err = run_cli("run", str(path), "--storage", url)
    assert code == 2 and "another command objective (differs in run)" in err
    with pytest.raises(IncompatibleStudyError):
        open_study(path, storage=url)
    assert len(nas.load_study("cmd", url).trials) == 2


def test_a_worker_joins_by_name_without_the_file(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, RECORDER, _objective(run=[PY, "prog.py", "{x}", "{k}"]), n_trials=2)
    _run(path, url, "--n-trials", "0")  # created, nothing run
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = run_cli("worker", "cmd", "--storage", url, "--n-trials", "3", "-q")
    assert code == 0, err
    trials = nas.load_study("cmd", url).trials
    assert [t.state for t in trials] == [nas.TrialState.COMPLETE] * 3
    assert (tmp_path / "record_2.json").exists()  # ran in the study file's folder
    # On a machine without that folder: one line that says what to do.
    study = nas.load_study("cmd", url)
    study.set_user_attr(OBJECTIVE_ATTR, {**study.user_attrs[OBJECTIVE_ATTR], "cwd": "/nope/x"})
    code, _, err = run_cli("worker", "cmd", "--storage", url, "--n-trials", "4")
    assert code == 2 and "objective.cwd: /nope/x is not a folder on this machine" in err


def test_a_python_study_runs_a_command_objective(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text("import sys\nprint(float(sys.argv[1]) ** 2)\n")
    obj = CommandObjective.parse({"run": [PY, "prog.py", "{x}"]}, base_dir=tmp_path)
    study = nas.create_study(
        "py", {"params": {"x": {"type": "float", "low": 0, "high": 1}}}, {"y": "minimize"},
        storage=f"sqlite:///{tmp_path}/nas.db",
    )  # fmt: skip
    study.optimize(obj, n_trials=2)
    assert all(t.values["y"] == pytest.approx(t.params["x"] ** 2) for t in study.trials)
    assert study.user_attrs[OBJECTIVE_ATTR]["run"] == [PY, "prog.py", "{x}"]  # pinned
    bad = CommandObjective.parse({"run": [PY, "prog.py", "{z}"]}, base_dir=tmp_path)
    with pytest.raises(StudyConfigError, match=r"\{z\} names no parameter"):
        study.optimize(bad, n_trials=3)


def test_the_example_study_runs(tmp_path: Path, url: str) -> None:
    example = ROOT / "studies" / "command_example.yaml"
    code, _, err = run_cli("run", str(example), "--storage", url, "--n-trials", "4", "-q")
    assert code == 0, err
    trials = nas.load_study("command_example", url).trials
    assert [t.state for t in trials] == ["COMPLETE"] * 4, [t.failure_reason for t in trials]
    assert all(t.metrics["distance"] >= 0 for t in trials)
    assert all(t.intermediate_values for t in trials)
