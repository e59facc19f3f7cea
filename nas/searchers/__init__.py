"""Searchers: turn a study's history into proposals for new trials.

Every searcher is registered under a name (``create_searcher("evolution", ...)``) and is a pure
function of ``(space, objectives, seed, options, history)``; see :class:`Searcher`.

Built-in names: ``random``, ``evolution`` (regularized evolution for one objective, NSGA-II for
more), ``regularized_evolution``, ``nsga2``, ``hyperband``, ``bohb``, ``map`` and ``optuna``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
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
else:
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "nas.searchers._base": ["Searcher"],
            "nas.searchers._bayesian": ["BayesianSearcher"],
            "nas.searchers._bohb": ["BOHBSearcher"],
            "nas.searchers._evolution": ["EvolutionSearcher", "RegularizedEvolutionSearcher"],
            "nas.searchers._hyperband": ["HyperbandSchedule", "HyperbandSearcher"],
            "nas.searchers._kde": ["MixedKDE"],
            "nas.searchers._map": [
                "MapSearcher",
                "PredictedFront",
                "QuadraticSurrogate",
                "fit_quadratic",
            ],
            "nas.searchers._nsga2": ["NSGA2Searcher"],
            "nas.searchers._operators": [
                "BinaryTournament",
                "Crossover",
                "GaussianMutation",
                "Mutation",
                "Selection",
                "UniformCrossover",
            ],
            "nas.searchers._optuna": ["OptunaSearcher"],
            "nas.searchers._random": ["RandomSearcher"],
            "nas.searchers._registry": [
                "create_searcher",
                "register_searcher",
                "searcher_class",
                "searcher_names",
                "searchers_for",
            ],
            "nas.searchers._unique": ["UniqueProposals"],
        },
    )

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
