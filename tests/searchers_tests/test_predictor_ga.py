"""EQ-Net's CQAP predictor and the predictor_ga searcher."""

from __future__ import annotations

import numpy as np
import pytest

from nas._types import Objective
from nas.searchers import create_searcher
from nas.searchers._predictor import Cqap, SpaceEncoder, fit_cqap
from nas.space import ArchSpace, SearchSpace, arch_metrics
from nas.study import Constraints
from nas.study._constraints import Bound
from nas.testing.path_samplers import SAMPLER_SPACE
from nas.testing.searchers import simulate

QSPACE = ArchSpace.from_dict(
    {
        **SAMPLER_SPACE,
        "quant": {"wbits": [2, 4, 8], "abits": [2, 4, 8], "granularity": ["channel", "tensor"],
                  "symmetry": ["sym", "asym"]},
    }
)  # fmt: skip


def test_encoder_one_hots_every_choice_and_zeros_inactive_dimensions() -> None:
    space = QSPACE.conditional_search_space
    enc = SpaceEncoder(space)
    params = QSPACE.conditional_params(QSPACE.smallest())
    x = enc.encode(params)
    assert x.shape == (enc.width,) and set(np.unique(x)) <= {0.0, 1.0}
    # one 1 per active categorical/fixed dimension, nothing for the inactive ones
    assert x.sum() == len(params)
    numeric = SearchSpace.from_dict(
        {"params": {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}}
    )
    assert SpaceEncoder(numeric).encode({"lr": 1e-4})[0] == pytest.approx(0.0)
    assert SpaceEncoder(numeric).encode({"lr": 1e-1})[0] == pytest.approx(1.0)


def test_cqap_learns_bits_and_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    space = QSPACE.search_space
    enc = SpaceEncoder(space)
    archs = [QSPACE.full_mask().sample(rng) for _ in range(300)]
    x = enc.encode_many([QSPACE.params(a) for a in archs])
    y = np.array([arch_metrics(QSPACE, a)["avg_wbits"] for a in archs])
    a = Cqap(enc.width, hidden=(64, 64), epochs=60, seed=3).fit(x[:240], y[:240])
    b = Cqap(enc.width, hidden=(64, 64), epochs=60, seed=3).fit(x[:240], y[:240])
    assert np.array_equal(a.predict(x[240:]), b.predict(x[240:]))
    corr = np.corrcoef(a.predict(x[240:]), y[240:])[0, 1]
    assert corr > 0.8
    assert a.base == pytest.approx(y[:240].mean())


def test_fit_cqap_reports_held_out_quality() -> None:
    space = QSPACE.search_space
    objectives = (Objective("acc", "maximize"),)
    trials = simulate(
        lambda: create_searcher("random", space, objectives, 0), space, objectives, 60
    )[1]
    # simulate's objective is a function of the params; the predictor should track it
    _, report = fit_cqap(space, trials, "acc", hidden=(64,), epochs=80)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert report.n_train + report.n_test == len(complete) >= 20
    assert report.n_test == round(0.2 * len(complete))
    assert -1 <= report.kendall_tau <= 1 and np.isfinite(report.pearson)
    with pytest.raises(ValueError, match="need >= 5"):
        fit_cqap(space, trials[:3], "acc")


def test_predictor_ga_proposes_only_what_the_bounds_allow() -> None:
    space = QSPACE.search_space
    objectives = (Objective("acc", "maximize"),)
    searcher = create_searcher(
        "predictor_ga", space, objectives, 1,
        {"n_startup": 8, "population": 16, "generations": 2, "hidden": [16], "epochs": 20},
    )  # fmt: skip
    searcher.set_constraints(Constraints([Bound("avg_wbits", max=4.0), Bound("bitops", min=1)]))
    trials = simulate(lambda: searcher, space, objectives, 24)[1]
    for t in trials:
        assert arch_metrics(QSPACE, QSPACE.arch(t.params))["avg_wbits"] <= 4.0
    assert any(t.system_attrs.get("predictor_ga") == "ga" for t in trials)
