"""Construct the CPPN art generator: seeded random weights written as an ONNX graph (numpy + onnx only).

Run from the repository root: `python -m models.cppn.construct` (runtime dependencies only: no torch, no
dataset, no training). A CPPN (compositional pattern-producing network) maps each pixel's coordinates
(x, y, r) plus a latent vector to a colour; random weights give the classic abstract CPPN pictures and
the latent moves them continuously. Graph (input float32 latent (batch, LATENT); output (batch, 64, 64, 3)
in [-1, 1], i.e. RGB scanlines):

  one    = Gemm(latent, W=0, C=1)                  (1,)          a live constant 1 (see below)
  coords = ConvTranspose(one as (1,1,1), G)        (3, 64, 64)   G = the x, y, r coordinate maps
  h      = Tanh(Clip(Clip(Conv1x1(coords, B)) + Clip(Gemm(latent, A)) as (HIDDEN, 1, 1)))
  h      = Tanh(Conv1x1(h, W_i) + b_i)             x DEPTH
  image  = Transpose(Tanh(Conv1x1(h, W_out)), (0, 2, 3, 1))

The integer engine has no constant-tensor op and the converter folds input-independent tensors into
constants, so the coordinate grid is drawn from the input: a Gemm with zero weights and bias 1 is a
constant 1 that depends on the latent, and a 64x64 ConvTranspose of it paints the coordinate maps (its
kernel). Every pre-activation, and each of the two first-layer summands, is clipped to +-CLIP
(tanh(3) = 0.995): that bounds the ranges the converter quantizes before each Tanh lookup table, as in the
DCGAN (docs/models.md). Clipping the summands (fused into their Conv and Gemm) raised the int8 PSNR by
about 4 dB (34.2 -> 38.6 dB on 64 latents, in a trial with OUT_GAIN 2.0): the unclipped sum spanned
+-23, so one int8 step of it was 0.18.

Writes next to this file: cppn.onnx (opset 17), calibration.npy float32 (CALIBRATION_COUNT, LATENT)
on-chain-kind latents, samples.png (float onnxruntime drawing of 16 fixed latents), metrics.json section
"float". Deterministic: numpy's PCG64 streams are fixed for a pinned numpy, and the file is rebuilt
byte for byte (tests/test_art_model.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.cppn.sampling import (
    CALIBRATION_COUNT,
    CALIBRATION_SEED,
    LATENT,
    SAMPLES_SEED,
    SIZE,
    latents,
    save_grid,
)
from models.metrics import update_metrics

HERE = Path(__file__).resolve().parent
ONNX_PATH = HERE / "cppn.onnx"
SEED = 10
HIDDEN = 24
DEPTH = 4
CLIP = 3.0
LATENT_GAIN = 3.0  # std of the latent's contribution to a first-layer unit, at unit-variance latents
COORD_GAIN = 3.0  # std of the first-layer weights on x, y, r
HIDDEN_GAIN = 1.8  # hidden weights ~ N(0, (HIDDEN_GAIN / sqrt(HIDDEN))^2)
OUT_GAIN = 2.5


def coordinate_maps() -> np.ndarray:
    """(3, SIZE, SIZE) float32: x and y in [-1, 1] (left to right, top to bottom) and r = sqrt(x^2 + y^2)."""
    t = np.linspace(-1.0, 1.0, SIZE)
    y, x = np.meshgrid(t, t, indexing="ij")
    return np.stack([x, y, np.sqrt(x * x + y * y)]).astype(np.float32)


def graph() -> onnx.ModelProto:
    """The seeded float generator."""
    rng = np.random.default_rng(SEED)

    def normal(*shape: int, std: float) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    maps = coordinate_maps()
    inits = {
        "one_w": np.zeros((1, LATENT), np.float32),
        "one_b": np.ones(1, np.float32),
        "one_shape": np.array([-1, 1, 1, 1], np.int64),
        "coords": maps[None],  # ConvTranspose weight (C_in=1, C_out=len(maps), 64, 64)
        "latent_w": normal(HIDDEN, LATENT, std=LATENT_GAIN * np.sqrt(3.0 / LATENT)),  # uniform latents
        "latent_b": normal(HIDDEN, std=0.5),
        "hidden_shape": np.array([-1, HIDDEN, 1, 1], np.int64),
        "coord_w": normal(HIDDEN, len(maps), 1, 1, std=COORD_GAIN),
        "lo": np.array(-CLIP, np.float32),
        "hi": np.array(CLIP, np.float32),
    }
    nodes = [
        helper.make_node("Gemm", ["latent", "one_w", "one_b"], ["one"], transB=1),
        helper.make_node("Reshape", ["one", "one_shape"], ["one4"]),
        helper.make_node("ConvTranspose", ["one4", "coords"], ["xyr"], kernel_shape=[SIZE, SIZE]),
        helper.make_node("Gemm", ["latent", "latent_w", "latent_b"], ["zl"], transB=1),
        helper.make_node("Clip", ["zl", "lo", "hi"], ["zl_clip"]),
        helper.make_node("Reshape", ["zl_clip", "hidden_shape"], ["z4"]),
        helper.make_node("Conv", ["xyr", "coord_w"], ["xyr_h"], kernel_shape=[1, 1]),
        helper.make_node("Clip", ["xyr_h", "lo", "hi"], ["xyr_clip"]),
        helper.make_node("Add", ["xyr_clip", "z4"], ["pre0"]),
        helper.make_node("Clip", ["pre0", "lo", "hi"], ["clip0"]),
        helper.make_node("Tanh", ["clip0"], ["h0"]),
    ]
    h = "h0"
    for i in range(1, DEPTH + 1):
        inits[f"w{i}"] = normal(HIDDEN, HIDDEN, 1, 1, std=HIDDEN_GAIN / np.sqrt(HIDDEN))
        inits[f"b{i}"] = normal(HIDDEN, std=0.3)
        nodes += [
            helper.make_node("Conv", [h, f"w{i}", f"b{i}"], [f"pre{i}"], kernel_shape=[1, 1]),
            helper.make_node("Clip", [f"pre{i}", "lo", "hi"], [f"clip{i}"]),
            helper.make_node("Tanh", [f"clip{i}"], [f"h{i}"]),
        ]
        h = f"h{i}"
    inits["out_w"] = normal(3, HIDDEN, 1, 1, std=OUT_GAIN / np.sqrt(HIDDEN))
    nodes += [
        helper.make_node("Conv", [h, "out_w"], ["pre_out"], kernel_shape=[1, 1]),
        helper.make_node("Clip", ["pre_out", "lo", "hi"], ["clip_out"]),
        helper.make_node("Tanh", ["clip_out"], ["rgb"]),
        helper.make_node("Transpose", ["rgb"], ["image"], perm=[0, 2, 3, 1]),
    ]
    g = helper.make_graph(
        nodes,
        "cppn",
        [helper.make_tensor_value_info("latent", TensorProto.FLOAT, ["batch", LATENT])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", SIZE, SIZE, 3])],
        [numpy_helper.from_array(value, name) for name, value in inits.items()],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="aievm-cppn")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def to_pixels(images: np.ndarray) -> np.ndarray:
    """Float generator output in [-1, 1] -> uint8 pixels, round((y + 1) * 127.5)."""
    return np.clip(np.round((np.asarray(images, np.float64) + 1) * 127.5), 0, 255).astype(np.uint8)


def main() -> None:
    from models.build import float_outputs

    model = graph()
    onnx.save(model, ONNX_PATH)
    calibration = latents(CALIBRATION_COUNT, CALIBRATION_SEED)
    np.save(HERE / "calibration.npy", calibration)
    save_grid(to_pixels(float_outputs(ONNX_PATH, latents(16, SAMPLES_SEED))), HERE / "samples.png")
    params = sum(int(np.prod(i.dims)) for i in model.graph.initializer)
    update_metrics(
        HERE / "metrics.json",
        "float",
        {"seed": SEED, "hidden": HIDDEN, "depth": DEPTH, "float_params": params},
    )
    print(f"wrote {ONNX_PATH.name} ({ONNX_PATH.stat().st_size:,} bytes, {params:,} parameters)")


if __name__ == "__main__":
    main()
