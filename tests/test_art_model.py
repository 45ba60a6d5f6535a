"""The CPPN art generator (models/cppn/): the seeded construction and the project's converter reproduce the
committed ONNX and .aiem byte for byte, the int8 engine stays >= 30 dB PSNR from float, and the committed
int8 sample grid is what the engine draws."""

from __future__ import annotations

import json

import numpy as np
import onnx
from PIL import Image

from evm_ext.model import load_model
from evm_ext.model.convert import convert
from models.build import BUILDS, cppn_metrics
from models.cppn import sampling
from models.cppn.construct import HERE, ONNX_PATH, graph

SPEC = next(spec for spec in BUILDS if spec.name == "cppn")
MODEL = HERE / "cppn.aiem"


def test_construction_reproduces_the_committed_onnx():
    model = graph()
    assert model.SerializeToString() == ONNX_PATH.read_bytes()
    onnx.checker.check_model(onnx.load(ONNX_PATH), full_check=True)
    assert [n.op_type for n in model.graph.node][:11] == [
        "Gemm", "Reshape", "ConvTranspose", "Gemm", "Clip", "Reshape", "Conv", "Clip", "Add", "Clip", "Tanh",
    ]
    calibration = np.load(SPEC.calibration)
    assert (calibration == sampling.latents(sampling.CALIBRATION_COUNT, sampling.CALIBRATION_SEED)).all()


def test_converter_reproduces_the_committed_aiem():
    model = convert(ONNX_PATH, np.load(SPEC.calibration), batch=SPEC.batch)
    assert model.encode() == MODEL.read_bytes()
    assert (model.input_shape, model.ops[-1].out.shape) == ((32,), (64, 64, 3))
    assert (model.input_size, model.output_size) == (32, 12288)
    assert (model.source.scale, model.source.zero_point) == (np.float32(1 / 127.5), 0)


def test_int8_psnr_recorded_metrics_and_sample_grid(tmp_path):
    model = load_model(MODEL)
    recorded = json.loads((HERE / "metrics.json").read_text())["quantized"]["cppn"]
    measured = cppn_metrics(SPEC, model, samples=tmp_path / "samples_int8.png")
    assert measured["psnr_db"] == recorded["psnr_db"] >= 30
    assert measured["psnr_db_worst_image"] == recorded["psnr_db_worst_image"]
    assert measured["pixel_mean_abs_error"] == recorded["pixel_mean_abs_error"]
    assert recorded["id"] == "0x" + model.id.hex()
    assert (tmp_path / "samples_int8.png").read_bytes() == (HERE / "samples_int8.png").read_bytes()


def test_sample_grid_is_the_engine_drawing():
    model = load_model(MODEL)
    z = sampling.latents(16, sampling.SAMPLES_SEED)
    expected = sampling.grid(sampling.pixels(model.run(model.quantize_input(z))))
    drawn = np.asarray(Image.open(HERE / "samples_int8.png").convert("RGB"))
    assert (drawn[::2, ::2] == expected).all()


def test_latent_round_trips_through_the_input_quantization():
    model = load_model(MODEL)
    latent = sampling.latent_bytes(12345)
    assert model.encode_input(sampling.dequantize(latent)[0]) == latent
