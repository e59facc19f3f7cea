"""Algorithm-specific tests of the ``bayesian`` searcher (BoTorch GP + qLogNEI / qLogNEHVI)."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models import SingleTaskGP

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.benchmarks.functions import SPACES, branin, branin_currin
from nas.exceptions import SearcherConfigError, SpaceError
from nas.pareto import hypervolume
from nas.searchers import BayesianSearcher, RandomSearcher, create_searcher
from nas.searchers._bo_encoding import BoEncoding
from nas.searchers._bo_optimize import optimize_acquisition
from nas.space import SearchSpace
from nas.testing.searchers import conditional_space, mixed_space

#: Cheaper than the defaults (same algorithm): keeps the quality tests within seconds.
FAST = {"num_restarts": 4, "raw_samples": 128, "mc_samples": 64}
BRANIN_MIN = 0.397887357729738
MIN = (Objective("value", "minimize"),)


def _trial(
    number: int, params: dict, state: TrialState = TrialState.COMPLETE, values=None
) -> FrozenTrial:
    return FrozenTrial(
        trial_id=number + 1,
        number=number,
        state=state,
        params=dict(params),
        values=dict(values or {}),
    )


def _run_study(searcher, evaluate, n_trials: int) -> list[FrozenTrial]:
    """Sequential study: one proposal at a time, every trial COMPLETE."""
    history: list[FrozenTrial] = []
    while len(history) < n_trials:
        (p,) = searcher.propose(history, 1)
        history.append(_trial(len(history), p.params, values=evaluate(p.params)))
    return history


def _branin_values(params: dict) -> dict[str, float]:
    return {"value": float(branin(params["x1"], params["x2"]))}


def _branin_space() -> SearchSpace:
    return SearchSpace.from_dict(SPACES["branin"])


# --------------------------------------------------------------------------- encoding


def test_encoding_round_trip_every_kind() -> None:
    space = mixed_space()
    enc = BoEncoding(space)
    # 'one' (a single int value) and 'seed_like' (fixed) have no column and are carried.
    assert [c.param.name for c in enc.columns] == [
        "x", "lr", "n", "units", "batch", "act", "mix", "flag",
    ]  # fmt: skip
    assert enc.fixed == {"one": 7, "seed_like": 3}
    assert [c.kind for c in enc.columns] == ["float"] * 2 + ["int"] * 3 + ["categorical"] * 3
    assert enc.cont_dims == [0, 1] and enc.int_dims == [2, 3, 4]
    assert enc.cat_blocks == [(5, 3), (8, 4), (12, 2)]  # one-hot blocks
    assert enc.n_columns == 8 and enc.dim == 14
    rng = np.random.default_rng(0)
    for _ in range(200):
        params = space.sample(rng)
        x = enc.encode(params)
        assert np.all(x >= 0.0) and np.all(x <= 1.0)
        assert [x[b : b + w].sum() for b, w in enc.cat_blocks] == [1.0, 1.0, 1.0]
        assert np.array_equal(enc.snap(x[None])[0], x)  # valid vectors are fixed points
        back = enc.decode(x)
        assert list(back) == list(space.names)  # complete, in space order
        assert space.validate(back) == space.validate(params)
        # type-aware categorical identity: 1 stays 1, True stays True
        assert type(back["mix"]) is type(params["mix"])
        assert type(back["flag"]) is bool


def test_log_params_are_encoded_in_log_space() -> None:
    space = SearchSpace.from_dict(
        {
            "params": {
                "lr": {"type": "float", "low": 1.0e-4, "high": 1.0, "log": True},
                "w": {"type": "int", "low": 1, "high": 1024, "log": True},
            }
        }
    )
    enc = BoEncoding(space)
    # The geometric midpoint is the encoded midpoint; equal ratios are equal distances.
    assert enc.encode({"lr": 1.0e-2, "w": 32})[0] == pytest.approx(0.5)
    d1 = enc.encode({"lr": 1.0e-3, "w": 4}) - enc.encode({"lr": 1.0e-4, "w": 2})
    d2 = enc.encode({"lr": 1.0e-1, "w": 64}) - enc.encode({"lr": 1.0e-2, "w": 32})
    assert d1[0] == pytest.approx(d2[0])
    lo, hi = math.log(0.5), math.log(1024.5)
    assert enc.encode({"lr": 1.0, "w": 32})[1] == pytest.approx((math.log(32) - lo) / (hi - lo))
    assert enc.decode(enc.encode({"lr": 3.0e-3, "w": 777})) == {
        "lr": pytest.approx(3.0e-3),
        "w": 777,
    }


def test_int_columns_snap_to_the_cell_and_know_their_neighbours() -> None:
    space = SearchSpace.from_dict(
        {"params": {"u": {"type": "int", "low": 16, "high": 256, "step": 16}}}
    )
    enc = BoEncoding(space)
    n = 16  # values 16, 32, ..., 256: cells of width 1/16
    snapped = enc.snap(np.array([[0.0], [0.5 / n + 0.01], [0.999], [1.7]]))
    assert snapped[:, 0].tolist() == pytest.approx([0.5 / n, 0.5 / n, 1 - 0.5 / n, 1 - 0.5 / n])
    assert [enc.decode(x)["u"] for x in snapped] == [16, 16, 256, 256]
    # one, two, four and eight grid steps away, where on the grid (16 is an end)
    got = [enc.decode(x)["u"] for x in enc.neighbours(np.array([0.5 / n]))]
    assert got == [32, 48, 80, 144]
    got = [enc.decode(x)["u"] for x in enc.neighbours(enc.encode({"u": 64}))]
    assert got == [48, 80, 32, 96, 128, 192]


def test_sobol_units_map_to_valid_uniform_cells() -> None:
    space = mixed_space()
    enc = BoEncoding(space)
    units = np.random.default_rng(1).random((400, enc.n_columns))
    x = enc.from_unit_design(units)
    assert x.shape == (400, enc.dim)
    for row in x:
        space.validate(enc.decode(row))
    assert np.array_equal(enc.snap(x), x)
    # categorical 'mix' (block 8..11) has 4 choices, each drawn about a quarter of the time
    counts = x[:, 8:12].sum(axis=0)
    assert counts.sum() == 400 and counts.min() > 60
    # the int 'n' (0..20, 21 cells) gets every value
    assert len({enc.decode(row)["n"] for row in x}) == 21


def test_neighbours_move_one_column() -> None:
    space = SearchSpace.from_dict(
        {"params": {"x": {"type": "float", "low": 0.0, "high": 1.0},
                    "k": {"type": "int", "low": 1, "high": 5},
                    "c": {"type": "categorical", "choices": ["a", "b", "c"]}}}
    )  # fmt: skip
    enc = BoEncoding(space)
    x = enc.encode({"x": 0.25, "k": 3, "c": "b"})
    got = [enc.decode(row) for row in enc.neighbours(x)]
    assert got == [
        {"x": 0.25, "k": 2, "c": "b"},
        {"x": 0.25, "k": 4, "c": "b"},
        {"x": 0.25, "k": 1, "c": "b"},  # two steps down; two up (5) is on the grid too
        {"x": 0.25, "k": 5, "c": "b"},
        {"x": 0.25, "k": 3, "c": "a"},
        {"x": 0.25, "k": 3, "c": "c"},
    ]


def test_encode_rejects_missing_or_out_of_domain_values() -> None:
    enc = BoEncoding(_branin_space())
    with pytest.raises(SpaceError, match="x2"):
        enc.encode({"x1": 0.0})
    with pytest.raises(SpaceError):
        enc.encode({"x1": 50.0, "x2": 1.0})


def test_conditional_space_is_refused_with_the_reason() -> None:
    with pytest.raises(SearcherConfigError) as info:
        create_searcher("bayesian", conditional_space(), MIN, 0)
    assert str(info.value).startswith(
        "bayesian does not support conditional parameters ('layers' depends on 'model'); "
        "searchers that can: bohb, evolution, hyperband, "
    )


# --------------------------------------------------------------------------- integers in the optimiser


class _AsymmetricPeak(AcquisitionFunction):
    """``a(u) = -(u - peak)**2 * (1 if u < peak else steep)`` on column 0 (others ignored).

    Its continuous optimum is ``peak``; with a steep right flank the grid point just left of the
    peak's cell is better than the one in the peak's cell.
    """

    def __init__(self, peak: float, steep: float) -> None:
        model = SingleTaskGP(
            torch.tensor([[0.0], [1.0]], dtype=torch.double),
            torch.tensor([[0.0], [1.0]], dtype=torch.double),
        )
        super().__init__(model)
        self.peak = peak
        self.steep = steep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x[..., 0, 0]
        d = u - self.peak
        return -(d**2) * torch.where(d < 0, torch.ones_like(d), torch.full_like(d, self.steep))


@pytest.mark.parametrize("log", [False, True])
def test_integer_is_the_better_neighbour_by_acquisition_not_the_rounded_optimum(log: bool) -> None:
    spec = {"type": "int", "low": 1, "high": 10, "log": log}
    space = SearchSpace.from_dict(
        {"params": {"k": spec, "x": {"type": "float", "low": 0.0, "high": 1.0}}}
    )
    enc = BoEncoding(space)
    p = space["k"]
    # Peak just left of the centre of value 6's cell: the relaxed optimum decodes to 6.
    peak = p.to_unit(6) - 0.2 * (p.to_unit(6) - p.to_unit(5))
    assert p.from_unit(peak) == 6
    for steep, expected in ((1.0, 6), (1.0e4, 5)):
        acq = _AsymmetricPeak(peak, steep)
        xs, values, n_opt = optimize_acquisition(
            acq, enc, np.random.default_rng(0), raw_samples=32, num_restarts=4,
            device=torch.device("cpu"), dtype=torch.double,
        )  # fmt: skip
        assert 1 <= n_opt <= 4
        assert values[0] == max(values)  # the optimised points beat every raw candidate
        assert list(values[:n_opt]) == sorted(values[:n_opt], reverse=True)
        best = enc.decode(xs[0])
        assert best["k"] == expected, (steep, best)
        # every returned candidate is on the grid (exactly an encoded int value)
        for x in xs:
            assert x[0] == pytest.approx(p.to_unit(p.from_unit(x[0])), abs=0.0)
        # and the chosen one really beats both grid neighbours under the acquisition
        u_best = p.to_unit(best["k"])
        for v in (best["k"] - 1, best["k"] + 1):
            u = p.to_unit(v)
            t = torch.tensor([[[u, 0.5]]], dtype=torch.double)
            assert acq(t).item() <= acq(torch.tensor([[[u_best, 0.5]]], dtype=torch.double)).item()


def test_categorical_is_decided_by_discrete_moves() -> None:
    class _PreferCode2(AcquisitionFunction):
        def __init__(self) -> None:
            m = SingleTaskGP(
                torch.tensor([[0.0], [1.0]], dtype=torch.double),
                torch.tensor([[0.0], [1.0]], dtype=torch.double),
            )
            super().__init__(m)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # entries: x, then the one-hot block of c (a, b, c, d); prefer choice "c"
            return -((x[..., 0, 0] - 0.3) ** 2) + x[..., 0, 3]

    space = SearchSpace.from_dict(
        {"params": {"x": {"type": "float", "low": 0.0, "high": 1.0},
                    "c": {"type": "categorical", "choices": ["a", "b", "c", "d"]}}}
    )  # fmt: skip
    enc = BoEncoding(space)
    xs, _, _ = optimize_acquisition(
        _PreferCode2(), enc, np.random.default_rng(3), raw_samples=4, num_restarts=2,
        device=torch.device("cpu"), dtype=torch.double,
    )  # fmt: skip
    best = enc.decode(xs[0])
    assert best["c"] == "c"
    assert best["x"] == pytest.approx(0.3, abs=1e-4)


# --------------------------------------------------------------------------- history handling


def _complete_branin(n: int, seed: int = 0) -> list[FrozenTrial]:
    rng = np.random.default_rng(seed)
    space = _branin_space()
    return [
        _trial(k, p, values=_branin_values(p))
        for k, p in enumerate(space.sample(rng) for _ in range(n))
    ]


def test_training_data_excludes_failed_pruned_pending_and_flips_signs() -> None:
    objs = (Objective("loss", "minimize"), Objective("acc", "maximize"))
    s = BayesianSearcher(_branin_space(), objs, 0)
    p = {"x1": 0.0, "x2": 1.0}
    history = [
        _trial(0, p, values={"loss": 2.0, "acc": 0.5}),
        _trial(1, p, TrialState.FAILED),
        _trial(2, p, TrialState.PRUNED, values={"loss": -100.0, "acc": 100.0}),
        _trial(3, p, TrialState.RUNNING),
        _trial(4, p, TrialState.WAITING),
        _trial(5, p, values={"loss": float("nan"), "acc": 0.1}),
        _trial(6, {"x1": 10.0, "x2": 15.0}, values={"loss": 1.0, "acc": 0.25}),
    ]
    x, y = s.training_data(history)
    assert x.shape == (2, 2) and y.tolist() == [[-2.0, 0.5], [-1.0, 0.25]]
    assert x[1].tolist() == [1.0, 1.0]


def test_failed_trials_do_not_influence_proposals() -> None:
    history = _complete_branin(8)
    s = BayesianSearcher(_branin_space(), MIN, 0, n_initial=5, **FAST)
    a = [*history, _trial(8, {"x1": -5.0, "x2": 0.0}, TrialState.FAILED)]
    b = [*history, _trial(8, {"x1": 9.0, "x2": 14.0}, TrialState.FAILED, values={"value": -1e9})]
    pa, pb = (
        s.propose(a, 2),
        BayesianSearcher(_branin_space(), MIN, 0, n_initial=5, **FAST).propose(b, 2),
    )
    assert [p.params for p in pa] == [p.params for p in pb]
    assert all(p.info["n_train"] == 8 for p in pa)


def _unit(params: dict) -> np.ndarray:
    return np.array([(params["x1"] + 5.0) / 15.0, params["x2"] / 15.0])


def test_pending_trials_are_avoided() -> None:
    history = _complete_branin(10, seed=4)
    s = BayesianSearcher(_branin_space(), MIN, 1, n_initial=5, **FAST)
    (p0,) = s.propose(history, 1)
    u0 = _unit(p0.params)
    # Three pending trials: the point the model wants, and two very close to it.
    near = [p0.params, {"x1": p0.params["x1"] + 0.15, "x2": p0.params["x2"]},
            {"x1": p0.params["x1"], "x2": p0.params["x2"] + 0.15}]  # fmt: skip
    near = [_branin_space().validate(n) for n in near]
    pending = [
        _trial(10 + i, n, TrialState.RUNNING if i % 2 else TrialState.WAITING)
        for i, n in enumerate(near)
    ]
    failed = [_trial(10 + i, n, TrialState.FAILED) for i, n in enumerate(near)]
    # Same length, same training data: only X_pending differs.
    (p_failed,) = s.propose(history + failed, 1)
    (p_pending,) = s.propose(history + pending, 1)
    assert np.linalg.norm(_unit(p_failed.params) - u0) < 0.02  # the model still wants p0 ...
    dists = [np.linalg.norm(_unit(p_pending.params) - _unit(n)) for n in near]
    assert min(dists) > 0.05, dists  # ... but not while it is being evaluated


def test_batch_is_sequential_greedy_and_distinct() -> None:
    history = _complete_branin(10, seed=2)
    s = BayesianSearcher(_branin_space(), MIN, 0, n_initial=5, **FAST)
    batch = s.propose(history, 4)
    assert len(batch) == 4 and all(p.info["origin"] == "model" for p in batch)
    units = np.array([_unit(p.params) for p in batch])
    gaps = [np.linalg.norm(units[i] - units[j]) for i in range(4) for j in range(i)]
    assert min(gaps) > 0.01
    # The first of the batch is what a q=1 call proposes.
    assert s.propose(history, 1)[0].params == batch[0].params


# --------------------------------------------------------------------------- initial design


def test_sobol_initial_design_size_and_pending_count() -> None:
    space = SearchSpace.from_dict({"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}})
    s = BayesianSearcher(space, MIN, 5, n_initial=8, **FAST)
    history: list[FrozenTrial] = []
    for k in range(10):
        (p,) = s.propose(history, 1)
        if k < 8:
            assert p.info == {"origin": "sobol", "index": k}
            assert p.params["x"] == pytest.approx(s.design_point(k)[0])
        else:
            assert p.info["origin"] == "model"
        history.append(_trial(k, p.params, values={"value": (p.params["x"] - 0.3) ** 2}))
    # A scrambled Sobol sequence: the first 8 points fill the 8 eighths of [0, 1] exactly once.
    cells = sorted(int(t.params["x"] * 8) for t in history[:8])
    assert cells == list(range(8))
    # The design depends on the seed only: pending trials count, values do not matter.
    running = [_trial(k, t.params, TrialState.RUNNING) for k, t in enumerate(history[:3])]
    batch = BayesianSearcher(space, MIN, 5, n_initial=8).propose(running, 6)
    assert [p.info["index"] for p in batch[:5]] == [3, 4, 5, 6, 7]
    assert [p.params for p in batch[:5]] == [t.params for t in history[3:8]]
    assert batch[5].info["origin"] == "sobol"  # no finished trial yet: no model


def test_sampling_defaults_depend_on_the_number_of_objectives() -> None:
    space = _branin_space()
    one = BayesianSearcher(space, MIN, 0)
    two = BayesianSearcher(space, (Objective("a", "minimize"), Objective("b", "maximize")), 0)
    assert (one.raw_samples, one.mc_samples) == (512, 128)
    assert (two.raw_samples, two.mc_samples) == (256, 64)
    explicit = BayesianSearcher(space, MIN, 0, raw_samples=64, mc_samples=16)
    assert (explicit.raw_samples, explicit.mc_samples) == (64, 16)


def test_default_initial_design_size() -> None:
    assert BayesianSearcher(_branin_space(), MIN, 0).n_initial == 5
    space = SearchSpace.from_dict(SPACES["hartmann6"])
    assert BayesianSearcher(space, MIN, 0).n_initial == 12
    assert BayesianSearcher(mixed_space(), MIN, 0).n_initial == 16  # 8 searched, 2 carried


def test_all_failed_continues_the_design() -> None:
    s = BayesianSearcher(_branin_space(), MIN, 0, n_initial=2, **FAST)
    history = [
        _trial(k, s.space.validate(s.encoding.decode(s.design_point(k))), TrialState.FAILED)
        for k in range(4)
    ]
    (p,) = s.propose(history, 1)
    assert p.info == {"origin": "sobol", "index": 4}


# --------------------------------------------------------------------------- directions, options


def test_maximised_objective_is_maximised() -> None:
    space = SearchSpace.from_dict({"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}})
    for direction, target in (("maximize", 0.7), ("minimize", None)):
        s = BayesianSearcher(space, (Objective("f", direction),), 0, n_initial=4, **FAST)
        history = _run_study(s, lambda p: {"f": -((p["x"] - 0.7) ** 2)}, 12)
        last = [t.params["x"] for t in history[8:]]
        if target is not None:
            assert min(abs(x - target) for x in last) < 0.01, last
            assert np.median([abs(x - target) for x in last]) < 0.05, last
        else:  # minimising -(x - 0.7)^2: the far end, x = 0, among the model's proposals
            # (once x = 0 is evaluated, the Matern GP explores elsewhere rather than re-proposing
            # its neighbourhood, so not necessarily in the last four)
            model = [t.params["x"] for t in history[4:]]
            assert min(model) < 0.02, model


def test_reference_point_is_flipped_into_maximisation_space() -> None:
    objs = (Objective("loss", "minimize"), Objective("acc", "maximize"))
    s = BayesianSearcher(_branin_space(), objs, 0, ref_point={"acc": 0.1, "loss": 5.0})
    ref = s._reference_point(torch.zeros(3, 2, dtype=torch.double))
    assert ref.tolist() == [-5.0, 0.1]
    s2 = BayesianSearcher(_branin_space(), objs, 0, ref_point=[5.0, 0.1])
    assert s2.ref_point == [5.0, 0.1]
    # default: 10% of the observed range beyond the worst observed value (maximisation), from
    # every point, not only the front ([-5, 0.5] is dominated); a zero range moves it by 0.1
    auto = BayesianSearcher(_branin_space(), objs, 0)._reference_point(
        torch.tensor([[-1.0, 0.9], [-3.0, 0.95], [-5.0, 0.5], [-4.0, 0.95]], dtype=torch.double)
    )
    assert auto.tolist() == pytest.approx([-5.4, 0.455])
    flat = BayesianSearcher(_branin_space(), objs, 0)._reference_point(
        torch.tensor([[-1.0, 0.9], [-3.0, 0.9]], dtype=torch.double)
    )
    assert flat.tolist() == pytest.approx([-3.2, 0.8])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"n_initial": 0}, "n_initial"),
        ({"num_restarts": 0}, "num_restarts"),
        ({"raw_samples": 4, "num_restarts": 8}, "raw_samples"),
        ({"mc_samples": 1.5}, "mc_samples"),
        ({"max_fit_iterations": True}, "max_fit_iterations"),
        ({"max_acq_iterations": 0}, "max_acq_iterations"),
        ({"device": "tpu"}, "device"),
        ({"kernel": "matern"}, "option 'kernel' must be one of"),
        ({"kernel": "RBF"}, "option 'kernel' must be one of"),
        ({"kernel": 2.5}, "option 'kernel' must be one of"),
        ({"ref_point": [1.0, 2.0]}, "ref_point.*several objectives"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_options_are_refused(options: dict, match: str) -> None:
    with pytest.raises(SearcherConfigError, match=match):
        create_searcher("bayesian", _branin_space(), MIN, 0, options)


@pytest.mark.parametrize(
    "ref_point",
    [[1.0], [1.0, "x"], [1.0, float("inf")], {"loss": 1.0}, "1,2", {"loss": 1, "f": 2, "g": 3}],
)
def test_bad_reference_points_are_refused(ref_point) -> None:
    objs = (Objective("loss", "minimize"), Objective("f", "maximize"))
    with pytest.raises(SearcherConfigError, match="ref_point"):
        BayesianSearcher(_branin_space(), objs, 0, ref_point=ref_point)


def test_kernel_option_round_trips_through_a_study_file_and_storage(tmp_path) -> None:
    import nas
    from nas.study import create_study_from_config, load_study_config

    assert BayesianSearcher(_branin_space(), MIN, 0).kernel == "matern52"  # the default
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "s.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: k
            space: {root / "search_spaces" / "branin.yaml"}
            objective: nas.benchmarks.functions:branin_objective
            objectives: {{value: minimize}}
            searcher:
              name: bayesian
              options: {{kernel: rbf, n_initial: 3, num_restarts: 2, raw_samples: 32}}
            n_trials: 4
            seed: 0
            """
        )
    )
    cfg = load_study_config(tmp_path / "s.yaml")
    assert cfg.searcher_options["kernel"] == "rbf"
    url = f"sqlite:///{tmp_path / 's.db'}"
    create_study_from_config(cfg, storage=url).optimize(
        lambda t: branin(t.params["x1"], t.params["x2"]), n_trials=4
    )
    study = nas.load_study("k", url)
    assert study.searcher_options["kernel"] == "rbf"
    searcher = study.searcher
    assert isinstance(searcher, BayesianSearcher) and searcher.kernel == "rbf"
    model_trials = [t for t in study.trials if t.system_attrs.get("origin") == "model"]
    assert model_trials, [t.system_attrs for t in study.trials]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_cuda_refused_when_unavailable() -> None:
    with pytest.raises(SearcherConfigError, match="CUDA is not available"):
        BayesianSearcher(_branin_space(), MIN, 0, device="cuda")


