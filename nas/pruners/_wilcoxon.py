"""``wilcoxon``: prune a trial that a paired signed-rank test finds worse than the best
trial on the instances (folds, datasets, seeds) evaluated so far (Optuna's ``WilcoxonPruner``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nas._types import FrozenTrial, Objective
from nas.pruners._base import Pruner, int_option, real_option

__all__ = ["WilcoxonPruner", "signed_rank_p_value"]


#: Up to this many differences with ties or zeros, SciPy's ``method="auto"`` enumerates every
#: sign flip (``2**n`` statistics: half a second at 13); the same p-value is counted here.
_EXACT_TIED_MAX_N = 13


def signed_rank_p_value(d: np.ndarray) -> float:
    """p-value of the one-sided Wilcoxon signed-rank test that the differences ``d`` are
    centred above 0, ``scipy.stats.wilcoxon(d, alternative="greater", zero_method="zsplit")``.

    When ``d`` has ties or zeros and at most 13 values, SciPy enumerates the ``2**len(d)``
    sign flips; this counts the same distribution by dynamic programming over the doubled
    (integer) average ranks, in microseconds, with the same p-value: the zeros' half ranks are
    the same under every flip, so ``P(T+ >= t)`` is the share of sign vectors whose positive
    nonzero ranks sum to at least the observed sum. Otherwise SciPy is called.
    """
    from scipy.stats import rankdata, wilcoxon

    d = np.asarray(d, dtype=float)
    absd = np.abs(d)
    tied = bool(np.any(d == 0)) or len(np.unique(absd)) < len(d)
    if not tied or len(d) > _EXACT_TIED_MAX_N:
        return float(wilcoxon(d, alternative="greater", zero_method="zsplit").pvalue)
    twice = np.rint(2.0 * rankdata(absd)).astype(np.int64)
    weights = twice[d != 0]
    observed = int(twice[d > 0].sum())
    counts = np.zeros(int(weights.sum()) + 1)
    counts[0] = 1.0
    for w in weights:
        counts[w:] = counts[w:] + counts[:-w]
    return float(counts[observed:].sum() / counts.sum())


class WilcoxonPruner(Pruner):
    """Paired test against the best COMPLETE trial, with steps as instances.

    For objectives that average a score over instances (cross-validation folds, benchmark
    problems, seeds): the objective reports the score of instance ``i`` at step ``i`` (in any
    order) and returns the average. Steps are identities here, not times: two trials are
    compared on the steps both reported, exactly (no :meth:`Pruner.value_at` carrying).

    Rule (minimisation values):

    * ``best`` = the COMPLETE trial with the best final value of the objective (the lowest
      number on a tie); no decision without one, or when it reported nothing;
    * ``d`` = the trial's value minus ``best``'s at every step both reported; no decision while
      ``len(d) < max(2, n_startup_steps)``;
    * ``p`` = the p-value of the one-sided Wilcoxon signed-rank test that ``d`` is centred
      above 0 (the trial worse), ``scipy.stats.wilcoxon(d, alternative="greater",
      zero_method="zsplit")`` (:func:`signed_rank_p_value`: the same p-value, counted without
      SciPy's ``2**n`` enumeration when ``d`` has ties or zeros);
    * prune when ``p < p_threshold`` -- unless the mean of all the trial's reported values is
      at least as good as the mean of all ``best``'s (Optuna's safety rule: a trial whose
      average already matches the best's, e.g. one that did well on its first instances, is
      kept).

    As with Optuna, the test is repeated as instances arrive, so its false-positive rate is
    higher than ``p_threshold`` (give a Pocock-corrected threshold for the nominal rate).

    Args:
        objectives: the study's objectives.
        seed: the study seed (unused).
        p_threshold: in ``[0, 1]`` (default 0.1; larger prunes more).
        n_startup_steps: common steps needed before testing (default 2; fewer than 2 are
            never tested).
        objective: the objective judged (required in a multi-objective study).
    """

    registered_name = "wilcoxon"

    def __init__(
        self,
        objectives: Sequence[Objective],
        seed: int = 0,
        *,
        p_threshold: float = 0.1,
        n_startup_steps: int = 2,
        objective: str | None = None,
    ) -> None:
        super().__init__(objectives, seed, objective=objective)
        name = self.registered_name
        self.p_threshold = real_option(name, "p_threshold", p_threshold, low=0.0, high=1.0)
        self.n_startup_steps = int_option(name, "n_startup_steps", n_startup_steps)

    def prune(self, trial: FrozenTrial, history: Sequence[FrozenTrial]) -> str | None:
        mine = self.curve(trial)
        if not mine:
            return None
        found = self.best_complete(trial, history)
        if found is None:
            return None
        best_trial, _ = found
        theirs = self.curve(best_trial)
        common = sorted(set(mine) & set(theirs))
        if not theirs or len(common) < max(2, self.n_startup_steps):
            return None
        d = np.array([mine[s] - theirs[s] for s in common], dtype=float)
        mean_mine = sum(mine.values()) / len(mine)
        mean_best = sum(theirs.values()) / len(theirs)
        if mean_mine <= mean_best:
            return None  # the safety rule: tested only once its average is worse
        p = signed_rank_p_value(d)
        if not p < self.p_threshold:
            return None
        return (
            f"{self.registered_name}: worse than best trial {best_trial.number} on "
            f"{len(common)} common step(s) (one-sided Wilcoxon p={p:.3g} < {self.p_threshold:g})"
        )
