"""The engine alone: time per single-sample inference vs numpy float32, onnxruntime float32 and TFLite int8.

All four run the same trained model on the same inputs (the committed MNIST test images, or the DCGAN's
committed latents), one sample per call as INFER does: the engine's `Model.run_bytes` on the shipped .aiem,
numpy (`float_numpy`) and onnxruntime on the float .onnx, LiteRT on the int8 .tflite exported from it.
Every runtime gets ONE thread (BLAS limited with threadpoolctl, num_threads=1 / intra_op_num_threads=1):
a node runs one INFER per thread, and on a shared machine extra BLAS threads make single samples slower.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.float_numpy import load_float_model
from benchmarks.litert_runner import TFLITE_FILES, LiteRTModel
from benchmarks.stats import Timing, measure
from evm_ext.model import Model, load_model

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ShippedModel:
    name: str
    aiem: Path
    onnx: Path
    inputs: Path  # float inputs in the ONNX layout, or uint8 MNIST images (normalized as pixel / 255)


SHIPPED = (
    ShippedModel(
        "mnist_mlp",
        ROOT / "models/mnist_mlp/mnist_mlp.aiem",
        ROOT / "models/mnist_mlp/mnist_mlp.onnx",
        ROOT / "models/data/mnist_test_images.npy",
    ),
    ShippedModel(
        "mnist_cnn",
        ROOT / "models/mnist_cnn/mnist_cnn.aiem",
        ROOT / "models/mnist_cnn/mnist_cnn.onnx",
        ROOT / "models/data/mnist_test_images.npy",
    ),
    ShippedModel(
        "dcgan",
        ROOT / "models/dcgan/dcgan_generator.aiem",
        ROOT / "models/dcgan/dcgan_generator.onnx",
        ROOT / "models/dcgan/calibration.npy",
    ),
)


def float_inputs(shipped: ShippedModel, model: Model, count: int) -> np.ndarray:
    """`count` float samples in the model's input layout (MNIST pixels normalized as in models/dataset.py)."""
    raw = np.load(shipped.inputs)[:count]
    x = raw.astype(np.float32) / np.float32(255) if raw.dtype == np.uint8 else raw.astype(np.float32)
    return x.reshape((len(x), *model.input_shape))


def _cycling(fn, samples) -> callable:
    it = itertools.cycle(samples)
    return lambda: fn(next(it))


def compare_engine(shipped: ShippedModel, repeat: int, budget_s: float, samples: int = 64) -> dict:
    """Per-inference timings (seconds) and the engine's ratio to each other runtime (> 1: engine slower)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _compare(shipped, repeat, budget_s, samples)


def _compare(shipped: ShippedModel, repeat: int, budget_s: float, samples: int) -> dict:
    import onnxruntime as ort

    model = load_model(shipped.aiem)
    x = float_inputs(shipped, model, samples)
    quantized = [model.encode_input(xi[None]) for xi in x]
    timings: dict[str, Timing] = {
        "engine_int8": measure(_cycling(model.run_bytes, quantized), repeat=repeat, budget_s=budget_s)
    }
    float_model = load_float_model(shipped.onnx)
    batches = [xi[None] for xi in x]
    timings["numpy_float32"] = measure(_cycling(float_model.run, batches), repeat=repeat, budget_s=budget_s)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(shipped.onnx), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    timings["onnxruntime_float32"] = measure(
        _cycling(lambda b: session.run(None, {name: b}), batches), repeat=repeat, budget_s=budget_s
    )
    tflite = TFLITE_FILES.get(shipped.name)
    agreement = None
    if tflite is not None and tflite.exists():
        lite = LiteRTModel(tflite, num_threads=1)
        lite_q = list(lite.quantize(x))
        timings["tflite_int8"] = measure(_cycling(lite.invoke, lite_q), repeat=repeat, budget_s=budget_s)
        engine_top = [int(np.argmax(model.decode_output(model.run_bytes(q)))) for q in quantized]
        lite_top = [int(np.argmax(lite.invoke(q))) for q in lite_q]
        agreement = float(np.mean(np.array(engine_top) == np.array(lite_top)))
    engine = timings["engine_int8"].median
    return {
        "macs": sum(c.macs for c in model.op_costs()),
        "timings": {k: t.as_dict() for k, t in timings.items()},
        "engine_ratio": {k: engine / t.median for k, t in timings.items() if k != "engine_int8"},
        "engine_vs_tflite_top1_agreement": agreement,
    }
