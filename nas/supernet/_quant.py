"""Elastic quantization of a supernet (EQ-Net): LSQ/LSQ+ quantizers shared by every setting.

Every quantized convolution of a :class:`~nas.supernet.Supernet` (and its classifier) holds a
:class:`ConvQuantizer`: the latent float weights stay the conv's own, shared by every setting,
and each setting has its own quantizer parameters (**parameter splitting**):

* :class:`WeightQuantizer` -- one learnable step ``s`` (and, asymmetric, offset ``beta``) per
  (bits x symmetry x granularity): a vector over the output channels per ``channel`` (sliced to
  the active width like batch norm), a scalar per ``tensor``. Weights use the signed grid
  ``[-2^(b-1), 2^(b-1) - 1]``.
* :class:`ActQuantizer` -- one scalar step (and offset) per (bits x symmetry) for the conv's
  input activation, per tensor. The grid is unsigned ``[0, 2^b - 1]`` when the activation was
  non-negative on the calibration batch, else signed.

The quantizer (:func:`fake_quantize`) is ``q = round(clamp((x - beta) / s, n, p)) * s + beta``
with a straight-through rounding and LSQ's gradient scaling ``1 / sqrt(p * numel)`` (``numel``
per channel for per-channel steps), written with plain tensor ops so that TorchScript and
``torch.export`` trace it. **Steps are learned in log space** (``s = exp(theta)``, the gradient
scale on ``theta``), a departure from LSQ: small networks have small weights and steps (8-bit
steps of ``~4e-3`` on digits), and one SGD or Adam update of a raw step turned it negative,
which zeroes that channel's gradient for good (measured: training stalled at chance); a step in
log space moves by a ratio and stays positive.

**Initialisation** (:func:`init_quantizers`, once, before the first training step; the result
is in the state dict, with a flag, so a resumed supernet keeps it): for each setting, the clip
range shrinks from the tensor's range in 1 % steps (80 steps, down to 21 % of the range) and
the range with the least ``L_2.4`` error is kept (per channel for per-channel steps). EQ-Net's
code searches only 5 steps for per-channel symmetric weights; at 2 bits that leaves the grid
``{-2s, -s, 0, s}`` with ``s`` near a channel's largest weight, most weights at zero, and the
supernet 3 points below its static model in that setting (measured, 5 seeds; 0.4 with 80).
Weights are searched on the whole latent tensor; activations on the inputs each conv sees on
the first 256 training images, with the network at full precision and batch norm on batch
statistics (running statistics left as they were).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from nas.space import QuantChoice

if TYPE_CHECKING:
    from nas.supernet._network import Supernet

__all__ = [
    "ActQuantizer",
    "ConvQuantizer",
    "WeightQuantizer",
    "fake_quantize",
    "grad_scale",
    "init_quantizers",
    "quant_range",
    "round_ste",
]

#: The least step (a step of 0 would divide by zero).
MIN_STEP = 1e-8
#: Elements of an activation the initial search looks at (a strided subset beyond this).
_INIT_ELEMENTS = 1 << 16
#: Clip ranges the initial search tries, each 1 % narrower than the last.
_INIT_SEARCHES = 80
#: Images of the calibration batch of the initialisation.
INIT_IMAGES = 256


def round_ste(x: Tensor) -> Tensor:
    """``round(x)`` forward (exactly), identity backward (straight-through)."""
    return x.round().detach() + (x - x.detach())


def grad_scale(x: Tensor, scale: float) -> Tensor:
    """``x`` forward (exactly), gradient times ``scale`` backward (LSQ's step-size gradient
    scale)."""
    y = x * scale
    return x.detach() + (y - y.detach())


def quant_range(bits: int, signed: bool) -> tuple[int, int]:
    """The integer grid ``(n, p)``: ``[-2^(b-1), 2^(b-1) - 1]`` signed, ``[0, 2^b - 1]``
    unsigned."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def fake_quantize(x: Tensor, step: Tensor, offset: Tensor | None, n: int, p: int) -> Tensor:
    """``round(clamp((x - offset) / step, n, p)) * step + offset`` with straight-through
    rounding (``step`` and ``offset`` broadcast against ``x``)."""
    beta = offset if offset is not None else torch.zeros_like(step)
    codes = round_ste(torch.clamp((x - beta) / step, n, p))
    return codes * step + beta


def _key_w(bits: int, symmetry: str, granularity: str) -> str:
    return f"w{bits}_{symmetry}_{granularity}"


def _key_a(bits: int, symmetry: str) -> str:
    return f"a{bits}_{symmetry}"


