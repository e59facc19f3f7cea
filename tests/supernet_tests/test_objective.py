"""NAS studies: the supernet objective's parsing, training stored in the database, resume,
loading instead of retraining, and the metrics trials get."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import nas
from nas.exceptions import IncompatibleStudyError, SpaceError, StudyConfigError
from nas.space import SearchSpace
from nas.study import OBJECTIVE_ATTR
from nas.study._config import study_config_from_dict
from nas.supernet import (
    ArchSpace,
    SupernetNotTrainedError,
    SupernetObjective,
    arch_cost,
    parse_supernet_objective,
)
from nas.supernet._checkpoint import checkpoint_from_bytes, checkpoint_to_bytes
from nas.supernet._store import CHECKPOINT_KIND, WEIGHTS_KIND
from nas.testing.supernet import TINY_SPACE

REPO = Path(__file__).resolve().parents[2]

TINY = TINY_SPACE  # 6 architectures on 8x8 digits


def _objective(**overrides) -> SupernetObjective:
    spec = {
        "type": "supernet",
        "space": TINY,
        "train": {"epochs": 3, "batch_size": 128, "sampler": "pada"},
        "eval": {"calibration": 128, "latency_repeats": 3, "latency_warmup": 1},
    }
    spec.update(overrides)
    return parse_supernet_objective(spec, source="test.yaml")


def _study(url: str, objective: SupernetObjective, name: str = "nas", **objectives: str):
    return nas.create_study(
        name,
        objective.space.search_space,
        objectives or {"accuracy": "maximize", "mflops": "minimize"},
        searcher="random",
        storage=url,
        seed=3,
        load_if_exists=True,
    )


def _final_weights(study) -> str:
    """Digest of the study's final supernet: every tensor's bytes and the training history (the
    pickled bytes themselves may differ where equal strings are shared or not)."""
    (final,) = study.storage.get_artifacts(study.study_id, kind=WEIGHTS_KIND)
    return _digest(study.storage.read_artifact(final.artifact_id))


def _digest(data: bytes) -> str:
    state = checkpoint_from_bytes(data)
    h = hashlib.sha256(json.dumps(state["history"], sort_keys=True).encode())
    for name, tensor in state["net"].items():
        h.update(name.encode())
        h.update(tensor.numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": 1}, "objective.colour: unknown key"),
        ({"type": "other"}, "objective.type: must be 'supernet'"),
        ({"dataset": "mnist"}, "objective.dataset: must be one of digits, cifar10"),
        ({"dataset": "cifar10"}, "objective.root: dataset cifar10 needs root"),
        ({"train": {"epochs": 0}}, "objective.train.epochs: must be an integer >= 1, got 0"),
        ({"train": {"epochs": 2.5}}, "objective.train.epochs: must be an integer >= 1"),
        ({"train": {"optimizer": "rmsprop"}}, "objective.train.optimizer: must be sgd or adam"),
        ({"train": {"steps": 0}}, "objective.train.steps: must be an integer >= 1"),
        ({"train": {"sampler": "best"}}, "objective.train.sampler: unknown path sampler"),
        (
            {"train": {"sampler": "pada", "sampler_options": {"nope": 1}}},
            "objective.train.sampler",
        ),
        ({"train": {"speed": 1}}, "objective.train.speed: unknown key"),
        ({"train": {"checkpoint_every": 0}}, "objective.train.checkpoint_every: must be"),
        ({"eval": {"calibration": 0}}, "objective.eval.calibration: must be an integer >= 1"),
        ({"eval": {"when": 1}}, "objective.eval.when: unknown key"),
        ({"space": "missing.yaml"}, "objective.space: file 'missing.yaml' not found"),
        ({"encoding": "dense"}, "objective.encoding: must be one of auto, conditional, flat"),
    ],
)
def test_bad_objective_mappings_name_the_key(change, message) -> None:
    spec = {"type": "supernet", "space": TINY, **change}
    with pytest.raises(StudyConfigError, match=r"^test\.yaml: ") as info:
        parse_supernet_objective(spec, source="test.yaml")
    assert message in str(info.value)


def test_study_file_with_a_supernet_objective(tmp_path) -> None:
    base = {
        "name": "n",
        "objective": {"type": "supernet", "space": "../search_spaces/digits_cnn.yaml"},
        "objectives": {"accuracy": "maximize", "mflops": "minimize"},
    }
    (tmp_path / "studies").mkdir()
    here = tmp_path / "studies"
    (tmp_path / "search_spaces").mkdir()
    (tmp_path / "search_spaces" / "digits_cnn.yaml").write_text(
        (REPO / "search_spaces" / "digits_cnn.yaml").read_text()
    )
    cfg = study_config_from_dict(base, source="s.yaml", base_dir=here)
    arch_space = ArchSpace.from_yaml(REPO / "search_spaces" / "digits_cnn.yaml")
    assert isinstance(cfg.objective, SupernetObjective)
    # `space` may be left out: the random searcher takes conditional parameters, so the
    # conditional encoding (one assignment per network) is picked...
    assert cfg.objective.encoding == "conditional"
    assert cfg.space == arch_space.conditional_search_space
    # ... and the flat one for a searcher that refuses conditional parameters.
    bo = study_config_from_dict({**base, "searcher": "bayesian"}, source="s.yaml", base_dir=here)
    assert bo.space == arch_space.search_space and bo.objective.encoding == "flat"
    forced = study_config_from_dict(
        {**base, "objective": {**base["objective"], "encoding": "flat"}},
        source="s.yaml",
        base_dir=here,
    )
    assert forced.space == arch_space.search_space
    # Given explicitly, the space must be the architecture space (a supernet YAML loads as its
    # flat encoding) and decides the encoding.
    same = study_config_from_dict(
        {**base, "space": "../search_spaces/digits_cnn.yaml"}, source="s.yaml", base_dir=here
    )
    assert same.space == arch_space.search_space and same.objective.encoding == "flat"
    with pytest.raises(StudyConfigError, match=r"s\.yaml: space: differs from the architecture"):
        study_config_from_dict(
            {**base, "space": {"params": {"x": {"type": "float", "low": 0, "high": 1}}}},
            source="s.yaml",
            base_dir=here,
        )
    with pytest.raises(StudyConfigError, match="'loss' is not a metric of a supernet objective"):
        study_config_from_dict(
            {**base, "objectives": {"loss": "minimize"}}, source="s.yaml", base_dir=here
        )
    with pytest.raises(StudyConfigError, match="'accuracy' must be maximized"):
        study_config_from_dict(
            {**base, "objectives": {"accuracy": "minimize"}}, source="s.yaml", base_dir=here
        )
    with pytest.raises(StudyConfigError, match=r"s\.yaml: space: missing"):
        study_config_from_dict(
            {**base, "objective": "nas.benchmarks.functions:branin_objective"}, source="s.yaml"
        )


def test_a_supernet_yaml_is_an_ordinary_search_space(tmp_path) -> None:
    path = REPO / "search_spaces" / "digits_cnn.yaml"
    space = SearchSpace.from_yaml(path)
    assert space == ArchSpace.from_yaml(path).search_space
    assert "s0.l1.op" in space.names
    bad = tmp_path / "bad.yaml"
    bad.write_text("supernet: {classes: 10}\nparams: {}\n")
    with pytest.raises(SpaceError, match="unknown key next to 'supernet'"):
        SearchSpace.from_yaml(bad)


def test_definition_round_trip_and_weights_key() -> None:
    obj = _objective()
    again = SupernetObjective.from_definition(json.loads(json.dumps(obj.definition())))
    assert again.definition() == obj.definition()
    assert again.weights_key(0) == obj.weights_key(0)
    assert obj.weights_key(0) != obj.weights_key(1)  # the seed changes the weights
    assert _objective(device="cuda").weights_key(0) == obj.weights_key(0)  # the device does not
    # Evaluation settings do not change the trained weights either.
    assert _objective(eval={"calibration": 64}).weights_key(0) == obj.weights_key(0)
    longer = _objective(train={"epochs": 4, "batch_size": 128, "sampler": "pada"})
    assert longer.weights_key(0) != obj.weights_key(0)


def test_checkpoint_bytes_round_trip_numpy_and_generator_state() -> None:
    import numpy as np

    rng = np.random.default_rng(5)
    state = {
        "rng": rng.bit_generator.state,
        "arr": np.arange(6, dtype=np.int64).reshape(2, 3),
        "t": torch.ones(3),
        "nested": [{"f": np.float64(1.5)}],
    }
    back = checkpoint_from_bytes(checkpoint_to_bytes(state))
    assert back["rng"] == rng.bit_generator.state
    assert back["arr"].dtype == np.int64 and back["arr"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert torch.equal(back["t"], torch.ones(3)) and back["nested"] == [{"f": 1.5}]
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        checkpoint_from_bytes(b"garbage")


# ---------------------------------------------------------------------------- studies


def test_study_trains_once_stores_weights_and_measures_trials(sqlite_url, monkeypatch) -> None:
    obj = _objective()
    study = _study(sqlite_url, obj, accuracy="maximize", mflops="minimize", params="minimize")
    seen: list[int] = []
    obj.prepare(study, on_epoch=lambda done, total, rec: seen.append(done))
    assert seen == [1, 2, 3]
    assert study.user_attrs[OBJECTIVE_ATTR] == obj.definition()
    storage = study.storage
    assert storage.get_artifacts(study.study_id, kind=CHECKPOINT_KIND) == []  # cleaned up
    (final,) = storage.get_artifacts(study.study_id, kind=WEIGHTS_KIND)
    state = checkpoint_from_bytes(storage.read_artifact(final.artifact_id))
    assert len(state["history"]) == 3

    study.optimize(obj, n_trials=8)
    trials = study.trials
    assert all(t.state == nas.TrialState.COMPLETE for t in trials)
    for t in trials:
        arch = obj.space.arch(t.params)
        cost = arch_cost(obj.space, arch)
        assert t.values["mflops"] == pytest.approx(cost.mflops)
        assert t.values["params"] == cost.params
        assert 0.0 <= t.values["accuracy"] <= 1.0
        metrics = t.user_attrs["metrics"]
        assert metrics["accuracy"] == t.values["accuracy"]
        assert 0.0 <= metrics["test_accuracy"] <= 1.0 and "latency_ms" not in metrics
        assert t.user_attrs["arch"]["layers"][0][0][0] in ("conv", "skip")
    # A trained net separates architectures: the accuracies are not all equal.
    assert len({t.values["accuracy"] for t in trials}) > 1

    # A new process (a new objective object) loads the weights instead of training again.
    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr("nas.supernet._train.SupernetTrainer.train_step", no_training)
    again = _objective()
    reopened = nas.load_study("nas", sqlite_url)
    again.prepare(reopened)
    first = trials[0]
    assert again(_FakeTrial(reopened, first.params)) == {
        "accuracy": first.values["accuracy"],
        "mflops": first.values["mflops"],
        "params": first.values["params"],
    }


class _FakeTrial:
    """What SupernetObjective.__call__ uses of a trial."""

    def __init__(self, study, params) -> None:
        self.study, self.params, self.attrs = study, params, {}

    def set_user_attr(self, key, value) -> None:
        self.attrs[key] = value


def test_latency_is_measured_only_when_asked(sqlite_url) -> None:
    obj = _objective(train={"epochs": 1, "batch_size": 256})
    study = _study(sqlite_url, obj, accuracy="maximize", latency_ms="minimize")
    study.optimize(obj, n_trials=2)
    for t in study.trials:
        assert t.state == nas.TrialState.COMPLETE
        assert t.values["latency_ms"] > 0 and t.user_attrs["metrics"]["latency_ms"] > 0


def test_another_definition_is_refused_and_nothing_trains(sqlite_url) -> None:
    obj = _objective(train={"epochs": 1, "batch_size": 256})
    study = _study(sqlite_url, obj)
    obj.prepare(study)
    other = _objective(train={"epochs": 2, "batch_size": 256})
    with pytest.raises(IncompatibleStudyError, match="differs in train"):
        other.prepare(nas.load_study("nas", sqlite_url))
    assert len(study.storage.get_artifacts(study.study_id)) == 1
    # Another device is the same definition.
    _objective(train={"epochs": 1, "batch_size": 256}, device="cpu").prepare(
        nas.load_study("nas", sqlite_url)
    )


def test_objectives_must_be_metrics(sqlite_url) -> None:
    obj = _objective()
    study = nas.create_study(
        "wrong", obj.space.search_space, {"loss": "minimize"}, storage=sqlite_url
    )
    with pytest.raises(StudyConfigError, match="'loss' is not a metric"):
        obj.prepare(study)
    assert study.storage.get_artifacts(study.study_id) == []


def test_load_only_without_weights_raises(sqlite_url) -> None:
    obj = _objective()
    study = _study(sqlite_url, obj)
    with pytest.raises(SupernetNotTrainedError, match="no trained supernet yet"):
        obj.prepare(study, train=False)


def test_interrupted_training_resumes_from_the_last_checkpoint(sqlite_url, tmp_path) -> None:
    ref_obj = _objective()
    ref = _study(f"sqlite:///{tmp_path}/ref.db", ref_obj)
    ref_obj.prepare(ref)

    class CrashError(Exception):
        pass

    def crash_after_two(done, total, record) -> None:
        if done == 3:  # after epoch 3 trained, before its checkpoint: epoch 2's is the last
            raise CrashError

    obj = _objective()
    study = _study(sqlite_url, obj)
    with pytest.raises(CrashError):
        obj.prepare(study, on_epoch=crash_after_two)
    (ckpt,) = study.storage.get_artifacts(study.study_id, kind=CHECKPOINT_KIND)
    assert ckpt.path.endswith("epoch-00002.pt")
    assert study.storage.get_artifacts(study.study_id, kind=WEIGHTS_KIND) == []

    seen: list[int] = []
    resumed = _objective()
    resumed.prepare(nas.load_study("nas", sqlite_url), on_epoch=lambda d, t, r: seen.append(d))
    assert seen == [2, 3]  # reported where it resumed, then trained only epoch 3
    assert _final_weights(study) == _final_weights(ref)  # bit for bit


RESUME_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, signal, sys, threading, time
    import nas
    from nas.supernet import parse_supernet_objective
    from nas.supernet._checkpoint import checkpoint_from_bytes

    url, kill_epoch, kill_trial, kill_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    obj = parse_supernet_objective(json.loads(sys.argv[5]), source="t")
    study = nas.create_study("nas", obj.space.search_space, {"accuracy": "maximize", "params": "minimize"},
                             searcher="evolution", searcher_options={"population_size": 4},
                             storage=url, seed=7, load_if_exists=True)
    seen = []

    def on_epoch(done, total, record):
        seen.append(done)
        if done == kill_epoch:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.03)

    if kill_after > 0:
        timer = threading.Timer(kill_after, lambda: os.kill(os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()
    kill_scoring = int(os.environ.get("NAS_TEST_KILL_SCORING", "0"))
    if kill_scoring:  # SIGKILL inside the kill_scoring-th gradient-matching pass
        import nas.supernet._family as family
        real, calls = family.gradient_distances, []

        def scoring(*args, **kwargs):
            calls.append(1)
            if len(calls) == kill_scoring:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        family.gradient_distances = scoring
    obj.prepare(study, on_epoch=on_epoch)

    def objective(trial):
        if trial.number == kill_trial:
            os.kill(os.getpid(), signal.SIGKILL)
        return obj(trial)

    study.optimize(objective, n_trials=10)
    (final,) = study.storage.get_artifacts(study.study_id, kind="supernet")
    state = checkpoint_from_bytes(study.storage.read_artifact(final.artifact_id))
    h = hashlib.sha256(json.dumps(state["history"], sort_keys=True).encode())
    nets = state["nets"] if "nets" in state else {"root": state["net"]}
    h.update(json.dumps(state.get("family"), sort_keys=True).encode())
    for leaf in sorted(nets):
        for name, tensor in nets[leaf].items():
            h.update(leaf.encode() + name.encode() + tensor.numpy().tobytes())
    weights = h.hexdigest()
    print(json.dumps({"seen": seen, "weights": weights,
                      "family": study.user_attrs.get("supernet.family"),
                      "trials": [[t.number, t.state, t.params, t.values,
                                  t.user_attrs.get("supernet.leaf")] for t in study.trials]}))
    """
)


