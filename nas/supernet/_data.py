"""Image data sets for supernet training: scikit-learn's digits (embedded) and CIFAR-10 from disk.

Nothing is ever downloaded. :func:`load_image_dataset` returns an :class:`ImageDataset` of float32
image tensors ``(n, channels, height, width)`` and int64 labels, split into train / validation /
test parts:

* ``digits``: scikit-learn's 1797 8x8 grey images (values 0..16 scaled to [0, 1]), split
  stratified 60 / 20 / 20 (or other proportions) by a generator seeded with ``seed`` (the split
  is a function of ``seed``; ``seed=0`` is the default everyone shares).
* ``cifar10``: the standard *binary* batches (``data_batch_1.bin`` ... ``data_batch_5.bin``,
  ``test_batch.bin``; records of 1 label byte and 3072 pixel bytes, channel-major 32x32 RGB) in a
  directory the user has -- the directory itself or its ``cifar-10-batches-bin`` child. The last
  ``val_fraction`` of the training records (after a seeded shuffle) is the validation part; the
  test batch is the test part. Pixels are scaled to [0, 1] and normalised per channel with the
  usual CIFAR-10 means and standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nas.exceptions import NasError

__all__ = [
    "DatasetError",
    "augment_batch",
    "ImageDataset",
    "load_cifar10",
    "load_digits_images",
    "load_image_dataset",
]

_CIFAR_RECORD = 1 + 3 * 32 * 32
_CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR_TEST = "test_batch.bin"
_CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
_CIFAR_STD = (0.2470, 0.2435, 0.2616)


class DatasetError(NasError, ValueError):
    """A data set cannot be loaded: unknown name, missing files or a malformed file."""


@dataclass(frozen=True)
class ImageDataset:
    """Image tensors split into train / validation / test.

    Attributes:
        name: the data set's name.
        x_train, x_val, x_test: float32 ``(n, channels, height, width)``.
        y_train, y_val, y_test: int64 ``(n,)`` class indices.
        classes: number of classes.
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one image."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)


def load_digits_images(
    seed: int = 0, split: tuple[float, float, float] = (0.6, 0.2, 0.2)
) -> ImageDataset:
    """scikit-learn's digits as ``1 x 8 x 8`` images, split train / validation / test per class
    in the proportions ``split`` (default 60 / 20 / 20) by ``seed``.

    Raises:
        DatasetError: ``split`` is not three non-negative fractions summing to 1 with a
            positive train fraction.
    """
    from sklearn.datasets import load_digits

    if len(split) != 3 or min(split) < 0 or split[0] <= 0 or abs(sum(split) - 1.0) > 1e-9:
        raise DatasetError(f"split must be 3 fractions (train > 0) summing to 1, got {split}")
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xD161]))
    parts: list[list[int]] = [[], [], []]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val, n_test = round(split[1] * len(idx)), round(split[2] * len(idx))
        parts[1].extend(idx[:n_val])
        parts[2].extend(idx[n_val : n_val + n_test])
        parts[0].extend(idx[n_val + n_test :])
    images = torch.as_tensor(x / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    labels = torch.as_tensor(y, dtype=torch.int64)
    tr, va, te = (torch.as_tensor(sorted(p), dtype=torch.int64) for p in parts)
    return ImageDataset(
        "digits", images[tr], labels[tr], images[va], labels[va], images[te], labels[te], 10
    )


def _read_cifar_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise DatasetError(
            f"{path}: not a CIFAR-10 binary batch (size {raw.size} bytes is not a positive "
            f"multiple of the {_CIFAR_RECORD}-byte record)"
        )
    records = raw.reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DatasetError(f"{path}: label {int(labels.max())} outside 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def load_cifar10(root: str | Path, seed: int = 0, val_fraction: float = 0.1) -> ImageDataset:
    """CIFAR-10 from the binary batches under ``root`` (module docstring).

    Raises:
        DatasetError: the directory or a batch file is missing (the message lists the expected
            files), a file is malformed, or ``val_fraction`` is not in ``[0, 1)``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"val_fraction must be in [0, 1), got {val_fraction}")
    base = Path(root)
    if (base / "cifar-10-batches-bin").is_dir():
        base = base / "cifar-10-batches-bin"
    expected = [*_CIFAR_TRAIN, _CIFAR_TEST]
    missing = [f for f in expected if not (base / f).is_file()]
    if missing:
        raise DatasetError(
            f"{base}: missing CIFAR-10 binary batches {missing}; expected {expected} (the "
            f"'CIFAR-10 binary version' archive, extracted; nothing is downloaded)"
        )
    train = [_read_cifar_file(base / f) for f in _CIFAR_TRAIN]
    x_tr = np.concatenate([a for a, _ in train])
    y_tr = np.concatenate([b for _, b in train])
    x_te, y_te = _read_cifar_file(base / _CIFAR_TEST)
    order = np.random.default_rng(np.random.SeedSequence([seed, 0xC1FA])).permutation(len(x_tr))
    n_val = round(val_fraction * len(x_tr))
    val_idx, tr_idx = np.sort(order[len(order) - n_val :]), np.sort(order[: len(order) - n_val])
    mean = torch.tensor(_CIFAR_MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(_CIFAR_STD).reshape(1, 3, 1, 1)

    def norm(a: np.ndarray) -> Tensor:
        return (torch.as_tensor(a, dtype=torch.float32) / 255.0 - mean) / std

    def lab(a: np.ndarray) -> Tensor:
        return torch.as_tensor(a, dtype=torch.int64)

    return ImageDataset(
        "cifar10",
        norm(x_tr[tr_idx]),
        lab(y_tr[tr_idx]),
        norm(x_tr[val_idx]),
        lab(y_tr[val_idx]),
        norm(x_te),
        lab(y_te),
        10,
    )


def load_image_dataset(name: str, root: str | Path | None = None, seed: int = 0) -> ImageDataset:
    """``digits`` (embedded) or ``cifar10`` (from ``root``).

    Raises:
        DatasetError: an unknown name, or ``cifar10`` without ``root`` (and the errors of
            :func:`load_cifar10`).
    """
    if name == "digits":
        return load_digits_images(seed)
    if name == "cifar10":
        if root is None:
            raise DatasetError(
                "dataset cifar10 needs a root: the directory holding the binary batches"
            )
        return load_cifar10(root, seed)
    raise DatasetError(f"unknown dataset {name!r}; available: 'digits', 'cifar10'")


def augment_batch(x: Tensor, kind: str, rng: np.random.Generator) -> Tensor:
    """A randomly augmented copy of the image batch ``x`` ``(n, c, h, w)``.

    ``kind``: ``none`` (``x`` itself) or ``shift`` (each image translated by -1, 0 or +1 pixel
    in each direction, independently and uniformly, zero filled). Offsets come from ``rng``
    (two draws per image), so training that owns its generator stays reproducible.

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind == "none":
        return x
    if kind != "shift":
        raise ValueError(f"unknown augmentation {kind!r}; valid: none, shift")
    n, c, h, w = x.shape
    offsets = torch.as_tensor(rng.integers(0, 3, size=(n, 2)), device=x.device)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    rows = torch.arange(h, device=x.device)[None, :] + offsets[:, :1]
    cols = torch.arange(w, device=x.device)[None, :] + offsets[:, 1:]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]
