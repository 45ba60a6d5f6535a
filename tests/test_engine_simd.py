"""The compiled engine's SIMD primitive (`evm_ext.tensor.simd`) and its two code paths.

`dot16` / `dot16x4` are checked against int64 numpy products at the range ends (u8 255 x s8 -128, the
largest partial sums) and for every group count shape; `tile_weights` against a plain matrix product.
The portable path (no AVX-512 VNNI) is then run over the whole compiled-engine suite in a subprocess:
numba compiles for the CPU features NUMBA_CPU_FEATURES names, here the host's without avx512vnni, into
its own cache, so every op kind, geometry and shipped model is compared with the numpy reference on
the path a machine without VNNI takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from evm_ext.model.lowering import tile_weights
from evm_ext.tensor import simd
from evm_ext.tensor.simd import LANES, TAPS, TILE, dot16, dot16x4

ROOT = Path(__file__).resolve().parents[1]


@njit(cache=False)
def _dot16(x, x_off, w, groups, acc):
    dot16(x, x_off, w, 0, groups, acc, 0)


@njit(cache=False)
def _dot16x4(x, stride, w, groups, acc, acc_stride):
    dot16x4(x, 0, stride, w, 0, groups, acc, 0, acc_stride)


def _tiled_reference(w: np.ndarray, groups: int) -> np.ndarray:
    """The (16, 4 * groups) matrix whose rows `dot16` multiplies (one tile of `tile_weights`)."""
    return w.reshape(groups, LANES, TAPS).transpose(1, 0, 2).reshape(LANES, TAPS * groups).astype(np.int64)


@pytest.mark.parametrize("groups", [0, 1, 3, 4, 5, 8, 196, 8192])
def test_dot16_is_the_exact_integer_product(groups):
    rng = np.random.default_rng(groups)
    x = rng.integers(0, 256, TAPS * groups + 7).astype(np.uint8)
    w = rng.integers(-128, 128, TILE * groups).astype(np.int8)
    acc = np.full(LANES, -1, np.int32)
    _dot16(x, 3, w, groups, acc)
    assert np.array_equal(acc, _tiled_reference(w, groups) @ x[3 : 3 + TAPS * groups].astype(np.int64))


def test_dot16_at_the_range_ends_does_not_wrap():
    groups = (1 << 15) // TAPS  # requant.MAX_FAN_IN taps: the largest fan-in a model may have
    x = np.full(TAPS * groups, 255, np.uint8)
    w = np.full(TILE * groups, -128, np.int8)
    w[: TILE * groups // 2] = 127
    acc = np.zeros(LANES, np.int32)
    _dot16(x, 0, w, groups, acc)
    expected = _tiled_reference(w, groups) @ x.astype(np.int64)
    assert abs(int(expected.min())) < 2**31 and np.array_equal(acc, expected)
    _dot16(x, 0, np.full(TILE * groups, -128, np.int8), groups, acc)
    assert np.all(acc == -255 * 128 * TAPS * groups) and acc[0] == -1_069_547_520


@pytest.mark.parametrize("groups", [0, 1, 7, 64])
def test_dot16x4_matches_four_dot16(groups):
    rng = np.random.default_rng(100 + groups)
    stride = TAPS * groups + 4
    x = rng.integers(0, 256, 4 * stride).astype(np.uint8)
    w = rng.integers(-128, 128, TILE * groups).astype(np.int8)
    acc = np.full(4 * 20, 7, np.int32)
    _dot16x4(x, stride, w, groups, acc, 20)
    matrix = _tiled_reference(w, groups)
    for i in range(4):
        column = x[i * stride : i * stride + TAPS * groups].astype(np.int64)
        assert np.array_equal(acc[i * 20 : i * 20 + LANES], matrix @ column)
        assert np.all(acc[i * 20 + LANES : (i + 1) * 20] == 7)  # nothing written past the 16 lanes


@pytest.mark.parametrize("shape", [(1, 1), (10, 64), (16, 4), (17, 5), (64, 784), (3, 200)])
def test_tile_weights_pads_with_zeros_and_keeps_the_product(shape):
    c, k = shape
    rng = np.random.default_rng(c * 1000 + k)
    matrix = rng.integers(-128, 128, size=shape).astype(np.int8)
    tiled = tile_weights(matrix)
    cp, kp = -(-c // LANES) * LANES, -(-k // TAPS) * TAPS
    assert tiled.dtype == np.int8 and tiled.size == cp * kp
    x = rng.integers(0, 256, kp).astype(np.uint8)
    x[k:] = 255  # the padding taps meet zero weights whatever the column holds there
    acc = np.empty(cp, np.int32)
    for t in range(cp // LANES):
        part = np.empty(LANES, np.int32)
        _dot16(x, 0, tiled[t * TILE * (kp // TAPS) :], kp // TAPS, part)
        acc[t * LANES : (t + 1) * LANES] = part
    assert np.array_equal(acc[:c], matrix.astype(np.int64) @ x[:k].astype(np.int64))
    assert np.all(acc[c:] == 0)


def test_the_path_follows_the_target_features(monkeypatch):
    monkeypatch.setattr(simd.config, "CPU_FEATURES", "+avx2,+avx512f,+avx512vnni")
    assert simd.has_vnni()
    monkeypatch.setattr(simd.config, "CPU_FEATURES", "+avx2,+avx512f,-avx512vnni")
    assert not simd.has_vnni()


def test_portable_path_runs_the_compiled_engine_suite_bit_identical(tmp_path):
    features = simd.target_features().replace("+avx512vnni", "-avx512vnni")
    env = dict(
        os.environ,
        NUMBA_CPU_FEATURES=features,
        NUMBA_CACHE_DIR=str(ROOT / ".cache" / "numba-portable"),
        AIEVM_EXPECT_SIMD="portable",
    )
    env.pop("AIEVM_ENGINE", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_engine_compiled.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, summary
