"""Offline plotly figures of a study's trials: Pareto fronts and optimisation histories.

Used by ``nas pareto NAME --html FILE`` (:func:`write_study_plot`), ``nas run`` and the
dashboard. Figures are built from
:class:`~nas._types.FrozenTrial` snapshots only (no database access), and :func:`write_html`
embeds plotly.js from the installed ``plotly`` package, so the HTML file opens without network
access.

The figure depends on the number of objectives:

* 1 objective: each trial's value against its number (grey markers) and the best-so-far line.
* 2 objectives: the trials off the front as grey markers, the front's trials colored and joined
  by the staircase that bounds the region they dominate.
* 3 or more: a scatter matrix (``go.Splom``) of the objectives, front trials colored.

Only COMPLETE trials with a finite value for every objective are plotted.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from nas._archtext import arch_text
from nas._attrs import ARCH_ATTR
from nas._types import FrozenTrial, Objective, TrialState
from nas.exceptions import NasError

if TYPE_CHECKING:
    from nas.study import Study

__all__ = [
    "BEST_COLOR",
    "FRONT_COLOR",
    "OTHER_COLOR",
    "PlotError",
    "pareto_figure",
    "write_html",
    "write_study_plot",
]

#: Marker color of the trials that are not on the front (and of all trials with 1 objective).
OTHER_COLOR = "rgba(140, 140, 140, 0.6)"
#: Color of the Pareto-front trials and of the line joining them.
FRONT_COLOR = "#d62728"
#: Color of the best-so-far line of a single-objective history.
BEST_COLOR = "#1f77b4"

_MAX_HOVER_PARAMS = 30


class PlotError(NasError, ValueError):
    """Arguments of a plotting function are inconsistent (no objectives, duplicated objective
    names, or front numbers that are not plotted trials)."""


def _axis_title(objective: Objective) -> str:
    return f"{objective.name} ({objective.direction})"


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _hover_text(trial: FrozenTrial, objectives: Sequence[Objective]) -> str:
    """Trial number, budget, objective values and params (the architecture instead for a NAS
    trial); HTML-escaped, ``<br>``-separated."""
    lines = [f"<b>trial {trial.number}</b>"]
    if trial.budget is not None:
        lines.append(f"budget = {_format_value(trial.budget)}")
    lines.extend(f"{o.name} = {_format_value(trial.values[o.name])}" for o in objectives)
    arch = arch_text(trial.user_attrs.get(ARCH_ATTR))
    if arch is not None:  # a NAS trial: its architecture says more than 14 raw params
        lines.append(f"arch = {arch}")
        return "<br>".join(
            html.escape(line, quote=False) if i else line for i, line in enumerate(lines)
        )
    items = sorted(trial.params.items())
    lines.extend(f"{k} = {_format_value(v)}" for k, v in items[:_MAX_HOVER_PARAMS])
    if len(items) > _MAX_HOVER_PARAMS:
        lines.append(f"... {len(items) - _MAX_HOVER_PARAMS} more params")
    return "<br>".join(
        html.escape(line, quote=False) if i else line for i, line in enumerate(lines)
    )


def _plottable(
    trials: Sequence[FrozenTrial], objectives: Sequence[Objective]
) -> list[FrozenTrial]:
    """COMPLETE trials with a finite number for every objective, sorted by number."""
    out = []
    for t in trials:
        if t.state != TrialState.COMPLETE:
            continue
        values = [t.values.get(o.name) for o in objectives]
        if all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values
        ):
            out.append(t)
    return sorted(out, key=lambda t: t.number)


def _front_mask(
    plotted: list[FrozenTrial],
    objectives: Sequence[Objective],
    front_numbers: set[int] | None,
) -> np.ndarray:
    """Boolean mask over ``plotted``: which trials are on the front."""
    if front_numbers is None:
        if not plotted:
            return np.zeros(0, dtype=bool)
        from nas.pareto import pareto_mask

        points = np.array([t.value_vector(objectives) for t in plotted], dtype=np.float64)
        return np.asarray(pareto_mask(points), dtype=bool)
    numbers = {t.number for t in plotted}
    unknown = sorted(set(front_numbers) - numbers)
    if unknown:
        raise PlotError(
            f"front_numbers must be numbers of COMPLETE trials with a value for every objective; "
            f"not such trials: {unknown[:20]}"
        )
    return np.array([t.number in front_numbers for t in plotted], dtype=bool)


def _history_figure(plotted: list[FrozenTrial], objective: Objective) -> go.Figure:
    numbers = [t.number for t in plotted]
    values = [float(t.values[objective.name]) for t in plotted]
    signed = np.array(values, dtype=np.float64) * objective.sign
    best = (np.minimum.accumulate(signed) * objective.sign).tolist() if values else []
    texts = [_hover_text(t, [objective]) for t in plotted]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=numbers,
            y=values,
            mode="markers",
            name="trials",
            marker={"color": OTHER_COLOR, "size": 7},
            customdata=numbers,
            hovertext=texts,
            hoverinfo="text",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=numbers,
            y=best,
            mode="lines",
            name="best so far",
            line={"color": BEST_COLOR, "shape": "hv", "width": 2},
            customdata=numbers,
            hoverinfo="x+y",
        )
    )
    fig.update_xaxes(title_text="trial number")
    fig.update_yaxes(title_text=_axis_title(objective))
    return fig


def _two_objective_figure(
    plotted: list[FrozenTrial], objectives: Sequence[Objective], mask: np.ndarray
) -> go.Figure:
    ox, oy = objectives
    others = [t for t, on in zip(plotted, mask, strict=True) if not on]
    front = sorted(
        (t for t, on in zip(plotted, mask, strict=True) if on),
        key=lambda t: (t.values[ox.name], t.values[oy.name]),
    )
    fig = go.Figure()
    for group, name, style in (
        (others, "other trials", {"mode": "markers", "marker": {"color": OTHER_COLOR, "size": 7}}),
        (
            front,
            "Pareto front",
            {
                "mode": "lines+markers",
                "marker": {"color": FRONT_COLOR, "size": 9},
                # The staircase bounding the dominated region: sorted along x, it runs
                # horizontally first when x is minimized and vertically first when maximized.
                "line": {
                    "color": FRONT_COLOR,
                    "shape": "hv" if ox.direction == "minimize" else "vh",
                    "width": 1.5,
                },
            },
        ),
    ):
        fig.add_trace(
            go.Scatter(
                x=[float(t.values[ox.name]) for t in group],
                y=[float(t.values[oy.name]) for t in group],
                name=name,
                customdata=[t.number for t in group],
                hovertext=[_hover_text(t, objectives) for t in group],
                hoverinfo="text",
                **style,
            )
        )
    fig.update_xaxes(title_text=_axis_title(ox))
    fig.update_yaxes(title_text=_axis_title(oy))
    return fig


def _matrix_figure(
    plotted: list[FrozenTrial], objectives: Sequence[Objective], mask: np.ndarray
) -> go.Figure:
    fig = go.Figure()
    groups = (
        ([t for t, on in zip(plotted, mask, strict=True) if not on], "other trials", OTHER_COLOR),
        ([t for t, on in zip(plotted, mask, strict=True) if on], "Pareto front", FRONT_COLOR),
    )
    for group, name, color in groups:
        fig.add_trace(
            go.Splom(
                dimensions=[
                    {"label": _axis_title(o), "values": [float(t.values[o.name]) for t in group]}
                    for o in objectives
                ],
                name=name,
                marker={"color": color, "size": 6},
                customdata=[t.number for t in group],
                hovertext=[_hover_text(t, objectives) for t in group],
                hoverinfo="text",
                diagonal_visible=False,
                showupperhalf=False,
            )
        )
    side = 260 * len(objectives)
    fig.update_layout(width=side + 160, height=side)
    return fig


def pareto_figure(
    trials: Sequence[FrozenTrial],
    objectives: Sequence[Objective],
    *,
    front_numbers: set[int] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Build an interactive figure of a study's trials and its Pareto front.

    Only COMPLETE trials with a finite value for every objective are plotted; the others
    (WAITING, RUNNING, PRUNED, FAILED, or lacking a value) are left out. Traces, in order:

    * 1 objective: ``"trials"`` (markers, x = trial number, y = value) and ``"best so far"``
      (a step line of the running best, respecting the direction); ``front_numbers`` is unused.
    * 2 objectives: ``"other trials"`` (markers of the trials off the front) and
      ``"Pareto front"`` (the front's trials sorted along the first objective, joined by the
      staircase that bounds the region they dominate).
    * 3+ objectives: two ``go.Splom`` traces, ``"other trials"`` and ``"Pareto front"``.

    Each trace's ``customdata`` holds the trial numbers of its points; hovering a point shows the
    trial number, budget, objective values and params. Axis titles read ``"name (direction)"``.

    Args:
        trials: trials of the study, in any order and any state.
        objectives: the study's objectives in order (at least one, unique names).
        front_numbers: numbers of the non-dominated trials. ``None`` computes them with
            :func:`nas.pareto.pareto_mask` on the sign-adjusted values (all minimized).
        title: figure title; defaults to ``"Pareto front"`` (or ``"<name> per trial"`` for a
            single objective), followed by the number of plotted trials.

    Returns:
        A ``plotly.graph_objects.Figure``; with no plottable trial its traces are empty and an
        annotation says so.

    Raises:
        PlotError: ``objectives`` is empty, has duplicated names or holds a non-Objective, or
            ``front_numbers`` names a trial that is not plotted.
    """
    objs = tuple(objectives)
    if not objs:
        raise PlotError("pareto_figure needs at least one objective, got none")
    if not all(isinstance(o, Objective) for o in objs):
        raise PlotError(f"objectives must be nas.Objective instances, got {objs!r}")
    names = [o.name for o in objs]
    if len(set(names)) != len(names):
        raise PlotError(f"objective names must be unique, got {names}")

    plotted = _plottable(trials, objs)
    if len(objs) == 1:
        fig = _history_figure(plotted, objs[0])
        default_title = f"{objs[0].name} per trial"
    else:
        mask = _front_mask(plotted, objs, front_numbers)
        if len(objs) == 2:
            fig = _two_objective_figure(plotted, objs, mask)
        else:
            fig = _matrix_figure(plotted, objs, mask)
        default_title = "Pareto front"
    heading = title if title is not None else f"{default_title} ({len(plotted)} trials)"
    fig.update_layout(
        title={"text": html.escape(heading, quote=False)},
        template="plotly_white",
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0.0},
    )
    if not plotted:
        fig.add_annotation(
            text="no COMPLETE trials to plot",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    return fig


def write_html(fig: go.Figure, path: str | Path) -> Path:
    """Write ``fig`` as a self-contained HTML page, creating missing parent directories.

    plotly.js is embedded from the installed ``plotly`` package (about 4 MB), never loaded from
    a CDN, so the file works offline.

    Args:
        fig: the figure, e.g. from :func:`pareto_figure`.
        path: file to write (overwritten if it exists).

    Returns:
        The path written, as a :class:`~pathlib.Path`.

    Raises:
        OSError: the directory cannot be created or the file cannot be written.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(
        out,
        include_plotlyjs=True,
        full_html=True,
        include_mathjax=False,
        config={"displaylogo": False},
    )
    return out


def write_study_plot(study: Study, path: str | Path) -> Path:
    """Write ``study``'s Pareto front (or its history, one objective) as offline HTML at
    ``path`` (``nas pareto --html``, a study file's ``plot``).

    Returns:
        The path written.

    Raises:
        NasError: the file cannot be written (``cannot write PATH: <reason>``).
    """
    complete = study.get_trials((TrialState.COMPLETE,))
    front = study.pareto_front() if complete else []
    label = "Pareto front" if len(study.objectives) > 1 else "history"
    fig = pareto_figure(
        complete,
        study.objectives,
        front_numbers={t.number for t in front},
        title=f"{study.name}: {label}",
    )
    try:
        return write_html(fig, path)
    except OSError as e:
        raise NasError(f"cannot write {path}: {e.strerror or e}") from None
