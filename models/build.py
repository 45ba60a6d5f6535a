"""Convert the shipped ONNX models to the on-chain format and measure the int8 engine against float.

Run from the repository root: `python -m models.build` (runtime dependencies only, no torch).
For each model, `evm_ext.model.convert.convert(<onnx>, calibration.npy)` writes `<stem>.aiem` next to
the ONNX file, then the integer engine (`Model.run`) is evaluated against onnxruntime on the float model:
  classifiers  on the committed held-out test set: int8 accuracy, float accuracy, label agreement;
  dcgan        on EVAL_LATENTS seeded latents: pixel error of the int8 images against the float ones,
               how often the float CNN recognizes a digit in them (softmax > CONFIDENT, a rough quality
               score; real test digits score 0.95), plus samples_int8.png (the engine's drawing of the
               samples.png latents).
  cppn         on CPPN_EVAL_LATENTS on-chain-kind latents: PSNR of the on-chain pixels (int8 output + 128)
               against the float output through the same output quantization, plus samples_int8.png.
`python -m models.build cppn` converts only the named models.
Results go to section "quantized" of each models/<name>/metrics.json.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from evm_ext.model import Model
from evm_ext.model.convert import convert
from models import dataset
from models.cppn import sampling as cppn_sampling
from models.dcgan import sampling
from models.metrics import update_metrics

MODELS = Path(__file__).resolve().parent
EVAL_LATENTS = (1000, 5)  # count, seed of the DCGAN evaluation latents
CPPN_EVAL_LATENTS = (256, 13)  # count, seed of the CPPN evaluation latents
CONFIDENT = 0.9


@dataclass(frozen=True)
class Build:
    """One shipped ONNX file: where it is, and the float input layout of one sample."""

    name: str  # directory under models/ (holds calibration.npy and metrics.json)
    stem: str  # <stem>.onnx -> <stem>.aiem
    layout: tuple[int, ...]
    batch: int = 256  # calibration batch of the converter (every intermediate tensor is held per batch)

    @property
    def onnx(self) -> Path:
        return MODELS / self.name / f"{self.stem}.onnx"

    @property
    def aiem(self) -> Path:
        return MODELS / self.name / f"{self.stem}.aiem"

    @property
    def calibration(self) -> Path:
        return MODELS / self.name / "calibration.npy"


BUILDS = (
    Build("mnist_mlp", "mnist_mlp", (784,)),
    Build("mnist_mlp", "mnist_mlp_dynamo", (784,)),
    Build("mnist_cnn", "mnist_cnn", (1, 28, 28)),
    Build("dcgan", "dcgan_generator", (sampling.LATENT, 1, 1)),
    Build("cppn", "cppn", (cppn_sampling.LATENT,), batch=32),
)


def float_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    """onnxruntime (CPU) on the float model."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def int8_outputs(model: Model, x: np.ndarray) -> np.ndarray:
    """The integer engine on float inputs: quantize with the model's input parameters, run, dequantize."""
    return model.dequantize_output(model.run(model.quantize_input(x)))


def describe(model: Model) -> dict:
    """Size and cost figures of a converted model."""
    costs = model.op_costs()
    return {
        "aiem_bytes": len(model.encode()),
        "id": "0x" + model.id.hex(),
        "params": model.params,
        "ops": [op.kind.name.lower() for op in model.ops],
        "macs_per_sample": sum(cost.macs for cost in costs),
        "input_scale": model.source.scale,
        "input_zero_point": model.source.zero_point,
    }


def classifier_metrics(spec: Build, model: Model) -> dict:
    images, labels = dataset.load_test_set()
    x = dataset.normalize(images).reshape(len(images), *spec.layout)
    float_pred = float_outputs(spec.onnx, x).argmax(1)
    int8_pred = int8_outputs(model, x).argmax(1)
    float_acc, int8_acc = float((float_pred == labels).mean()), float((int8_pred == labels).mean())
    return {
        "float_test_accuracy": round(float_acc, 4),
        "int8_test_accuracy": round(int8_acc, 4),
        "accuracy_drop_points": round(100 * (float_acc - int8_acc), 2),
        "int8_float_label_agreement": round(float((int8_pred == float_pred).mean()), 4),
    }


