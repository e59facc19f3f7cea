"""Path samplers of supernet training: which architectures (and which data) each step trains.

A sampler is a strategy object owned by the trainer (:mod:`nas.supernet._train`). It draws
architectures from an :class:`~nas.space.ArchMask` -- the whole space, or a sub-supernet's
part of it -- and never leaves it; it draws randomness only from the generator it is handed
and keeps only plain state (:meth:`PathSampler.state_dict`) so that a checkpoint restores it
exactly. Samplers are registered by name in :data:`PATH_SAMPLERS` (the names a study file's
``train.sampler`` and ``nas bench ranking --sampler`` accept); every registered sampler passes
the conformance suite :mod:`nas.testing.path_samplers`.

* :class:`UniformSampler` -- single path, uniform within the mask (SPOS).
* :class:`SandwichSampler` -- the largest, the smallest and ``n_random`` random architectures per
  step; the others learn from the largest's soft predictions (in-place distillation, BigNAS).
* :class:`PadaSampler` -- PA&DA (``../shared/papers.md`` section 2, checked line by line against
  the authors' ``nasbench201/train_panda_201.py``):

  - the op of every active layer slot is drawn from ``p_path = tau * g / sum(g) + (1 - tau) *
    uniform`` (then kernel and width uniformly), the next epoch's data -- drawn **with
    replacement**, then shuffled -- from ``p_data = tau * s / sum(s) + (1 - tau) / N``;
  - ``tau = t / T`` after epoch ``t`` (0-based) of ``T``: the distributions used in epoch ``t +
    1`` are mixed with ``t / T`` (epoch 0 and 1 are uniform; the last epoch uses ``(T - 2) /
    T``). With a step budget ``t / T`` is the share of the budget spent before the epoch ends;
  - ``g_k`` is op ``k``'s running gradient-norm importance. After each step's gradient is final
    (all-reduced over processes, then clipped) and before the optimizer applies it, for every
    op chosen in that step: ``G_k`` = the sum over the layers that chose it of the gradient norms
    of the op's convolution weights (and biases), divided by the number of those layers; then
    ``g_k <- (g_k + G_k) / 2``. **Ops not chosen in a step keep their value.** ``g`` is reset
    at the end of every epoch;
  - ``s_i`` is the running value of ``||softmax(z_i) - onehot(y_i)||`` (the norm of the loss
    gradient w.r.t. the logits; free) over the epoch's visits of example ``i``, updated the same
    way (pairwise average), 0 if not visited.

  Choices where the paper's code is arbitrary or does not apply, stated:

  - the first value of an epoch *sets* ``g_k`` / ``s_i`` rather than averaging with the reset
    zero (the code does this for ``s_i``; for ``g_k`` it halves the first value, which makes an
    op chosen in few steps look half as important: importance would follow sampling frequency);
  - one op distribution shared by all slots (the paper's is shared by all edges);
  - ops without parameters (``skip``, ``avgpool``) keep ``g = 0`` (their probability decays to
    ``(1 - tau) / n``, as the code's none/skip/pool ops) unless ``skip_importance`` is set;
  - the loss is the plain mean (no ``1 / (N p_i)`` unbiasing weights) unless ``unbiased``;
  - kernel, width and depth stay uniform (the paper samples ops only);
  - ops a mask does not allow in a slot are left out and the others renormalised.

  Options ``sample_data`` / ``sample_paths`` give the DA-only / PA-only ablations.

Data-parallel training (:mod:`nas.supernet._distributed`): every process holds the same sampler
state and draws from the same generator, so paths and data orders agree;
:meth:`PathSampler.after_gradients` sees the final gradient (identical everywhere), while
:meth:`PathSampler.observe` sees only this process's slice of the batch, so statistics of
examples are summed over processes by :meth:`PathSampler.combine_processes` before
:meth:`PathSampler.end_epoch`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nas.space import ArchMask, ArchSpace
from nas.supernet._plugins import PATH_SAMPLERS

if TYPE_CHECKING:
    from torch import Tensor

    from nas.space import Arch
    from nas.supernet._network import Supernet

__all__ = [
    "PATH_SAMPLERS",
    "PadaSampler",
    "PathLoss",
    "PathSampler",
    "SandwichSampler",
    "UniformSampler",
    "create_sampler",
]


class PathLoss:
    """The loss of the ``k``-th path of a step: cross-entropy (weighted per example when the
    sampler unbiases). Samplers whose paths teach each other override :meth:`__call__`."""

    def __call__(
        self, k: int, logits: Tensor, y: Tensor, earlier: Sequence[Tensor], weights: Tensor | None
    ) -> Tensor:
        """``logits`` of path ``k`` (``(batch, classes)``) for labels ``y``; ``earlier``: the
        detached logits of paths ``0 .. k-1`` of the same step on the same batch."""
        import torch.nn.functional as F  # noqa: N812 - the usual alias

        per = F.cross_entropy(logits, y, reduction="none")
        return (per * weights.to(per)).mean() if weights is not None else per.mean()


class InplaceDistillation(PathLoss):
    """Paths after the first learn the first's soft predictions (KL divergence, the first path
    itself learns the labels): BigNAS's in-place distillation."""

    def __call__(
        self, k: int, logits: Tensor, y: Tensor, earlier: Sequence[Tensor], weights: Tensor | None
    ) -> Tensor:
        if k == 0 or not earlier:
            return super().__call__(k, logits, y, earlier, weights)
        import torch.nn.functional as F  # noqa: N812 - the usual alias

        teacher = F.softmax(earlier[0], -1)
        return F.kl_div(F.log_softmax(logits, -1), teacher, reduction="batchmean")


