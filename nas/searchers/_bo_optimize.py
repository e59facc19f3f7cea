"""Acquisition optimisation over mixed spaces for the ``bayesian`` searcher.

:func:`optimize_acquisition` maximises a BoTorch acquisition function over the vectors of a
:class:`~nas.searchers._bo_encoding.BoEncoding` (float, ordinal int and one-hot categorical
columns). It is a multi-start *alternating* local search in which integers are decided by the
acquisition function itself, never by rounding a continuous optimum and keeping it:

1. **Raw candidates**: ``raw_samples`` scrambled-Sobol points of the space (each coordinate goes
   through its parameter's ``from_unit``, so ints and categoricals are valid values), plus
   perturbations of *anchor* points (the best observed trials), at three step sizes. All are
   scored in batches; the ``num_restarts`` starting points are the best half by score plus a
   score-weighted (Boltzmann) draw from the rest, for diversity.
2. **Relaxed continuous phase**: L-BFGS-B (BoTorch's ``gen_candidates_scipy``) over the float
   columns *and the int columns relaxed to their padded unit interval*, categorical columns held
   fixed per start. The relaxed ints are then moved to the centre of the grid cell containing
   them (:meth:`BoEncoding.snap`) -- only a starting point for step 3.
3. **Discrete hill-climb**: for every start, each int column moved by 1, 2, 4, ... grid steps
   down or up and each other choice of each categorical column is scored; the best single move
   is taken if it improves the acquisition value, and again from there, until no move improves
   (at most ``max_discrete_steps`` moves). So an int whose relaxed optimum lies between two
   grid points ends on whichever neighbour the acquisition prefers (or further, if that is
   better still).
4. **Continuous polish** of the float columns of the starts that moved (ints and categoricals
   fixed); steps 3-4 repeat until the hill-climb moves no start, at most ``max_rounds`` times.

The result is every final start, best first, then every scored raw candidate, best first, so
that a caller can skip candidates it must not propose (e.g. duplicates of pending trials). All
randomness comes from the ``numpy`` generator passed in (Sobol scrambling seed, perturbations,
Boltzmann draw); BoTorch's L-BFGS-B is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction

    from nas.searchers._bo_analytic import AnalyticAcquisition
    from nas.searchers._bo_encoding import BoEncoding

__all__ = ["evaluate_acquisition", "optimize_acquisition"]

#: Rows scored per batch when evaluating the acquisition function without gradients.
_EVAL_BATCH = 64
#: Step sizes (fraction of the unit range) of the perturbations around anchor points.
_SPRAY_SIGMAS = (0.005, 0.03, 0.15)
#: Boltzmann temperature of the diverse half of the starting points (on z-scored values).
_BOLTZMANN_ETA = 2.0
#: Line-search steps per L-BFGS-B iteration (SciPy's default is 20). Near an optimum the
#: Monte-Carlo acquisition's last digits are noise, and a failing line search would spend its
#: whole budget there before stopping ("ABNORMAL"); a few steps find the same optima.
_MAX_LINE_SEARCH = 6
#: Improvement a discrete move must bring to be taken, relative to ``max(1, |value|)``. The
#: acquisition functions of the searcher are on a log scale, so this is a 1e-6 relative gain at
#: most: smaller ones are numerical noise and would make the hill-climb crawl along flat ridges.
_MOVE_TOL = 1e-6
#: L-BFGS-B stops when the relative change of the value is below ``factr`` times the machine
#: epsilon: 1e9 is ``2.2e-7`` (SciPy's default 1e7 is ``2.2e-9``). The acquisition values are
#: logarithms of tiny expectations estimated by Monte Carlo, so digits beyond the 7th carry no
#: information; on Branin@40 and Hartmann6@60 (5 seeds) the regret is unchanged and the
#: optimiser makes about a quarter fewer evaluations.
_LBFGS_FACTR = 1e9
#: Relative-change tolerance of L-BFGS-B on a closed-form acquisition (exact to the last digits,
#: unlike the Monte-Carlo ones): SciPy's default is ``2.2e-9``; the sum of the starts' log
#: values changes by less than this long after the proposal itself has settled.
_ANALYTIC_FTOL = 1e-9


def evaluate_acquisition(
    acq_function: AcquisitionFunction | AnalyticAcquisition,
    xs: np.ndarray,
    *,
    device: torch.device,
    dtype: torch.dtype,
) -> np.ndarray:
    """Acquisition values of single points, without gradients.

    Args:
        acq_function: a BoTorch acquisition function (``b x 1 x d -> b``).
        xs: ``(k, d)`` encoded points.
        device: the torch device of the model.
        dtype: the torch dtype of the model.

    Returns:
        ``(k,)`` float64 array; non-finite values are replaced by ``-inf`` (NaN) or kept.
    """
    from nas.searchers._bo_analytic import AnalyticAcquisition

    if isinstance(acq_function, AnalyticAcquisition):
        out = np.asarray(acq_function(xs), dtype=float).copy() if len(xs) else np.empty(0)
        out[np.isnan(out)] = -np.inf
        return out
    import torch

    out = np.empty(len(xs))
    with torch.no_grad():
        for start in range(0, len(xs), _EVAL_BATCH):
            chunk = torch.as_tensor(xs[start : start + _EVAL_BATCH], device=device, dtype=dtype)
            values = acq_function(chunk.unsqueeze(-2))
            out[start : start + len(chunk)] = values.detach().cpu().numpy().reshape(-1)
    out[np.isnan(out)] = -np.inf
    return out


def _select_starts(values: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``count`` starting points: the best half, then a Boltzmann draw of the rest."""
    order = np.argsort(-values, kind="stable")
    count = min(count, len(values))
    n_top = (count + 1) // 2
    chosen = list(order[:n_top])
    rest = order[n_top:]
    n_more = count - n_top
    if n_more > 0 and len(rest) > 0:
        v = values[rest]
        finite = np.isfinite(v)
        if finite.any():
            z = np.where(finite, v, np.min(v[finite]))
            std = float(np.std(z))
            z = (z - z.max()) / (std if std > 0 else 1.0)
            w = np.exp(_BOLTZMANN_ETA * z)
        else:
            w = np.ones(len(rest))
        w = w / w.sum()
        picked = rng.choice(len(rest), size=min(n_more, len(rest)), replace=False, p=w)
        chosen.extend(rest[np.sort(picked)])
    return np.array(chosen, dtype=int)