# --------------------------------------------------------------------------- determinism, isolation


def test_global_random_states_and_threads_are_left_alone() -> None:
    history = _complete_branin(8)
    s = BayesianSearcher(_branin_space(), MIN, 0, n_initial=5, **FAST)
    saved = (np.random.get_state(), random.getstate())
    try:
        with torch.random.fork_rng():
            torch.manual_seed(123)
            np.random.seed(7)  # the legacy global states, to check they are left alone
            random.seed(9)
            before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
            threads = torch.get_num_threads()
            first = s.propose(history, 2)
            assert torch.equal(torch.get_rng_state(), before[0])
            assert np.array_equal(np.random.get_state()[1], before[1])
            assert random.getstate() == before[2]
            assert torch.get_num_threads() == threads
            torch.manual_seed(999)  # another global state does not change the proposals
            assert [p.params for p in s.propose(history, 2)] == [p.params for p in first]
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])


_CHILD = textwrap.dedent(
    """
    import json, sys
    from nas._types import FrozenTrial, Objective, TrialState
    from nas.searchers import create_searcher
    from nas.testing.searchers import mixed_space, toy_values
    objs = (Objective("f0", "minimize"), Objective("f1", "maximize"))[: int(sys.argv[1])]
    space = mixed_space()
    opts = {"n_initial": 4, "num_restarts": 2, "raw_samples": 32, "mc_samples": 16}
    history, out = [], []
    for k in range(7):
        ps = create_searcher("bayesian", space, objs, 3, opts).propose(history, 1 + k % 2)
        for p in ps:
            out.append([p.params, p.info])
            history.append(FrozenTrial(trial_id=len(history), number=len(history),
                state=TrialState.COMPLETE, params=p.params, values=toy_values(space, p.params, objs)))
    print("@@" + json.dumps(out, sort_keys=True))
    """
)


