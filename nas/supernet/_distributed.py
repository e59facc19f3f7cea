"""Helpers of data-parallel supernet training over ``torch.distributed`` (one process per device,
launched with ``torchrun``; see :mod:`nas.supernet.train`).

Nothing here touches ``torch.distributed`` unless a process group of more than one process is
initialised (:func:`is_distributed`): without one every helper is a no-op (or returns its
single-process answer), so library code calls them unconditionally and a single process behaves
exactly as before.

Every function that communicates is a **collective**: every process of the group must call it,
in the same order, with arguments of the same shapes; a process that skips one makes the others
wait (until the group's timeout, or until ``torchrun`` stops them because that process failed).
Tensors travel on the device of the backend: CUDA (the current device, which each process must
set to its own with ``torch.cuda.set_device`` as :mod:`nas.supernet.train` does) for ``nccl``,
CPU for ``gloo`` (CUDA tensors are copied there and back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from nas.exceptions import NasError

__all__ = [
    "DistributedError",
    "all_reduce_gradients",
    "average_buffers",
    "barrier",
    "batch_slice",
    "broadcast_module",
    "broadcast_object",
    "check_identical",
    "is_distributed",
    "is_main_process",
    "main_first",
    "on_main",
    "rank",
    "sum_over_processes",
    "world_size",
]

T = TypeVar("T")


class DistributedError(NasError, RuntimeError):
    """Data-parallel processes disagree, or the main process failed at a step the others
    wait on (the message quotes its error)."""


def is_distributed() -> bool:
    """Whether a process group of more than one process is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank in the group (``0`` without one)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes in the group (``1`` without one)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Whether this process is rank 0 (the one that writes); ``True`` without a group."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process reaches this point (collective; no-op without a group)."""
    if is_distributed():
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()