def _run(script: Path, url: str, spec: dict, epoch=-1, trial=-1, after=0.0, scoring=0):
    return subprocess.run(
        [sys.executable, str(script), url, str(epoch), str(trial), str(after), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONHASHSEED": "0", "NAS_TEST_KILL_SCORING": str(scoring)},
    )


def _artifact_kinds(db: Path) -> list[tuple[str, str]]:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(db)) as con:
        return [tuple(r) for r in con.execute("SELECT kind, path FROM artifacts ORDER BY id")]


@pytest.mark.slow
def test_sigkill_during_training_and_trials_resumes_to_identical_results(tmp_path) -> None:
    spec = {
        "type": "supernet",
        "space": TINY,
        "train": {"epochs": 6, "batch_size": 128, "sampler": "pada"},
        "eval": {"calibration": 128},
    }
    script = tmp_path / "nas_study.py"
    script.write_text(RESUME_SCRIPT)
    ref = _run(script, f"sqlite:///{tmp_path}/ref.db", spec)
    assert ref.returncode == 0, ref.stderr
    expected = json.loads(ref.stdout)
    assert expected["seen"] == [1, 2, 3, 4, 5, 6]

    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    # 1) killed after epoch 4 was trained, before its checkpoint was stored;
    first = _run(script, url, spec, epoch=4)
    assert first.returncode == -signal.SIGKILL, first.stderr
    kinds = _artifact_kinds(db)
    assert [k for k, _ in kinds] == [CHECKPOINT_KIND] and kinds[0][1].endswith("epoch-00003.pt")
    # 2) killed at a random moment of the remaining training (or just after it);
    second = _run(script, url, spec, after=0.25)
    assert second.returncode == -signal.SIGKILL, second.stderr
    # 3) killed inside a trial (the space has 6 networks: the study ends after 6 trials);
    third = _run(script, url, spec, trial=4)
    assert third.returncode == -signal.SIGKILL, third.stderr
    assert [k for k, _ in _artifact_kinds(db)] == [WEIGHTS_KIND]  # training had finished
    # 4) resumed to the end: the same weights, proposals and values as without the kills.
    final = _run(script, url, spec)
    assert final.returncode == 0, final.stderr
    got = json.loads(final.stdout)
    assert len(expected["trials"]) == 6  # every network once
    assert got["seen"] == []  # nothing left to train
    assert got["weights"] == expected["weights"]
    assert got["trials"] == expected["trials"]


