"""`evm_ext.model.convert.report` and `aievm model convert --report`: per-layer parameters and error."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from onnx import helper

from evm_ext.model.convert import conversion
from evm_ext.model.convert.report import layer_report, worst
from tests.conftest import ROOT
from tests.engine_onnx import onnx_model, rand

RNG = np.random.default_rng(31)
node = helper.make_node


def test_an_outlier_range_shows_as_the_worst_layer_after_it():
    """One huge weight in the second layer widens its output range to hundreds, so its int8 step is ~2:
    the layer itself stays accurate relative to its range, but the sigmoid after it, whose input lives
    near 0, sees only a few codes; the report names that layer as the worst."""
    w2 = rand(RNG, 4, 8)
    w2[0, 0] = 400.0
    m = onnx_model(
        [
            node("Gemm", ["x", "w1"], ["h"], transB=1),
            node("Relu", ["h"], ["r"]),
            node("Gemm", ["r", "w2"], ["z"], transB=1),
            node("Sigmoid", ["z"], ["y"]),
        ],
        {"w1": rand(RNG, 8, 6), "w2": w2},
        (6,),
    )
    calib = RNG.normal(size=(100, 6)).astype(np.float32)
    conv = conversion(m, calib, keep=True)
    rows = layer_report(conv, calib)
    assert [(r.index, r.kind, r.tensor) for r in rows] == [
        (1, "fully_connected", "r"),
        (2, "fully_connected", "z"),
        (3, "lookup", "y"),
    ]
    assert rows[0].weight_scales is not None and rows[2].weight_scales is None
    assert rows[1].weight_scales[1] == np.float32(400.0) / 127
    assert rows[1].scale > 1.0
    assert rows[0].sqnr_db > 30 and rows[1].sqnr_db > 30 and rows[0].rmse_steps < 0.5
    assert worst(rows) is rows[2] and rows[2].sqnr_db < 20 and rows[2].max_steps > 30


def test_convert_report_on_the_command_line_names_the_worst_layer(tmp_path):
    out = tmp_path / "r.aiem"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evm_ext.cli",
            "model",
            "convert",
            str(ROOT / "models/zoo/resnet_block_b1.onnx"),
            "-o",
            str(out),
            "--calib",
            str(ROOT / "models/zoo/calibration_nchw.npy"),
            "--report",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert "calibrated on 200 samples, 1 per run (the model's batch axis is fixed at 1)" in proc.stdout
    assert "per-layer error against float on 200 calibration samples" in proc.stdout
    assert "SQNR dB" in proc.stdout and "worst layer: #" in proc.stdout
    assert out.stat().st_size > 0