@pytest.mark.parametrize("n_obj", [1, 2])
def test_same_proposals_in_a_fresh_process(n_obj: int) -> None:
    runs = []
    for hash_seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(n_obj)],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(next(line for line in proc.stdout.splitlines() if line.startswith("@@")))
    assert runs[0] == runs[1]
    out = json.loads(runs[0][2:])
    assert [info["origin"] for _, info in out][:4] == ["sobol"] * 4
    assert {info["origin"] for _, info in out[4:]} == {"model"}
    # batches of 2 from the 5th proposal on: the first of a batch has no pending point (the
    # analytic path), the second has the first as pending (Monte Carlo)
    analytic, mc = ("LogEI", "qLogNEI") if n_obj == 1 else ("LogEHVI", "qLogNEHVI")
    assert [info["acquisition"] for _, info in out[4:]] == [analytic, mc, analytic] * 2


def test_fixed_only_space_returns_its_single_assignment() -> None:
    space = SearchSpace.from_dict(
        {"params": {"a": {"type": "fixed", "value": 1}, "b": {"type": "int", "low": 2, "high": 2}}}
    )
    props = BayesianSearcher(space, MIN, 0).propose([], 3)
    assert [p.params for p in props] == [{"a": 1, "b": 2}] * 3


def test_discrete_space_never_repeats_while_alternatives_exist() -> None:
    space = SearchSpace.from_dict(
        {"params": {"a": {"type": "int", "low": 0, "high": 2},
                    "b": {"type": "categorical", "choices": ["x", "y"]}}}
    )  # fmt: skip
    s = BayesianSearcher(space, MIN, 0, n_initial=2, **FAST)
    history = _run_study(s, lambda p: {"value": float(p["a"]) + (p["b"] == "y")}, 6)
    keys = {json.dumps(t.params, sort_keys=True) for t in history}
    assert len(keys) == 6  # all 6 assignments, none twice