@pytest.mark.slow
def test_sigkill_of_a_quantized_supernet_resumes_to_identical_results(tmp_path) -> None:
    """Elastic quantization: killed while training (after the quantizers were initialised)
    and inside a trial, the study resumes to the same weights, quantizer steps and trials."""
    quant = {"wbits": [2, 8], "abits": [4, 8], "granularity": ["tensor"], "symmetry": ["sym"]}
    spec = {
        "type": "supernet",
        "space": {**TINY, "quant": quant},
        "train": {"epochs": 5, "batch_size": 128, "sampler": "uniform", "optimizer": "adam",
                  "lr": 0.003},
        "eval": {"calibration": 128},
    }  # fmt: skip
    script = tmp_path / "nas_study.py"
    script.write_text(RESUME_SCRIPT)
    ref = _run(script, f"sqlite:///{tmp_path}/ref.db", spec)
    assert ref.returncode == 0, ref.stderr
    expected = json.loads(ref.stdout)
    url = f"sqlite:///{tmp_path}/crash.db"
    assert _run(script, url, spec, epoch=3).returncode == -signal.SIGKILL
    assert _run(script, url, spec, trial=3).returncode == -signal.SIGKILL
    final = _run(script, url, spec)
    assert final.returncode == 0, final.stderr
    got = json.loads(final.stdout)
    assert got["weights"] == expected["weights"]
    assert got["trials"] == expected["trials"] and len(got["trials"]) == 10