def _continuous_phase(
    acq_function: AcquisitionFunction | AnalyticAcquisition,
    encoding: BoEncoding,
    xs: np.ndarray,
    free: list[int],
    *,
    maxiter: int,
    device: torch.device,
    dtype: torch.dtype,
) -> np.ndarray:
    """L-BFGS-B over the ``free`` columns of every row of ``xs``; the others stay as they are."""
    from nas.searchers._bo_analytic import AnalyticAcquisition

    if not free or len(xs) == 0:
        return xs
    if isinstance(acq_function, AnalyticAcquisition):
        return _continuous_phase_analytic(acq_function, encoding, xs, free, maxiter=maxiter)
    import torch
    from botorch.generation.gen import gen_candidates_scipy

    ic = torch.as_tensor(xs, device=device, dtype=dtype).unsqueeze(-2)  # k x 1 x d
    fixed: dict[int, float | torch.Tensor] = {
        i: ic[:, 0, i].clone() for i in range(encoding.dim) if i not in free
    }
    bounds = torch.as_tensor(encoding.bounds, device=device, dtype=dtype)
    candidates, _ = gen_candidates_scipy(
        initial_conditions=ic,
        acquisition_function=acq_function,
        lower_bounds=bounds[0],
        upper_bounds=bounds[1],
        options={"maxiter": maxiter, "maxls": _MAX_LINE_SEARCH, "factr": _LBFGS_FACTR},
        fixed_features=fixed or None,
    )
    out = candidates.detach().cpu().numpy().reshape(len(xs), encoding.dim)
    return np.clip(out, encoding.bounds[0], encoding.bounds[1])