def _l24_search(x: Tensor, n: int, p: int, asym: bool, steps: int) -> tuple[Tensor, Tensor]:
    """Per row of ``x`` ``(groups, m)``: the step and offset whose clip range, shrunk from the
    row's range in 1 % steps (``steps`` of them), quantizes the row with the least L_2.4
    error."""
    x = x.detach().float()
    if asym:
        lo, hi = x.min(dim=1).values, x.max(dim=1).values
        lo, hi = torch.minimum(lo, torch.zeros_like(lo)), torch.maximum(hi, torch.zeros_like(hi))
    else:
        m = x.abs().max(dim=1).values
        lo, hi = (torch.zeros_like(m) if n == 0 else -m), m
    best_err = torch.full_like(lo, math.inf)
    best_s = torch.ones_like(lo)
    best_b = torch.zeros_like(lo)
    for k in range(steps):
        a = 1.0 - 0.01 * k
        lo_k, hi_k = lo * a, hi * a
        if asym:
            s = torch.clamp((hi_k - lo_k) / (p - n), min=MIN_STEP)
            b = lo_k - n * s
        else:
            s = torch.clamp(torch.maximum(hi_k, -lo_k) / p, min=MIN_STEP)
            b = torch.zeros_like(s)
        q = torch.clamp(((x - b[:, None]) / s[:, None]).round(), n, p) * s[:, None] + b[:, None]
        err = (x - q).abs().pow(2.4).sum(dim=1)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best_s = torch.where(better, s, best_s)
        best_b = torch.where(better, b, best_b)
    return best_s, best_b


class WeightQuantizer(nn.Module):
    """The weight quantizers of one conv (module docstring).

    Args:
        channels: output channels of the latent weight (its first dimension).
        settings: ``(bits, symmetry, granularity)`` of every setting the conv can take.
    """

    def __init__(self, channels: int, settings: Iterable[tuple[int, str, str]]) -> None:
        super().__init__()
        self.channels = channels
        self.log_steps = nn.ParameterDict()
        self.offsets = nn.ParameterDict()
        for bits, symmetry, granularity in sorted(set(settings)):
            key = _key_w(bits, symmetry, granularity)
            shape = (channels,) if granularity == "channel" else (1,)
            self.log_steps[key] = nn.Parameter(torch.zeros(shape))
            if symmetry == "asym":
                self.offsets[key] = nn.Parameter(torch.zeros(shape))

    def params(self, w: Tensor, q: QuantChoice) -> tuple[Tensor, Tensor | None, int, int]:
        """The step and offset (with gradient scaling; shaped to broadcast against ``w``, its
        first dimension the active output channels) and the grid of setting ``q`` for the
        weight slice ``w``."""
        key = _key_w(q.wbits, q.symmetry, q.granularity)
        n, p = quant_range(q.wbits, signed=True)
        shape = (-1,) + (1,) * (w.dim() - 1)
        if q.granularity == "channel":
            per = w[0].numel()
            log_step = self.log_steps[key][: w.shape[0]]
        else:
            per = w.numel()
            log_step = self.log_steps[key]
        g = 1.0 / math.sqrt(p * per)
        s = torch.exp(grad_scale(log_step, g)).reshape(shape)
        offset = None
        if q.symmetry == "asym":
            raw = self.offsets[key]
            if q.granularity == "channel":
                raw = raw[: w.shape[0]]
            offset = grad_scale(raw, g).reshape(shape)
        return s, offset, n, p

    def forward(self, w: Tensor, q: QuantChoice) -> Tensor:
        """``w`` (the active slice of the latent weight) on setting ``q``'s grid."""
        s, b, n, p = self.params(w, q)
        return fake_quantize(w, s, b, n, p)

    @torch.no_grad()
    def initialize(self, weight: Tensor) -> None:
        """Every setting's step and offset from the latent ``weight`` (module docstring)."""
        flat = weight.detach().reshape(weight.shape[0], -1)
        for key, log_step in self.log_steps.items():
            bits_s, symmetry, granularity = key[1:].split("_")
            n, p = quant_range(int(bits_s), signed=True)
            asym = symmetry == "asym"
            rows = flat if granularity == "channel" else flat.reshape(1, -1)
            s, b = _l24_search(rows, n, p, asym, _INIT_SEARCHES)
            log_step.copy_(s.log())
            if asym:
                self.offsets[key].copy_(b)


