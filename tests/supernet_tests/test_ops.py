"""Dynamic primitives slice their largest weights as documented."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from nas.supernet import DynamicBatchNorm2d, DynamicConv2d, DynamicLinear


def test_conv_uses_the_channel_prefix_and_the_kernel_centre() -> None:
    torch.manual_seed(0)
    conv = DynamicConv2d(6, 8, 5, stride=2)
    conv.active_out, conv.active_kernel = 3, 3
    x = torch.randn(2, 4, 9, 9)
    expected = F.conv2d(x, conv.weight[:3, :4, 1:4, 1:4], stride=2, padding=1)
    torch.testing.assert_close(conv(x), expected)
    torch.testing.assert_close(conv.static(4)(x), expected)


def test_depthwise_conv_keeps_the_input_channels() -> None:
    conv = DynamicConv2d(8, 8, 3, depthwise=True)
    x = torch.randn(1, 5, 6, 6)
    y = conv(x)
    assert y.shape == (1, 5, 6, 6)
    torch.testing.assert_close(conv.static(5)(x), y)
    with pytest.raises(ValueError, match="depthwise"):
        DynamicConv2d(4, 8, 3, depthwise=True)
    with pytest.raises(ValueError, match="odd"):
        DynamicConv2d(4, 8, 4)


def test_narrow_batch_norm_updates_only_its_prefix_of_the_running_stats() -> None:
    bn = DynamicBatchNorm2d(6)
    bn.train()
    before = bn.bn.running_mean.clone()
    bn(torch.randn(8, 4, 3, 3) + 5.0)
    assert not torch.equal(bn.bn.running_mean[:4], before[:4])
    assert torch.equal(bn.bn.running_mean[4:], before[4:])
    bn.eval()
    x = torch.randn(3, 4, 3, 3)
    torch.testing.assert_close(bn(x), bn.static(4).eval()(x))


def test_gradients_reach_only_the_active_slice() -> None:
    conv = DynamicConv2d(4, 8, 5)
    conv.active_out, conv.active_kernel = 2, 3
    conv(torch.randn(2, 4, 5, 5)).sum().backward()
    g = conv.weight.grad
    assert g is not None
    assert g[2:].abs().sum() == 0 and g[:, :, 0].abs().sum() == 0  # other filters, kernel rim
    assert g[:2, :, 1:4, 1:4].abs().sum() > 0


def test_linear_slices_its_inputs() -> None:
    lin = DynamicLinear(8, 3)
    x = torch.randn(5, 6)
    torch.testing.assert_close(lin(x), F.linear(x, lin.linear.weight[:, :6], lin.linear.bias))
    torch.testing.assert_close(lin.static(6)(x), lin(x))
