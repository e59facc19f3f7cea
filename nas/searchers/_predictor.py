"""Accuracy predictors over a search space (EQ-Net's CQAP, generalised to any space).

EQ-Net's *conditional quantization-aware accuracy predictor* encodes a mixed-precision network
as one-hots -- the quantization condition (granularity, weight and activation symmetry) and the
bits of every layer -- and regresses its accuracy with an MLP trained by SmoothL1 on measured
subnets (../shared/papers.md section 3). In our spaces every site has its own granularity and
symmetry and the architecture itself is searched too, so :class:`SpaceEncoder` one-hot encodes
*every* dimension of the space (a categorical, a fixed value, a boolean: one slot per choice;
an int or float: its position in ``[0, 1]``, log-scaled where the parameter is; an inactive
dimension: all zeros), which for a quantized architecture space is exactly "per-site bit,
granularity and symmetry one-hots" plus the op, kernel, width and depth one-hots.

:class:`Cqap` is the paper's regressor: an MLP (``hidden`` ReLU layers) plus a fixed
``base`` (the training targets' mean), SmoothL1 loss, Adam (lr 4e-4, weight decay 1e-5, as the
authors' code), ``epochs`` passes in minibatches; trained from a private generator (same data and
seed, same predictor). :func:`fit_cqap` trains one on measured trials and reports its held-out
Kendall tau and Pearson correlation (80/20 split, as the paper).

torch is imported when a predictor is built or trained, not with this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nas._types import FrozenTrial
    from nas.space import SearchSpace

__all__ = ["Cqap", "CqapReport", "SpaceEncoder", "fit_cqap"]


class SpaceEncoder:
    """One-hot (and scaled numeric) encoding of assignments of ``space`` (module docstring).

    Attributes:
        width: the encoding's length.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self._slots: list[tuple[str, str, Any]] = []
        for p in space.params:
            kind = type(p).__name__
            if kind in ("CategoricalParam", "FixedParam"):
                choices = list(getattr(p, "choices", None) or [getattr(p, "value", None)])
                for c in choices:
                    self._slots.append((p.name, "eq", c))
            else:
                self._slots.append((p.name, "num", p))
        self.width = len(self._slots)

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """``(width,)`` float encoding of one assignment (missing = inactive: zeros)."""
        out = np.zeros(self.width)
        for k, (name, how, what) in enumerate(self._slots):
            if name not in params:
                continue
            v = params[name]
            if how == "eq":
                out[k] = 1.0 if v == what else 0.0
            else:
                lo, hi = float(what.low), float(what.high)
                if getattr(what, "log", False) and lo > 0:
                    x = (math.log(float(v)) - math.log(lo)) / max(
                        math.log(hi) - math.log(lo), 1e-12
                    )
                else:
                    x = (float(v) - lo) / max(hi - lo, 1e-12)
                out[k] = x
        return out

    def encode_many(self, assignments: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``(n, width)`` encodings."""
        return (
            np.stack([self.encode(a) for a in assignments])
            if assignments
            else np.zeros((0, self.width))
        )


class Cqap:
    """EQ-Net's predictor: an MLP on an encoding plus the targets' mean (module docstring).

    Args:
        width: the encoding's length.
        hidden: units per hidden layer (the authors use 7 x 200).
        epochs: training passes, ``>= 1``. The authors train 100 epochs on 8,000 subnets;
            a study measures hundreds, so the default is 300 (measured on 500 held-out
            mixed-precision digits settings: Kendall tau 0.436 against 0.375 at 100).
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        batch_size: minibatch size.
        seed: seeds the initial weights and the minibatch order.
    """

    def __init__(
        self,
        width: int,
        *,
        hidden: Sequence[int] = (200, 200, 200),
        epochs: int = 300,
        lr: float = 4e-4,
        weight_decay: float = 1e-5,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        self.width = width
        self.hidden = tuple(int(h) for h in hidden)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.base = 0.0
        self._net: Any = None

    def _build(self) -> Any:
        import torch
        from torch import nn

        layers: list[nn.Module] = []
        prev = self.width
        for h in self.hidden:
            layers += [nn.Linear(prev, h, dtype=torch.float64), nn.ReLU()]
            prev = h
        layers.append(nn.Linear(prev, 1, dtype=torch.float64))
        return nn.Sequential(*layers)

    def fit(self, x: np.ndarray, y: np.ndarray) -> Cqap:
        """Train on encodings ``x`` ``(n, width)`` and targets ``y`` ``(n,)``.

        Raises:
            ValueError: no examples, or shapes that disagree.
        """
        import torch

        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float).reshape(-1)
        if len(x) == 0 or x.shape != (len(y), self.width):
            raise ValueError(f"cqap: expected ({len(y)}, {self.width}) encodings, got {x.shape}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = self._build()
        self.base = float(y.mean())
        xt = torch.as_tensor(x, dtype=torch.float64)
        yt = torch.as_tensor(y - self.base, dtype=torch.float64)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        g = torch.Generator().manual_seed(self.seed)
        loss_fn = torch.nn.SmoothL1Loss()
        net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(yt), generator=g)
            for start in range(0, len(yt), self.batch_size):
                idx = order[start : start + self.batch_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(xt[idx]).squeeze(-1), yt[idx])
                loss.backward()
                opt.step()
        net.eval()
        self._net = net
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted targets ``(n,)`` of encodings ``(n, width)``.

        Raises:
            RuntimeError: not fitted.
        """
        import torch

        if self._net is None:
            raise RuntimeError("cqap: predict before fit")
        with torch.no_grad():
            out = self._net(torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64))
        return out.squeeze(-1).numpy() + self.base


@dataclass(frozen=True)
class CqapReport:
    """A predictor's held-out quality.

    Attributes:
        kendall_tau: Kendall tau between predictions and measurements on the held-out trials.
        pearson: Pearson correlation on them.
        n_train, n_test: trials trained on and held out.
    """

    kendall_tau: float
    pearson: float
    n_train: int
    n_test: int


def fit_cqap(
    space: SearchSpace,
    trials: Sequence[FrozenTrial],
    objective: str,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    **options: Any,
) -> tuple[Cqap, CqapReport]:
    """Train a :class:`Cqap` on the COMPLETE trials' ``objective`` values (a random
    ``1 - test_fraction`` of them, drawn from ``seed``) and measure it on the rest; the
    returned predictor is then refitted on every trial.

    Raises:
        ValueError: fewer than 5 complete trials with a finite value.
    """
    from nas._types import TrialState
    from nas.supernet._ranking import kendall_tau

    done = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE
        and math.isfinite(float(t.values.get(objective, math.nan)))
    ]
    if len(done) < 5:
        raise ValueError(f"cqap: {len(done)} complete trials with {objective!r}; need >= 5")
    enc = SpaceEncoder(space)
    x = enc.encode_many([t.params for t in done])
    y = np.array([float(t.values[objective]) for t in done])
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC0A9]))
    order = rng.permutation(len(done))
    n_test = max(1, round(test_fraction * len(done)))
    test, train = order[:n_test], order[n_test:]
    held = Cqap(enc.width, seed=seed, **options).fit(x[train], y[train])
    pred = held.predict(x[test])
    tau = kendall_tau(pred, y[test]) if n_test > 1 else float("nan")
    pearson = (
        float(np.corrcoef(pred, y[test])[0, 1])
        if n_test > 1 and np.std(pred) > 0 and np.std(y[test]) > 0
        else float("nan")
    )
    full = Cqap(enc.width, seed=seed, **options).fit(x, y)
    return full, CqapReport(tau, pearson, len(train), n_test)