class ActQuantizer(nn.Module):
    """The input-activation quantizers of one conv (module docstring).

    Args:
        settings: ``(bits, symmetry)`` of every setting the conv can take.
    """

    signed: Tensor

    def __init__(self, settings: Iterable[tuple[int, str]]) -> None:
        super().__init__()
        self.log_steps = nn.ParameterDict()
        self.offsets = nn.ParameterDict()
        for bits, symmetry in sorted(set(settings)):
            key = _key_a(bits, symmetry)
            self.log_steps[key] = nn.Parameter(torch.zeros(1))
            if symmetry == "asym":
                self.offsets[key] = nn.Parameter(torch.zeros(1))
        #: Whether the grid is signed (set by :meth:`initialize`).
        self.register_buffer("signed", torch.ones((), dtype=torch.bool))

    def params(self, x: Tensor, q: QuantChoice) -> tuple[Tensor, Tensor | None, int, int]:
        """The step, offset (gradient-scaled) and grid of setting ``q`` for the input ``x``."""
        key = _key_a(q.abits, q.symmetry)
        n, p = quant_range(q.abits, signed=bool(self.signed))
        g = 1.0 / math.sqrt(p * max(x[0].numel(), 1))
        s = torch.exp(grad_scale(self.log_steps[key], g))
        offset = grad_scale(self.offsets[key], g) if q.symmetry == "asym" else None
        return s, offset, n, p

    def forward(self, x: Tensor, q: QuantChoice) -> Tensor:
        """``x`` on setting ``q``'s grid."""
        s, b, n, p = self.params(x, q)
        return fake_quantize(x, s, b, n, p)

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """The grid's sign and every setting's step and offset from the inputs ``x`` seen on
        the calibration batch (module docstring)."""
        flat = x.detach().float().reshape(-1)
        self.signed.fill_(bool(flat.min() < 0))
        if flat.numel() > _INIT_ELEMENTS:
            flat = flat[:: -(-flat.numel() // _INIT_ELEMENTS)]
        for key, log_step in self.log_steps.items():
            bits_s, symmetry = key[1:].split("_")
            n, p = quant_range(int(bits_s), signed=bool(self.signed))
            asym = symmetry == "asym"
            s, b = _l24_search(flat[None], n, p, asym, _INIT_SEARCHES)
            log_step.copy_(s.log())
            if asym:
                self.offsets[key].copy_(b)


class ConvQuantizer(nn.Module):
    """The quantizers of one conv (or linear) layer and its active setting (``None``: full
    precision).

    Args:
        channels: output channels of the latent weight.
        choices: the settings the layer can take.
    """

    initialized: Tensor

    def __init__(self, channels: int, choices: Sequence[QuantChoice]) -> None:
        super().__init__()
        self.weight = WeightQuantizer(
            channels, ((q.wbits, q.symmetry, q.granularity) for q in choices)
        )
        self.act = ActQuantizer((q.abits, q.symmetry) for q in choices)
        self.choices = frozenset(choices)
        self.active: QuantChoice | None = None
        #: Whether :func:`init_quantizers` has set the steps.
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def set_active(self, q: QuantChoice | None) -> None:
        """Make ``q`` the setting (``None``: full precision).

        Raises:
            ValueError: ``q`` is not one of the layer's settings.
        """
        if q is not None and q not in self.choices:
            raise ValueError(f"quantization setting {q} is not one of this layer's")
        self.active = q

    def quantize(self, x: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
        """``(x, w)`` quantized by the active setting (as they are at full precision)."""
        q = self.active
        if q is None:
            return x, w
        return self.act(x, q), self.weight(w, q)


@torch.no_grad()
def init_quantizers(net: Supernet, images: Tensor, archs: Sequence[object]) -> None:
    """Initialise every quantizer of ``net`` not yet initialised (module docstring).

    Args:
        net: a quantized supernet.
        images: the calibration batch ``(n, c, h, w)`` (on ``net``'s device).
        archs: full-precision architectures that together run every quantized conv (their
            inputs are captured in order; the first capture of a conv is used).

    Raises:
        RuntimeError: a quantized conv that none of ``archs`` runs.
    """
    from nas.supernet._network import quantized_layers

    layers = [(m, qz) for m, qz in quantized_layers(net) if not bool(qz.initialized)]
    if not layers:
        return
    seen: dict[int, Tensor] = {}
    handles = []
    for module, _ in layers:

        def capture(mod: nn.Module, inputs: tuple[Tensor, ...]) -> None:
            seen.setdefault(id(mod), inputs[0].detach())

        handles.append(module.register_forward_pre_hook(capture))
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    previous = net.active
    was_training = net.training
    try:
        net.train()
        for arch in archs:
            net.set_active(arch)  # type: ignore[arg-type]
            net(images)
    finally:
        for h in handles:
            h.remove()
        for name, buf in net.named_buffers():
            buf.copy_(buffers[name])
        net.set_active(previous)
        net.train(was_training)
    missing = [m for m, _ in layers if id(m) not in seen]
    if missing:
        raise RuntimeError(f"{len(missing)} quantized layers ran in none of the architectures")
    for module, qz in layers:
        qz.weight.initialize(module.latent_weight)
        qz.act.initialize(seen[id(module)])
        qz.initialized.fill_(True)


@torch.no_grad()
def frozen_params(
    qz: ConvQuantizer, x_like: Tensor, w: Tensor
) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, Tensor, int, int]]:
    """The integer codes, weight scale and offset, and the activation's (scale, offset, n, p)
    of ``qz``'s active setting for the weight slice ``w`` and an input shaped like ``x_like``
    (one example is enough), computed exactly as the supernet's forward does.

    Raises:
        ValueError: no active setting.
    """

    q = qz.active
    if q is None:
        raise ValueError("no active quantization setting")
    s, b, n, p = qz.weight.params(w, q)
    beta = b if b is not None else torch.zeros_like(s)
    codes = torch.clamp((w - beta) / s, n, p).round()
    a_s, a_b, a_n, a_p = qz.act.params(x_like, q)
    a_beta = a_b if a_b is not None else torch.zeros_like(a_s)
    return (
        codes,
        s.detach().clone(),
        beta.detach().clone().expand_as(s).clone(),
        (a_s.detach().clone(), a_beta.detach().clone(), a_n, a_p),
    )
