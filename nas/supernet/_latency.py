"""Latency of a network: the median wall time of a forward pass on a device.

The analytic costs (MACs, FLOPs, parameters) of an architecture need no network and live in
:mod:`nas.space` (:func:`nas.space.arch_cost`).
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

__all__ = ["measure_latency"]


def measure_latency(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    warmup: int = 10,
    repeats: int = 50,
    device: str | torch.device = "cpu",
) -> float:
    """Median wall time of one forward pass of ``model``, in milliseconds.

    The model runs in eval mode under ``torch.inference_mode`` on ``device`` (CUDA is
    synchronised around each pass); ``warmup`` passes are discarded first. The caller's
    training mode is restored.

    Args:
        model: the network (typically :meth:`Supernet.extract` of an architecture).
        input_shape: shape of the input batch, e.g. ``(1, 1, 8, 8)``.
        warmup: passes not timed, ``>= 0``.
        repeats: timed passes, ``>= 1``.
        device: where to run.

    Raises:
        ValueError: ``repeats < 1`` or ``warmup < 0``.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    dev = torch.device(device)
    was_training = model.training
    model.eval()
    model.to(dev)
    x = torch.zeros(input_shape, device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times: list[float] = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                sync()
                t0 = time.perf_counter()
                model(x)
                sync()
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
    finally:
        model.train(was_training)
    return 1e3 * statistics.median(times)
