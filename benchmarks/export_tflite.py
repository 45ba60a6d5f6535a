"""OPTIONAL: export a shipped ONNX classifier to a full-integer (int8) .tflite file for the LiteRT comparison.

Needs tensorflow-cpu, which is never installed in the project's .venv. Use a separate venv:

    python3 -m venv .cache/tfvenv && .cache/tfvenv/bin/pip install tensorflow-cpu==2.21.0 onnx
    .cache/tfvenv/bin/python benchmarks/export_tflite.py models/mnist_cnn/mnist_cnn.onnx \\
        --calib models/mnist_cnn/calibration.npy -o benchmarks/data/mnist_cnn_int8.tflite

The same architecture is rebuilt in Keras (NHWC) with the ONNX weights: Conv weights (O, I, kh, kw) become
(kh, kw, I, O); a Flatten of a (C, H, W) map is taken in Keras's (H, W, C) order, so the next fully-connected
layer's input columns are permuted to match; a BatchNormalization after a Gemm is folded into it. Then
TFLiteConverter does post-training full-integer quantization with the committed calibration set as the
representative dataset (int8 input and output). The bench needs only the resulting file and ai-edge-litert.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper


def keras_model(graph: onnx.GraphProto, input_shape: tuple[int, ...]):
    """Rebuild a Conv/Relu/MaxPool/Flatten/Gemm/BatchNorm chain as a Keras model (NHWC)."""
    import tensorflow as tf

    layers = tf.keras.layers
    consts = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in graph.initializer}
    nodes = list(graph.node)
    nchw = len(input_shape) == 3
    inp = tf.keras.Input(shape=(input_shape[1], input_shape[2], input_shape[0]) if nchw else input_shape)
    x, flat_chw = inp, None  # flat_chw: the (C, H, W) of a flattened feature map awaiting its Gemm
    i = 0
    while i < len(nodes):
        node = nodes[i]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        op = node.op_type
        if op == "Conv":
            w, b = consts[node.input[1]], consts[node.input[2]]
            if attrs.get("group", 1) != 1 or tuple(attrs.get("dilations", (1, 1))) != (1, 1):
                raise SystemExit(f"export_tflite: unsupported Conv attributes in {node.name}")
            top, left, bottom, right = attrs.get("pads", (0, 0, 0, 0))
            if top or left or bottom or right:
                x = layers.ZeroPadding2D(((top, bottom), (left, right)))(x)
            conv = layers.Conv2D(w.shape[0], w.shape[2:], strides=tuple(attrs.get("strides", (1, 1))))
            x = conv(x)
            conv.set_weights([w.transpose(2, 3, 1, 0), b])
        elif op == "Relu":
            x = layers.ReLU()(x)
        elif op == "MaxPool":
            x = layers.MaxPooling2D(
                tuple(attrs["kernel_shape"]), strides=tuple(attrs.get("strides", (1, 1)))
            )(x)
        elif op == "Flatten":
            flat_chw = (x.shape[3], x.shape[1], x.shape[2]) if len(x.shape) == 4 else None
            x = layers.Flatten()(x)
        elif op == "Gemm":
            w = consts[node.input[1]]
            w = w if attrs.get("transB", 0) else w.T  # (out, in)
            b = consts[node.input[2]]
            if flat_chw is not None:  # columns in (C, H, W) order -> Keras's (H, W, C)
                c, h, wd = flat_chw
                w = w.reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
                flat_chw = None
            if i + 1 < len(nodes) and nodes[i + 1].op_type == "BatchNormalization":
                bn = nodes[i + 1]
                eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
                scale, beta, mean, var = (consts[name] for name in bn.input[1:5])
                k = scale / np.sqrt(var + eps)
                w, b = w * k[:, None], (b - mean) * k + beta
                i += 1
            dense = layers.Dense(w.shape[0])
            x = dense(x)
            dense.set_weights([w.T, b])
        elif op not in ("Identity", "Dropout"):
            raise SystemExit(f"export_tflite: unsupported ONNX op {op} ({node.name})")
        i += 1
    return tf.keras.Model(inp, x), nchw


def export(onnx_path: Path, calib_path: Path, out_path: Path) -> None:
    import tensorflow as tf

    graph = onnx.load(str(onnx_path)).graph
    calib = np.load(calib_path).astype(np.float32)
    model, nchw = keras_model(graph, calib.shape[1:])
    samples = calib.transpose(0, 2, 3, 1) if nchw else calib

    def representative():
        for sample in samples:
            yield [sample[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    out_path.write_bytes(converter.convert())

    float_out = model.predict(samples, verbose=0)
    interpreter = tf.lite.Interpreter(model_path=str(out_path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    (s_in, z_in), (s_out, z_out) = inp["quantization"], out["quantization"]
    agree = 0
    for sample, ref in zip(samples, float_out, strict=True):
        q = np.clip(np.round(sample / s_in) + z_in, -128, 127).astype(np.int8)
        interpreter.set_tensor(inp["index"], q[None])
        interpreter.invoke()
        y = (interpreter.get_tensor(out["index"])[0].astype(np.float32) - z_out) * s_out
        agree += int(np.argmax(y) == np.argmax(ref))
    print(
        f"{out_path}: {out_path.stat().st_size} bytes, int8 vs float argmax agreement {agree}/{len(samples)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("onnx", type=Path, help="float ONNX classifier (Conv/Relu/MaxPool/Flatten/Gemm/BN)")
    parser.add_argument("--calib", type=Path, required=True, help="calibration inputs .npy (float32, NCHW)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .tflite path")
    args = parser.parse_args()
    export(args.onnx, args.calib, args.output)


if __name__ == "__main__":
    main()
