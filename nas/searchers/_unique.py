"""No point twice: the guard that keeps a study from evaluating the same network again.

In an architecture search every evaluation of a network gives the same values (the supernet's
weights are fixed, its batch-norm calibration deterministic), so proposing a network that is
already evaluated or pending wastes a trial. The built-in searchers avoid it themselves through
their space's :meth:`~nas.space.SearchSpace.key` (which identifies assignments describing the
same network); :class:`UniqueProposals` wraps *any* searcher -- a plug-in, Optuna's samplers,
the model-based ones -- so that the guarantee holds whatever the searcher:

* a proposal whose ``(key, budget)`` is held by a trial of the history (any state) or by an
  earlier proposal of the same call is replaced by a random assignment of an unseen key, drawn
  from a generator seeded by the study seed and the history length (so the replacement is as
  deterministic as the searcher, across processes and resumes); the replacement's ``info``
  says which proposal it replaced;
* when no unseen key turns up in :data:`MAX_TRIES` draws (the space is exhausted, or nearly),
  the proposal is dropped: the searcher proposes fewer, and a study whose searcher proposes
  nothing ends once nothing is pending.

The study applies it to every searcher of a space with an equivalence (an architecture space's
encodings, :meth:`~nas.space.SearchSpace.with_equivalence`); other studies may evaluate a point
twice on purpose (a noisy objective), so they are left alone.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nas._types import FrozenTrial, Proposal
from nas.searchers._base import Searcher

if TYPE_CHECKING:
    from nas.study._constraints import Constraints

__all__ = ["MAX_TRIES", "UniqueProposals"]

#: Random draws tried for an unseen key before a duplicate proposal is dropped.
MAX_TRIES = 200
_STREAM = 0x0DD


class UniqueProposals(Searcher):
    """``inner``'s proposals, with duplicates of evaluated or pending points replaced (module
    docstring).

    Args:
        inner: the searcher to guard (same space, objectives and seed).
    """

    def __init__(self, inner: Searcher) -> None:
        super().__init__(inner.space, inner.objectives, inner.seed)
        self.inner = inner

    def set_constraints(self, constraints: Constraints | None) -> None:
        """Set on the guarded searcher too."""
        super().set_constraints(constraints)
        self.inner.set_constraints(constraints)

    def __getattr__(self, name: str) -> Any:
        # Searcher-specific attributes (options, models) stay reachable through the guard.
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)

    def _key(self, params: Any, budget: float | None) -> tuple[Hashable, float | None]:
        return (self.space.key(params), budget)

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        proposals = self.inner.propose(trials, n)
        seen = {self._key(t.params, t.budget) for t in trials}
        out: list[Proposal] = []
        rng: np.random.Generator | None = None
        for i, p in enumerate(proposals):
            key = self._key(p.params, p.budget)
            if key not in seen:
                seen.add(key)
                out.append(p)
                continue
            if rng is None:
                rng = self.rng(trials, _STREAM)
            for _ in range(MAX_TRIES):
                params = self.space.sample(rng)
                key = self._key(params, p.budget)
                if key not in seen:
                    seen.add(key)
                    info = {**p.info, "replaced_duplicate": i}
                    out.append(Proposal(params=params, budget=p.budget, info=info))
                    break
        return out
