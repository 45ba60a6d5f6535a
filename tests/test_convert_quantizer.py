"""Stage 4 (evm_ext.model.convert.quantizer): every IR kind has a quantizer, and the lowerings that stand in
for ops the engine has no kind for are exact in integers."""

from __future__ import annotations

import numpy as np
from onnx import helper

from evm_ext.model.convert import conversion
from evm_ext.model.convert.ir import IrKind
from evm_ext.model.convert.quantizer import QUANTIZERS
from tests.engine_onnx import onnx_model, rand

RNG = np.random.default_rng(21)
node = helper.make_node


def test_every_ir_kind_has_a_quantizer():
    assert set(QUANTIZERS) == set(IrKind)


def test_nearest_upsample_repeats_the_int8_codes_exactly():
    m = onnx_model(
        [node("Resize", ["x", "", "sc"], ["y"], mode="nearest")],
        {"sc": np.array([1, 1, 2, 2], np.float32)},
        (3, 4, 4),
    )
    calib = RNG.normal(size=(32, 3, 4, 4)).astype(np.float32)
    model = conversion(m, calib).model
    x_q = model.quantize_input(calib)
    y_q = model.run(x_q)
    assert (model.ops[0].out.scale, model.ops[0].out.zero_point) == (
        model.source.scale,
        model.source.zero_point,
    )
    np.testing.assert_array_equal(y_q, x_q.repeat(2, axis=2).repeat(2, axis=3))


def test_standalone_pad_writes_the_zero_point_around_the_unchanged_codes():
    m = onnx_model(
        [node("Pad", ["x", "p"], ["y"])], {"p": np.array([0, 0, 1, 0, 0, 0, 0, 2], np.int64)}, (2, 3, 3)
    )
    calib = np.abs(RNG.normal(size=(32, 2, 3, 3))).astype(np.float32) + 0.1  # real 0 is outside the data
    model = conversion(m, calib).model
    x_q = model.quantize_input(calib)
    zp = model.source.zero_point
    want = np.pad(x_q, ((0, 0), (0, 0), (1, 0), (0, 2)), constant_values=zp)
    np.testing.assert_array_equal(model.run(x_q), want)


def test_add_of_two_scales_weights_each_input_by_its_scale():
    m = onnx_model(
        [
            node("Gemm", ["x", "w1"], ["a"], transB=1),
            node("Gemm", ["x", "w2"], ["b"], transB=1),
            node("Add", ["a", "b"], ["y"]),
        ],
        {"w1": rand(RNG, 4, 6, scale=0.05), "w2": rand(RNG, 4, 6, scale=1.0)},
        (6,),
    )
    model = conversion(m, RNG.normal(size=(64, 6)).astype(np.float32)).model
    a, b, add = model.ops
    assert b.out.scale > 5 * a.out.scale
    ratio = add.multipliers[0] / add.multipliers[1]
    assert abs(ratio - a.out.scale / b.out.scale) < 1e-6
