"""Dynamic (elastic) primitives: each holds its largest weights and slices them per forward.

The active configuration is explicit state on each op (``active_out``, ``active_kernel``), set
by the network from an :class:`~nas.supernet.Arch`; the input channel count is read from the
input. Slicing rules (once-for-all's, minus its learned kernel transforms):

* channels: a prefix (channel ``c`` of a narrow layer is channel ``c`` of the widest);
* kernel: the centre ``k x k`` crop of the largest kernel (``padding = k // 2``);
* batch norm: the prefix of the affine parameters and of the running statistics.

Each op can also build the static ``nn`` module of its active configuration with the sliced
weights copied in (:meth:`DynamicConv2d.static` etc.), which is how a subnet is extracted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the usual alias
from torch import Tensor, nn

from nas.supernet._quant import ConvQuantizer, frozen_params
from nas.supernet._quant_static import QuantizedConv2d, QuantizedLinear

__all__ = ["DynamicBatchNorm2d", "DynamicConv2d", "DynamicLinear"]


class DynamicConv2d(nn.Module):
    """A 2-D convolution of up to ``max_in -> max_out`` channels and ``max_kernel`` kernel.

    Args:
        max_in: largest number of input channels (the input's channel count may be less).
        max_out: largest number of output channels.
        max_kernel: largest (odd) kernel size.
        stride: stride (fixed).
        depthwise: one filter per input channel (``groups = in_channels``); then the output
            channels are the input channels and ``max_out`` must equal ``max_in``.

    Raises:
        ValueError: an even kernel, or a depthwise conv with ``max_out != max_in``.
    """

    def __init__(
        self, max_in: int, max_out: int, max_kernel: int, stride: int = 1, depthwise: bool = False
    ) -> None:
        super().__init__()
        if max_kernel % 2 == 0:
            raise ValueError(f"kernel size must be odd, got {max_kernel}")
        if depthwise and max_in != max_out:
            raise ValueError(f"a depthwise conv keeps its channels: {max_in} != {max_out}")
        self.max_in, self.max_out, self.max_kernel = max_in, max_out, max_kernel
        self.stride, self.depthwise = stride, depthwise
        in_per_group = 1 if depthwise else max_in
        self.weight = nn.Parameter(torch.empty(max_out, in_per_group, max_kernel, max_kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
        self.active_out = max_out
        self.active_kernel = max_kernel
        #: The quantizers of an elastically quantized supernet (:mod:`nas.supernet._quant`).
        self.quantizer: ConvQuantizer | None = None

    @property
    def latent_weight(self) -> Tensor:
        """The whole float weight (the quantizers' latent weight)."""
        return self.weight

    def active_weight(self, in_channels: int) -> Tensor:
        """The weight slice of the active configuration for ``in_channels`` inputs."""
        k = self.active_kernel
        start = (self.max_kernel - k) // 2
        w = self.weight[:, :, start : start + k, start : start + k]
        if self.depthwise:
            return w[:in_channels]
        return w[: self.active_out, :in_channels]

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``(batch, in_channels, h, w)`` with ``in_channels <= max_in``."""
        c = x.shape[1]
        w = self.active_weight(c)
        if self.quantizer is not None:
            x, w = self.quantizer.quantize(x, w)
        groups = c if self.depthwise else 1
        return F.conv2d(x, w, None, self.stride, self.active_kernel // 2, 1, groups)

    def static(self, in_channels: int) -> nn.Conv2d | QuantizedConv2d:
        """A plain ``nn.Conv2d`` equal to this op in its active configuration (a
        :class:`~nas.supernet._quant.QuantizedConv2d` when a quantization setting is active)."""
        w = self.active_weight(in_channels)
        if self.quantizer is not None and self.quantizer.active is not None:
            codes, scale, offset, act = frozen_params(self.quantizer, w, w)
            return QuantizedConv2d(
                codes,
                scale,
                offset,
                act,
                stride=self.stride,
                padding=self.active_kernel // 2,
                groups=in_channels if self.depthwise else 1,
            )
        out = in_channels if self.depthwise else self.active_out
        conv = nn.Conv2d(
            in_channels,
            out,
            self.active_kernel,
            self.stride,
            self.active_kernel // 2,
            groups=in_channels if self.depthwise else 1,
            bias=False,
        )
        with torch.no_grad():
            conv.weight.copy_(w)
        return conv


class DynamicBatchNorm2d(nn.Module):
    """Batch norm over up to ``max_features`` channels; the input's channel count is active.

    Running statistics are kept for the largest width and sliced (a narrow subnet sees the
    statistics of its channel prefix); :func:`nas.supernet.recalibrate_bn` (training) resets
    them for one architecture.
    """

    def __init__(self, max_features: int, momentum: float | None = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.max_features = max_features
        self.bn = nn.BatchNorm2d(max_features, momentum=momentum, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``(batch, c, h, w)`` with ``c <= max_features``."""
        c = x.shape[1]
        bn = self.bn
        if c == self.max_features:
            return bn(x)
        training = bn.training or not bn.track_running_stats
        mean = bn.running_mean[:c] if bn.running_mean is not None else None
        var = bn.running_var[:c] if bn.running_var is not None else None
        if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
            bn.num_batches_tracked.add_(1)
        momentum = bn.momentum
        if momentum is None and bn.num_batches_tracked is not None:  # cumulative average
            momentum = 1.0 / float(bn.num_batches_tracked)
        return F.batch_norm(
            x,
            mean,
            var,
            bn.weight[:c],
            bn.bias[:c],
            training,
            0.0 if momentum is None else momentum,
            bn.eps,
        )

    def static(self, features: int) -> nn.BatchNorm2d:
        """A plain ``nn.BatchNorm2d`` with this op's affine and running stats for ``features``."""
        bn = self.bn
        out = nn.BatchNorm2d(features, momentum=bn.momentum, eps=bn.eps)
        with torch.no_grad():
            out.weight.copy_(bn.weight[:features])
            out.bias.copy_(bn.bias[:features])
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                src, dst = getattr(bn, name), getattr(out, name)
                if src is not None and dst is not None:
                    dst.copy_(src[:features] if src.dim() else src)
        return out


class DynamicLinear(nn.Module):
    """A linear layer of up to ``max_in`` inputs (the input's width is active) to ``out``."""

    def __init__(self, max_in: int, out: int) -> None:
        super().__init__()
        self.max_in, self.out = max_in, out
        self.linear = nn.Linear(max_in, out)
        #: The quantizers of an elastically quantized supernet (:mod:`nas.supernet._quant`).
        self.quantizer: ConvQuantizer | None = None

    @property
    def latent_weight(self) -> Tensor:
        """The whole float weight (the quantizers' latent weight)."""
        return self.linear.weight

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``(batch, c)`` with ``c <= max_in``."""
        c = x.shape[-1]
        w = self.linear.weight[:, :c]
        if self.quantizer is not None:
            x, w = self.quantizer.quantize(x, w)
        return F.linear(x, w, self.linear.bias)

    def static(self, in_features: int) -> nn.Linear | QuantizedLinear:
        """A plain ``nn.Linear`` equal to this op for ``in_features`` inputs (a
        :class:`~nas.supernet._quant.QuantizedLinear` when a quantization setting is active)."""
        if self.quantizer is not None and self.quantizer.active is not None:
            w = self.linear.weight[:, :in_features]
            codes, scale, offset, act = frozen_params(self.quantizer, w, w)
            return QuantizedLinear(codes, scale, offset, act, self.linear.bias)
        out = nn.Linear(in_features, self.out)
        with torch.no_grad():
            out.weight.copy_(self.linear.weight[:, :in_features])
            out.bias.copy_(self.linear.bias)
        return out
