"""Max and average pooling over int8 NCHW tensors (output keeps the input's quantization).

Both loop over the kh * kw kernel taps (each a strided slice of the whole batch), never over elements.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from evm_ext.tensor.conv import Geometry
from evm_ext.tensor.requant import INT8_MIN


def _taps(x: np.ndarray, geometry: Geometry, pad_value: int) -> Iterator[np.ndarray]:
    """For each kernel tap, the (N, C, OH, OW) view of the padded input it reads."""
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = geometry
    oh, ow = geometry.output_hw(*x.shape[2:])
    if pt or pl or pb or pr:
        x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=pad_value)
    for i in range(kh):
        for j in range(kw):
            yield x[:, :, i * dh : i * dh + (oh - 1) * sh + 1 : sh, j * dw : j * dw + (ow - 1) * sw + 1 : sw]


def max_pool2d(x: np.ndarray, geometry: Geometry, pad_value: float = INT8_MIN) -> np.ndarray:
    """Window maximum; padding (-128 for int8) is never chosen over a real element of the window.

    Separable (max is associative): the kh row taps first (contiguous rows), then the kw column taps of
    that smaller result: kh + kw - 2 elementwise passes instead of kh * kw - 1.
    """
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = geometry
    oh, ow = geometry.output_hw(*x.shape[2:])
    if pt or pl or pb or pr:
        x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=pad_value)
    rows = _maximum([x[:, :, i * dh : i * dh + (oh - 1) * sh + 1 : sh] for i in range(kh)])
    return _maximum([rows[:, :, :, j * dw : j * dw + (ow - 1) * sw + 1 : sw] for j in range(kw)])


def _maximum(views: list[np.ndarray]) -> np.ndarray:
    """Elementwise maximum of same-shape views, as a new array."""
    if len(views) == 1:
        return views[0].copy()
    out = np.maximum(views[0], views[1])
    for view in views[2:]:
        np.maximum(out, view, out=out)
    return out


def avg_pool2d(x: np.ndarray, geometry: Geometry, count_include_pad: bool, zero_point: int) -> np.ndarray:
    """Integer window mean, rounded half toward +inf: floor((2 * sum + count) / (2 * count)).

    Padding is the zero point (a real 0). With `count_include_pad` false the padded taps are removed from
    both the sum and the count, as in ONNX.
    """
    taps = _taps(x.astype(np.int64), geometry, zero_point)
    total = next(taps).copy()
    for tap in taps:
        total += tap
    kh, kw = geometry.kernel
    if count_include_pad or not any(geometry.pads):
        count = np.int64(kh * kw)
    else:
        ones = np.ones((1, 1, *x.shape[2:]), dtype=np.int64)
        count = sum(_taps(ones, geometry, 0))
        total -= (kh * kw - count) * np.int64(zero_point)
    return ((2 * total + count) // (2 * count)).astype(np.int8)
