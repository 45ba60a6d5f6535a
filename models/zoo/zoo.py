"""The zoo: ONNX files as exporters write them (made by `python -m models.zoo.export` and
`python -m models.zoo.export_tf2onnx`, committed), and how
they are measured after conversion (numpy, onnxruntime and the converter; no torch).

Classifiers: accuracy on the 500 digits test images, float (onnxruntime on the ONNX file) against int8
(the integer engine on the converted model). Generators: PSNR of the int8 images against the float
ones over the test latents, peak 1 (sigmoid outputs in [0, 1]): 10 log10(1 / mean((int8 - float)^2)).
`python -m models.zoo.zoo` measures every entry and writes metrics.json (tests/test_models_zoo.py checks
that a fresh conversion reproduces it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from evm_ext.model import Model
from evm_ext.model.convert import convert
from models.zoo import digits

HERE = Path(__file__).resolve().parent
METRICS = HERE / "metrics.json"


@dataclass(frozen=True)
class Entry:
    """One zoo file: its stem, the exporter, the calibration file and what is measured."""

    stem: str
    exporter: str
    calibration: str
    generator: bool = False

    @property
    def onnx(self) -> Path:
        return HERE / f"{self.stem}.onnx"


ZOO = tuple(
    Entry(f"{base}_{tag}", exporter, calibration, base == "upsampler")
    for tag in ("b1", "dyn")
    for base, exporter, calibration in (
        ("cnn_legacy", "torch.onnx.export(dynamo=False)", "calibration_nchw.npy"),
        ("cnn_dynamo", "torch.onnx.export(dynamo=True)", "calibration_nchw.npy"),
        ("resnet_block", "torch.onnx.export(dynamo=False)", "calibration_nchw.npy"),
        ("keras_cnn", "keras 3 (torch backend) model.export(format='onnx')", "calibration_nhwc.npy"),
        (
            "tf2onnx_cnn",
            "tf2onnx.convert.from_function (keras 3, TensorFlow backend)",
            "calibration_nhwc.npy",
        ),
        ("upsampler", "torch.onnx.export(dynamo=False)", "latents_calibration.npy"),
    )
)


def test_inputs(entry: Entry) -> tuple[np.ndarray, np.ndarray | None]:
    """(float inputs in the model's layout, labels or None for a generator)."""
    if entry.generator:
        return np.load(HERE / "latents_test.npy"), None
    _, _, x, y = digits.split()
    return (digits.nhwc(x) if "nhwc" in entry.calibration else x), y


def float_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    """onnxruntime on the float model, in chunks of the batch its input takes (1 if fixed at 1)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    arg = session.get_inputs()[0]
    step = arg.shape[0] if isinstance(arg.shape[0], int) else len(x)
    return np.concatenate([session.run(None, {arg.name: x[i : i + step]})[0] for i in range(0, len(x), step)])


def measure(entry: Entry) -> tuple[Model, dict]:
    """Convert with the committed calibration file; the float and int8 figures of the test set."""
    model = convert(entry.onnx, np.load(HERE / entry.calibration))
    x, labels = test_inputs(entry)
    want = float_outputs(entry.onnx, x).reshape(len(x), -1)
    got = model.dequantize_output(model.run(model.quantize_input(x))).reshape(len(x), -1)
    result: dict = {"ops": [op.kind.name.lower() for op in model.ops], "id": "0x" + model.id.hex()}
    if entry.generator:
        result["psnr_db"] = round(10 * math.log10(1.0 / float(np.mean((got - want) ** 2))), 2)
    else:
        result["float_accuracy"] = float(np.mean(want.argmax(1) == labels))
        result["int8_accuracy"] = float(np.mean(got.argmax(1) == labels))
    return model, result


if __name__ == "__main__":
    METRICS.write_text(json.dumps({e.stem: measure(e)[1] for e in ZOO}, indent=2, sort_keys=True) + "\n")
    print(METRICS.read_text())
