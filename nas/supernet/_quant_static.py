"""The plain modules of an extracted quantized subnet (:mod:`nas.supernet._quant`).

This module does not use postponed annotations: TorchScript reads the buffers' class-level
annotations as types.
"""

import torch
from torch import Tensor, nn

__all__ = ["QuantizedConv2d", "QuantizedLinear"]


class QuantizedConv2d(nn.Module):
    """A plain conv whose weights are stored on their quantization grid (an extracted subnet):
    integer ``codes`` (``int8``), ``w_scale`` and ``w_offset`` per output channel (or one for
    the tensor; the offset 0 when symmetric), the weight being ``codes * w_scale + w_offset``;
    the input is quantized per tensor by ``a_scale``, ``a_offset`` on ``[a_min, a_max]``. Its
    outputs equal the supernet's conv in that setting; TorchScript and ``torch.export`` run it.
    """

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
        *,
        stride: int,
        padding: int,
        groups: int,
    ) -> None:
        super().__init__()
        self.register_buffer("codes", codes.to(torch.int8))
        self.register_buffer("w_scale", w_scale)
        self.register_buffer("w_offset", w_offset)
        self.register_buffer("a_scale", act[0])
        self.register_buffer("a_offset", act[1])
        # The grid's ends as buffers: a loaded state dict brings the grid (signed or not).
        self.register_buffer("a_min", torch.tensor(float(act[2])))
        self.register_buffer("a_max", torch.tensor(float(act[3])))
        self.stride, self.padding, self.groups = int(stride), int(padding), int(groups)
        self.out_channels = int(codes.shape[0])

    def dequantized_weight(self) -> Tensor:
        """``codes * w_scale + w_offset``."""
        return self.codes.to(self.w_scale.dtype) * self.w_scale + self.w_offset

    def forward(self, x: Tensor) -> Tensor:
        x = torch.clamp((x - self.a_offset) / self.a_scale, self.a_min, self.a_max).round()
        x = x * self.a_scale + self.a_offset
        w = self.codes.to(x.dtype) * self.w_scale + self.w_offset
        return torch.nn.functional.conv2d(x, w, None, self.stride, self.padding, 1, self.groups)


class QuantizedLinear(nn.Module):
    """The classifier of an extracted quantized subnet (as :class:`QuantizedConv2d`, with a
    float bias)."""

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
        bias: Tensor,
    ) -> None:
        super().__init__()
        self.register_buffer("codes", codes.to(torch.int8))
        self.register_buffer("w_scale", w_scale)
        self.register_buffer("w_offset", w_offset)
        self.register_buffer("a_scale", act[0])
        self.register_buffer("a_offset", act[1])
        # The grid's ends as buffers: a loaded state dict brings the grid (signed or not).
        self.register_buffer("a_min", torch.tensor(float(act[2])))
        self.register_buffer("a_max", torch.tensor(float(act[3])))
        self.bias = nn.Parameter(bias.detach().clone())
        self.out_features = int(codes.shape[0])

    def dequantized_weight(self) -> Tensor:
        """``codes * w_scale + w_offset``."""
        return self.codes.to(self.w_scale.dtype) * self.w_scale + self.w_offset

    def forward(self, x: Tensor) -> Tensor:
        x = torch.clamp((x - self.a_offset) / self.a_scale, self.a_min, self.a_max).round()
        x = x * self.a_scale + self.a_offset
        w = self.codes.to(x.dtype) * self.w_scale + self.w_offset
        return torch.nn.functional.linear(x, w, self.bias)
