"""Gaussian-process Bayesian optimisation on BoTorch: the ``bayesian`` searcher.

Per call of :meth:`BayesianSearcher.propose`:

* **Data**: COMPLETE trials with a finite value for every objective are the training data;
  FAILED and PRUNED trials are left out. Values are turned into "larger is better"
  (``-sign * value``: BoTorch maximises). WAITING and RUNNING trials are the *pending* points.
* **Initial design**: the trial numbered ``k < n_initial`` (pending trials count) gets point
  ``k`` of a scrambled Sobol sequence whose scrambling seed depends only on the study seed, so
  the design is fixed whatever the order in which trials finish. The same sequence continues
  while fewer than two trials are usable for a model (e.g. all failed).
* **Model**: an exact ``SingleTaskGP`` (BoTorch's RBF kernel with ARD lengthscales under a
  dimension-scaled log-normal prior; inferred homoscedastic noise under a Gamma(1.1, 30) prior with
  a floor of 1e-6, see ``_NOISE_PRIOR``) fitted by maximum a-posteriori marginal likelihood; inputs
  pass through ``Normalize`` with the encoding's bounds, outputs through ``Standardize``. The fit
  and the posterior take the direct paths of :mod:`nas.searchers._bo_model` (same numbers as
  BoTorch's, a fraction of the overhead), with ``fit_gpytorch_mll`` as the fallback when the direct
  fit fails numerically. Several objectives are modelled by one multi-output GP (independent
  outputs, each with its own hyperparameters). See :mod:`nas.searchers._bo_encoding` for the
  inputs: log parameters in log space, ints as ordinal entries, categoricals one-hot. (One-hot
  rather than ``MixedSingleTaskGP``: its sum-and-product kernel costs two to three times more per
  evaluation, which dominates the per-trial overhead.)
* **Acquisition**: ``qLogNoisyExpectedImprovement`` for one objective,
  ``qLogNoisyExpectedHypervolumeImprovement`` for several, with the pending points as
  ``X_pending``. ``n`` proposals are chosen by sequential greedy optimisation: each chosen point
  joins ``X_pending`` before the next is optimised. The optimiser
  (:mod:`nas.searchers._bo_optimize`) decides ints and categoricals by acquisition value.
* **Constraints** (BoTorch's constrained acquisition, Gardner et al. 2014 / Gelbart et al.
  2014): in a constrained study the GP has one more output per constraint, fitted on the trials'
  stored signed constraint values (:func:`constraint_columns`), and the acquisition function
  gets them as BoTorch ``constraints``: each MC sample's improvement is weighted by a sigmoid
  of ``-c`` per constraint, i.e. by the (smoothed) probability of feasibility, and the
  baseline's best is taken over feasible samples. Anchors for the raw candidates are the
  feasible trials. ``info["acquisition"]`` then ends in ``+PoF``.
* **Duplicates**: a candidate equal to the params of a trial of the history (any state) or of an
  earlier proposal of the call is skipped for the next best; if all are taken, a random
  assignment not yet seen is drawn (only happens in small discrete spaces).

Determinism: every random choice comes from :meth:`Searcher.rng` (the numpy generator derived
from the seed and the history length): the Sobol scrambling of the raw candidates, the MC
sampler seed, the perturbations. Two BoTorch routines draw from torch's *global* generator
(retries of a failed GP fit resample hyperparameters from their priors; pruning of the baseline
in the noisy acquisition functions builds an unseeded sampler); the model phase therefore runs
inside ``torch.random.fork_rng`` with a seed derived from the same generator, which leaves the
caller's torch RNG state as it was. It also runs on one torch thread (restored afterwards, see
:func:`_single_thread`), in float64, and without BoTorch's optional JIT-compiled qLogEHVI
kernel (:func:`_pure_python_log_ehvi`). Results are reproducible on the same kind of machine and
device; a different BLAS or a GPU may change the last bits and hence, occasionally, a proposal.
BoTorch's warnings inside the model phase (optimizer stops, input checks) are dropped.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas._types import FrozenTrial, Objective, Proposal, TrialState
from nas.exceptions import SearcherConfigError
from nas.searchers._base import Searcher, constraint_columns
from nas.searchers._bo_encoding import BoEncoding
from nas.searchers._memo import HistoryMemo, SeenKeys
from nas.searchers._operators import check_int_option, rank_vector, sample_unique
from nas.searchers._registry import register_searcher

if TYPE_CHECKING:
    import torch
    from botorch.acquisition import AcquisitionFunction
    from botorch.models.model import Model

    from nas.space import SearchSpace

__all__ = ["BayesianSearcher"]

_OWNER = "bayesian"
#: Fewest usable (COMPLETE, finite) trials needed to fit a model.
_MIN_TRAIN = 2
#: Stream ids of :meth:`Searcher.rng` (the Sobol design uses the study seed alone).
_STREAM_MODEL = 1
_STREAM_FALLBACK = 2
_DESIGN_SALT = 0x5EED_B0
#: Best observed points perturbed into extra raw candidates of the acquisition optimiser.
_N_ANCHORS = 3
#: Noise model, on the variance of the standardised outputs: Gamma(1.1, 30) prior (mean 0.037,
#: mode 0.0033) with a floor of 1e-6, as Optuna's GPSampler. BoTorch's default (LogNormal(-4, 1),
#: floor 1e-4) is made for noisy objectives: it keeps the noise near 1e-3..1e-4 and blurs the last
#: digits of a deterministic objective (Branin at 40 trials, 5 seeds: median regret 7e-3 with it,
#: 3e-4 with this one). A noisy objective still gets its noise level inferred.
_NOISE_PRIOR = (1.1, 30.0)
_MIN_NOISE = 1e-6
_NOISE_INIT = 1e-3
#: Distance of the default reference point beyond the worst observed values, as a fraction of
#: their range.
_REF_MARGIN = 0.1
#: Default ``raw_samples`` / ``mc_samples`` for one objective (False) and several (True).
_RAW_SAMPLES = {False: 512, True: 256}
_MC_SAMPLES = {False: 128, True: 64}
#: Retries of ``sample_unique`` when a candidate must be replaced by a random one.
_MAX_RANDOM_RETRIES = 64


def _check_ref_point(ref_point: object, objectives: Sequence[Objective]) -> list[float] | None:
    """The reference point in the objectives' own units, in objective order (or ``None``).

    Raises:
        SearcherConfigError: given for a single objective, or not one finite number per
            objective (a list in objective order, or a mapping objective name -> number).
    """
    if ref_point is None:
        return None
    names = [o.name for o in objectives]
    if len(objectives) < 2:
        raise SearcherConfigError(
            f"{_OWNER}: option 'ref_point' is for several objectives (hypervolume); this study "
            f"has 1 ({names[0]!r}), remove the option"
        )
    if isinstance(ref_point, Mapping):
        missing = [n for n in names if n not in ref_point]
        extra = [k for k in ref_point if k not in names]
        if missing or extra:
            raise SearcherConfigError(
                f"{_OWNER}: option 'ref_point' must give one value per objective {names}; "
                f"missing {missing}, unknown {extra}"
            )
        raw = [ref_point[n] for n in names]
    elif isinstance(ref_point, Sequence) and not isinstance(ref_point, str | bytes):
        raw = list(ref_point)
        if len(raw) != len(objectives):
            raise SearcherConfigError(
                f"{_OWNER}: option 'ref_point' must have one value per objective {names} "
                f"(in that order), got {len(raw)} values: {ref_point!r}"
            )
    else:
        raise SearcherConfigError(
            f"{_OWNER}: option 'ref_point' must be a list of numbers in objective order or a "
            f"mapping objective name -> number, got {ref_point!r}"
        )
    out: list[float] = []
    for name, v in zip(names, raw, strict=True):
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise SearcherConfigError(
                f"{_OWNER}: option 'ref_point' value for {name!r} must be a number, got {v!r}"
            )
        if not math.isfinite(float(v)):
            raise SearcherConfigError(
                f"{_OWNER}: option 'ref_point' value for {name!r} must be finite, got {v!r}"
            )
        out.append(float(v))
    return out


def _check_device(device: object) -> str:
    """``device`` as a torch device string; ``cuda`` only when available.

    Raises:
        SearcherConfigError: not a string naming a cpu or cuda device, or cuda unavailable.
    """
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise SearcherConfigError(
            f"{_OWNER}: option 'device' must be 'cpu', 'cuda' or 'cuda:N', got {device!r}"
        )
    if device.startswith("cuda"):
        import torch

        try:
            dev = torch.device(device)
        except RuntimeError as e:
            raise SearcherConfigError(f"{_OWNER}: option 'device' {device!r}: {e}") from e
        if not torch.cuda.is_available():
            raise SearcherConfigError(
                f"{_OWNER}: option 'device' is {device!r} but CUDA is not available here; "
                f"use device: cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise SearcherConfigError(
                f"{_OWNER}: option 'device' is {device!r} but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist"
            )
    return device


@register_searcher("bayesian")
class BayesianSearcher(Searcher):
    """GP-based Bayesian optimisation with BoTorch (qLogNEI / qLogNEHVI), see the module doc.

    ``info`` of a proposal: ``{"origin": "sobol", "index": k}`` (initial design),
    ``{"origin": "model", "acquisition": "qLogNEI" | "qLogNEHVI", "n_train": N,
    "acq_value": v}`` (``v`` the log-acquisition value, omitted if not finite; ``"fit":
    "failed"`` added when the GP fit failed and the initial hyperparameters were used;
    ``"candidate": "raw"`` when every optimised point was already tried and the best unseen
    scored candidate was taken), ``{"origin": "random", "reason": ...}`` (every candidate was
    already tried, or the model failed numerically) or ``{"origin": "fixed"}`` (the space has a
    single assignment).

    Args:
        space: the search space; conditional parameters are refused.
        objectives: one objective (qLogNEI) or several (qLogNEHVI).
        seed: the study seed.
        n_initial: size of the Sobol initial design, ``>= 1``; ``None`` (default) means
            ``max(2 * d, 5)`` with ``d`` the number of searched (non-fixed) parameters.
        num_restarts: starts of the acquisition optimiser, ``>= 1`` (default 10).
        raw_samples: Sobol candidates scored to choose the starts, ``>= num_restarts``;
            ``None`` (default): 512 for one objective, 256 for several.
        mc_samples: quasi-MC samples of the acquisition function, ``>= 1``; ``None``
            (default): 128 for one objective, 64 for several (qLogNEHVI's cost per evaluation
            grows with the samples times the cells of each sample's Pareto front; on
            BraninCurrin@60 the lighter setting reached the same hypervolume in 40% of the time).
        ref_point: several objectives only: the hypervolume reference point in the objectives'
            own units, a list in objective order or a mapping name -> value. It should be
            slightly worse than the worst value you care about on every objective. ``None``
            (default): the worst observed value of each objective moved away by 10% of the
            observed range, recomputed every call.
        max_fit_iterations: cap on L-BFGS-B iterations of the GP hyperparameter fit, ``>= 1``
            (default 60).
        max_acq_iterations: cap on L-BFGS-B iterations of each acquisition optimisation run,
            ``>= 1`` (default 100).
        device: ``"cpu"`` (default) or ``"cuda"`` / ``"cuda:N"`` (must be available).

    Raises:
        SearcherConfigError: a conditional space, or an option breaks its rule.
    """

    max_objectives: ClassVar[int | None] = None
    accepts_conditional: ClassVar[bool] = False

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective],
        seed: int,
        *,
        n_initial: int | None = None,
        num_restarts: int = 10,
        raw_samples: int | None = None,
        mc_samples: int | None = None,
        ref_point: Sequence[float] | Mapping[str, float] | None = None,
        max_fit_iterations: int = 60,
        max_acq_iterations: int = 100,
        device: str = "cpu",
    ) -> None:
        super().__init__(space, objectives, seed)
        self.encoding = BoEncoding(space, _OWNER)
        d = self.encoding.n_columns
        if n_initial is None:
            self.n_initial = max(2 * d, 5)
        else:
            self.n_initial = check_int_option(_OWNER, "n_initial", n_initial, 1)
        self.num_restarts = check_int_option(_OWNER, "num_restarts", num_restarts, 1)
        several = len(self.objectives) > 1
        if raw_samples is None:
            raw_samples = _RAW_SAMPLES[several]
        if mc_samples is None:
            mc_samples = _MC_SAMPLES[several]
        self.raw_samples = check_int_option(_OWNER, "raw_samples", raw_samples, 1)
        if self.raw_samples < self.num_restarts:
            raise SearcherConfigError(
                f"{_OWNER}: option 'raw_samples' must be >= num_restarts "
                f"({self.num_restarts}), got {self.raw_samples}"
            )
        self.mc_samples = check_int_option(_OWNER, "mc_samples", mc_samples, 1)
        self.ref_point = _check_ref_point(ref_point, self.objectives)
        self.max_fit_iterations = check_int_option(
            _OWNER, "max_fit_iterations", max_fit_iterations, 1
        )
        self.max_acq_iterations = check_int_option(
            _OWNER, "max_acq_iterations", max_acq_iterations, 1
        )
        self.device = _check_device(device)
        if d > 21201:  # torch's SobolEngine limit
            raise SearcherConfigError(
                f"{_OWNER}: at most 21201 searched parameters are supported, got {d}"
            )
        seq = np.random.SeedSequence([self.seed, _DESIGN_SALT])
        self._design_seed = int(seq.generate_state(1, dtype=np.uint32)[0])
        self._memo = HistoryMemo(self.objectives, self.space.key)

    # ------------------------------------------------------------------ public

    def design_point(self, k: int) -> np.ndarray:
        """Point ``k`` (0-based) of the fixed Sobol design, encoded: a ``(d,)`` valid vector."""
        import torch

        engine = torch.quasirandom.SobolEngine(
            self.encoding.n_columns, scramble=True, seed=self._design_seed
        )
        if k:
            engine.fast_forward(k)
        units = engine.draw(1, dtype=torch.float64).numpy()
        return self.encoding.from_unit_design(units)[0]

    def training_data(self, trials: Sequence[FrozenTrial]) -> tuple[np.ndarray, np.ndarray]:
        """The model's training data from a history.

        Returns:
            ``(x, y)``: encoded params ``(N, d)`` and values to *maximise* ``(N, m)``
            (``-sign * value``) of the COMPLETE trials with a finite value for every objective,
            in history order. FAILED, PRUNED and pending trials are not included. In a
            constrained study ``y`` has ``k`` more columns, the trials' signed constraint
            values (``<= 0`` satisfied; see :func:`constraint_columns`).
        """
        rows: list[np.ndarray] = []
        ys: list[list[float]] = []
        kept: list[FrozenTrial] = []
        for t in trials:
            r = rank_vector(t, self.objectives)
            if r is not None:
                rows.append(self.encoding.encode(t.params))
                ys.append([-v for v in r])
                kept.append(t)
        m = len(self.objectives)
        x = np.array(rows, dtype=float).reshape(len(rows), self.encoding.dim)
        y = np.array(ys, dtype=float).reshape(len(ys), m)
        return x, np.hstack((y, constraint_columns(kept)))

    def propose(self, trials: Sequence[FrozenTrial], n: int = 1) -> list[Proposal]:
        """``max(n, 0)`` proposals; see the module docstring and :class:`Searcher`."""
        count = max(int(n), 0)
        if count == 0:
            return []
        enc = self.encoding
        with self._memo.lock:
            self._memo.sync(trials)
            seen = SeenKeys(self._memo.key_counts)
            if enc.dim == 0:
                params = self.space.validate(enc.decode(np.empty(0)))
                return [Proposal(params=dict(params), info={"origin": "fixed"})] * count
            x_train, y_train = self.training_data(trials)
            pending = [
                enc.encode(t.params)
                for t in trials
                if t.state in (TrialState.WAITING, TrialState.RUNNING)
            ]
            fallback_rng = self.rng(trials, _STREAM_FALLBACK)
            # Design points first (trial numbers < n_initial, or no model possible yet), then
            # the model's proposals.
            if len(x_train) >= _MIN_TRAIN:
                n_design = min(count, max(0, self.n_initial - len(trials)))
            else:
                n_design = count
            out: list[Proposal] = []
            for i in range(n_design):
                k = len(trials) + i
                params = self.space.validate(enc.decode(self.design_point(k)))
                info: dict[str, Any] = {"origin": "sobol", "index": k}
                if self.space.key(params) in seen:
                    params, info = self._random(fallback_rng, seen, "duplicate design point")
                seen.add(self.space.key(params))
                pending.append(enc.encode(params))
                out.append(Proposal(params=params, info=info))
            if n_design < count:
                chosen = self._model_proposals(
                    trials, x_train, y_train, pending, count - n_design, seen, fallback_rng
                )
                out.extend(Proposal(params=p, info=info) for p, info in chosen)
        return out

    # ------------------------------------------------------------------ internals

    def _random(
        self, rng: np.random.Generator, seen: SeenKeys, reason: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        params = sample_unique(self.space, rng, seen, _MAX_RANDOM_RETRIES)
        return self.space.validate(params), {"origin": "random", "reason": reason}

    def _torch_context(self) -> tuple[torch.device, torch.dtype, list[int]]:
        import torch

        dev = torch.device(self.device)
        cuda_devices = (
            [torch.cuda.current_device() if dev.index is None else dev.index]
            if (dev.type == "cuda")
            else []
        )
        return dev, torch.float64, cuda_devices

    def _model_proposals(
        self,
        trials: Sequence[FrozenTrial],
        x_train: np.ndarray,
        y_train: np.ndarray,
        pending: list[np.ndarray],
        count: int,
        seen: SeenKeys,
        fallback_rng: np.random.Generator,
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """``count`` proposals by sequential greedy optimisation of the acquisition function.

        If the model fails numerically (a covariance matrix that is not positive definite even
        with jitter, NaNs), the proposals not made yet are random unseen assignments whose
        ``info`` gives the reason, instead of stopping the study.
        """
        from linear_operator.utils.errors import NanError, NotPSDError

        out: list[tuple[dict[str, Any], dict[str, Any]]] = []
        try:
            self._greedy(trials, x_train, y_train, pending, count, seen, fallback_rng, out)
        except (NotPSDError, NanError) as e:
            reason = f"model failed numerically ({type(e).__name__}: {str(e)[:200]})"
            while len(out) < count:
                params, info = self._random(fallback_rng, seen, reason)
                seen.add(self.space.key(params))
                out.append((params, info))
        return out

    def _greedy(
        self,
        trials: Sequence[FrozenTrial],
        x_train: np.ndarray,
        y_train: np.ndarray,
        pending: list[np.ndarray],
        count: int,
        seen: SeenKeys,
        fallback_rng: np.random.Generator,
        out: list[tuple[dict[str, Any], dict[str, Any]]],
    ) -> None:
        """Append ``count`` proposals to ``out`` (see :meth:`_model_proposals`)."""
        import torch

        from nas.searchers._bo_optimize import optimize_acquisition

        enc = self.encoding
        rng = self.rng(trials, _STREAM_MODEL)
        torch_seed = int(rng.integers(2**63 - 1))
        sampler_seed = int(rng.integers(2**31 - 1))
        device, dtype, cuda_devices = self._torch_context()
        # fit_gpytorch_mll (retries after a failed fit) and the baseline pruning of the noisy
        # acquisition functions draw from torch's global generator: run them on a private copy
        # seeded from our generator, and give the caller's state back afterwards.
        # BoTorch forces its own warnings to "always" (L-BFGS-B stops reported as
        # OptimizationWarning, input scaling checks); none is actionable by a study's user, so
        # every warning raised inside the model phase is recorded and dropped.
        with (
            torch.random.fork_rng(devices=cuda_devices),
            warnings.catch_warnings(record=True),
            _single_thread(),
            _pure_python_log_ehvi(),
        ):
            warnings.simplefilter("ignore")
            torch.manual_seed(torch_seed)
            tx = torch.as_tensor(x_train, device=device, dtype=dtype)
            ty = torch.as_tensor(y_train, device=device, dtype=dtype)
            model, fit_ok = self._fit(tx, ty)
            tp = torch.as_tensor(np.array(pending), device=device, dtype=dtype).reshape(
                len(pending), enc.dim
            )
            acq, acq_name = self._acquisition(model, tx, ty, tp, sampler_seed)
            anchors = self._anchors(x_train, y_train, rng)
            if y_train.shape[1] > len(self.objectives):
                acq_name += "+PoF"  # weighted by the probability of feasibility
            for _ in range(count):
                cands, values, n_optimised = optimize_acquisition(
                    acq,
                    enc,
                    rng,
                    raw_samples=self.raw_samples,
                    num_restarts=self.num_restarts,
                    anchors=anchors,
                    maxiter=self.max_acq_iterations,
                    device=device,
                    dtype=dtype,
                )
                chosen: tuple[dict[str, Any], dict[str, Any]] | None = None
                chosen_x: np.ndarray | None = None
                for j, (x, v) in enumerate(zip(cands, values, strict=True)):
                    params = self.space.validate(enc.decode(x))
                    if self.space.key(params) not in seen:
                        info: dict[str, Any] = {
                            "origin": "model",
                            "acquisition": acq_name,
                            "n_train": len(x_train),
                        }
                        if math.isfinite(float(v)):
                            info["acq_value"] = float(v)
                        if not fit_ok:
                            info["fit"] = "failed"
                        if j >= n_optimised:
                            info["candidate"] = "raw"  # the optimised ones were all taken
                        chosen, chosen_x = (params, info), x
                        break
                if chosen is None:
                    params, info = self._random(
                        fallback_rng, seen, "every scored candidate was already tried"
                    )
                    chosen, chosen_x = (params, info), enc.encode(params)
                seen.add(self.space.key(chosen[0]))
                out.append(chosen)
                if len(out) < count:
                    pending.append(np.asarray(chosen_x, dtype=float))
                    tp = torch.as_tensor(np.array(pending), device=device, dtype=dtype)
                    acq.set_X_pending(tp)

    def _fit(self, tx: torch.Tensor, ty: torch.Tensor) -> tuple[Model, bool]:
        """Build and fit the GP; returns ``(model, fit_ok)``.

        A fit that fails in every attempt (BoTorch rolls each one back) leaves the
        hyperparameters at their initial values, which still gives a usable model; ``fit_ok``
        is then False.
        """
        import torch
        from botorch.exceptions.errors import ModelFittingError
        from botorch.fit import fit_gpytorch_mll
        from botorch.models.transforms.input import Normalize
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.constraints import GreaterThan
        from gpytorch.likelihoods import GaussianLikelihood
        from gpytorch.mlls import ExactMarginalLogLikelihood
        from gpytorch.priors import GammaPrior

        from nas.searchers._bo_model import FastSingleTaskGP, fit_direct

        enc = self.encoding
        m = ty.shape[-1]
        bounds = torch.as_tensor(enc.bounds, device=tx.device, dtype=tx.dtype)
        likelihood = GaussianLikelihood(
            noise_prior=GammaPrior(_NOISE_PRIOR[0], _NOISE_PRIOR[1]),
            batch_shape=torch.Size([m]) if m > 1 else torch.Size(),
            noise_constraint=GreaterThan(_MIN_NOISE, transform=None, initial_value=_NOISE_INIT),
        ).to(device=tx.device, dtype=tx.dtype)
        model = FastSingleTaskGP(
            tx,
            ty,
            likelihood=likelihood,
            input_transform=Normalize(d=enc.dim, bounds=bounds),
            outcome_transform=Standardize(m=m),
        )
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        fit_ok = True
        if not fit_direct(mll, self.max_fit_iterations):
            # Not the covered model, or a numerical failure: BoTorch's fit, which adds jitter
            # and retries from hyperparameters drawn from their priors.
            try:
                fit_gpytorch_mll(
                    mll, optimizer_kwargs={"options": {"maxiter": self.max_fit_iterations}}
                )
            except ModelFittingError:
                fit_ok = False
        model.cache_posterior()  # eval mode; the direct posterior, see _bo_model
        return model, fit_ok

    def _acquisition(
        self,
        model: Model,
        tx: torch.Tensor,
        ty: torch.Tensor,
        pending: torch.Tensor,
        sampler_seed: int,
    ) -> tuple[AcquisitionFunction, str]:
        import torch
        from botorch.sampling.normal import SobolQMCNormalSampler

        sampler = SobolQMCNormalSampler(
            sample_shape=torch.Size([self.mc_samples]), seed=sampler_seed
        )
        x_pending = pending if len(pending) else None
        m = len(self.objectives)
        # Constrained (BoTorch's constrained acquisition): outputs m.. of the model are the
        # constraint values; each sample's improvement is weighted by a sigmoid of -c (the
        # probability of feasibility, smoothed), and the objective reads outputs :m only.
        # A margin of 1% of each constraint's observed spread keeps the proposals from
        # settling a hair outside the boundary (sigmoid(0) = 0.5 there).
        margins = [
            0.01 * float(ty[:, j].std()) if len(ty) > 1 else 0.0 for j in range(m, ty.shape[-1])
        ]
        constraints = [
            _output(j, margin) for j, margin in zip(range(m, ty.shape[-1]), margins, strict=True)
        ] or None
        if m == 1:
            from botorch.acquisition.logei import qLogNoisyExpectedImprovement
            from botorch.acquisition.objective import GenericMCObjective

            single: AcquisitionFunction = qLogNoisyExpectedImprovement(
                model=model,
                X_baseline=tx,
                sampler=sampler,
                X_pending=x_pending,
                prune_baseline=True,
                objective=None if constraints is None else GenericMCObjective(_output(0)),
                constraints=constraints,
            )
            return single, "qLogNEI"
        from botorch.acquisition.multi_objective.logei import (
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
        from botorch.acquisition.multi_objective.utils import get_default_partitioning_alpha

        ref = self._reference_point(ty[:, :m])
        acq = qLogNoisyExpectedHypervolumeImprovement(
            model=model,
            ref_point=ref,
            X_baseline=tx,
            sampler=sampler,
            X_pending=x_pending,
            prune_baseline=True,
            alpha=get_default_partitioning_alpha(m),
            objective=(
                None
                if constraints is None
                else IdentityMCMultiOutputObjective(outcomes=list(range(m)))
            ),
            constraints=constraints,
        )
        return acq, "qLogNEHVI"

    def _reference_point(self, ty: torch.Tensor) -> torch.Tensor:
        """The reference point in maximisation space (``-sign * ref``).

        Without a ``ref_point`` option: the worst value observed on each objective (over every
        training trial, not only the Pareto front) moved away by 10% of the observed range
        (1 where the range is 0). BoTorch's ``infer_reference_point`` takes the nadir of the
        *front* instead, which leaves the ends of the front worth almost nothing: on ZDT1@60
        (hypervolume at (1.1, 11), 2 seeds) it reached 11.02 against 11.75 with the far point,
        the same as with the benchmark's reference given explicitly.
        """
        import torch

        if self.ref_point is not None:
            signs = [-o.sign for o in self.objectives]
            return torch.tensor(
                [s * r for s, r in zip(signs, self.ref_point, strict=True)],
                device=ty.device,
                dtype=ty.dtype,
            )
        worst = ty.min(dim=0).values
        span = ty.max(dim=0).values - worst
        return worst - _REF_MARGIN * torch.where(span > 0, span, torch.ones_like(span))

    def _anchors(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Up to ``_N_ANCHORS`` best observed points (one objective: by value; several: drawn
        among the non-dominated ones) to perturb into extra raw candidates."""
        if len(x) == 0:
            return x
        m = len(self.objectives)
        if y.shape[1] > m:  # constrained: anchor on the feasible points when there are any
            feasible = np.all(y[:, m:] <= 0, axis=1)
            if feasible.any():
                x, y = x[feasible], y[feasible]
            y = y[:, :m]
        if y.shape[1] == 1:
            order = np.argsort(-y[:, 0], kind="stable")
            return x[order[:_N_ANCHORS]]
        from nas.pareto import pareto_mask

        front = np.flatnonzero(pareto_mask(-y))
        if len(front) > _N_ANCHORS:
            front = np.sort(rng.choice(front, size=_N_ANCHORS, replace=False))
        return x[front]