@pytest.mark.slow
def test_sigkill_while_a_family_splits_resumes_to_identical_results(tmp_path) -> None:
    """A gm family (splits after epochs 2 and 4): killed inside gradient scoring, right after
    the second split, at a random moment and inside a trial, it ends with the same tree,
    weights, trials and leaves as without the kills."""
    spec = {
        "type": "supernet",
        "space": TINY,
        "train": {"epochs": 8, "batch_size": 128, "sampler": "pada",
                  "splits": {"policy": "gm", "at_epochs": [2, 4], "repeats": 2}},
        "eval": {"calibration": 128},
    }  # fmt: skip
    script = tmp_path / "nas_study.py"
    script.write_text(RESUME_SCRIPT)
    ref = _run(script, f"sqlite:///{tmp_path}/ref.db", spec)
    assert ref.returncode == 0, ref.stderr
    expected = json.loads(ref.stdout)
    tree = expected["family"]
    assert [r["policy"] for r in tree["splits"]] == ["gm", "gm", "gm"]  # root, then both children
    assert len(tree["leaves"]) == 4 and all(len(r["scores"]) for r in tree["splits"])
    assert expected["seen"] == [1, 2, 3, 4, 5, 6]  # scoring took the budget of 2 epochs
    leaves = {leaf["id"] for leaf in tree["leaves"]}
    assert {t[4] for t in expected["trials"]} <= leaves and len(expected["trials"]) == 6

    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    first = _run(script, url, spec, scoring=3)  # in the second split's scoring
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert _artifact_kinds(db)[-1][1].endswith("epoch-00003.pt")
    second = _run(script, url, spec, epoch=5)  # after the split of epoch 4 was checkpointed
    assert second.returncode == -signal.SIGKILL, second.stderr
    third = _run(script, url, spec, after=0.3)
    assert third.returncode == -signal.SIGKILL, third.stderr
    fourth = _run(script, url, spec, trial=3)
    assert fourth.returncode == -signal.SIGKILL, fourth.stderr
    final = _run(script, url, spec)
    assert final.returncode == 0, final.stderr
    got = json.loads(final.stdout)
    assert got["weights"] == expected["weights"]
    assert got["family"] == expected["family"]
    assert got["trials"] == expected["trials"]


