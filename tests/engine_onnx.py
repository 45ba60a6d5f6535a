"""Small ONNX graphs built with onnx.helper, and float references from onnxruntime (engine tests)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from evm_ext.model import Model
from evm_ext.model.convert import convert


def onnx_model(
    nodes: list[onnx.NodeProto], inits: dict[str, np.ndarray], in_shape: tuple[int, ...], opset: int = 17
) -> onnx.ModelProto:
    """A graph with input "x" of shape (batch, *in_shape) and output "y"."""
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *in_shape])],
        [onnx.ValueInfoProto(name="y")],
        [
            numpy_helper.from_array(np.asarray(v, np.float32 if np.asarray(v).dtype.kind == "f" else None), k)
            for k, v in inits.items()
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def ort_run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["y"], {"x": x.astype(np.float32)})[0]


def quantization_error(
    model: onnx.ModelProto, in_shape: tuple[int, ...], seed: int = 0, positive: bool = False
) -> tuple[Model, float]:
    """Convert with 64 calibration samples; return (int model, max |int - float| in output steps).

    The float reference runs on the dequantized int8 input, so the error measured is the engine's own
    (weight quantization, requantization, tables), not the input's rounding.
    """
    rng = np.random.default_rng(seed)
    calib = rng.normal(size=(64, *in_shape)).astype(np.float32)
    if positive:
        calib = np.abs(calib)
    int_model = convert(model, calib)
    x_q = int_model.quantize_input(calib[:32])
    x_real = (x_q.astype(np.float64) - int_model.source.zero_point) * int_model.source.scale
    want = ort_run(model, x_real).reshape((32, *int_model.output_shape))
    got = int_model.dequantize_output(int_model.run(x_q))
    return int_model, float(np.abs(got - want).max() / int_model.ops[-1].out.scale)


def rand(rng: np.random.Generator, *shape: int, scale: float = 0.3) -> np.ndarray:
    return (rng.normal(size=shape) * scale).astype(np.float32)
