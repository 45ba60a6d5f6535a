"""The data of the zoo models: scikit-learn's bundled 8x8 digits (`sklearn.datasets.load_digits`,
1,797 images, pixels 0..16, shipped inside the package: nothing is downloaded).

Split (fixed): `numpy.random.default_rng(SPLIT_SEED)` permutes the indices; the first TEST_SIZE go to the
test set, the rest to the training set. Normalization: `x = pixel / 16` as float32, in [0, 1].
The calibration set is the first CALIBRATION_SIZE training images (in the permuted order).
"""

from __future__ import annotations

import numpy as np

SPLIT_SEED = 20261201
TEST_SIZE = 500
CALIBRATION_SIZE = 200


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): x float32 (N, 1, 8, 8) in [0, 1], y int64 (N,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(digits.target))
    x = (digits.images[order] / 16.0).astype(np.float32)[:, None]
    y = digits.target[order].astype(np.int64)
    return x[TEST_SIZE:], y[TEST_SIZE:], x[:TEST_SIZE], y[:TEST_SIZE]


def nhwc(x: np.ndarray) -> np.ndarray:
    """(N, 1, 8, 8) -> (N, 8, 8, 1), the layout of the Keras models."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
