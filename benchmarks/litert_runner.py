"""The TFLite int8 comparison: run the committed .tflite files with ai-edge-litert (no TensorFlow needed).

The files in benchmarks/data/ are produced by benchmarks/export_tflite.py from the shipped ONNX models.
Inputs are given in the ONNX layout (NCHW) and transposed to the Keras layout (NHWC) here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from evm_ext.errors import AievmError

DATA_DIR = Path(__file__).resolve().parent / "data"
TFLITE_FILES = {
    "mnist_mlp": DATA_DIR / "mnist_mlp_int8.tflite",
    "mnist_cnn": DATA_DIR / "mnist_cnn_int8.tflite",
}


class LiteRTModel:
    """One int8 .tflite model: `quantize` float inputs once, then `invoke` one int8 sample at a time."""

    def __init__(self, path: Path, num_threads: int | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise AievmError(
                "the TFLite comparison needs ai-edge-litert: pip install ai-edge-litert==2.3.0"
            ) from exc
        self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads or os.cpu_count())
        self.interpreter.allocate_tensors()
        self.inp = self.interpreter.get_input_details()[0]
        self.out = self.interpreter.get_output_details()[0]

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float samples (batch first, ONNX layout) -> int8 samples in the model's layout."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 4:
            x = x.transpose(0, 2, 3, 1)
        scale, zero = self.inp["quantization"]
        return np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)

    def invoke(self, sample_q: np.ndarray) -> np.ndarray:
        """Run one int8 sample; returns the int8 output row."""
        self.interpreter.set_tensor(self.inp["index"], sample_q[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.out["index"])[0]

    def dequantize(self, y_q: np.ndarray) -> np.ndarray:
        scale, zero = self.out["quantization"]
        return (y_q.astype(np.float32) - zero) * scale
