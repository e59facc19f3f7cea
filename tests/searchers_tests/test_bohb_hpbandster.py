"""``bohb`` against HpBandSter's own BOHB config generator, decision by decision.

The same history (configurations, budgets, losses, one crash) is fed to both: HpBandSter's
``BOHB`` config generator through ``new_result`` (as its dispatcher does, with stand-in jobs), ours
as finished trials. After every result the two must agree on each decision a new configuration
depends on: whether a model exists and of which budget, the good and the bad set, the KDE
bandwidths, the acquisition ``l(x) / g(x)`` and hence the candidate picked from the same
draws. Only the random streams differ (numpy's global generator there, a seeded one here), so
that is all a seeded run of the two can differ by; ``benchmarks/searchers.py`` measures the
outcome on the multi-fidelity Hartmann6 with 50 seeds.
"""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from nas._types import FrozenTrial, Objective, TrialState
from nas.searchers import BOHBSearcher
from nas.searchers._bohb import select_model_level
from nas.space import SearchSpace

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning",  # ConfigSpace 1.x: get_hyperparameters & co, used by HpBandSter
    "ignore::FutureWarning",  # pandas, imported by statsmodels
)

BUDGETS = (1 / 9, 1 / 3, 1.0)
MIN = (Objective("loss", "minimize"),)


def configspace(seed: int, categorical: bool) -> Any:
    """Four floats, a log-scaled float and a categorical (or a sixth float); names sort in the
    order they are added (ConfigSpace's order of the vector)."""
    cs_mod = pytest.importorskip("ConfigSpace")
    cs = cs_mod.ConfigurationSpace(seed=seed)
    for i in range(4):
        cs.add(cs_mod.UniformFloatHyperparameter(f"x{i}", 0.0, 1.0))
    cs.add(cs_mod.UniformFloatHyperparameter("x4_lr", 1e-4, 1.0, log=True))
    if categorical:
        cs.add(cs_mod.CategoricalHyperparameter("x5_act", ["relu", "tanh", "gelu"]))
    else:
        cs.add(cs_mod.UniformFloatHyperparameter("x5_act", 0.0, 1.0))
    return cs


def loss_of(params: dict[str, Any], budget: float) -> float:
    """A smooth loss whose low-budget values are a noisy version of the full-budget one."""
    x = np.array([params[f"x{i}"] for i in range(4)])
    base = float(np.sum((x - 0.3) ** 2)) + 0.1 * abs(math.log10(params["x4_lr"]) + 2)
    act = params["x5_act"]
    base += {"relu": 0.0, "tanh": 0.05, "gelu": 0.02}[act] if isinstance(act, str) else 0.1 * act
    return base + (1.0 - budget) * 0.2 * math.sin(7 * float(x.sum()))


def history(cs: Any, n: int, seed: int) -> list[tuple[dict[str, Any], float, float | None]]:
    """``n`` results ``(config, budget, loss or None for a crash)`` in Hyperband-like order:
    a rung of 9, then its best 3 promoted, then the best 1; repeated."""
    rng = np.random.default_rng(seed)
    out: list[tuple[dict[str, Any], float, float | None]] = []
    while len(out) < n:
        rung = [dict(c) for c in cs.sample_configuration(9)]
        for k, size in enumerate((9, 3, 1)):
            budget = BUDGETS[k]
            scored = []
            for config in rung[:size]:
                loss = loss_of(config, budget) + 0.01 * float(rng.standard_normal())
                crashed = len(out) == 17  # one crash: loss None, i.e. +inf for both
                out.append((config, budget, None if crashed else loss))
                scored.append((math.inf if crashed else loss, len(scored), config))
            rung = [c for _, _, c in sorted(scored, key=lambda t: (t[0], t[1]))]
    return out[:n]


def hpb_generator(cs: Any) -> Any:
    pytest.importorskip("hpbandster")
    pytest.importorskip("statsmodels")
    from hpbandster.optimizers.config_generators.bohb import BOHB

    logging.getLogger("hpbandster").setLevel(logging.ERROR)
    return BOHB(configspace=cs)  # HpBandSter's defaults, ours too


def as_trial(
    number: int, config: dict[str, Any], budget: float, loss: float | None
) -> FrozenTrial:
    return FrozenTrial(
        trial_id=number + 1,
        number=number,
        state=TrialState.FAILED if loss is None else TrialState.COMPLETE,
        params=dict(config),
        budget=budget,
        values={} if loss is None else {"loss": loss},
    )


def feed_both(
    hpb: Any,
    ours: BOHBSearcher,
    trials: list[FrozenTrial],
    number: int,
    config: dict[str, Any],
    budget: float,
    loss: float | None,
) -> int | None:
    """One result to both: HpBandSter's ``new_result`` (a stand-in job, as its dispatcher
    passes) and our history (``trials``, appended). Returns the budget level whose model ours
    would now use (``None``: no model)."""
    hpb.new_result(
        SimpleNamespace(
            id=(0, 0, number),
            exception=None,
            result=None if loss is None else {"loss": loss},
            kwargs={"budget": budget, "config": config},
        )
    )
    trials.append(as_trial(number, config, budget, loss))
    counts = [sum(t.budget == b for t in trials) for b in BUDGETS]
    return select_model_level(counts, ours.min_points_in_model, 6, ours.top_n_percent)