def _continuous_phase_analytic(
    acq_function: AnalyticAcquisition,
    encoding: BoEncoding,
    xs: np.ndarray,
    free: list[int],
    *,
    maxiter: int,
) -> np.ndarray:
    """:func:`_continuous_phase` for a closed-form acquisition function: one independent
    L-BFGS-B run per row (not one run on the sum of the rows, as BoTorch's
    ``gen_candidates_scipy``: its shared line search stops every row when one of them has
    converged), with the analytic gradient, in coordinates divided by the model's lengthscales
    (the acquisition is a function of ``x / l``: equal curvature in every direction, fewer
    iterations). The runs' evaluations are batched (:func:`lbfgsb_batched`)."""
    cols = np.asarray(free, dtype=int)
    scale = np.maximum(acq_function.scales[cols], 1e-3)
    lower = encoding.bounds[0][cols] / scale
    upper = encoding.bounds[1][cols] / scale
    base = np.array(xs, dtype=float)

    def fun(rows: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = base[rows].copy()
        x[:, cols] = u * scale
        values, grads = acq_function.value_and_grad(x)
        assert grads is not None
        # outside the model's reach (log value -inf): a large finite value to back off from
        values = np.where(np.isfinite(values), values, -1e10)
        return -values, -grads[:, cols] * scale

    u_opt = lbfgsb_batched(
        fun, base[:, cols] / scale, np.stack([lower, upper], axis=1), maxiter=maxiter
    )
    out = base.copy()
    out[:, cols] = u_opt * scale
    return np.clip(out, encoding.bounds[0], encoding.bounds[1])


def lbfgsb_batched(
    fun: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    x0: np.ndarray,
    bounds: np.ndarray,
    *,
    maxiter: int,
) -> np.ndarray:
    """Minimise from each row of ``x0`` by an independent SciPy L-BFGS-B run.

    The runs are interleaved with ``greenlet`` when it is installed: each run pauses at its
    function evaluation, and the pending points of all runs are evaluated by one call of
    ``fun`` (a vectorised acquisition costs little more for ten points than for one). Without
    ``greenlet`` the runs go one after the other, calling ``fun`` with one row. Each run sees
    the same numbers either way, so the results are identical.

    Args:
        fun: ``(rows, u) -> (values (k,), gradients (k, p))`` at the points ``u`` (``(k, p)``)
            of the runs ``rows`` (indices into ``x0``).
        x0: ``(r, p)`` starting points.
        bounds: ``(p, 2)`` lower and upper bounds.
        maxiter: iteration cap of each run.

    Returns:
        ``(r, p)`` final points.
    """
    from scipy.optimize import minimize

    r = len(x0)
    out = np.array(x0, dtype=float)
    box = [(float(lo), float(hi)) for lo, hi in bounds]
    options = {"maxiter": maxiter, "ftol": _ANALYTIC_FTOL}
    try:
        from greenlet import getcurrent, greenlet
    except ImportError:  # pragma: no cover - greenlet comes with SQLAlchemy on most platforms
        greenlet = None
    if greenlet is None:  # pragma: no cover
        for i in range(r):
            rows = np.array([i])

            def single(u: np.ndarray, rows: np.ndarray = rows) -> tuple[float, np.ndarray]:
                v, g = fun(rows, u[None])
                return float(v[0]), g[0]

            res = minimize(
                single, out[i], jac=True, method="L-BFGS-B", bounds=box, options=options
            )
            out[i] = res.x
        return out

    main = getcurrent()

    def run(i: int) -> tuple[str, int, np.ndarray]:
        def single(u: np.ndarray) -> tuple[float, np.ndarray]:
            v, g = main.switch(("eval", i, np.array(u, dtype=float)))
            return float(v), np.array(g, dtype=float)

        res = minimize(single, out[i], jac=True, method="L-BFGS-B", bounds=box, options=options)
        return ("done", i, np.asarray(res.x, dtype=float))

    workers = [greenlet(run) for _ in range(r)]
    requests = [workers[i].switch(i) for i in range(r)]
    while True:
        asks = [q for q in requests if q[0] == "eval"]
        for q in requests:
            if q[0] == "done":
                out[q[1]] = q[2]
        if not asks:
            return out
        rows = np.array([q[1] for q in asks])
        values, grads = fun(rows, np.stack([q[2] for q in asks]))
        requests = [workers[i].switch((values[j], grads[j])) for j, i in enumerate(rows.tolist())]


def _discrete_moves(
    acq_function: AcquisitionFunction | AnalyticAcquisition,
    encoding: BoEncoding,
    xs: np.ndarray,
    values: np.ndarray,
    *,
    device: torch.device,
    dtype: torch.dtype,
) -> np.ndarray:
    """Apply to each row its best improving single discrete move (in place).

    Returns:
        Boolean ``(k,)`` mask of the rows that moved.
    """
    blocks = [encoding.neighbours(x) for x in xs]
    sizes = [len(b) for b in blocks]
    moved = np.zeros(len(xs), dtype=bool)
    if sum(sizes) == 0:
        return moved
    scores = evaluate_acquisition(acq_function, np.concatenate(blocks), device=device, dtype=dtype)
    offset = 0
    for s, (block, size) in enumerate(zip(blocks, sizes, strict=True)):
        if size:
            local = scores[offset : offset + size]
            j = int(np.argmax(local))
            best = float(local[j])
            if best > values[s] + _MOVE_TOL * max(1.0, abs(float(values[s]))):
                xs[s] = block[j]
                values[s] = best
                moved[s] = True
        offset += size
    return moved


def optimize_acquisition(
    acq_function: AcquisitionFunction | AnalyticAcquisition,
    encoding: BoEncoding,
    rng: np.random.Generator,
    *,
    raw_samples: int,
    num_restarts: int,
    anchors: np.ndarray | None = None,
    extra_starts: np.ndarray | None = None,
    maxiter: int = 200,
    max_rounds: int = 3,
    max_discrete_steps: int = 50,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Maximise ``acq_function`` over the encoded space (see the module docstring).

    Args:
        acq_function: a BoTorch acquisition function for ``q = 1`` (``b x 1 x d -> b``);
            pending points, if any, are already set on it.
        encoding: the space's encoding (``encoding.dim >= 1``).
        rng: the only source of randomness.
        raw_samples: number of Sobol candidates scored to choose the starts, ``>= 1``.
        num_restarts: number of starts of the local search, ``>= 1``.
        anchors: ``(k, d)`` valid encoded points to perturb into extra candidates (e.g. the best
            observed trials), or ``None``.
        extra_starts: ``(k, d)`` valid encoded points the local search starts from in addition
            to the ``num_restarts`` chosen ones (e.g. the best observed trials: an improvement
            is often found next to them), or ``None``.
        maxiter: iteration cap of each L-BFGS-B run.
        max_rounds: cap on alternations of a discrete hill-climb and a continuous polish.
        max_discrete_steps: cap on the moves of one discrete hill-climb.
        device: the torch device of the model.
        dtype: the torch dtype of the model.

    Returns:
        ``(xs, values, n_optimised)``: ``(r, d)`` distinct valid encoded vectors (ints on their
        grid, categorical blocks one-hot) and their acquisition values ``(r,)``: first the
        ``n_optimised >= 1`` final points of the starts, best first, then the other scored
        candidates (raw and perturbed), best first. ``xs[0]`` is the optimum found; the rest
        are fallbacks.
    """
    import torch

    seed = int(rng.integers(2**31 - 1))
    engine = torch.quasirandom.SobolEngine(encoding.n_columns, scramble=True, seed=seed)
    units = engine.draw(raw_samples, dtype=torch.float64).numpy()
    candidates = [encoding.from_unit_design(units)]
    if anchors is not None and len(anchors):
        per_anchor = max(1, raw_samples // (4 * len(anchors) * len(_SPRAY_SIGMAS)))
        for a in anchors:
            for sigma in _SPRAY_SIGMAS:
                candidates.append(encoding.perturb(a, rng, per_anchor, sigma))
    raw = np.unique(np.concatenate(candidates), axis=0)  # sorted rows: order-independent
    kw: dict[str, Any] = {"device": device, "dtype": dtype}
    raw_values = evaluate_acquisition(acq_function, raw, **kw)
    starts = _select_starts(raw_values, num_restarts, rng)
    xs = raw[starts].copy()
    if extra_starts is not None and len(extra_starts):
        xs = np.unique(np.concatenate([xs, extra_starts]), axis=0)

    relaxed = encoding.cont_dims + encoding.int_dims
    if relaxed:
        xs = _continuous_phase(acq_function, encoding, xs, relaxed, maxiter=maxiter, **kw)
        if encoding.int_dims:
            xs = encoding.snap(xs)
    values = evaluate_acquisition(acq_function, xs, **kw)
    if encoding.int_dims or encoding.cat_dims:
        for _ in range(max_rounds):
            # Hill-climb on the grid (cheap: one batched evaluation per step), then polish the
            # floats of the starts that moved.
            moved = np.zeros(len(xs), dtype=bool)
            for _ in range(max_discrete_steps):
                step = _discrete_moves(acq_function, encoding, xs, values, **kw)
                if not step.any():
                    break
                moved |= step
            if not moved.any() or not encoding.cont_dims:
                break
            xs[moved] = _continuous_phase(
                acq_function, encoding, xs[moved], encoding.cont_dims, maxiter=maxiter, **kw
            )
            values[moved] = evaluate_acquisition(acq_function, xs[moved], **kw)
    # The optimised points best first, then the scored raw candidates best first (fallbacks
    # for a caller that must skip some, e.g. when every start converged onto a point already
    # evaluated); distinct rows only (several starts may converge to the same point).
    order = np.argsort(-values, kind="stable")
    raw_order = np.argsort(-raw_values, kind="stable")
    all_xs = np.concatenate([xs[order], raw[raw_order]])
    all_values = np.concatenate([values[order], raw_values[raw_order]])
    _, first = np.unique(all_xs, axis=0, return_index=True)
    keep = np.sort(first)
    n_optimised = int(np.count_nonzero(keep < len(xs)))
    return all_xs[keep], all_values[keep], n_optimised
