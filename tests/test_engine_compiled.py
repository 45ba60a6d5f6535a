"""The compiled engine (`evm_ext.tensor.jit`, default) is bit-identical to the numpy engine (the reference)
on every op kind, every conv and transposed conv geometry, extreme values and every shipped model.
`test_engine_simd` runs this file again on the portable SIMD path (no AVX-512 VNNI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evm_ext.model import Model, load_model
from evm_ext.model import ops as op_types
from evm_ext.model.quantize import softmax_table
from evm_ext.model.runtime import engine
from evm_ext.tensor import jit
from evm_ext.tensor.conv import Geometry
from tests.engine_models import random_requant as _requant
from tests.engine_models import synthetic_inputs, synthetic_model
from tests.test_engine_ops import CASES, onnx_model, quantization_error

ROOT = Path(__file__).resolve().parents[1]


def _same(model: Model, x: np.ndarray) -> None:
    assert engine() == "compiled"
    compiled, reference = model.run(x), model.run_numpy(x)
    assert compiled.dtype == np.int8 and compiled.shape == reference.shape
    assert np.array_equal(compiled, reference)
    assert model.run_bytes(x[0].tobytes()) == reference[0].tobytes()
    assert len(np.unique(reference)) > 1  # the case exercises the requantization, not only a clamp


def _one_op(make, shape, zero_point=5):
    source = op_types.Value(shape, 0.02, zero_point)
    return Model(source, [make([source])])


def _inputs(shape, n=6, seed=0):
    x = np.random.default_rng(seed).integers(-128, 128, size=(n, *shape)).astype(np.int8)
    x[0] = -128  # the range ends: int32 accumulators at their largest
    x[1] = 127
    return x


def _conv(rng, cin, cout, k, stride=(1, 1), dilation=(1, 1), pads=(0, 0, 0, 0), groups=1, shift=39):
    def make(ins):
        weight = rng.integers(-128, 128, size=(cout, cin // groups, *k)).astype(np.int8)
        bias = rng.integers(-20000, 20000, size=cout).astype(np.int32)
        geometry = Geometry(k, stride, dilation, pads)
        return op_types.Conv((0,), ins, weight, bias, groups, geometry, _requant(rng, cout, shift))

    return make


CONVS = {  # name: (input shape, kwargs): strides, dilations, pads, groups, and the GEMM's padding (`simd`)
    "one_channel_mnist_like": ((1, 12, 12), dict(cout=8, k=(5, 5))),  # fan-in 25 in 7 groups of 4
    "channels_past_one_tile": ((3, 6, 7), dict(cout=37, k=(3, 3), pads=(1, 1, 1, 1))),  # 3 tiles of 16
    "fan_in_not_a_multiple_of_4": ((3, 5, 5), dict(cout=4, k=(1, 3), stride=(1, 2))),
    # more output positions than jit.BLOCK_POSITIONS: the im2col and GEMM run in blocks
    "positions_in_blocks": ((3, 21, 20), dict(cout=5, k=(3, 3), pads=(1, 1, 1, 1))),
    "wide_stride1_padded": ((3, 9, 8), dict(cout=5, k=(3, 3), pads=(1, 1, 1, 1))),
    "wide_dilated_asymmetric": ((2, 10, 9), dict(cout=4, k=(3, 2), dilation=(2, 3), pads=(2, 0, 1, 3))),
    "axpy_stride2": ((3, 11, 10), dict(cout=6, k=(3, 3), stride=(2, 2), pads=(1, 0, 2, 1))),
    "axpy_stride_dilation": ((2, 12, 12), dict(cout=3, k=(2, 3), stride=(3, 2), dilation=(2, 1))),
    "dot_fan_in": ((8, 7, 7), dict(cout=5, k=(3, 3), pads=(1, 1, 1, 1))),
    "dot_one_position": ((16, 3, 3), dict(cout=7, k=(3, 3), shift=42)),
    "groups": ((6, 8, 8), dict(cout=9, k=(3, 3), groups=3, pads=(1, 1, 1, 1))),
    "depthwise_stride2": ((8, 9, 9), dict(cout=8, k=(3, 3), groups=8, stride=(2, 2), pads=(1, 1, 1, 1))),
    "pointwise": ((4, 5, 6), dict(cout=3, k=(1, 1))),
    # grouped DOT convs over several positions (a regression: group 2's im2col once read its run length
    # from group 1's requantization loop, giving wrong bytes)
    "dot_groups_few_positions": ((4, 3, 3), dict(cout=4, k=(2, 3), groups=2)),
    "dot_groups_dilated_padded": ((2, 3, 5), dict(cout=4, k=(2, 3), groups=2, dilation=(1, 2),
                                                  pads=(2, 0, 2, 0))),
    "dot_groups_fan_in": ((64, 6, 6), dict(cout=6, k=(3, 3), groups=2, pads=(1, 1, 1, 1))),
}


@pytest.mark.parametrize("shape", [(3, 11, 10), (1, 11, 10), (3, 24, 23)])  # GEMM, DIRECT, GEMM in blocks
def test_conv_fused_with_the_max_pool_reading_it(shape):
    rng = np.random.default_rng(8)
    source = op_types.Value(shape, 0.02, -4)
    for k in ((3, 3), (5, 5)):
        conv = _conv(rng, shape[0], 6, k, pads=(1, 1, 1, 1), shift=40)([source])
        for geometry in (
            Geometry((2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
            Geometry((3, 2), (2, 1), (1, 2), (1, 1, 0, 1)),
        ):
            pool = op_types.MaxPool((1,), [conv.out], geometry)
            model = Model(source, [conv, pool])
            assert model.program.i64[jit.H_OPS] == 1  # one fused record
            _same(model, _inputs(source.shape))


@pytest.mark.parametrize("name", sorted(CONVS))
def test_conv_modes_and_geometries(name):
    shape, kwargs = CONVS[name]
    rng = np.random.default_rng(len(name))
    _same(_one_op(_conv(rng, shape[0], **kwargs), shape), _inputs(shape))


CONV_TRANSPOSES = {  # input shape, (cout, kernel, stride, dilation, pads, output padding, groups)
    "dcgan_like": ((6, 4, 4), (4, (4, 4), (2, 2), (1, 1), (1, 1, 1, 1), (0, 0), 1)),
    "phases_gemm_two_tiles": ((5, 3, 4), (20, (3, 4), (2, 2), (1, 1), (1, 1, 1, 1), (0, 1), 1)),
    # one output channel (a generator's last layer): per-tap planes (MODE_PHASES_DIRECT)
    "phases_direct_one_channel": ((8, 5, 6), (1, (4, 4), (2, 2), (1, 1), (1, 1, 1, 1), (0, 0), 1)),
    "phases_direct_groups": ((6, 4, 4), (2, (3, 3), (2, 2), (1, 1), (1, 0, 1, 0), (1, 0), 2)),
    # more positions per phase, and more input positions for the scatter, than jit.BLOCK_POSITIONS
    "phases_in_blocks": ((5, 17, 18), (4, (4, 4), (2, 2), (1, 1), (1, 1, 1, 1), (0, 0), 1)),
    "scatter_in_blocks": ((2, 17, 17), (3, (3, 3), (1, 1), (2, 2), (0, 0, 0, 0), (0, 0), 1)),
    "one_position": ((16, 1, 1), (8, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), (0, 0), 1)),
    "groups_dilation_output_padding": ((4, 3, 5), (6, (3, 2), (2, 3), (2, 1), (1, 0, 2, 1), (1, 2), 2)),
    "stride3_cropped": ((3, 4, 3), (2, (2, 4), (3, 2), (1, 2), (2, 3, 1, 0), (2, 0), 1)),
}


def _conv_transpose_model(name):
    shape, (cout, k, stride, dilation, pads, output_padding, groups) = CONV_TRANSPOSES[name]
    rng = np.random.default_rng(len(name))

    def make(ins):
        weight = rng.integers(-128, 128, size=(shape[0], cout // groups, *k)).astype(np.int8)
        bias = rng.integers(-20000, 20000, size=cout).astype(np.int32)
        geometry = Geometry(k, stride, dilation, pads)
        requant = _requant(rng, cout, 38)
        return op_types.ConvTranspose((0,), ins, weight, bias, groups, geometry, output_padding, requant)

    return _one_op(make, shape)


@pytest.mark.parametrize("name", sorted(CONV_TRANSPOSES))
def test_conv_transpose_geometries(name):
    _same(_conv_transpose_model(name), _inputs(CONV_TRANSPOSES[name][0]))


def _mode(model: Model) -> int:
    return int(model.program.i64[jit.HEADER + jit.P_MODE])


def test_the_cases_cover_every_lowering_mode():
    conv = {name: _mode(_one_op(_conv(np.random.default_rng(0), CONVS[name][0][0], **CONVS[name][1]),
                                CONVS[name][0])) for name in CONVS}
    assert conv["one_channel_mnist_like"] == conv["depthwise_stride2"] == jit.MODE_DIRECT
    assert conv["groups"] == conv["dot_fan_in"] == conv["channels_past_one_tile"] == jit.MODE_GEMM
    transposed = {name: _mode(_conv_transpose_model(name)) for name in CONV_TRANSPOSES}
    assert transposed["dcgan_like"] == transposed["phases_gemm_two_tiles"] == jit.MODE_PHASES
    direct = transposed["phases_direct_one_channel"], transposed["phases_direct_groups"]
    assert direct == (jit.MODE_PHASES_DIRECT, jit.MODE_PHASES_DIRECT)
    assert transposed["one_position"] == transposed["groups_dilation_output_padding"] == jit.MODE_SCATTER
    assert transposed["phases_in_blocks"] == jit.MODE_PHASES
    assert transposed["scatter_in_blocks"] == jit.MODE_SCATTER
    assert conv["positions_in_blocks"] == jit.MODE_GEMM


def test_fully_connected_largest_fan_in_and_extremes():
    rng = np.random.default_rng(7)
    fan_in = 1 << 15
    weight = rng.integers(-128, 128, size=(5, fan_in)).astype(np.int8)
    weight[0] = -128  # with x = -128 the accumulator is 2**29: the int32 bound of `jit`

    def make(ins):
        bias = np.array([2**31 - 1, -(2**31), 0, 5, -5], np.int32)
        return op_types.FullyConnected((0,), ins, weight, bias, _requant(rng, 5, 47))

    _same(_one_op(make, (fan_in,)), _inputs((fan_in,), n=3))


POOLS = {
    "max_padded_dilated": lambda ins: op_types.MaxPool(
        (0,), ins, Geometry((3, 2), (2, 1), (2, 2), (2, 1, 1, 1))
    ),
    "max_2x2": lambda ins: op_types.MaxPool((0,), ins, Geometry((2, 2), (2, 2), (1, 1), (0, 0, 0, 0))),
    "avg_exclude_pad": lambda ins: op_types.AvgPool(
        (0,), ins, Geometry((3, 3), (2, 2), (1, 1), (1, 2, 2, 1)), False
    ),
    "avg_include_pad": lambda ins: op_types.AvgPool(
        (0,), ins, Geometry((3, 2), (1, 2), (1, 1), (2, 1, 0, 1)), True
    ),
    "avg_unpadded": lambda ins: op_types.AvgPool(
        (0,), ins, Geometry((2, 3), (2, 2), (1, 1), (0, 0, 0, 0)), False
    ),
    "avg_2x2": lambda ins: op_types.AvgPool((0,), ins, Geometry((2, 2), (2, 2), (1, 1), (0, 0, 0, 0)), True),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_pools(name):
    _same(_one_op(POOLS[name], (3, 9, 8), zero_point=-7), _inputs((3, 9, 8)))


def _binary_model(make, shape, broadcast):
    """x and a lookup of x (same shape), or x and the row means of that lookup (shape (C, H, 1))."""
    source = op_types.Value(shape, 0.02, 4)
    table = np.random.default_rng(3).integers(-128, 128, size=256).astype(np.int8)
    ops = [op_types.Lookup((0,), [source], 0.03, -9, table)]
    if broadcast:
        ops.append(
            op_types.AvgPool((1,), [ops[0].out], Geometry((1, shape[2]), (1, 1), (1, 1), (0, 0, 0, 0)), False)
        )
    other = ops[-1].out
    ops.append(make((0, len(ops)), [source, other]))
    return Model(source, ops)


@pytest.mark.parametrize("kind", ["add", "mul"])
@pytest.mark.parametrize("broadcast", [False, True])
def test_add_mul_with_broadcasting(kind, broadcast):
    rng = np.random.default_rng(11)
    shape = (3, 5, 4)

    def make(inputs, ins):
        if kind == "add":
            return op_types.Add(inputs, ins, 0.05, -3, -100, 127, (1 << 30, 3 << 29), 31)
        return op_types.Mul(inputs, ins, _requant(rng, 1, 38))

    model = _binary_model(make, shape, broadcast)
    assert model.values[model.ops[-1].inputs[1]].shape == ((3, 5, 1) if broadcast else shape)
    _same(model, _inputs(shape))


def test_concat_transpose_softmax_argmax_on_inner_axes():
    rng = np.random.default_rng(5)
    source = op_types.Value((2, 4, 3), 0.02, 1)
    t = op_types.Transpose((0,), [source], (1, 0, 2))  # (4, 2, 3)
    m, shifts = np.array([1 << 30, 3 << 29], np.uint32), np.array([31, 32], np.uint8)
    requant = op_types.Requant(0.05, 2, -128, 127, m, shifts)
    cat = op_types.Concat((1, 1), [t.out, t.out], 2, requant)  # (4, 2, 6)
    soft = op_types.Softmax((2,), [cat.out], 1, softmax_table(0.3))
    arg = op_types.ArgMax((3,), [soft.out], 2, True)
    model = Model(source, [t, cat, soft, arg])
    _same(Model(source, [t, cat, soft]), _inputs((2, 4, 3)))
    _same(model, _inputs((2, 4, 3), n=12, seed=rng.integers(100)))


@pytest.mark.parametrize("head", ["softmax", "argmax"])
def test_synthetic_model_every_op_kind(head):
    model = synthetic_model(head=head)
    _same(model, synthetic_inputs(32, seed=4))


SHIPPED = {
    "mnist_mlp": "models/mnist_mlp/mnist_mlp.aiem",
    "mnist_mlp_dynamo": "models/mnist_mlp/mnist_mlp_dynamo.aiem",
    "mnist_cnn": "models/mnist_cnn/mnist_cnn.aiem",
    "dcgan": "models/dcgan/dcgan_generator.aiem",
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_models(name):
    model = load_model(ROOT / SHIPPED[name])
    x = np.random.default_rng(2).integers(-128, 128, size=(16, *model.input_shape)).astype(np.int8)
    _same(model, x)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_converted_onnx_ops(case):
    name, nodes, inits, shape, _ = case
    model, _ = quantization_error(onnx_model(nodes, inits, shape), shape)
    x = np.random.default_rng(9).integers(-128, 128, size=(8, *model.input_shape)).astype(np.int8)
    assert np.array_equal(model.run(x), model.run_numpy(x)), name


def test_program_is_read_only_and_one_record_per_computing_op():
    model = synthetic_model()
    w8, i64 = model.program
    assert not w8.flags.writeable and not i64.flags.writeable
    assert i64[jit.H_OPS] == len(model.ops) - 1  # the reshape has no record
    assert i64[jit.H_IN_SIZE] == model.input_size and i64[jit.H_OUT_SIZE] == model.output_size


_GOLDEN_SCRIPT = """
import hashlib
from evm_ext.model.runtime import engine
from tests.engine_models import random_requant as _requant
from tests.engine_models import synthetic_inputs, synthetic_model
print(engine(), hashlib.sha256(synthetic_model().run(synthetic_inputs(64)).tobytes()).hexdigest())
"""


def test_aievm_engine_numpy_selects_the_reference_with_the_same_golden_hash():
    from tests.test_engine_golden import GOLDEN

    env = dict(os.environ, AIEVM_ENGINE="numpy")
    proc = subprocess.run(
        [sys.executable, "-c", _GOLDEN_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert proc.stdout.split() == ["numpy", GOLDEN["softmax"][1]]
    bad = subprocess.run(
        [sys.executable, "-c", _GOLDEN_SCRIPT],
        cwd=ROOT,
        env=dict(os.environ, AIEVM_ENGINE="fast"),
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "AIEVM_ENGINE must be one of compiled, numpy" in bad.stderr


def test_the_simd_path_is_the_one_the_features_select():
    """`test_engine_simd` re-runs this file with NUMBA_CPU_FEATURES lacking avx512vnni: it must take the
    portable path there (AIEVM_EXPECT_SIMD=portable), and VNNI here wherever the host has it."""
    from evm_ext.tensor import simd

    expected = os.environ.get("AIEVM_EXPECT_SIMD")
    if expected == "portable":
        assert not simd.has_vnni()
    else:
        assert simd.has_vnni() == ("+avx512vnni" in simd.target_features().split(","))
