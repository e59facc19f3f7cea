"""Tests of nas.plots: offline Pareto / history figures and self-contained HTML output."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from nas._types import FrozenTrial, Objective, TrialState
from nas.plots import (
    BEST_COLOR,
    FRONT_COLOR,
    OTHER_COLOR,
    PlotError,
    pareto_figure,
    write_html,
)

MIN2 = (Objective("f1", "minimize"), Objective("f2", "minimize"))


def trial(number, values, state=TrialState.COMPLETE, params=None, budget=None):
    return FrozenTrial(
        trial_id=100 + number,
        number=number,
        state=state,
        params=params if params is not None else {"x": float(number), "kind": "a"},
        budget=budget,
        values=dict(values) if state == TrialState.COMPLETE else {},
    )


def two_objective_trials():
    # Front (minimize, minimize): 0 (1, 5), 2 (2, 3), 4 (4, 1). Dominated: 1, 3.
    return [
        trial(0, {"f1": 1.0, "f2": 5.0}),
        trial(1, {"f1": 3.0, "f2": 4.0}),
        trial(2, {"f1": 2.0, "f2": 3.0}),
        trial(3, {"f1": 5.0, "f2": 5.0}),
        trial(4, {"f1": 4.0, "f2": 1.0}),
        trial(5, {}, state=TrialState.FAILED),
        trial(6, {}, state=TrialState.RUNNING),
        trial(7, {}, state=TrialState.PRUNED),
    ]


def all_plotted_numbers(fig):
    return sorted(int(n) for tr in fig.data for n in (tr.customdata or ()))


def test_two_objectives_traces_colors_and_front():
    fig = pareto_figure(two_objective_trials(), MIN2, front_numbers={0, 2, 4})
    assert len(fig.data) == 2
    others, front = fig.data
    assert others.name == "other trials" and front.name == "Pareto front"
    assert others.marker.color == OTHER_COLOR
    assert front.marker.color == FRONT_COLOR == front.line.color
    assert sorted(others.customdata) == [1, 3]
    # Front sorted along the first objective and joined by a step line.
    assert list(front.customdata) == [0, 2, 4]
    assert list(front.x) == [1.0, 2.0, 4.0] and list(front.y) == [5.0, 3.0, 1.0]
    assert front.mode == "lines+markers" and front.line.shape == "hv"
    # FAILED / RUNNING / PRUNED are not plotted.
    assert all_plotted_numbers(fig) == [0, 1, 2, 3, 4]
    assert fig.layout.xaxis.title.text == "f1 (minimize)"
    assert fig.layout.yaxis.title.text == "f2 (minimize)"


def test_front_numbers_are_used_as_given():
    # The caller decides the front (e.g. a constrained front); the figure does not recompute.
    fig = pareto_figure(two_objective_trials(), MIN2, front_numbers={3})
    assert list(fig.data[1].customdata) == [3]
    assert sorted(fig.data[0].customdata) == [0, 1, 2, 4]


def test_front_numbers_must_be_plotted_trials():
    with pytest.raises(PlotError, match=r"\[5, 42\]"):
        pareto_figure(two_objective_trials(), MIN2, front_numbers={0, 5, 42})


def test_hover_shows_number_values_params_and_escapes_html():
    trials = [trial(0, {"f1": 1.0, "f2": 2.0}, params={"name": "<script>", "lr": 0.001})]
    trials.append(trial(1, {"f1": 2.0, "f2": 1.0}, budget=0.5))
    fig = pareto_figure(trials, MIN2, front_numbers={0, 1})
    texts = list(fig.data[1].hovertext)
    assert "trial 0" in texts[0] and "lr = 0.001" in texts[0] and "f2 = 2" in texts[0]
    assert "<script>" not in texts[0] and "&lt;script&gt;" in texts[0]
    assert "budget = 0.5" in texts[1]


def test_maximize_axis_titles_and_staircase_direction():
    objs = (Objective("acc", "maximize"), Objective("size", "minimize"))
    trials = [
        trial(0, {"acc": 0.9, "size": 100.0}),
        trial(1, {"acc": 0.8, "size": 10.0}),
        trial(2, {"acc": 0.7, "size": 50.0}),
    ]
    fig = pareto_figure(trials, objs, front_numbers={0, 1})
    assert fig.layout.xaxis.title.text == "acc (maximize)"
    assert list(fig.data[1].customdata) == [1, 0]
    assert fig.data[1].line.shape == "vh"


def test_single_objective_history_and_best_so_far():
    objs = (Objective("loss", "minimize"),)
    values = [5.0, 3.0, 4.0, 1.0, 2.0]
    trials = [trial(i, {"loss": v}) for i, v in enumerate(values)]
    trials.insert(2, trial(9, {}, state=TrialState.FAILED))
    fig = pareto_figure(trials, objs)
    assert len(fig.data) == 2
    points, best = fig.data
    assert points.marker.color == OTHER_COLOR and best.line.color == BEST_COLOR
    assert list(points.x) == [0, 1, 2, 3, 4] and list(points.y) == values
    assert list(best.y) == [5.0, 3.0, 3.0, 1.0, 1.0]
    assert fig.layout.xaxis.title.text == "trial number"
    assert fig.layout.yaxis.title.text == "loss (minimize)"
    # Maximize: the running best is the running maximum.
    up = pareto_figure(trials, (Objective("loss", "maximize"),))
    assert list(up.data[1].y) == [5.0, 5.0, 5.0, 5.0, 5.0]


def test_three_objectives_scatter_matrix():
    objs = (*MIN2, Objective("f3", "maximize"))
    trials = [
        trial(0, {"f1": 1.0, "f2": 1.0, "f3": 1.0}),
        trial(1, {"f1": 2.0, "f2": 2.0, "f3": 0.0}),
        trial(2, {"f1": 0.5, "f2": 3.0, "f3": 0.5}),
        trial(3, {}, state=TrialState.FAILED),
    ]
    fig = pareto_figure(trials, objs, front_numbers={0, 2})
    assert len(fig.data) == 2
    assert all(isinstance(tr, go.Splom) for tr in fig.data)
    others, front = fig.data
    assert others.marker.color == OTHER_COLOR and front.marker.color == FRONT_COLOR
    assert list(others.customdata) == [1]
    assert list(front.customdata) == [0, 2]
    assert [d.label for d in front.dimensions] == [
        "f1 (minimize)",
        "f2 (minimize)",
        "f3 (maximize)",
    ]
    assert list(front.dimensions[2]["values"]) == [1.0, 0.5]


@pytest.mark.skipif(importlib.util.find_spec("nas.pareto") is None, reason="nas.pareto missing")
def test_front_computed_when_not_given():
    fig = pareto_figure(two_objective_trials(), MIN2)
    assert list(fig.data[1].customdata) == [0, 2, 4]
    # Directions are honoured: with f2 maximized, 0 (1, 5) dominates every other trial; with
    # both maximized, 3 (5, 5) does.
    objs = (MIN2[0], Objective("f2", "maximize"))
    assert list(pareto_figure(two_objective_trials(), objs).data[1].customdata) == [0]
    objs = (Objective("f1", "maximize"), Objective("f2", "maximize"))
    assert list(pareto_figure(two_objective_trials(), objs).data[1].customdata) == [3]


def test_trials_without_all_values_are_skipped_and_empty_studies_plot():
    trials = [trial(0, {"f1": 1.0}), trial(1, {"f1": 1.0, "f2": float("nan")})]
    fig = pareto_figure(trials, MIN2, front_numbers=set())
    assert all_plotted_numbers(fig) == []
    assert any("no COMPLETE trials" in a.text for a in fig.layout.annotations)
    empty3 = pareto_figure([], (*MIN2, Objective("f3", "minimize")), front_numbers=None)
    assert len(empty3.data) == 2


def test_bad_objectives_are_rejected():
    with pytest.raises(PlotError, match="at least one objective"):
        pareto_figure([], [])
    with pytest.raises(PlotError, match="unique"):
        pareto_figure([], [MIN2[0], MIN2[0]])


def test_title():
    fig = pareto_figure(two_objective_trials(), MIN2, front_numbers={0}, title="My study")
    assert fig.layout.title.text == "My study"
    fig = pareto_figure(two_objective_trials(), MIN2, front_numbers={0})
    assert fig.layout.title.text == "Pareto front (5 trials)"


def test_write_html_is_self_contained(tmp_path):
    fig = pareto_figure(two_objective_trials(), MIN2, front_numbers={0, 2, 4})
    out = write_html(fig, tmp_path / "sub" / "dir" / "front.html")
    assert out == tmp_path / "sub" / "dir" / "front.html"
    text = out.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<html") or "<!doctype html" in text[:200].lower()
    assert "plotly.js v" in text  # the library's banner: embedded, not referenced
    assert out.stat().st_size > 1_000_000
    # No script is loaded from anywhere: every <script> tag is inline. (The embedded bundle
    # itself mentions cdn.plot.ly as the default topojsonURL of geo maps; that is a string
    # constant, never fetched for these figures.)
    assert re.search(r"<script[^>]*\bsrc\s*=", text, re.IGNORECASE) is None
    assert 'src="https://cdn' not in text
    assert "Pareto front" in text
    # Overwrites an existing file and accepts a str path.
    again = write_html(fig, str(out))
    assert again == out and again.stat().st_size > 1_000_000


def test_values_are_floats_in_the_figure():
    fig = pareto_figure(two_objective_trials(), MIN2, front_numbers={0, 2, 4})
    assert np.asarray(fig.data[1].x).dtype.kind == "f"