#: Options that keep each searcher fast here (multi-fidelity ones need a budget range; the
#: supernet objective ignores the budget: every trial is a full evaluation).
SEARCHER_OPTIONS: dict[str, dict] = {
    "bayesian": {"n_initial": 3, "num_restarts": 2, "raw_samples": 32, "mc_samples": 16},
    "bohb": {"min_budget": 1, "max_budget": 3},
    "hyperband": {"min_budget": 1, "max_budget": 3},
    "optuna": {"sampler": "TPESampler"},
}


@pytest.mark.parametrize("searcher", nas.searchers.searcher_names())
def test_every_searcher_runs_a_nas_study(tmp_path, searcher) -> None:
    """A NAS study takes any searcher: each one gets the encoding it accepts (`auto`)."""
    from nas.searchers import create_searcher

    obj = _objective(train={"epochs": 1, "batch_size": 256})
    objectives = (nas.Objective("accuracy", "maximize"), nas.Objective("mflops", "minimize"))
    options = SEARCHER_OPTIONS.get(searcher, {})
    try:
        obj, _ = obj.study_space(
            space=None,
            searcher=searcher,
            searcher_options=options,
            objectives=objectives,
            source="t",
        )
        create_searcher(searcher, obj.search_space, objectives, 0, options)
    except nas.exceptions.SearcherConfigError as e:  # e.g. a searcher for one objective only
        pytest.skip(f"{searcher} refuses this study: {e}")
    study = nas.create_study(
        "any",
        obj.search_space,
        {o.name: o.direction for o in objectives},
        searcher=searcher,
        searcher_options=options,
        storage=f"sqlite:///{tmp_path}/nas.db",
        seed=0,
    )
    study.optimize(obj, n_trials=5)
    trials = study.trials
    assert len(trials) == 5 and all(t.state == nas.TrialState.COMPLETE for t in trials), [
        t.failure_reason for t in trials
    ]
    assert study.pareto_front()


