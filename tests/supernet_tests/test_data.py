"""Image data sets: digits split, CIFAR-10 binary batches read from disk, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nas.supernet import DatasetError, load_cifar10, load_image_dataset


def test_digits_split_is_stratified_disjoint_and_seeded() -> None:
    a = load_image_dataset("digits")
    assert a.input_shape == (1, 8, 8) and a.classes == 10
    n = len(a.y_train) + len(a.y_val) + len(a.y_test)
    assert n == 1797
    assert float(a.x_train.max()) <= 1.0 and float(a.x_train.min()) >= 0.0
    for part in (a.y_val, a.y_test):
        assert set(torch.bincount(part, minlength=10).tolist()) <= {35, 36, 37}
    b = load_image_dataset("digits", seed=0)
    c = load_image_dataset("digits", seed=1)
    assert torch.equal(a.x_val, b.x_val) and not torch.equal(a.x_val, c.x_val)


def _write_batch(path: Path, labels: list[int], rng: np.random.Generator) -> np.ndarray:
    pixels = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    records = np.concatenate([np.array(labels, dtype=np.uint8)[:, None], pixels], axis=1)
    records.tofile(path)
    return pixels


def test_cifar10_binary_batches_are_read_in_the_standard_layout(tmp_path: Path) -> None:
    base = tmp_path / "cifar-10-batches-bin"
    base.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        _write_batch(base / f"data_batch_{i}.bin", [i % 10, (i + 1) % 10], rng)
    test_pixels = _write_batch(base / "test_batch.bin", [3, 7, 9], rng)
    data = load_cifar10(tmp_path, val_fraction=0.2)
    assert data.input_shape == (3, 32, 32)
    assert len(data.y_train) == 8 and len(data.y_val) == 2
    assert data.y_test.tolist() == [3, 7, 9]
    # channel-major: the first 1024 bytes are the red plane of image 0
    red = (test_pixels[0, :1024].reshape(32, 32) / 255.0 - 0.4914) / 0.2470
    np.testing.assert_allclose(data.x_test[0, 0].numpy(), red, rtol=1e-5, atol=1e-5)


def test_cifar10_errors_say_what_is_missing_or_wrong(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"data_batch_1\.bin"):
        load_cifar10(tmp_path)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (tmp_path / name).write_bytes(b"\x00" * 10)
    with pytest.raises(DatasetError, match="not a CIFAR-10 binary batch"):
        load_cifar10(tmp_path)
    with pytest.raises(DatasetError, match="needs a root"):
        load_image_dataset("cifar10")
    with pytest.raises(DatasetError, match="unknown dataset 'mnist'"):
        load_image_dataset("mnist")
