"""Ranking quality of supernets: do inherited weights rank architectures like stand-alone training?

A supernet is worth training only if the scores of architectures *with its weights* rank them
better than something free. This module provides both sides, the free baselines and the
comparison:

* :func:`ranking_data` -- the benchmark's data: digits split in half, stratified, into a
  training half and a held-out half (on which both the stand-alone networks and the supernets'
  architectures are scored);
* :func:`enumerate_archs` -- every distinct network of a small space (one per
  :meth:`ArchSpace.canonical` key);
* :func:`train_standalone` -- one architecture trained from scratch with a
  :class:`StandaloneRecipe` (its own network, extracted from a freshly initialised supernet so
  that its initial weights are a function of the seed), scored on the held-out half;
* :class:`GroundTruth` -- every architecture's held-out accuracy and NLL per stand-alone seed,
  with the benchmark's **ceiling** (:meth:`GroundTruth.ceiling`, the split-half agreement of
  its own seeds) and **floor** (:meth:`GroundTruth.proxies`, the free cost proxies);
* :func:`run_ranking` -- supernets trained with a path sampler, one per seed, scored through
  the evaluation interface; Kendall tau over all architectures and **within FLOPs bins** (where
  a cost proxy knows little), top-5 overlap, the gradient's relative variance;
* :func:`paired` -- paired statistics of two per-seed series (mean difference, standard error,
  Wilcoxon signed-rank p-value).

Everything runs in worker processes when asked (``workers``): each stand-alone run and each
supernet seed is a function of its seed alone, so results do not depend on the scheduling.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas.exceptions import NasError
from nas.space import Arch, ArchSpace, LayerChoice

__all__ = [
    "GroundTruth",
    "GroundTruthError",
    "Paired",
    "RankingResult",
    "StandaloneRecipe",
    "agreement_by_dimension",
    "build_ground_truth",
    "enumerate_archs",
    "kendall_tau",
    "kendall_tau_within_bins",
    "paired",
    "ranking_data",
    "run_ranking",
    "step_seconds",
    "top1_regret",
    "top_k_overlap",
    "within_groups",
    "train_standalone",
]

#: Refuse to enumerate spaces larger than this (stand-alone training of each is the point).
MAX_ENUMERATED = 5000
#: The benchmark's data: digits, half for training, half held out (stratified, seed 0).
DATA_SPEC: dict[str, Any] = {"dataset": "digits", "split": [0.5, 0.5, 0.0], "split_seed": 0}


class GroundTruthError(NasError, ValueError):
    """The ground-truth file of the ranking benchmark is missing or malformed."""


def ranking_data(spec: Mapping[str, Any] | None = None) -> Any:
    """The :class:`~nas.supernet.ImageDataset` of a data spec (default :data:`DATA_SPEC`): its
    train part trains, its validation part is the held-out half that scores.

    Raises:
        GroundTruthError: a spec naming anything but digits.
    """
    from nas.supernet._data import load_digits_images

    spec = dict(spec or DATA_SPEC)
    if spec.get("dataset") != "digits":
        raise GroundTruthError(f"the ranking benchmark runs on digits, got {spec!r}")
    split = tuple(float(f) for f in spec.get("split", (0.5, 0.5, 0.0)))
    return load_digits_images(int(spec.get("split_seed", 0)), split)  # type: ignore[arg-type]


def enumerate_archs(space: ArchSpace) -> list[Arch]:
    """Every distinct architecture of ``space`` (one per canonical key), in a fixed order.

    Raises:
        ValueError: the space has more than :data:`MAX_ENUMERATED` distinct architectures.
    """
    per_stage: list[list[tuple[int, tuple[LayerChoice, ...]]]] = []
    total = 1
    for i, st in enumerate(space.stages):
        slots = [space.slot_choices(i, j) for j in range(st.max_depth)]
        options = [(d, combo) for d in st.depths for combo in itertools.product(*slots)]
        total *= len(options)
        if total > MAX_ENUMERATED * 50:
            raise ValueError(f"the space has more than {MAX_ENUMERATED * 50} assignments")
        per_stage.append(options)
    seen: dict[Arch, Arch] = {}
    for combo in itertools.product(*per_stage):
        arch = Arch(tuple(d for d, _ in combo), tuple(slots for _, slots in combo))
        key = space.canonical(arch)
        if key not in seen:
            seen[key] = arch
            if len(seen) > MAX_ENUMERATED:
                raise ValueError(
                    f"the space has more than {MAX_ENUMERATED} distinct architectures"
                )
    return list(seen.values())


# ---------------------------------------------------------------------------- stand-alone


@dataclass(frozen=True)
class StandaloneRecipe:
    """How every architecture of a ground truth is trained from scratch (SGD with momentum,
    cosine schedule per epoch, gradient-norm clipping, the data order and augmentation drawn
    from the seed).

    Attributes:
        epochs: passes over the training half.
        batch_size: examples per step.
        lr: initial learning rate.
        momentum: SGD momentum.
        weight_decay: L2 penalty.
        grad_clip: maximum gradient norm.
        augment: ``none`` or ``shift`` (:func:`~nas.supernet.augment_batch`).
    """

    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 2.5e-4
    grad_clip: float = 5.0
    augment: str = "shift"


def train_standalone(
    space: ArchSpace,
    arch: Arch,
    data: Any,
    recipe: StandaloneRecipe,
    seed: int,
    device: str = "cpu",
) -> Any:
    """Train ``arch`` from scratch with ``recipe`` and ``seed`` on ``data``'s train part; its
    :class:`~nas.supernet.Scores` on the validation (held-out) part."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - the usual alias

    from nas.supernet._data import augment_batch
    from nas.supernet._evaluate import score
    from nas.supernet._train import build_supernet

    dev = torch.device(device)
    net = build_supernet(space, seed).extract(arch).to(dev)
    opt = torch.optim.SGD(
        net.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
    )
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x57A0]))
    x, y = data.x_train.to(dev), data.y_train.to(dev)
    for epoch in range(recipe.epochs):
        for group in opt.param_groups:
            group["lr"] = 0.5 * recipe.lr * (1.0 + math.cos(math.pi * epoch / recipe.epochs))
        net.train()
        order = torch.as_tensor(rng.permutation(len(y)), device=dev)
        for start in range(0, len(order), recipe.batch_size):
            idx = order[start : start + recipe.batch_size]
            loss = F.cross_entropy(net(augment_batch(x[idx], recipe.augment, rng)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), recipe.grad_clip)
            opt.step()
    net.eval()
    return score(net, data.x_val, data.y_val)


