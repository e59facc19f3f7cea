"""Searchers: turn a study's history into proposals for new trials.

Every searcher is registered under a name (``create_searcher("evolution", ...)``) and is a pure
function of ``(space, objectives, seed, options, history)``; see :class:`Searcher`.

Built-in names: ``random``, ``evolution`` (regularized evolution for one objective, NSGA-II for
more), ``regularized_evolution``, ``nsga2``, ``hyperband``, ``bohb``, ``map`` and ``optuna``.
"""

from __future__ import annotations

from nas.searchers._base import Searcher
from nas.searchers._bayesian import BayesianSearcher
from nas.searchers._bohb import BOHBSearcher
from nas.searchers._evolution import EvolutionSearcher, RegularizedEvolutionSearcher
from nas.searchers._hyperband import HyperbandSchedule, HyperbandSearcher
from nas.searchers._kde import MixedKDE
from nas.searchers._map import MapSearcher, PredictedFront, QuadraticSurrogate, fit_quadratic
from nas.searchers._nsga2 import NSGA2Searcher
from nas.searchers._operators import (
    BinaryTournament,
    Crossover,
    GaussianMutation,
    Mutation,
    Selection,
    UniformCrossover,
)
from nas.searchers._optuna import OptunaSearcher
from nas.searchers._random import RandomSearcher
from nas.searchers._registry import (
    create_searcher,
    register_searcher,
    searcher_class,
    searcher_names,
    searchers_for,
)
from nas.searchers._unique import UniqueProposals

__all__ = [
    "UniqueProposals",
    "BayesianSearcher",
    "BOHBSearcher",
    "BinaryTournament",
    "Crossover",
    "EvolutionSearcher",
    "GaussianMutation",
    "HyperbandSchedule",
    "HyperbandSearcher",
    "MapSearcher",
    "MixedKDE",
    "Mutation",
    "NSGA2Searcher",
    "OptunaSearcher",
    "PredictedFront",
    "QuadraticSurrogate",
    "RandomSearcher",
    "RegularizedEvolutionSearcher",
    "Searcher",
    "Selection",
    "UniformCrossover",
    "create_searcher",
    "fit_quadratic",
    "register_searcher",
    "searcher_class",
    "searcher_names",
    "searchers_for",
]
