"""2-D convolution and transposed convolution (NCHW, groups, stride, dilation, padding).

Both reduce to float BLAS matmuls over int8 values whose results are exact integers (float type chosen
by `linear.gemm_plan`), then `requant.GemmRequantizer` adds the bias and requantizes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from evm_ext.tensor.requant import GemmRequantizer


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


def conv2d(
    x: np.ndarray, weight: np.ndarray, geometry: Geometry, input_zero_point: int, requant: GemmRequantizer
) -> np.ndarray:
    """x int8 (N, C, H, W); weight float (G, Cout/G, C/G*kh*kw) holding int8 values; bias is in `requant`."""
    return requant(conv2d_gemm(x, weight, geometry, input_zero_point))


def conv2d_gemm(x: np.ndarray, weight: np.ndarray, geometry: Geometry, input_zero_point: int) -> np.ndarray:
    """The exact integer sums of `conv2d` before bias and requantization: float (N, Cout, OH, OW).

    im2col into (N, G, C/G*kh*kw, columns) in the GEMM's float type (one strided copy), then
    weight @ columns gives (N, G, Cout/G, columns), already the NCHW output layout. Padding uses the input
    zero point (a real 0), so the zero-point correction folded into the bias is the same everywhere.
    With stride 1 and Wp <= 2 * OW, each output row is computed at all Wp padded-input columns, so every
    im2col row is one contiguous run of the input (fast to copy); the columns >= OW (windows wrapping into
    the next row, reading at most dw * (kw - 1) zeros past the input) are computed and dropped. That
    at most doubles the im2col buffer counted in the op's `workspace`.
    """
    groups, cout_g, fan_in = weight.shape
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, pb, pr) = geometry
    oh, ow = geometry.output_hw(h, w)
    hp, wp = h + pt + pb, w + pl + pr
    padded = bool(pt or pl or pb or pr)
    size = n * c * hp * wp
    flat = np.empty(size + dw * (kw - 1), dtype=weight.dtype if padded else x.dtype)
    flat[size:] = 0
    src = flat[:size].reshape(n, c, hp, wp)
    if padded:
        src.fill(input_zero_point)
        src[:, :, pt : pt + h, pl : pl + w] = x
    else:
        src[...] = x
    e = flat.itemsize
    if sh == sw == 1 and wp <= 2 * ow:
        shape, width = (n, c, kh, kw, oh * wp), wp
        strides = (c * hp * wp * e, hp * wp * e, dh * wp * e, dw * e, e)
    else:
        shape, width = (n, c, kh, kw, oh, ow), ow
        strides = (c * hp * wp * e, hp * wp * e, dh * wp * e, dw * e, sh * wp * e, sw * e)
    taps = np.ndarray(shape, flat.dtype, flat, 0, strides)
    cols = np.empty((n, groups, fan_in, oh * width), dtype=weight.dtype)
    np.copyto(cols.reshape(shape), taps, casting="unsafe")
    return np.matmul(weight, cols).reshape(n, groups * cout_g, oh, width)[:, :, :, :ow]


def conv_transpose2d(
    x: np.ndarray,
    weight: np.ndarray,
    geometry: Geometry,
    output_padding: tuple[int, int],
    input_zero_point: int,
    requant: GemmRequantizer,
) -> np.ndarray:
    """x int8 (N, Cin, H, W); weight float (G, Cout/G*kh*kw, Cin/G) holding int8 values; bias in `requant`.

    Scatter form: columns = W^T (x - zp) per group, then each kernel tap is added into its strided slice
    of the output (col2im). Inputs are centred first because edge outputs receive fewer taps.
    """
    groups, rows, cin_g = weight.shape
    (kh, kw), (sh, sw), (dh, dw), (pt, pl, _, _) = geometry
    n, cin, h, w = x.shape
    cout_g = rows // (kh * kw)
    oh, ow = geometry.transposed_hw(h, w, output_padding)
    centred = x.reshape(n, groups, cin_g, h * w).astype(weight.dtype)
    centred -= input_zero_point
    cols = np.matmul(weight, centred).reshape(n, groups * cout_g, kh, kw, h, w)
    full_h = max((h - 1) * sh + dh * (kh - 1) + 1, pt + oh)
    full_w = max((w - 1) * sw + dw * (kw - 1) + 1, pl + ow)
    out = np.zeros((n, groups * cout_g, full_h, full_w), dtype=weight.dtype)
    s0, s1, s2, s3 = out.strides
    # Taps i, i' (same input row y, y') hit the same output row only if (i' - i) * dh == (y - y') * sh,
    # so a block of qh consecutive taps (qh = sh / gcd(sh, dh), or kh when there is one input row) never
    # writes one output twice: each block is added with one strided in-place add.
    qh = kh if h == 1 else sh // math.gcd(sh, dh)
    qw = kw if w == 1 else sw // math.gcd(sw, dw)
    for i in range(0, kh, qh):
        for j in range(0, kw, qw):
            block = cols[:, :, i : i + qh, j : j + qw]
            target = np.ndarray(
                block.shape,
                out.dtype,
                out,
                (i * dh) * s2 + (j * dw) * s3,
                (s0, s1, dh * s2, dw * s3, sh * s2, sw * s3),
            )
            target += block
    return requant(out[:, :, pt : pt + oh, pl : pl + ow])
