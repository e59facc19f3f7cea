"""Training an elastically quantized supernet (EQ-Net), through the trainer's extension points.

A :class:`~nas.supernet.SupernetTrainer` whose space has quantization sites
(:attr:`~nas.space.ArchSpace.quant_sites`) trains with the settings of
:class:`~nas.supernet.QuantTrainConfig` (``train.quant`` in a study file), plugged in without a
forked trainer:

* :class:`QuantPaths` wraps the path sampler: the sampler draws one architecture (op, kernel,
  width, depth: ``uniform`` or ``pada``), and each step trains it three times -- **H** with
  every site at its highest bits, **R** with a random setting per site, **L** with every site
  at its lowest bits (granularity and symmetry drawn per site for H and L) -- with
  **progressive guidance** (GPG): H learns the labels, R learns ``lambda * KL(H || R) +
  (1 - lambda) * CE``, L learns ``lambda * KL(R || L) + (1 - lambda) * CE``, teacher logits
  detached, temperature 1 (``gpg: false``: each path plain cross-entropy; ``paths: single``:
  one random setting per step, which is static LSQ QAT for a space of one setting). Everything else
  (data order and weights, observation, importance updates, state) is the wrapped sampler's;
  it observes the first path's logits only.
* :class:`WdrHook` adds the **WDR loss** on the latent weights of every quantized conv and the
  classifier except the first layer, per whole tensor: ``(1 / L) sum_l [w_skew * skew_l^2 +
  w_kurt * (kurt_l - 1.8)^2]`` (the weights 1.0 and 0.015 of the authors' code).
* :class:`QuantInitHook` initialises the quantizers (:func:`~nas.supernet._quant.init_quantizers`)
  before the first step, on the first :data:`~nas.supernet._quant.INIT_IMAGES` training images
  (no randomness; skipped once done, so a resumed supernet keeps its steps).

The paper's optimiser (Adam, clipping by value at 1.0, per-step cosine) is the ordinary
``train`` settings (``optimizer: adam, clip_mode: value, grad_clip: 1.0, schedule_unit: step``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import Tensor

from nas.space import Arch, ArchSpace, LayerChoice
from nas.supernet._config import QuantTrainConfig
from nas.supernet._quant import INIT_IMAGES, init_quantizers
from nas.supernet._samplers import PathLoss, PathSampler
from nas.supernet._train import TrainerHook

if TYPE_CHECKING:
    from nas.supernet._network import Supernet
    from nas.supernet._train import SupernetTrainer

__all__ = [
    "GuidedLoss",
    "QuantInitHook",
    "QuantPaths",
    "WdrHook",
    "coverage_archs",
    "quant_training",
    "wdr_loss",
]

#: The kurtosis of a uniform distribution (WDR's target).
UNIFORM_KURTOSIS = 1.8


class GuidedLoss(PathLoss):
    """Progressive guidance: path 0 the wrapped sampler's first-path loss; path ``k > 0``
    ``lam * KL(path k-1 || path k) + (1 - lam) * CE`` (per-example weights of the sampler on
    both terms), or plain cross-entropy when ``lam`` is 0."""

    def __init__(self, base: PathLoss, lam: float) -> None:
        self.base = base
        self.lam = lam

    def __call__(
        self, k: int, logits: Tensor, y: Tensor, earlier: Sequence[Tensor], weights: Tensor | None
    ) -> Tensor:
        if k == 0:
            return self.base(0, logits, y, earlier, weights)
        ce = F.cross_entropy(logits, y, reduction="none")
        if self.lam > 0:
            teacher = F.log_softmax(earlier[k - 1], -1)
            student = F.log_softmax(logits, -1)
            kl = (teacher.exp() * (teacher - student)).sum(-1)
            per = self.lam * kl + (1.0 - self.lam) * ce
        else:
            per = ce
        return (per * weights.to(per)).mean() if weights is not None else per.mean()


class QuantPaths(PathSampler):
    """The H/R/L paths of each step around a single-path sampler (module docstring).

    Args:
        base: the wrapped sampler (it must draw one path per step).
        config: the quantization training settings.

    Raises:
        ValueError: ``base`` draws several paths per step (e.g. ``sandwich``).
    """

    name = "quant"

    def __init__(self, base: PathSampler, config: QuantTrainConfig) -> None:
        super().__init__(base.mask, base.n_train)
        probe = base.paths(np.random.default_rng(0))
        if len(probe) != 1:
            raise ValueError(
                f"train.sampler {base.name!r} draws {len(probe)} paths per step; elastic "
                "quantization trains three settings of one path: use uniform or pada"
            )
        self.base = base
        self.config = config
        self.path_loss = GuidedLoss(base.path_loss, config.gpg_lambda if config.gpg else 0.0)
        self._observed = 0

    def paths(self, rng: np.random.Generator) -> list[Arch]:
        (arch,) = self.base.paths(rng)
        sites = self.space.quant_sites
        if self.config.paths == "single":
            return [Arch(arch.depths, arch.layers, tuple(s.spec.sample(rng) for s in sites))]
        high = tuple(site.spec.extreme(highest=True, rng=rng) for site in sites)
        rand = tuple(site.spec.sample(rng) for site in sites)
        low = tuple(site.spec.extreme(highest=False, rng=rng) for site in sites)
        self._observed = 0
        return [Arch(arch.depths, arch.layers, q) for q in (high, rand, low)]

    def epoch_indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.base.epoch_indices(n, rng)

    def sample_weights(self, indices: Tensor) -> Tensor | None:
        return self.base.sample_weights(indices)

    def importance_weights(self, arch: Arch, indices: Tensor) -> tuple[float, Tensor | None]:
        return self.base.importance_weights(arch, indices)

    def observe(self, logits: Tensor, y: Tensor, idx: Tensor) -> None:
        if self._observed == 0:
            self.base.observe(logits, y, idx)
        self._observed += 1

    def after_gradients(self, net: Supernet, paths: Sequence[Arch]) -> None:
        self.base.after_gradients(net, paths[:1])

    def combine_processes(self, sum_over_processes: Callable[[np.ndarray], np.ndarray]) -> None:
        self.base.combine_processes(sum_over_processes)

    def end_epoch(self, progress: float) -> None:
        self.base.end_epoch(progress)

    def state_dict(self) -> dict[str, Any]:
        return self.base.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base.load_state_dict(state)

    def __getattr__(self, name: str) -> Any:
        # Diagnostics of the wrapped sampler (PA&DA's data_ess, op importance, ...).
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)


def wdr_loss(weights: Sequence[Tensor], skew_weight: float, kurt_weight: float) -> Tensor:
    """``(1 / L) sum_l [skew_weight * skew_l^2 + kurt_weight * (kurt_l - 1.8)^2]`` over the
    whole tensors ``weights`` (moments of the standardised elements)."""
    terms = []
    for w in weights:
        flat = w.flatten()
        z = (flat - flat.mean()) / (flat.std(unbiased=False) + 1e-8)
        skew = z.pow(3).mean()
        kurt = z.pow(4).mean()
        terms.append(skew_weight * skew.pow(2) + kurt_weight * (kurt - UNIFORM_KURTOSIS).pow(2))
    return torch.stack(terms).mean()


class WdrHook(TrainerHook):
    """The WDR loss as an extra loss of every step (module docstring)."""

    def __init__(self, config: QuantTrainConfig) -> None:
        self.config = config
        #: The latent weights the loss reads (the network's modules are fixed: found once).
        self._weights: list[Tensor] | None = None

    def extra_loss(self, trainer: SupernetTrainer, paths: Sequence[Arch]) -> Tensor | None:
        from nas.supernet._network import quantized_layers

        if self._weights is None:
            layers = quantized_layers(trainer.net)[1:]  # not the first layer (the stem's conv)
            self._weights = [m.latent_weight for m, _ in layers]
        if not self._weights:
            return None
        return wdr_loss(self._weights, self.config.wdr_skew, self.config.wdr_kurt)


def coverage_archs(space: ArchSpace) -> list[Arch]:
    """Full-precision architectures that together run every conv of the supernet: per op
    index ``t``, every slot of every stage at its ``t``-th op that computes something (the
    last such op where a stage has fewer), at the largest depth, kernel and width."""
    from nas.space import ARCH_OPS

    real = [[op for op in st.ops if not ARCH_OPS.get(op).identity] for st in space.stages]
    rounds = max((len(r) for r in real), default=0)
    out = []
    for t in range(max(rounds, 1)):
        layers = []
        for st, ops in zip(space.stages, real, strict=True):
            op = ops[min(t, len(ops) - 1)] if ops else "skip"
            kernels, widths = st.dims(op) if ops else ((0,), (0,))
            layers.append(
                tuple(LayerChoice(op, kernels[-1], widths[-1]) for _ in range(st.max_depth))
            )
        out.append(Arch(tuple(st.max_depth for st in space.stages), tuple(layers)))
    return out


class QuantInitHook(TrainerHook):
    """Initialises the quantizers before the first step (module docstring); the flags are
    read once per loaded state, not at every step (on an accelerator each read synchronises)."""

    def __init__(self) -> None:
        self._checked = False

    def start_step(self, trainer: SupernetTrainer) -> None:
        from nas.supernet._network import quantized_layers

        if self._checked:
            return
        if not all(bool(q.initialized) for _, q in quantized_layers(trainer.net)):
            images, _ = trainer.train_tensors()
            init_quantizers(trainer.net, images[:INIT_IMAGES], coverage_archs(trainer.net.space))
        self._checked = True

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._checked = False  # the loaded weights bring their own flags


def quant_training(
    space: ArchSpace, config: QuantTrainConfig | None, sampler: PathSampler
) -> tuple[PathSampler, list[TrainerHook]]:
    """The sampler and hooks that train ``space`` (unchanged for a space without quantization
    sites).

    Raises:
        ValueError: ``config`` given for a space without sites, or a multi-path ``sampler``.
    """
    if not space.quant_sites:
        if config is not None:
            raise ValueError(
                "train.quant: the architecture space has no quantization choices; add "
                "`quant:` under `supernet:` or drop train.quant"
            )
        return sampler, []
    config = config or QuantTrainConfig()
    hooks: list[TrainerHook] = [QuantInitHook()]
    if config.wdr:
        hooks.append(WdrHook(config))
    return QuantPaths(sampler, config), hooks