# ---------------------------------------------------------------------------- agreement


def kendall_tau(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b of two score vectors (ties as in ``scipy.stats.kendalltau``; 0 when
    undefined, e.g. a constant vector).

    Raises:
        ValueError: different lengths or fewer than 2 entries.
    """
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two score vectors of equal length >= 2, got {len(a)}, {len(b)}")
    from scipy.stats import kendalltau

    tau = kendalltau(np.asarray(a, float), np.asarray(b, float)).statistic
    return float(tau) if np.isfinite(tau) else 0.0


def kendall_tau_within_bins(
    estimate: Sequence[float] | np.ndarray,
    truth: Sequence[float] | np.ndarray,
    bins: Sequence[Sequence[int]],
) -> float:
    """The mean over ``bins`` (lists of indices, e.g. :meth:`GroundTruth.bins`) of Kendall's
    tau inside each bin: how well ``estimate`` ranks architectures of similar cost. Bins of
    fewer than 3 architectures are left out."""
    est, tru = np.asarray(estimate, float), np.asarray(truth, float)
    taus = [kendall_tau(est[list(b)], tru[list(b)]) for b in bins if len(b) >= 3]
    return float(np.mean(taus)) if taus else 0.0


def top_k_overlap(estimate: Sequence[float], truth: Sequence[float], k: int = 5) -> float:
    """Fraction of the true top-``k`` architectures found in the estimated top-``k`` (ties
    broken by index).

    Raises:
        ValueError: different lengths, or ``k`` not in ``1..len``.
    """
    if len(estimate) != len(truth) or not 1 <= k <= len(truth):
        raise ValueError(f"need equal lengths and 1 <= k <= {len(truth)}, got k={k}")
    top_est = set(np.argsort(-np.asarray(estimate, float), kind="stable")[:k].tolist())
    top_true = set(np.argsort(-np.asarray(truth, float), kind="stable")[:k].tolist())
    return len(top_est & top_true) / k


def top1_regret(
    estimate: Sequence[float] | np.ndarray, truth: Sequence[float] | np.ndarray
) -> float:
    """How much worse the architecture ranked first by ``estimate`` is than the best one, by
    ``truth``: ``max(truth) - truth[argmax(estimate)]`` (>= 0; ties at the top of ``estimate``
    count as the mean of their truths, the expected regret of a random pick among them)."""
    e = np.asarray(estimate, dtype=float)
    t = np.asarray(truth, dtype=float)
    top = np.flatnonzero(e == e.max())
    return float(t.max() - t[top].mean())


def within_groups(
    estimate: Sequence[float] | np.ndarray,
    truth: Sequence[float] | np.ndarray,
    groups: Sequence[str],
) -> float:
    """Mean Kendall tau inside each group of architectures (e.g. the leaves of a split family;
    groups of fewer than 2 left out): how well ``estimate`` orders architectures that share a
    group, whatever it says across groups. ``nan`` when no group has 2 members."""
    e = np.asarray(estimate, dtype=float)
    t = np.asarray(truth, dtype=float)
    g = np.asarray(groups)
    taus = [kendall_tau(e[g == k], t[g == k]) for k in dict.fromkeys(groups) if (g == k).sum() > 1]
    return float(np.mean(taus)) if taus else float("nan")


def agreement_by_dimension(
    space: ArchSpace,
    archs: Sequence[Arch],
    estimate: Sequence[float] | np.ndarray,
    truth: Sequence[float] | np.ndarray,
) -> dict[str, tuple[float, int]]:
    """Where a ranking goes wrong: over every pair of architectures that differ in exactly one
    layer slot, and there in the op, or in the kernel alone, or in the width alone, the fraction
    whose order ``estimate`` gets right (ties count half), per dimension, with the number of
    pairs. Pairs the truth ties are left out."""
    est, tru = np.asarray(estimate, float), np.asarray(truth, float)
    canon = [space.canonical(a) for a in archs]
    found: dict[str, list[float]] = {"op": [], "kernel": [], "width": []}
    for i, j in itertools.combinations(range(len(archs)), 2):
        a, b = canon[i], canon[j]
        diff = [
            (x, y)
            for sa, sb in zip(a.layers, b.layers, strict=True)
            for x, y in zip(sa, sb, strict=True)
            if x != y
        ]
        if len(diff) != 1 or tru[i] == tru[j]:
            continue
        x, y = diff[0]
        if x.op != y.op:
            dim = "op"  # (its kernel and width may differ too: an op may lack them)
        elif (x.kernel != y.kernel) != (x.width != y.width):
            dim = "kernel" if x.kernel != y.kernel else "width"
        else:
            continue  # kernel and width both differ
        right = np.sign(est[i] - est[j]) * np.sign(tru[i] - tru[j])
        found[dim].append(1.0 if right > 0 else 0.5 if right == 0 else 0.0)
    return {d: (float(np.mean(v)), len(v)) for d, v in found.items() if v}


@dataclass(frozen=True)
class Paired:
    """Paired comparison of two per-seed series ``a`` and ``b`` (``a - b``).

    Attributes:
        mean: mean difference.
        se: its standard error (``sd / sqrt(n)``).
        p_value: two-sided Wilcoxon signed-rank p-value (1 when every difference is 0).
        wins: seeds where ``a > b``.
        n: number of seeds.
    """

    mean: float
    se: float
    p_value: float
    wins: int
    n: int


def paired(a: Sequence[float], b: Sequence[float] | float) -> Paired:
    """:class:`Paired` statistics of ``a - b`` (``b`` a series of the same seeds, or a constant
    such as a proxy's tau).

    Raises:
        ValueError: series of different lengths, or fewer than 2 seeds.
    """
    from scipy.stats import wilcoxon

    x = np.asarray(a, float)
    y = np.full_like(x, float(b)) if isinstance(b, int | float) else np.asarray(b, float)
    if x.shape != y.shape or len(x) < 2:
        raise ValueError(f"need two series of equal length >= 2, got {x.shape}, {y.shape}")
    d = x - y
    p = float(wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    return Paired(
        float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))), p, int((d > 0).sum()), len(d)
    )


# ---------------------------------------------------------------------------- ground truth


@dataclass
class GroundTruth:
    """Every architecture of a space trained stand-alone with several seeds.

    Attributes:
        space: the architecture space.
        archs: its architectures (:func:`enumerate_archs` order).
        accuracy: held-out accuracy, ``(len(archs), seeds)``.
        nll: held-out mean NLL (nats), same shape.
        recipe: how they were trained.
        data: the data spec (:func:`ranking_data`).
        meta: how the file was made (command, machine, seconds).
    """

    space: ArchSpace
    archs: list[Arch]
    accuracy: np.ndarray
    nll: np.ndarray
    recipe: StandaloneRecipe
    data: dict[str, Any] = field(default_factory=lambda: dict(DATA_SPEC))
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def truth(self) -> np.ndarray:
        """Mean held-out accuracy over the seeds: what rankings are compared against."""
        return self.accuracy.mean(axis=1)

    @property
    def seeds(self) -> int:
        return int(self.accuracy.shape[1])

    def ceiling(self) -> float:
        """The split-half tau: the mean accuracy of the first half of the seeds against the
        second half's (seeds 0-4 against 5-9 for 10). No estimate can be expected to agree with
        the truth much better than the truth agrees with itself.

        Raises:
            GroundTruthError: fewer than 2 seeds.
        """
        return kendall_tau(*self._halves())

    def _halves(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean accuracy over the first half of the seeds and over the second half."""
        k = self.seeds
        if k < 2:
            raise GroundTruthError("the ceiling needs at least 2 stand-alone seeds")
        half = k // 2
        return self.accuracy[:, :half].mean(1), self.accuracy[:, half:].mean(1)

    def one_run(self, n_bins: int = 8) -> tuple[float, float]:
        """A reference of cost: how well *one* stand-alone training of every architecture ranks
        them -- each seed's accuracies against the mean of the other seeds -- as ``(tau,
        within-bin tau)``, means over the seeds.

        Raises:
            GroundTruthError: fewer than 2 seeds.
        """
        k = self.seeds
        if k < 2:
            raise GroundTruthError("one run's agreement needs at least 2 stand-alone seeds")
        bins = self.bins(n_bins)
        taus, within = [], []
        for i in range(k):
            rest = np.delete(self.accuracy, i, axis=1).mean(axis=1)
            taus.append(kendall_tau(self.accuracy[:, i], rest))
            within.append(kendall_tau_within_bins(self.accuracy[:, i], rest, bins))
        return float(np.mean(taus)), float(np.mean(within))

    def costs(self) -> dict[str, np.ndarray]:
        """Per architecture: ``params`` and ``mflops`` (:func:`nas.space.arch_cost`)."""
        cost = [self.space.cost(a) for a in self.archs]
        return {
            "params": np.array([c.params for c in cost], float),
            "mflops": np.array([c.mflops for c in cost], float),
        }

    def proxies(self) -> dict[str, float]:
        """The floor: Kendall tau of each free cost proxy (more is better) against the truth."""
        return {name: kendall_tau(v, self.truth) for name, v in self.costs().items()}

    def proxies_regret(self) -> dict[str, float]:
        """Top-1 regret (:func:`top1_regret`) of each cost proxy, and of a random pick
        (``random``: the best accuracy minus the mean)."""
        out = {name: top1_regret(v, self.truth) for name, v in self.costs().items()}
        out["random"] = float(self.truth.max() - self.truth.mean())
        return out

    def ceiling_regret(self) -> float:
        """The regret the ground truth's own noise allows: the architecture best by the first
        half of the seeds, judged by the second half (:meth:`ceiling`'s halves).

        Raises:
            GroundTruthError: fewer than 2 seeds.
        """
        return top1_regret(*self._halves())

    def bins(self, n_bins: int = 8) -> list[list[int]]:
        """The architectures in ``n_bins`` groups of about equal size by MFLOPs (cheapest
        first); for :func:`kendall_tau_within_bins`."""
        order = np.argsort(self.costs()["mflops"], kind="stable")
        return [chunk.tolist() for chunk in np.array_split(order, n_bins) if len(chunk)]

    def proxies_within_bins(self, n_bins: int = 8) -> dict[str, float]:
        """Within-bin tau of each proxy (``mflops`` is nearly constant inside a bin)."""
        bins = self.bins(n_bins)
        return {
            name: kendall_tau_within_bins(v, self.truth, bins) for name, v in self.costs().items()
        }

    # ------------------------------------------------------------------ files

    def to_json(self) -> dict[str, Any]:
        """The JSON form :meth:`load` reads."""
        return {
            **self.meta,
            "data": self.data,
            "training": asdict(self.recipe),
            "seeds": list(range(self.seeds)),
            "space": self.space.to_dict(),
            "archs": [
                {
                    "params": self.space.params(a),
                    "accuracy": self.accuracy[i].tolist(),
                    "nll": self.nll[i].tolist(),
                    "mean": float(self.accuracy[i].mean()),
                }
                for i, a in enumerate(self.archs)
            ],
        }

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_json` to ``path``."""
        Path(path).write_text(json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        """Read a file written by :meth:`save` (``benchmarks/ranking_ground_truth.py``).

        Raises:
            GroundTruthError: the file is missing, not JSON, or lacks the expected fields.
        """
        p = Path(path)
        try:
            payload = json.loads(p.read_text())
            space = ArchSpace.from_dict(payload["space"], source=str(p))
            rows = payload["archs"]
            archs = [space.arch(row["params"]) for row in rows]
            accuracy = np.array([row["accuracy"] for row in rows], float)
            nll = np.array([row.get("nll", [math.nan] * len(row["accuracy"])) for row in rows])
            recipe = StandaloneRecipe(
                **{
                    k: v
                    for k, v in payload.get("training", {}).items()
                    if k in StandaloneRecipe.__dataclass_fields__
                }
            )
        except OSError as e:
            raise GroundTruthError(
                f"{p}: cannot read the ranking ground truth ({e.strerror}); generate it with "
                f"`python benchmarks/ranking_ground_truth.py` or pass --ground-truth"
            ) from e
        except (ValueError, KeyError, TypeError) as e:
            raise GroundTruthError(f"{p}: not a ranking ground-truth file ({e!r})") from e
        if len(archs) < 2 or accuracy.ndim != 2:
            raise GroundTruthError(f"{p}: needs at least 2 architectures with per-seed scores")
        meta = {k: payload[k] for k in ("command", "machine", "seconds") if k in payload}
        return cls(space, archs, accuracy, nll, recipe, dict(payload.get("data", DATA_SPEC)), meta)


def _standalone_job(job: tuple[dict[str, Any], dict[str, Any], dict[str, Any], int, int]) -> Any:
    space_d, data_spec, recipe_d, index, seed = job
    import torch

    torch.set_num_threads(1)
    space = ArchSpace.from_dict(space_d)
    arch = enumerate_archs(space)[index]
    s = train_standalone(space, arch, ranking_data(data_spec), StandaloneRecipe(**recipe_d), seed)
    return index, seed, s.accuracy, s.nll


def build_ground_truth(
    space: ArchSpace,
    recipe: StandaloneRecipe,
    seeds: int,
    *,
    data: Mapping[str, Any] | None = None,
    workers: int = 1,
    on_run: Callable[[], None] | None = None,
) -> GroundTruth:
    """Train every architecture of ``space`` with seeds ``0 .. seeds-1`` (in ``workers``
    processes); ``on_run`` is called after each stand-alone run."""
    archs = enumerate_archs(space)
    spec = dict(data or DATA_SPEC)
    jobs = [
        (space.to_dict(), spec, asdict(recipe), i, s)
        for i in range(len(archs))
        for s in range(seeds)
    ]
    accuracy = np.zeros((len(archs), seeds))
    nll = np.zeros((len(archs), seeds))
    started = time.perf_counter()
    for index, seed, acc, loss in _map(_standalone_job, jobs, workers):
        accuracy[index, seed], nll[index, seed] = acc, loss
        if on_run is not None:
            on_run()
    meta = {"seconds": round(time.perf_counter() - started, 1)}
    return GroundTruth(space, archs, accuracy, nll, recipe, spec, meta)


def _map(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int) -> Any:
    """``fn`` over ``jobs``, in ``workers`` spawned processes (results as they finish)."""
    if workers <= 1:
        yield from (fn(j) for j in jobs)
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap_unordered(fn, jobs)


# ---------------------------------------------------------------------------- supernets


@dataclass
class RankingResult:
    """Per-seed results of one path sampler (and options) on the ranking benchmark.

    Attributes:
        sampler: the label (the sampler's name unless given).
        kendall_tau: tau between the supernet's held-out accuracies and the truth, per seed.
        kendall_tau_within_bins: the same inside FLOPs bins (:meth:`GroundTruth.bins`).
        kendall_tau_nll: tau of the supernet's negative held-out NLL against the truth.
        top5_overlap: overlap of the two top-5 sets, per seed.
        train_seconds: supernet training wall time, per seed.
        grad_variance: relative variance of one step's gradient at the end of training
            (:meth:`SupernetTrainer.gradient_variance`), per seed; empty unless asked for.
        data_ess: effective sample size of the sampler's data distribution at the end
            (PA&DA), per seed; empty for samplers without one.
        agreement: :func:`agreement_by_dimension` of the supernet's accuracies, per seed
            (dimension -> fraction of single-change pairs ordered right).
        scores: the supernet's held-out accuracy of every architecture, per seed.
        top1_regret: :func:`top1_regret` of the supernet's accuracies, per seed.
        leaves: sub-supernets the family ended with (1 without ``splits``), per seed.
        leaf_ids: the leaf that scored each architecture, per seed (for :func:`within_groups`).
        train_steps: optimizer steps taken, per seed.
        charged_steps: steps charged for passes outside them (gradient scoring), per seed.
    """

    sampler: str
    kendall_tau: list[float] = field(default_factory=list)
    kendall_tau_within_bins: list[float] = field(default_factory=list)
    kendall_tau_nll: list[float] = field(default_factory=list)
    top5_overlap: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    grad_variance: list[float] = field(default_factory=list)
    data_ess: list[float] = field(default_factory=list)
    agreement: list[dict[str, float]] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=list)
    top1_regret: list[float] = field(default_factory=list)
    leaves: list[int] = field(default_factory=list)
    leaf_ids: list[list[str]] = field(default_factory=list)
    train_steps: list[int] = field(default_factory=list)
    charged_steps: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The per-seed lists (the ``nas bench ranking --json`` entry of this sampler)."""
        return {k: v for k, v in asdict(self).items() if k != "sampler"}


def _supernet_job(job: tuple[Any, ...]) -> tuple[int, dict[str, Any]]:
    (space_d, data_spec, archs_i, config_d, seed, grad_variance, n_bins_idx, truth) = job
    import torch

    if config_d.get("device", "cpu") == "cpu":
        torch.set_num_threads(1)
    from nas.supernet._config import TrainConfig
    from nas.supernet._evaluate import score
    from nas.supernet._family import FamilyEvaluator, FamilyTrainer
    from nas.supernet._samplers import PadaSampler

    space = ArchSpace.from_dict(space_d)
    everything = enumerate_archs(space)
    archs = [everything[i] for i in archs_i]
    data = ranking_data(data_spec)
    # A family that never splits trains exactly SupernetTrainer's weights.
    family = FamilyTrainer(space, data, TrainConfig(**{**config_d, "seed": seed}))
    started = time.perf_counter()
    family.fit()
    seconds = time.perf_counter() - started
    nets = {leaf.id: family.net(leaf.id) for leaf in family.leaves}
    evaluator = FamilyEvaluator(family.family, nets, data.x_train)
    scores = [score(evaluator.network(a), data.x_val, data.y_val) for a in archs]
    acc = [s.accuracy for s in scores]
    trainer = family.trainers[family.leaves[0].id]
    out: dict[str, Any] = {
        "kendall_tau": kendall_tau(acc, truth),
        "kendall_tau_within_bins": kendall_tau_within_bins(acc, truth, n_bins_idx),
        "kendall_tau_nll": kendall_tau([-s.nll for s in scores], truth),
        "top5_overlap": top_k_overlap(acc, truth, min(5, len(archs))),
        "train_seconds": seconds,
        "agreement": {
            d: v for d, (v, _) in agreement_by_dimension(space, archs, acc, truth).items()
        },
        "scores": acc,
        "top1_regret": top1_regret(acc, truth),
        "leaves": len(family.leaves),
        "leaf_ids": [evaluator.leaf_of(a) for a in archs],
        "train_steps": family.steps,
        "charged_steps": family.charged,
    }
    if grad_variance and len(family.leaves) == 1:
        out["grad_variance"] = trainer.gradient_variance(draws=32, reference_paths=16).relative_mse
    if isinstance(trainer.sampler, PadaSampler) and trainer.sampler.sample_data:
        out["data_ess"] = trainer.sampler.data_ess
    return seed, out


def run_ranking(
    gt: GroundTruth,
    sampler: str,
    seeds: Sequence[int],
    *,
    epochs: int,
    sampler_options: Mapping[str, Any] | None = None,
    train: Mapping[str, Any] | None = None,
    label: str | None = None,
    grad_variance: bool = False,
    n_bins: int = 8,
    workers: int = 1,
    device: str = "cpu",
    on_seed: Callable[[], None] | None = None,
) -> RankingResult:
    """Train a supernet with ``sampler`` once per seed -- the ground truth's recipe (batch,
    learning rate, momentum, weight decay, clipping, augmentation) for ``epochs`` epochs, with
    ``train`` overriding any :class:`~nas.supernet.TrainConfig` field -- score every
    architecture on the held-out half through :class:`~nas.supernet.SupernetEvaluator`
    (batch norm recalibrated on the training half), and compare with ``gt``.

    With ``grad_variance``, also measure the gradient's relative variance at the end of
    training. Seeds run in ``workers`` processes; ``on_seed`` is called as each finishes.
    """
    r = gt.recipe
    config: dict[str, Any] = {
        "epochs": epochs,
        "batch_size": r.batch_size,
        "lr": r.lr,
        "momentum": r.momentum,
        "weight_decay": r.weight_decay,
        "grad_clip": r.grad_clip,
        "augment": r.augment,
        "sampler": sampler,
        "sampler_options": dict(sampler_options or {}),
        "device": device,
        **dict(train or {}),
    }
    everything = {gt.space.canonical(a): i for i, a in enumerate(enumerate_archs(gt.space))}
    index = [everything[gt.space.canonical(a)] for a in gt.archs]
    truth = gt.truth.tolist()
    bins = gt.bins(n_bins)
    jobs = [
        (gt.space.to_dict(), gt.data, index, config, s, grad_variance, bins, truth) for s in seeds
    ]
    by_seed: dict[int, dict[str, Any]] = {}
    for seed, out in _map(_supernet_job, jobs, workers):
        by_seed[seed] = out
        if on_seed is not None:
            on_seed()
    result = RankingResult(label or sampler)
    for seed in seeds:
        for key, value in by_seed[seed].items():
            getattr(result, key).append(value)
    return result


def step_seconds(
    space: ArchSpace, data: Any, sampler: str, *, batch_size: int = 64, steps: int = 30
) -> tuple[float, float]:
    """Median seconds of one supernet training step with ``sampler`` and of one step of the
    largest architecture trained alone (extracted network, same batch and optimiser)."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - the usual alias

    from nas.supernet._config import TrainConfig
    from nas.supernet._train import SupernetTrainer, build_supernet

    trainer = SupernetTrainer(
        build_supernet(space, 0), data, TrainConfig(batch_size=batch_size, sampler=sampler)
    )
    x, y = data.x_train[:batch_size], data.y_train[:batch_size]
    idx = torch.arange(batch_size)
    trainer.net.train()
    super_times = []
    for _ in range(steps + 3):
        t0 = time.perf_counter()
        trainer._step(x, y, idx)
        super_times.append(time.perf_counter() - t0)
    net = build_supernet(space, 0).extract(space.largest())
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=2.5e-4)
    alone = []
    for _ in range(steps + 3):
        t0 = time.perf_counter()
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        alone.append(time.perf_counter() - t0)
    return float(np.median(super_times[3:])), float(np.median(alone[3:]))