def recognized(pixels: np.ndarray) -> tuple[float, list[int]]:
    """Fraction of uint8 (n, 1, 28, 28) images the float CNN classifies with softmax > CONFIDENT, and
    how many images it assigns to each digit."""
    logits = float_outputs(MODELS / "mnist_cnn/mnist_cnn.onnx", dataset.normalize(pixels)).astype(np.float64)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    confident = probs.max(1) / probs.sum(1) > CONFIDENT
    return round(float(confident.mean()), 3), np.bincount(logits.argmax(1), minlength=10).tolist()


def generator_metrics(spec: Build, model: Model) -> dict:
    z = sampling.latents(*EVAL_LATENTS)
    float_px = sampling.to_pixels(float_outputs(spec.onnx, z))
    int8_px = sampling.to_pixels(int8_outputs(model, z))
    float_confident, _ = recognized(float_px)
    int8_confident, int8_digits = recognized(int8_px)
    float_px, int8_px = float_px.astype(np.int16), int8_px.astype(np.int16)
    error = np.abs(int8_px - float_px)
    mse = float(np.mean(error.astype(np.float64) ** 2))
    sampling.save_grid(
        sampling.to_pixels(int8_outputs(model, sampling.latents(64, sampling.SAMPLES_SEED))),
        MODELS / spec.name / "samples_int8.png",
    )
    return {
        "eval_latents": EVAL_LATENTS[0],
        "pixel_mean_abs_error": round(float(error.mean()), 3),
        "pixel_max_abs_error": int(error.max()),
        "psnr_db": round(float(10 * np.log10(255**2 / mse)), 2),
        "cnn_confident_fraction_float": float_confident,
        "cnn_confident_fraction_int8": int8_confident,
        "cnn_digit_counts_int8": int8_digits,
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 images (or batches), in dB."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float(10 * np.log10(255**2 / mse)) if mse else float("inf")


def cppn_metrics(spec: Build, model: Model, samples: Path | None = None) -> dict:
    """On-chain pixels (int8 output + 128) against the float output quantized with the same output
    parameters: what the int8 engine loses against float arithmetic. Draws the samples_int8.png grid
    (to `samples` if given)."""
    out = model.ops[-1].out
    z = cppn_sampling.latents(*CPPN_EVAL_LATENTS)
    float_q = np.clip(np.rint(float_outputs(spec.onnx, z) / out.scale) + out.zero_point, -128, 127)
    float_px = cppn_sampling.pixels(float_q.astype(np.int8)).astype(np.int16)
    int8_px = cppn_sampling.pixels(model.run(model.quantize_input(z))).astype(np.int16)
    error = np.abs(int8_px - float_px)
    grid = cppn_sampling.latents(16, cppn_sampling.SAMPLES_SEED)
    cppn_sampling.save_grid(
        cppn_sampling.pixels(model.run(model.quantize_input(grid))),
        samples or MODELS / spec.name / "samples_int8.png",
    )
    return {
        "eval_latents": CPPN_EVAL_LATENTS[0],
        "output_scale": out.scale,
        "output_zero_point": out.zero_point,
        "pixel_mean_abs_error": round(float(error.mean()), 3),
        "pixel_p99_abs_error": int(np.percentile(error, 99)),
        "psnr_db": round(psnr(int8_px, float_px), 2),
        "psnr_db_worst_image": round(min(psnr(a, b) for a, b in zip(int8_px, float_px, strict=True)), 2),
    }


EVALUATORS = {"dcgan": generator_metrics, "cppn": cppn_metrics}


def build(spec: Build) -> dict:
    """Convert one model, write its .aiem and return its metrics."""
    model = convert(spec.onnx, np.load(spec.calibration), batch=spec.batch)
    spec.aiem.write_bytes(model.encode())
    evaluate = EVALUATORS.get(spec.name, classifier_metrics)
    return describe(model) | evaluate(spec, model)


def main(argv: list[str] | None = None) -> None:
    names = set(sys.argv[1:] if argv is None else argv)
    results: dict[str, dict] = {}
    for spec in BUILDS:
        if names and spec.name not in names:
            continue
        results.setdefault(spec.name, {})[spec.stem] = build(spec)
        print(spec.stem, results[spec.name][spec.stem])
    for name, section in results.items():
        update_metrics(MODELS / name / "metrics.json", "quantized", section)


if __name__ == "__main__":
    main()
