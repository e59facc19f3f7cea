"""The plain modules of an extracted quantized subnet (:mod:`nas.supernet._quant`).

This module does not use postponed annotations: TorchScript reads the buffers' class-level
annotations as types.
"""

import torch
from torch import Tensor, nn

__all__ = ["QuantizedConv2d", "QuantizedLinear"]


class _OnGrid(nn.Module):
    """Weights stored on their quantization grid: integer ``codes`` (``int8``), ``w_scale`` and
    ``w_offset`` per output channel (or one for the tensor; the offset 0 when symmetric), the
    weight being ``codes * w_scale + w_offset``; the input quantized per tensor by ``a_scale``,
    ``a_offset`` on ``[a_min, a_max]`` (buffers, so that a loaded state dict brings the grid,
    signed or not)."""

    codes: Tensor
    w_scale: Tensor
    w_offset: Tensor
    a_scale: Tensor
    a_offset: Tensor
    a_min: Tensor
    a_max: Tensor

    def __init__(
        self,
        codes: Tensor,
        w_scale: Tensor,
        w_offset: Tensor,
        act: tuple[Tensor, Tensor, int, int],
    ) -> None:
        super().__init__()
        self.register_buffer("codes", codes.to(torch.int8))
        self.register_buffer("w_scale", w_scale)
        self.register_buffer("w_offset", w_offset)
        self.register_buffer("a_scale", act[0])
        self.register_buffer("a_offset", act[1])
        self.register_buffer("a_min", torch.tensor(float(act[2])))
        self.register_buffer("a_max", torch.tensor(float(act[3])))

    def dequantized_weight(self) -> Tensor:
        """``codes * w_scale + w_offset``."""
        return self.codes.to(self.w_scale.dtype) * self.w_scale + self.w_offset

    def _on_grid(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The quantized input and the weight, as the supernet computes them."""
        x = torch.clamp((x - self.a_offset) / self.a_scale, self.a_min, self.a_max).round()
        x = x * self.a_scale + self.a_offset
        return x, self.codes.to(x.dtype) * self.w_scale + self.w_offset


class QuantizedConv2d(_OnGrid):
    """A plain conv of an extracted quantized subnet (:class:`_OnGrid` storage). Its outputs
    equal the supernet's conv in that setting; TorchScript and ``torch.export`` run it."""

    def __init__(
        self,
        codes: Tensor,
        w_scale: Tensor,
        w_offset: Tensor,
        act: tuple[Tensor, Tensor, int, int],
        *,
        stride: int,
        padding: int,
        groups: int,
    ) -> None:
        super().__init__(codes, w_scale, w_offset, act)
        self.stride, self.padding, self.groups = int(stride), int(padding), int(groups)
        self.out_channels = int(codes.shape[0])

    def forward(self, x: Tensor) -> Tensor:
        x, w = self._on_grid(x)
        return torch.nn.functional.conv2d(x, w, None, self.stride, self.padding, 1, self.groups)


class QuantizedLinear(_OnGrid):
    """The classifier of an extracted quantized subnet (:class:`_OnGrid` storage, a float
    bias)."""

    def __init__(
        self,
        codes: Tensor,
        w_scale: Tensor,
        w_offset: Tensor,
        act: tuple[Tensor, Tensor, int, int],
        bias: Tensor,
    ) -> None:
        super().__init__(codes, w_scale, w_offset, act)
        self.bias = nn.Parameter(bias.detach().clone())
        self.out_features = int(codes.shape[0])

    def forward(self, x: Tensor) -> Tensor:
        x, w = self._on_grid(x)
        return torch.nn.functional.linear(x, w, self.bias)
