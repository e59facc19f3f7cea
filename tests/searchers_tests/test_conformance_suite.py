"""The conformance suite itself must catch broken searchers (tests of the tests)."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from nas._types import FrozenTrial, Proposal
from nas.exceptions import SpaceError
from nas.searchers import Searcher, register_searcher
from nas.searchers._registry import _REGISTRY
from nas.testing.searchers import SearcherConformance


class _Sampler(Searcher):
    """Base of the broken searchers: plain random sampling with a configurable generator."""

    def generator(self, trials: Sequence[FrozenTrial]) -> np.random.Generator:
        return self.rng(trials)

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        rng = self.generator(trials)
        return [Proposal(params=self.space.sample(rng)) for _ in range(n)]


class GlobalEntropy(_Sampler):
    def generator(self, trials: Sequence[FrozenTrial]) -> np.random.Generator:
        return np.random.default_rng()  # fresh OS entropy: not reproducible


class Stateful(_Sampler):
    calls = 0

    def generator(self, trials: Sequence[FrozenTrial]) -> np.random.Generator:
        self.calls += 1  # depends on how many calls this instance saw: breaks resume
        return np.random.default_rng([self.seed, len(trials), self.calls])


class PendingBlind(_Sampler):
    pass  # never checks the history for repeats


class ProposesInactive(_Sampler):
    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        rng = self.rng(trials)
        out = []
        for _ in range(n):
            params = self.space.sample(rng)
            for p in self.space.params:  # fills in inactive conditional params too
                params.setdefault(p.name, p.sample(rng))
            out.append(Proposal(params=params))
        return out


class MutatesHistory(_Sampler):
    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        for t in trials:
            t.system_attrs["seen"] = True
        return super().propose(trials, n)


class Stalls(_Sampler):
    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        return [] if len(trials) >= 3 else super().propose(trials, n)


class NumpyScalars(_Sampler):
    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        props = super().propose(trials, n)
        return [Proposal(params=p.params, info={"draw": np.int64(1)}) for p in props]


class NeedsItsOwnInfo(_Sampler):
    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        generation = max((t.system_attrs["generation"] for t in trials), default=0)  # KeyError
        props = super().propose(trials, n)  # on a trial it did not propose (imported)
        return [Proposal(params=p.params, info={"generation": generation + 1}) for p in props]


@pytest.fixture
def register() -> Iterator[Callable[[str, type], str]]:
    names: list[str] = []

    def _register(name: str, cls: type) -> str:
        register_searcher(name)(cls)
        names.append(name)
        return name

    yield _register
    for name in names:
        _REGISTRY.pop(name, None)


SUITE = SearcherConformance()


@pytest.mark.parametrize(
    ("cls", "check", "error"),
    [
        (GlobalEntropy, SUITE.test_same_seed_same_proposals, AssertionError),
        (Stateful, SUITE.test_resume_equivalence, AssertionError),
        (PendingBlind, SUITE.test_pending_not_repeated, AssertionError),
        (ProposesInactive, SUITE.test_conditional_space, SpaceError),
        (MutatesHistory, SUITE.test_history_not_modified, AssertionError),
        (Stalls, SUITE.test_mixed_space, AssertionError),
        (NumpyScalars, SUITE.test_mixed_space, AssertionError),
        (NeedsItsOwnInfo, SUITE.test_accepts_imported_trials, KeyError),
    ],
)
def test_suite_catches_broken_searcher(
    register: Callable[[str, type], str],
    cls: type,
    check: Callable[[str], None],
    error: type[Exception],
) -> None:
    name = register(f"_broken_{cls.__name__.lower()}", cls)
    with pytest.raises(error):
        check(name)


def test_suite_passes_a_correct_minimal_searcher(register: Callable[[str, type], str]) -> None:
    class Correct(_Sampler):
        def __init__(self, space: object, objectives: object, seed: int, *, retries: int = 16):
            super().__init__(space, objectives, seed)  # type: ignore[arg-type]
            self.retries = retries

        def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
            rng = self.rng(trials)
            seen = {tuple(sorted(map(str, t.params.items()))) for t in trials}
            out = []
            for _ in range(n):
                params = self.space.sample(rng)
                for _ in range(self.retries):
                    if tuple(sorted(map(str, params.items()))) not in seen:
                        break
                    params = self.space.sample(rng)
                seen.add(tuple(sorted(map(str, params.items()))))
                out.append(Proposal(params=params))
            return out

    name = register("_correct_minimal", Correct)
    for test in (
        SUITE.test_same_seed_same_proposals,
        SUITE.test_resume_equivalence,
        SUITE.test_pending_not_repeated,
        SUITE.test_conditional_space,
        SUITE.test_history_not_modified,
        SUITE.test_mixed_space,
        SUITE.test_batch,
        SUITE.test_unknown_option_rejected,
        SUITE.test_accepts_imported_trials,
    ):
        test(name)


def test_cross_process_check_catches_hash_dependence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # str hashes differ between interpreters with different PYTHONHASHSEED; a searcher seeding
    # from one is reproducible in-process but not across processes.
    module = "_hash_seeded_searcher_for_tests"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from nas._types import Proposal
            from nas.searchers import Searcher, register_searcher

            @register_searcher("_hash_seeded")
            class HashSeeded(Searcher):
                def propose(self, trials, n=1):
                    rng = np.random.default_rng([self.seed, len(trials), hash("x") & 0xFFFF])
                    return [Proposal(params=self.space.sample(rng)) for _ in range(n)]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")

    class Suite(SearcherConformance):
        import_modules = (module,)

    try:
        __import__(module)
        Suite().test_same_seed_same_proposals("_hash_seeded")  # fine in one process
        with pytest.raises(AssertionError):
            Suite().test_same_proposals_in_another_process("_hash_seeded")
    finally:
        _REGISTRY.pop("_hash_seeded", None)
        sys.modules.pop(module, None)
