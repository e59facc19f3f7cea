"""Checkpoints as bytes: what :meth:`SupernetTrainer.state_dict` returns, serialised so it can be
stored in the database (:meth:`nas.storage.RDBStorage.store_artifact`) and read back safely.

``torch.load`` runs with ``weights_only=True`` (no arbitrary code from a database row), which
accepts tensors, numbers, strings and plain containers only. numpy arrays (the path samplers'
state) are therefore stored as tensors inside a ``{"__ndarray__": tensor}`` marker and turned
back into arrays of the same dtype and shape on load.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["checkpoint_from_bytes", "checkpoint_to_bytes"]

_ND = "__ndarray__"


def _encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return {_ND: torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_encode(v) for v in obj)
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        if set(obj) == {_ND}:
            return obj[_ND].numpy().copy()
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_decode(v) for v in obj)
    return obj


def checkpoint_to_bytes(state: Mapping[str, Any]) -> bytes:
    """Serialise a state dict (tensors moved to CPU; numpy arrays kept as arrays on load)."""
    buf = io.BytesIO()
    torch.save(_encode(_to_cpu(state)), buf)
    return buf.getvalue()


def checkpoint_from_bytes(data: bytes, map_location: str | torch.device = "cpu") -> Any:
    """Inverse of :func:`checkpoint_to_bytes` (tensors land on ``map_location``).

    Raises:
        ValueError: ``data`` is not such a checkpoint (truncated, or not written by
            :func:`checkpoint_to_bytes`).
    """
    try:
        raw = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for malformed input
        raise ValueError(f"not a readable checkpoint ({type(e).__name__}: {e})") from None
    return _decode(raw)


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, Mapping):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