# --------------------------------------------------------------------------- quality


def test_branin_regret_below_005_within_40_trials_in_most_seeds() -> None:
    regrets = []
    for seed in range(5):
        s = BayesianSearcher(_branin_space(), MIN, seed, **FAST)
        history = _run_study(s, _branin_values, 40)
        regrets.append(min(t.values["value"] for t in history) - BRANIN_MIN)
    assert sum(r < 0.05 for r in regrets) >= 4, regrets


def test_branin_currin_hypervolume_beats_random_at_40_trials() -> None:
    space = SearchSpace.from_dict(SPACES["branin_currin"])
    objs = (Objective("branin", "minimize"), Objective("currin", "minimize"))

    def evaluate(p: dict) -> dict[str, float]:
        b, c = branin_currin(p["x1"], p["x2"])
        return {"branin": float(b), "currin": float(c)}

    wins = []
    for seed in range(2):
        hv = {}
        for name, searcher in (
            ("bayesian", BayesianSearcher(space, objs, seed, **FAST)),
            ("random", RandomSearcher(space, objs, seed)),
        ):
            history = _run_study(searcher, evaluate, 40)
            points = np.array([[t.values["branin"], t.values["currin"]] for t in history])
            hv[name] = hypervolume(points, np.array([18.0, 6.0]))
        wins.append(hv["bayesian"] > hv["random"])
        assert hv["bayesian"] > 0.9 * 59.2, hv  # close to the true front's (about 59.2)
    assert all(wins)


