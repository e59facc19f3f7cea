"""Ranking quality of a supernet: inherited-weight accuracy vs stand-alone training.

A supernet is useful when the accuracies of architectures *with inherited weights* rank them like
stand-alone training does. This module provides both sides and the comparison:

* :func:`enumerate_archs` -- every distinct architecture of a (small) space, one per
  :meth:`ArchSpace.canonical` key;
* :func:`train_standalone` -- one architecture trained from scratch (its own network, extracted
  from a freshly initialised supernet so that its initial weights are a function of the seed);
* :func:`supernet_scores` -- every architecture's validation accuracy with the supernet's weights
  after batch-norm recalibration;
* :func:`kendall_tau` / :func:`top_k_overlap` -- the agreement of two score vectors.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias

from nas.exceptions import NasError
from nas.supernet._arch import Arch, ArchSpace, LayerChoice
from nas.supernet._data import ImageDataset
from nas.supernet._network import Supernet
from nas.supernet._train import build_supernet, evaluate_arch

__all__ = [
    "GroundTruthError",
    "RankingResult",
    "enumerate_archs",
    "load_ground_truth",
    "rank_samplers",
    "run_ranking",
    "step_seconds",
    "kendall_tau",
    "supernet_scores",
    "top_k_overlap",
    "train_standalone",
]

#: Refuse to enumerate spaces larger than this (stand-alone training of each is the point).
MAX_ENUMERATED = 5000


def enumerate_archs(space: ArchSpace) -> list[Arch]:
    """Every distinct architecture of ``space`` (one per canonical key), in a fixed order.

    Raises:
        ValueError: the space has more than :data:`MAX_ENUMERATED` assignments.
    """
    per_stage: list[list[tuple[int, tuple[LayerChoice, ...]]]] = []
    total = 1
    for st in space.stages:
        slot_choices = [
            LayerChoice(op, k, w) for op in st.ops for k in st.kernels for w in st.widths
        ]
        options = [
            (d, slots)
            for d in st.depths
            for slots in itertools.product(slot_choices, repeat=st.max_depth)
        ]
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


def train_standalone(
    space: ArchSpace,
    arch: Arch,
    data: ImageDataset,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 0.05,
    weight_decay: float = 2.5e-4,
    device: str = "cpu",
) -> float:
    """Validation accuracy of ``arch`` trained from scratch (SGD momentum 0.9, cosine schedule,
    gradient clipping at 5, the data order drawn from ``seed``) on ``device``."""
    dev = torch.device(device)
    net = build_supernet(space, seed).extract(arch).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x57A0]))
    x, y = data.x_train.to(dev), data.y_train.to(dev)
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = 0.5 * lr * (1.0 + float(np.cos(np.pi * epoch / epochs)))
        net.train()
        order = torch.as_tensor(rng.permutation(len(y)), device=dev)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
    net.eval()
    with torch.no_grad():
        pred = net(data.x_val.to(dev)).argmax(-1)
    return float((pred == data.y_val.to(dev)).float().mean())


def supernet_scores(
    net: Supernet,
    archs: Sequence[Arch],
    data: ImageDataset,
    *,
    calibration_size: int = 512,
    on_arch: Callable[[int], None] | None = None,
) -> list[float]:
    """Validation accuracy of every architecture with the supernet's weights, each after
    batch-norm recalibration on the first ``calibration_size`` training images."""
    calib = data.x_train[:calibration_size]
    out = []
    for i, arch in enumerate(archs):
        out.append(evaluate_arch(net, arch, data.x_val, data.y_val, calibration=calib))
        if on_arch is not None:
            on_arch(i)
    return out


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b of two score vectors (ties handled as in ``scipy.stats.kendalltau``).

    Raises:
        ValueError: different lengths or fewer than 2 entries.
    """
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two score vectors of equal length >= 2, got {len(a)}, {len(b)}")
    from scipy.stats import kendalltau

    tau = kendalltau(np.asarray(a, float), np.asarray(b, float)).statistic
    return float(tau) if np.isfinite(tau) else 0.0


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


class GroundTruthError(NasError, ValueError):
    """The ground-truth file of the ranking benchmark is missing or malformed."""


