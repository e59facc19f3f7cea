"""Random search: independent draws from the space's priors, avoiding exact repeats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from nas._types import FrozenTrial, Objective, Proposal
from nas.searchers._base import Searcher
from nas.searchers._memo import HistoryMemo, SeenKeys
from nas.searchers._operators import check_int_option, sample_unique
from nas.searchers._registry import register_searcher

if TYPE_CHECKING:
    from nas.space import SearchSpace

__all__ = ["RandomSearcher"]


@register_searcher("random")
class RandomSearcher(Searcher):
    """Draws every proposal independently with :meth:`SearchSpace.sample`.

    A draw that exactly repeats the params of a trial in the history (any state, pending ones
    included) or of an earlier proposal of the same call is redrawn, at most ``max_retries``
    times; after that the repeat is accepted, which happens only when the space is (nearly)
    exhausted.

    Args:
        space: the search space.
        objectives: any number of objectives (they are not used).
        seed: the study seed.
        max_retries: redraws allowed per proposal to avoid a repeat, ``>= 0`` (default 32).

    Raises:
        SearcherConfigError: ``max_retries`` is not an integer ``>= 0``.
    """

    honours_constraints: ClassVar[bool] = False

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        max_retries: int = 32,
    ) -> None:
        super().__init__(space, objectives, seed)
        self.max_retries = check_int_option("random", "max_retries", max_retries, 0)
        self._memo = HistoryMemo(self.objectives, self.space.key)

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """``max(n, 0)`` random proposals (``info`` is empty); see :class:`Searcher`.

        The history's params keys come from an exact incremental memo
        (:class:`~nas.searchers._memo.HistoryMemo`), so a call costs ``O(n)`` identity checks
        plus the work on the trials that changed since the previous call.
        """
        count = max(int(n), 0)
        if count == 0:
            return []
        rng = self.rng(trials, 0)
        out: list[Proposal] = []
        with self._memo.lock:
            self._memo.sync(trials)
            seen = SeenKeys(self._memo.key_counts)
            for _ in range(count):
                params = sample_unique(self.space, rng, seen, self.max_retries)
                params = self.space.validate(params)
                seen.add(self.space.key(params))
                out.append(Proposal(params=params))
        return out