def _device() -> torch.device:
    """Where tensors must be for the group's backend."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def batch_slice(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous slice ``[lo, hi)`` of a batch of ``n`` examples that process ``rank`` of
    ``world_size`` trains: sizes differ by at most one, the first ``n % world_size`` processes
    take the larger ones, and a process gets an empty slice when ``n < world_size``.

    Raises:
        ValueError: ``n < 0``, ``world_size < 1`` or ``rank`` not in ``[0, world_size)``.
    """
    if n < 0 or world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"no slice {rank} of {world_size} for a batch of {n}")
    base, extra = divmod(n, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def broadcast_object(obj: T, src: int = 0) -> T:
    """Process ``src``'s ``obj`` (picklable) on every process (collective; ``obj`` itself
    without a group)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src, device=_device())
    return box[0]


def on_main(fn: Callable[[], T]) -> T:
    """Call ``fn`` on the main process only and return its (picklable) result on every process.

    Collective: the other processes return once ``fn`` has returned on the main process, so
    what it wrote (e.g. an artifact in the study's database) is visible to them afterwards.
    Without a group: ``fn()``.

    Raises:
        Exception: on the main process, whatever ``fn`` raised.
        DistributedError: on the others, when ``fn`` raised on the main process (the message
            quotes its error), so that every process stops instead of waiting.
    """
    if not is_distributed():
        return fn()
    return _main_then_others(fn, share=True)


def main_first(fn: Callable[[], T]) -> T:
    """Call ``fn`` on the main process, then (once it returned) on the others; each process
    returns its own result. For steps whose first call writes and the others only read, e.g.
    creating a study (collective; ``fn()`` without a group).

    Raises:
        Exception: whatever ``fn`` raised on this process.
        DistributedError: on the other processes, when ``fn`` raised on the main one.
    """
    if not is_distributed():
        return fn()
    if is_main_process():
        return _main_then_others(fn, share=False)
    _main_then_others(fn, share=False)
    return fn()


def _main_then_others(fn: Callable[[], Any], share: bool) -> Any:
    """Run ``fn`` on the main process and tell the others whether it succeeded (and, with
    ``share``, its result); the others return that result (``None`` without ``share``)."""
    if is_main_process():
        try:
            result = fn()
        except Exception as e:
            broadcast_object((False, f"{type(e).__name__}: {e}"))
            raise
        broadcast_object((True, result if share else None))
        return result
    ok, value = broadcast_object((True, None))
    if not ok:
        raise DistributedError(f"the main process (rank 0) failed: {value}")
    return value


def check_identical(value: str, what: str) -> None:
    """Check that every process passes the same ``value`` (a fingerprint of its state).

    Collective; no-op without a group.

    Raises:
        DistributedError: the values differ (on every process; the message names ``what``).
    """
    if not is_distributed():
        return
    values: list[Any] = [None] * world_size()
    dist.all_gather_object(values, value)
    if any(v != values[0] for v in values):
        differ = [r for r, v in enumerate(values) if v != values[0]]
        raise DistributedError(
            f"data-parallel processes disagree on {what} (ranks {differ} differ from rank 0); "
            "every process must train the same supernet, data set, settings and seed"
        )


def _by_kind(tensors: Iterable[torch.Tensor]) -> dict[tuple[torch.dtype, torch.device], list[int]]:
    """Positions of ``tensors`` grouped by dtype and device (one flat buffer per group)."""
    groups: dict[tuple[torch.dtype, torch.device], list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault((t.dtype, t.device), []).append(i)
    return groups


def all_reduce_gradients(params: Iterable[nn.Parameter], weight: float) -> None:
    """Replace every parameter's ``.grad`` by ``sum over processes of weight_r * grad_r``.

    With ``weight_r`` = this process's share of the batch (its slice size over the batch size)
    and ``grad_r`` the gradient of its slice's mean loss, the result is the gradient of the
    whole batch's mean loss, identical on every process. A parameter whose ``.grad`` is ``None``
    on every process keeps ``None`` (the optimizer skips it, as it would in one process); one
    that has a gradient on some processes only counts zeros for the others (e.g. a process with
    an empty slice). One all-reduce per dtype and device of the parameters.

    Collective; no-op without a group (one process's share is the whole batch).
    """
    if not is_distributed():
        return
    params = list(params)
    with torch.no_grad():
        for (dtype, device), positions in _by_kind(params).items():
            ps = [params[i] for i in positions]
            grads = [
                (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in ps
            ]
            used = torch.tensor([p.grad is not None for p in ps], dtype=dtype, device=device)
            flat = torch.cat([*grads, used]).to(_device())
            n = flat.numel() - len(ps)
            flat[:n].mul_(weight)
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat = flat.to(device)
            offset = 0
            for p, has_grad in zip(ps, flat[n:].tolist(), strict=True):
                size = p.numel()
                if has_grad > 0:
                    p.grad = flat[offset : offset + size].view_as(p)
                offset += size


def average_buffers(module: nn.Module) -> None:
    """Make ``module``'s buffers identical on every process: floating-point ones (batch-norm
    running statistics) become their mean over processes, the others (``num_batches_tracked``)
    rank 0's. Collective; no-op without a group."""
    if not is_distributed():
        return
    buffers = list(module.buffers())
    n = world_size()
    with torch.no_grad():
        for (dtype, device), positions in _by_kind(buffers).items():
            bs = [buffers[i] for i in positions]
            if not dtype.is_floating_point:
                for b in bs:
                    _broadcast_tensor(b, 0)
                continue
            flat = torch.cat([b.reshape(-1) for b in bs]).to(_device())
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat = flat.div_(n).to(device)
            offset = 0
            for b in bs:
                b.copy_(flat[offset : offset + b.numel()].view_as(b))
                offset += b.numel()


def _broadcast_tensor(t: torch.Tensor, src: int) -> None:
    """Overwrite ``t`` in place with process ``src``'s."""
    buf = t.detach().to(_device())
    dist.broadcast(buf, src=src)
    if buf.data_ptr() != t.data_ptr():
        t.detach().copy_(buf)


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Overwrite ``module``'s parameters and buffers with process ``src``'s (collective; no-op
    without a group)."""
    if not is_distributed():
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            _broadcast_tensor(t, src)


def sum_over_processes(a: np.ndarray) -> np.ndarray:
    """The elementwise sum of ``a`` over processes (same shape and dtype), identical on every
    process. Collective; without a group, ``a`` itself."""
    if not is_distributed():
        return a
    t = torch.from_numpy(np.ascontiguousarray(a).copy()).to(_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().numpy().astype(a.dtype, copy=False).reshape(a.shape)