def _fake_cifar(root: Path, per_batch: int = 40) -> None:
    """CIFAR-10 binary batches (random pixels) in the standard layout."""
    import numpy as np

    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"]:
        labels = rng.integers(0, 10, size=per_batch, dtype=np.uint8)
        pixels = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        np.concatenate([labels[:, None], pixels], axis=1).tofile(root / name)


def test_a_nas_study_on_cifar10_from_a_directory(tmp_path) -> None:
    _fake_cifar(tmp_path)
    space = {
        "input": {"channels": 3, "height": 32, "width": 32},
        "classes": 10,
        "stem": {"channels": 4},
        "stages": [{"channels": 8, "stride": 2, "depth": [1], "ops": ["conv", "skip"],
                    "kernel": 3, "width": 4}],
    }  # fmt: skip
    obj = parse_supernet_objective(
        {"type": "supernet", "space": space, "dataset": "cifar10", "root": str(tmp_path),
         "train": {"epochs": 1, "batch_size": 64}, "eval": {"calibration": 32}},
        source="t",
    )  # fmt: skip
    assert obj.validate().input_shape == (3, 32, 32)
    study = _study(f"sqlite:///{tmp_path}/nas.db", obj)
    study.optimize(obj, n_trials=2)
    assert all(t.state == nas.TrialState.COMPLETE for t in study.trials)
    # An 8x8 grey space does not fit CIFAR-10's images: said before anything is written.
    wrong = _objective(dataset="cifar10", root=str(tmp_path))
    with pytest.raises(
        StudyConfigError, match="expects 1x8x8 images, dataset 'cifar10' has 3x32x32"
    ):
        wrong.validate()
    from nas.supernet import DatasetError

    with pytest.raises(DatasetError, match="missing CIFAR-10 binary batches"):
        _objective(dataset="cifar10", root=str(tmp_path / "nowhere")).validate()


def test_splits_too_costly_for_the_budget_are_refused_before_anything_is_written(
    sqlite_url,
) -> None:
    obj = _objective(
        train={"epochs": 3, "batch_size": 128, "splits": {"policy": "gm", "at_epochs": [2]}}
    )
    study = _study(sqlite_url, obj)
    with pytest.raises(StudyConfigError, match=r"objective\.train\.splits: scoring costs"):
        obj.prepare(study)
    assert study.storage.get_artifacts(study.study_id) == []