def hpb_row(cs: Any, config: dict[str, Any]) -> np.ndarray:
    cs_mod = pytest.importorskip("ConfigSpace")
    return np.asarray(cs_mod.Configuration(cs, config).get_array(), dtype=float)


def sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


@pytest.mark.parametrize(("seed", "categorical"), [(0, False), (1, False), (2, True), (3, True)])
def test_every_model_decision_matches_hpbandster_on_the_same_history(
    seed: int, categorical: bool
) -> None:
    """On continuous spaces (Hartmann6's kind) everything matches; with a categorical, what
    HpBandSter does differently there (two quirks of statsmodels' kernel) is the one
    deliberate deviation and the rest still matches."""
    cs = configspace(seed, categorical)
    hpb = hpb_generator(cs)
    space = SearchSpace.from_configspace(cs)
    ours = BOHBSearcher(space, MIN, seed, min_budget=BUDGETS[0], max_budget=1.0, eta=3)
    trials: list[FrozenTrial] = []
    rng = np.random.default_rng(100 + seed)
    checked = 0
    for number, (config, budget, loss) in enumerate(history(cs, 60, seed)):
        level = feed_both(hpb, ours, trials, number, config, budget, loss)
        # Our encoding of a configuration is ConfigSpace's vector.
        np.testing.assert_allclose(ours.encode(config), hpb_row(cs, config), rtol=0, atol=1e-12)
        hpb_budget = hpb.largest_budget_with_model()
        if level is None:
            assert hpb_budget == -math.inf, number
            continue
        assert hpb_budget == BUDGETS[level], number
        at_level = [t for t in trials if t.budget == BUDGETS[level]]
        good, bad = ours.fit(at_level, 0, rng)
        ref = hpb.kde_models[hpb_budget]
        # ... the same (floored) bandwidths ...
        np.testing.assert_allclose(good.bandwidth[:5], ref["good"].bw[:5], rtol=1e-10)
        np.testing.assert_allclose(bad.bandwidth[:5], ref["bad"].bw[:5], rtol=1e-10)
        if categorical:
            # Deviation: a categorical bandwidth is capped at (c - 1) / c, beyond which
            # Aitchison-Aitken's kernel puts more mass on the other choices than on the datum's
            # own (statsmodels allows up to 1); and statsmodels takes c as the number of
            # choices *present in the set*, so its kernel does not sum to one over the choices
            # when one is missing. Ours uses the parameter's c. The densities then differ by
            # design; the candidates are not compared.
            for kde, ref_kde in ((good, ref["good"]), (bad, ref["bad"])):
                assert kde.bandwidth[5] == pytest.approx(min(ref_kde.bw[5], 2 / 3), rel=1e-10)
            checked += 1
            continue
        np.testing.assert_allclose(good.bandwidth, ref["good"].bw, rtol=1e-10)
        np.testing.assert_allclose(bad.bandwidth, ref["bad"].bw, rtol=1e-10)
        # ... and the same acquisition, hence the same pick among the same candidates.
        candidates = good.sample(rng, 64, ours.bandwidth_factor)
        ours_score = np.asarray(good.log_pdf(candidates)) - np.asarray(bad.log_pdf(candidates))
        l_ref = np.array([ref["good"].pdf(c) for c in candidates])
        g_ref = np.array([ref["bad"].pdf(c) for c in candidates])
        # HpBandSter floors both densities at 1e-32 (ratio max(1e-32, g) / max(l, 1e-32));
        # we compare in log space, so compare where neither density is floored.
        shown = (l_ref > 1e-32) & (g_ref > 1e-32)
        assert shown.mean() > 0.9
        np.testing.assert_allclose(
            ours_score[shown], np.log(l_ref[shown]) - np.log(g_ref[shown]), rtol=1e-7, atol=1e-9
        )
        ratio = np.maximum(1e-32, g_ref) / np.maximum(l_ref, 1e-32)
        assert int(np.argmax(ours_score)) == int(np.argmin(ratio))
        checked += 1
    assert checked >= 20  # the model was on for most of the history, at more than one budget


def test_largest_budget_model_takes_over_as_soon_as_hpbandster_switches() -> None:
    """The switch to a larger budget's model happens at the same result in both."""
    cs = configspace(7, categorical=True)
    hpb = hpb_generator(cs)
    space = SearchSpace.from_configspace(cs)
    ours = BOHBSearcher(space, MIN, 7, min_budget=BUDGETS[0], max_budget=1.0, eta=3)
    switches_hpb: list[tuple[int, float]] = []
    switches_ours: list[tuple[int, float]] = []
    trials: list[FrozenTrial] = []
    for number, (config, budget, loss) in enumerate(history(cs, 130, 7)):
        level = feed_both(hpb, ours, trials, number, config, budget, loss)
        b_ours = -math.inf if level is None else BUDGETS[level]
        b_hpb = hpb.largest_budget_with_model()
        if not switches_hpb or switches_hpb[-1][1] != b_hpb:
            switches_hpb.append((number, b_hpb))
        if not switches_ours or switches_ours[-1][1] != b_ours:
            switches_ours.append((number, b_ours))
    assert switches_ours == switches_hpb
    assert [b for _, b in switches_ours][1:] == list(BUDGETS[:2])  # 1/9 first, then 1/3