def test_proposal_info_is_json_and_describes_the_origin() -> None:
    history = _complete_branin(6)
    s = BayesianSearcher(_branin_space(), MIN, 0, n_initial=5, **FAST)
    (p,) = s.propose(history, 1)
    assert isinstance(p, Proposal)
    json.dumps(p.info, allow_nan=False)
    assert p.info["origin"] == "model" and p.info["acquisition"] == "LogEI"
    assert p.info["n_train"] == 6 and math.isfinite(p.info["acq_value"])


def test_an_optimum_already_evaluated_gives_the_best_unseen_candidate_not_a_random_one() -> None:
    # Minimising -(x - 0.7)^2 on [0, 1]: the optimum is the bound x = 0, which every start
    # reaches once it has been evaluated. The next proposals stay near it.
    space = SearchSpace.from_dict({"params": {"x": {"type": "float", "low": 0.0, "high": 1.0}}})
    s = BayesianSearcher(
        space, (Objective("f", "minimize"),), 0, n_initial=4, acquisition="mc", **FAST
    )
    history = _run_study(s, lambda p: {"f": -((p["x"] - 0.7) ** 2)}, 9)
    xs = [t.params["x"] for t in history]
    assert 0.0 in xs
    later = history[xs.index(0.0) + 1 :]
    assert later and all(t.params["x"] < 0.02 for t in later), xs
    (p,) = s.propose(history, 1)
    assert p.info["origin"] == "model" and p.info.get("candidate") == "raw"


def test_numerical_failure_of_the_model_falls_back_to_random(monkeypatch) -> None:
    from linear_operator.utils.errors import NotPSDError

    def broken(self, *args):
        raise NotPSDError("matrix not positive definite after jitter")

    # the numpy fit fails (no analytic path), then BoTorch's
    monkeypatch.setattr(BayesianSearcher, "_fit_numpy", lambda self, *args: None)
    monkeypatch.setattr(BayesianSearcher, "_fit", broken)
    s = BayesianSearcher(_branin_space(), MIN, 0, n_initial=5, **FAST)
    props = s.propose(_complete_branin(6), 3)
    assert len(props) == 3 and len({json.dumps(p.params) for p in props}) == 3
    assert all(p.info["origin"] == "random" and "NotPSDError" in p.info["reason"] for p in props)