@contextmanager
def _pure_python_log_ehvi() -> Iterator[None]:
    """Keep BoTorch's qLogNEHVI on its pure-PyTorch path (restored afterwards).

    BoTorch 0.18 JIT-compiles an optional C++ kernel (``-march=native``) the first time a
    qLog(N)EHVI is built in a process: 20 s or more on a fresh machine, files written under
    ``~/.cache/torch_extensions``, and -- since the kernel's floating-point results differ in
    the last bits from the PyTorch path, and a process without a compiler falls back to the
    latter -- proposals that would depend on whether compilation succeeded. The kernel only
    speeds up a small part of the acquisition evaluation. Without the private module attribute
    (another BoTorch version), nothing is done.
    """
    try:
        from botorch.acquisition.multi_objective import logei
    except ImportError:  # pragma: no cover - botorch is a dependency
        yield
        return
    if not hasattr(logei, "_load_attempted") or not hasattr(logei, "_C"):
        yield
        return
    saved = (logei._load_attempted, logei._C)
    logei._load_attempted, logei._C = True, None
    try:
        yield
    finally:
        logei._load_attempted, logei._C = saved


@contextmanager
def _single_thread() -> Iterator[None]:
    """Run torch and numpy's BLAS on one thread (both restored afterwards).

    The GP and acquisition tensors are tiny (hundreds of rows): a second thread brings nothing,
    while an oversubscribed machine (workers sharing cores) makes OpenMP threads spin and slows
    every operation by an order of magnitude. One thread also makes the floating-point
    reductions, hence the proposals, independent of the host's core count.
    """
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _output(j: int, margin: float = 0.0) -> Callable[..., torch.Tensor]:
    """``Z -> Z[..., j] + margin``: output ``j`` of a model's samples (a BoTorch objective, or
    a constraint, feasible where ``<= 0``)."""

    def pick(samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:  # noqa: N803 (BoTorch passes X=)
        return samples[..., j] + margin

    return pick
