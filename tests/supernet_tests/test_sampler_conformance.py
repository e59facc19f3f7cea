"""Run the path-sampler conformance suite over every registered path sampler."""

from __future__ import annotations

import pytest

from nas.supernet import PATH_SAMPLERS
from nas.testing.path_samplers import PathSamplerConformance


@pytest.fixture(params=PATH_SAMPLERS.names())
def sampler_name(request: pytest.FixtureRequest) -> str:
    return request.param


class TestPathSamplerConformance(PathSamplerConformance):
    """Every test of the suite, once per registered path sampler."""


def test_the_suite_catches_a_sampler_that_leaves_its_mask() -> None:
    from nas.supernet import UniformSampler

    class Escaping(UniformSampler):
        name = "escaping"

        def paths(self, rng):
            return [self.mask.space.full_mask().sample(rng)]

    PATH_SAMPLERS.register("escaping-test", Escaping)
    try:
        with pytest.raises(AssertionError):
            PathSamplerConformance().test_paths_stay_inside_a_restricted_mask("escaping-test")
    finally:
        PATH_SAMPLERS.unregister("escaping-test")


def test_the_suite_catches_a_sampler_that_forgets_its_state() -> None:
    from nas.supernet import PadaSampler

    class Forgetful(PadaSampler):
        def load_state_dict(self, state):  # restores nothing
            return None

    PATH_SAMPLERS.register("forgetful-test", Forgetful)
    try:
        with pytest.raises(AssertionError):
            PathSamplerConformance().test_resume_from_state_draws_what_an_uninterrupted_run_draws(
                "forgetful-test"
            )
    finally:
        PATH_SAMPLERS.unregister("forgetful-test")