def load_ground_truth(path: str | Path) -> tuple[ArchSpace, list[Arch], list[float]]:
    """The space, architectures and mean stand-alone accuracies of a ground-truth JSON file
    (written by ``benchmarks/ranking_ground_truth.py``).

    Raises:
        GroundTruthError: the file is missing, not JSON, or lacks the expected fields.
    """
    p = Path(path)
    try:
        payload = json.loads(p.read_text())
        space = ArchSpace.from_dict(payload["space"], source=str(p))
        archs = [space.arch(row["params"]) for row in payload["archs"]]
        truth = [float(row["mean"]) for row in payload["archs"]]
    except OSError as e:
        raise GroundTruthError(
            f"{p}: cannot read the ranking ground truth ({e.strerror}); generate it with "
            f"`python benchmarks/ranking_ground_truth.py` or pass --ground-truth"
        ) from e
    except (ValueError, KeyError, TypeError) as e:
        raise GroundTruthError(f"{p}: not a ranking ground-truth file ({e})") from e
    if len(archs) < 2:
        raise GroundTruthError(f"{p}: needs at least 2 architectures, has {len(archs)}")
    return space, archs, truth


@dataclass
class RankingResult:
    """Per-seed results of one path sampler on the ranking benchmark.

    Attributes:
        sampler: the sampler's name.
        kendall_tau: Kendall tau between supernet and stand-alone accuracies, per seed.
        top5_overlap: overlap of the two top-5 sets, per seed.
        train_seconds: supernet training wall time, per seed.
        grad_variance: relative variance of the supernet gradient at the end of training
            (:meth:`SupernetTrainer.gradient_variance`), per seed; empty unless asked for.
    """

    sampler: str
    kendall_tau: list[float] = field(default_factory=list)
    top5_overlap: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    grad_variance: list[float] = field(default_factory=list)


def run_ranking(
    space: ArchSpace,
    archs: Sequence[Arch],
    truth: Sequence[float],
    data: ImageDataset,
    sampler: str,
    seeds: Sequence[int],
    *,
    epochs: int,
    batch_size: int = 64,
    on_step: Callable[[], None] | None = None,
    device: str = "cpu",
    sampler_options: Mapping[str, Any] | None = None,
    label: str | None = None,
    grad_variance: bool = False,
) -> RankingResult:
    """Train a supernet with ``sampler`` (and its ``sampler_options``) once per seed (same
    epochs and batch size for every sampler) on ``device`` and compare its inherited-weight
    accuracies with ``truth``; with ``grad_variance``, also measure the gradient's relative
    variance after scoring. The result is named ``label`` (default: the sampler's name)."""
    from nas.supernet._train import SupernetTrainer, TrainConfig

    result = RankingResult(label or sampler)
    k = min(5, len(archs))
    for seed in seeds:
        config = TrainConfig(
            epochs=epochs,
            batch_size=batch_size,
            sampler=sampler,
            sampler_options=dict(sampler_options or {}),
            seed=seed,
            device=device,
        )
        trainer = SupernetTrainer(build_supernet(space, seed), data, config)
        started = time.perf_counter()
        trainer.fit(on_epoch=(lambda _r: on_step()) if on_step is not None else None)
        result.train_seconds.append(time.perf_counter() - started)
        scores = supernet_scores(trainer.net, archs, data)
        result.kendall_tau.append(kendall_tau(scores, truth))
        result.top5_overlap.append(top_k_overlap(scores, truth, k))
        if grad_variance:
            result.grad_variance.append(trainer.gradient_variance(seed=seed))
    return result


def rank_samplers(
    space: ArchSpace,
    archs: Sequence[Arch],
    truth: Sequence[float],
    data: ImageDataset,
    samplers: Sequence[str],
    seeds: Sequence[int],
    *,
    epochs: int,
    on_step: Callable[[], None] | None = None,
    device: str = "cpu",
) -> list[RankingResult]:
    """:func:`run_ranking` for each of ``samplers`` in order (same seeds and epochs for all);
    ``on_step`` is called after every supernet epoch (``len(samplers) * len(seeds) * epochs``
    calls in all)."""
    return [
        run_ranking(
            space, archs, truth, data, name, seeds, epochs=epochs, on_step=on_step, device=device
        )
        for name in samplers
    ]


def step_seconds(
    space: ArchSpace, data: ImageDataset, sampler: str, *, batch_size: int = 64, steps: int = 30
) -> tuple[float, float]:
    """Median seconds of one supernet training step with ``sampler`` and of one step of the
    largest architecture trained alone (extracted network, same batch and optimiser)."""
    from nas.supernet._train import SupernetTrainer, TrainConfig

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
