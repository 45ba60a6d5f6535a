"""2-D convolution and transposed convolution (NCHW, groups, stride, dilation, padding).

Both reduce to float64 BLAS matmuls over int8 values, exact while the fan-in is below
`requant.MAX_FAN_IN` (checked when a model is decoded), then int64 accumulators are requantized.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from evm_ext.tensor.requant import Requantizer


class Geometry(NamedTuple):
    """Window geometry of a conv or pool: (h, w) pairs and pads (top, left, bottom, right)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int, int, int]

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        """Output spatial size (may be <= 0 for an invalid geometry; callers check)."""
        (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = self
        return ((h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1)

    def transposed_hw(self, h: int, w: int, output_padding: tuple[int, int]) -> tuple[int, int]:
        """Output spatial size of a transposed conv with this geometry."""
        (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = self
        return (
            (h - 1) * sh + dh * (kh - 1) + 1 + output_padding[0] - pt - pb,
            (w - 1) * sw + dw * (kw - 1) + 1 + output_padding[1] - pl - pr,
        )


def windows(x: np.ndarray, geometry: Geometry, pad_value: int) -> np.ndarray:
    """View (N, C, OH, OW, kh, kw) of the padded input's windows (no copy except the padding)."""
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = geometry
    if pt or pl or pb or pr:
        x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=pad_value)
    view = sliding_window_view(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    folded_bias: np.ndarray,
    geometry: Geometry,
    input_zero_point: int,
    requant: Requantizer,
) -> np.ndarray:
    """x int8 (N, C, H, W); weight float64 (G, C/G*kh*kw, Cout/G); folded_bias int64 (Cout, 1, 1).

    Padding uses the input zero point (a real 0), so the zero-point correction folded into the bias is
    the same at every output position.
    """
    groups, fan_in, cout_g = weight.shape
    n, c = x.shape[:2]
    win = windows(x, geometry, input_zero_point)
    oh, ow, kh, kw = win.shape[2:]
    cols = win.reshape(n, groups, c // groups, oh, ow, kh, kw).transpose(0, 1, 3, 4, 2, 5, 6)
    cols = cols.reshape(n, groups, oh * ow, fan_in).astype(np.float64)
    acc = np.matmul(cols, weight)  # (N, G, OH*OW, Cout/G)
    acc = acc.transpose(0, 1, 3, 2).reshape(n, groups * cout_g, oh, ow).astype(np.int64)
    acc += folded_bias
    return requant(acc)


def conv_transpose2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    geometry: Geometry,
    output_padding: tuple[int, int],
    input_zero_point: int,
    requant: Requantizer,
) -> np.ndarray:
    """x int8 (N, Cin, H, W); weight float64 (G, Cout/G*kh*kw, Cin/G); bias int64 (Cout, 1, 1).

    Scatter form: columns = W^T (x - zp) per group, then each kernel tap is added into its strided slice
    of the output (col2im). Inputs are centred first because edge outputs receive fewer taps.
    """
    groups, rows, cin_g = weight.shape
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, _, _) = geometry
    n, cin, h, w = x.shape
    cout_g = rows // (kh * kw)
    oh, ow = geometry.transposed_hw(h, w, output_padding)
    centred = x.reshape(n, groups, cin_g, h * w).astype(np.float64)
    centred -= input_zero_point
    cols = np.matmul(weight, centred).reshape(n, groups * cout_g, kh, kw, h, w)
    full_h = max((h - 1) * sh + dh * (kh - 1) + 1, pt + oh)
    full_w = max((w - 1) * sw + dw * (kw - 1) + 1, pl + ow)
    out = np.zeros((n, groups * cout_g, full_h, full_w), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh : i * dh + (h - 1) * sh + 1 : sh, j * dw : j * dw + (w - 1) * sw + 1 : sw] += (
                cols[:, :, i, j]
            )
    acc = out[:, :, pt : pt + oh, pl : pl + ow].astype(np.int64)
    acc += bias
    return requant(acc)