class PathSampler(ABC):
    """Chooses the architectures of each training step (and, optionally, the data of each
    epoch) inside :attr:`mask`.

    Every registered sampler is built as ``cls(mask, n_train, **options)``; options are keyword
    arguments validated in the constructor (:meth:`check_options` builds one to check them).

    Args:
        mask: where to sample (:meth:`ArchSpace.full_mask` for the whole space).
        n_train: number of training examples.
    """

    #: Name in :data:`PATH_SAMPLERS`.
    name: ClassVar[str] = ""
    #: How the step's paths are trained against the labels and each other.
    path_loss: PathLoss = PathLoss()

    def __init__(self, mask: ArchMask, n_train: int) -> None:
        self.mask = mask
        self.n_train = n_train

    @property
    def space(self) -> ArchSpace:
        """The architecture space."""
        return self.mask.space

    @classmethod
    def check_options(cls, space: ArchSpace, options: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` (naming the sampler) when ``options`` do not build one."""
        try:
            cls(space.full_mask(), 1, **dict(options))
        except TypeError as e:
            raise ValueError(f"sampler {cls.name!r}: {e}") from None

    @abstractmethod
    def paths(self, rng: np.random.Generator) -> list[Arch]:
        """The architectures to train in one step (their gradients are summed), all in
        :attr:`mask`."""

    def epoch_indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of the training examples of the next epoch, in order (default: a shuffle)."""
        return rng.permutation(n)

    def sample_weights(self, indices: Tensor) -> Tensor | None:
        """Per-example loss weights of a batch (``None``: the plain mean)."""
        return None

    def importance_weights(self, arch: Arch, indices: Tensor) -> tuple[float, Tensor | None]:
        """The weights that make one step's gradient an unbiased estimate of the uniform
        sampler's full-data gradient: ``(q_uniform(arch) / q(arch), 1 / (N p_i) per example)``
        (``None``: all 1). Used to measure gradient variance, never in training."""
        return 1.0, None

    def observe(self, logits: Tensor, y: Tensor, idx: Tensor) -> None:  # noqa: B027 - a hook
        """Called after each path's forward pass with its logits (detached) on this process's
        slice of the batch."""

    def after_gradients(  # noqa: B027 - an optional hook
        self, net: Supernet, paths: Sequence[Arch]
    ) -> None:
        """Called once per step with the final gradient in ``net`` (summed over the paths,
        all-reduced over processes, clipped), before the optimizer applies it."""

    def combine_processes(  # noqa: B027 - an optional hook
        self, sum_over_processes: Callable[[np.ndarray], np.ndarray]
    ) -> None:
        """Data-parallel training: turn what this process observed since the last
        :meth:`end_epoch` (its slices of the batches) into the totals over all processes, so
        that every process computes the same next distributions.

        Called on every process just before :meth:`end_epoch` (never in one process).
        ``sum_over_processes(a)`` is a collective returning the elementwise sum of ``a`` over
        the processes. Default: nothing to combine.
        """

    def end_epoch(self, progress: float) -> None:  # noqa: B027 - an optional hook
        """Called after each epoch with ``progress`` = the share of the training budget spent
        before that epoch started (``t / T`` after epoch ``t`` of ``T``), in ``[0, 1)``."""

    def state_dict(self) -> dict[str, Any]:
        """Plain state to checkpoint (numpy arrays and numbers)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore :meth:`state_dict`."""


# The built-in samplers below are registered by name in nas.supernet._plugins.


class UniformSampler(PathSampler):
    """One architecture per step, uniform within the mask (SPOS)."""

    name = "uniform"

    def paths(self, rng: np.random.Generator) -> list[Arch]:
        return [self.mask.sample(rng)]


class SandwichSampler(PathSampler):
    """Largest, smallest and ``n_random`` random architectures of the mask per step, with
    in-place distillation from the largest (BigNAS's sandwich rule).

    Raises:
        ValueError: ``n_random`` is not an integer ``>= 0``.
    """

    name = "sandwich"
    path_loss = InplaceDistillation()

    def __init__(self, mask: ArchMask, n_train: int, *, n_random: int = 2) -> None:
        super().__init__(mask, n_train)
        if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 0:
            raise ValueError(
                f"sampler 'sandwich': n_random must be an integer >= 0, got {n_random!r}"
            )
        self.n_random = n_random

    def paths(self, rng: np.random.Generator) -> list[Arch]:
        rand = [self.mask.sample(rng) for _ in range(self.n_random)]
        return [self.mask.largest(), self.mask.smallest(), *rand]


def _running(old: np.ndarray, new: np.ndarray, where: np.ndarray) -> None:
    """In place: ``old[where] = new`` where ``old`` is 0 (first value), else the pairwise
    average."""
    first = where & (old == 0)
    both = where & ~first
    old[first] = new[first]
    old[both] = (old[both] + new[both]) / 2.0


class PadaSampler(PathSampler):
    """PA&DA: importance sampling of ops and data by normalised gradient norms (module doc).

    Args:
        mask: where to sample.
        n_train: number of training examples.
        skip_importance: importance given to the ops without parameters (``skip``,
            ``avgpool``) instead of 0 (``None``: the paper's 0).
        unbiased: weight each example's loss by ``1 / (N p_i)`` (the paper's code does not).
        sample_data: also resample the data (PA&DA); ``False`` gives "PA only".
        sample_paths: also sample the ops by importance; ``False`` gives "DA only".

    Raises:
        ValueError: a negative ``skip_importance`` or a non-boolean flag.
    """

    name = "pada"

    def __init__(
        self,
        mask: ArchMask,
        n_train: int,
        *,
        skip_importance: float | None = None,
        unbiased: bool = False,
        sample_data: bool = True,
        sample_paths: bool = True,
    ) -> None:
        super().__init__(mask, n_train)
        if skip_importance is not None and (
            isinstance(skip_importance, bool)
            or not isinstance(skip_importance, int | float)
            or skip_importance < 0
        ):
            raise ValueError(
                f"sampler 'pada': skip_importance must be a number >= 0, got {skip_importance!r}"
            )
        for flag, value in (
            ("unbiased", unbiased),
            ("sample_data", sample_data),
            ("sample_paths", sample_paths),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"sampler 'pada': {flag} must be true or false, got {value!r}")
        self.skip_importance = skip_importance
        self.unbiased = unbiased
        self.sample_data = sample_data
        self.sample_paths = sample_paths
        self.ops: tuple[str, ...] = tuple(
            dict.fromkeys(op for st in mask.space.stages for op in st.ops)
        )
        #: Ops with no parameters: no gradient to measure (the paper keeps them at 0).
        self.parameter_free = tuple(op for op in self.ops if _parameter_free(op))
        n_ops = len(self.ops)
        self.p_path = np.full(n_ops, 1.0 / n_ops)
        self.g = np.zeros(n_ops)
        self.p_data = np.full(n_train, 1.0 / n_train)
        self._s = np.zeros(n_train)
        self._seen = np.zeros(n_train, dtype=bool)

    def _op_weights(self) -> dict[str, float] | None:
        if not self.sample_paths:
            return None
        return dict(zip(self.ops, self.p_path.tolist(), strict=True))

    def paths(self, rng: np.random.Generator) -> list[Arch]:
        return [self.mask.sample(rng, self._op_weights())]

    def epoch_indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if not self.sample_data:
            return rng.permutation(n)
        drawn = rng.choice(n, size=n, replace=True, p=self.p_data)
        return rng.permutation(drawn)

    def sample_weights(self, indices: Tensor) -> Tensor | None:
        if not (self.unbiased and self.sample_data):
            return None
        return self._data_weights(indices)

    def _data_weights(self, indices: Tensor) -> Tensor:
        import torch

        p = torch.as_tensor(self.p_data[indices.cpu().numpy()], dtype=torch.float32)
        return 1.0 / (self.n_train * p)

    def importance_weights(self, arch: Arch, indices: Tensor) -> tuple[float, Tensor | None]:
        path_weight = 1.0
        if self.sample_paths:
            weights = self._op_weights()
            assert weights is not None
            for s, j, _ in arch.active_layers():
                options = self.mask.active_choices(s, j)
                ops = list(dict.fromkeys(c.op for c in options))
                if len(ops) < 2:
                    continue
                w = np.array([weights[o] for o in ops])
                q = w[ops.index(arch.layers[s][j].op)] / w.sum() if w.sum() > 0 else 1 / len(ops)
                path_weight *= (1.0 / len(ops)) / q
        data = self._data_weights(indices) if self.sample_data else None
        return path_weight, data

    def observe(self, logits: Tensor, y: Tensor, idx: Tensor) -> None:
        import torch

        with torch.no_grad():
            probs = torch.softmax(logits.detach().float(), dim=-1)
            probs[torch.arange(len(y)), y] -= 1.0
            s = probs.norm(dim=-1).cpu().numpy().astype(float)
        ids = idx.cpu().numpy()
        unique, first, counts = np.unique(ids, return_index=True, return_counts=True)
        once = counts == 1
        # Examples drawn once in the batch: one vectorised update.
        i, v = unique[once], s[first[once]]
        self._s[i] = np.where(self._seen[i], (self._s[i] + v) / 2.0, v)
        self._seen[i] = True
        # An example drawn several times (sampling with replacement) is updated in batch order.
        for k in np.flatnonzero(np.isin(ids, unique[~once])):
            self.observe_value(int(ids[k]), float(s[k]))

    def observe_value(self, i: int, value: float) -> None:
        """Record the score ``value`` of example ``i`` (its running value over the epoch)."""
        self._s[i] = value if not self._seen[i] else (self._s[i] + value) / 2.0
        self._seen[i] = True

    def after_gradients(self, net: Supernet, paths: Sequence[Arch]) -> None:
        total = np.zeros(len(self.ops))
        count = np.zeros(len(self.ops))
        for arch in paths:
            for s, j, choice in arch.active_layers():
                norm = 0.0
                for conv in net.layer(s, j).branch(choice.op).convs():
                    for p in (conv.weight, getattr(conv, "bias", None)):
                        if p is not None and p.grad is not None:
                            norm += float(p.grad.norm())
                k = self.ops.index(choice.op)
                total[k] += norm
                count[k] += 1
        chosen = count > 0
        step = np.where(chosen, total / np.maximum(count, 1), 0.0)
        _running(self.g, step, chosen)

    def combine_processes(self, sum_over_processes: Callable[[np.ndarray], np.ndarray]) -> None:
        # The per-example running values cannot be merged exactly across processes (each saw
        # other slices); every example is in exactly one process's slice of each batch, so the
        # sum of the processes' values (0 where unseen) is the value of the one that saw it,
        # except for an example drawn into two processes' slices: then their average.
        n = self.n_train
        total = sum_over_processes(np.concatenate([self._s, self._seen.astype(float)]))
        seen = total[n:]
        self._s = np.where(seen > 0, total[:n] / np.maximum(seen, 1), 0.0)
        self._seen = seen > 0

    def end_epoch(self, progress: float) -> None:
        tau = float(progress)
        n_ops = len(self.ops)
        g = self.g.copy()
        if self.skip_importance is not None:
            for op in self.parameter_free:
                g[self.ops.index(op)] = float(self.skip_importance)
        if g.sum() > 0:
            self.p_path = tau * g / g.sum() + (1.0 - tau) / n_ops
        self.g = np.zeros(n_ops)
        s_hat = np.where(self._seen, self._s, 0.0)
        if s_hat.sum() > 0:
            self.p_data = tau * s_hat / s_hat.sum() + (1.0 - tau) / self.n_train
        self._s = np.zeros(self.n_train)
        self._seen = np.zeros(self.n_train, dtype=bool)

    def state_dict(self) -> dict[str, Any]:
        return {
            "p_path": self.p_path.copy(),
            "g": self.g.copy(),
            "p_data": self.p_data.copy(),
            "s": self._s.copy(),
            "seen": self._seen.astype(np.int8),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p_path = np.asarray(state["p_path"], dtype=float).copy()
        self.g = np.asarray(state["g"], dtype=float).copy()
        self.p_data = np.asarray(state["p_data"], dtype=float).copy()
        if "s" in state:
            self._s = np.asarray(state["s"], dtype=float).copy()
            self._seen = np.asarray(state["seen"]).astype(bool)
        else:  # a checkpoint of the earlier layout: sums and counts of the epoch's visits
            count = np.asarray(state["s_count"], dtype=float)
            self._s = np.asarray(state["s_sum"], dtype=float) / np.maximum(count, 1)
            self._seen = count > 0

    @property
    def data_ess(self) -> float:
        """Effective sample size ``1 / sum(p_data^2)`` of the data distribution (``N`` when
        uniform)."""
        return float(1.0 / np.sum(self.p_data**2))


def _parameter_free(op: str) -> bool:
    """Whether op ``op`` has no parameters (its cost counts none)."""
    from nas.space import ARCH_OPS, CostCounter

    counter = CostCounter(4, 4)
    ARCH_OPS.get(op).count(counter, 4, 3, 4)
    return counter.params == 0


def create_sampler(
    name: str, mask: ArchMask | ArchSpace, n_train: int, **options: Any
) -> PathSampler:
    """The sampler registered as ``name`` with its options, sampling in ``mask`` (an
    :class:`ArchSpace` means its full mask).

    Raises:
        ValueError: an unknown name (the message lists the valid ones) or a bad option.
    """
    cls = PATH_SAMPLERS.get(name)
    full = mask.full_mask() if isinstance(mask, ArchSpace) else mask
    try:
        return cls(full, n_train, **options)
    except TypeError as e:
        raise ValueError(f"sampler {name!r}: {e}") from None
