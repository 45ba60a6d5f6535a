"""ONNX -> on-chain model: post-training static quantization with calibration data, in four stages.

1. `graph`: load the model and normalise its graph (aliases, transpose pairs, pads folded);
2. `calibrate`: onnxruntime runs the float graph on the calibration set in batches the model accepts,
   giving each tensor's range, per-sample shape and (if input-independent) value;
3. `lower`: nodes become a float IR in graph order, fusing what the integer engine does in one op;
4. `quantizer`: the IR becomes integer ops (activations per tensor, weights per output channel).
`report` measures each converted layer against float on the calibration set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from evm_ext.model.convert import graph
from evm_ext.model.convert.calibrate import Calibration
from evm_ext.model.convert.ir import IrOp
from evm_ext.model.convert.lower import Lowering
from evm_ext.model.convert.quantizer import Quantizer
from evm_ext.model.runtime import Model


@dataclass
class Conversion:
    """A converted model with what produced it: the IR and the calibration (for the report)."""

    model: Model
    ir: list[IrOp]
    calibration: Calibration
    names: list[str]  # tensor name of each model value (0: the input)


def conversion(
    model: onnx.ModelProto | str | Path, calib: np.ndarray, *, batch: int = 256, keep: bool = False
) -> Conversion:
    """Run the four stages; `keep=True` also keeps every float tensor of the calibration run."""
    onnx_model = graph.normalise(graph.load(model))
    cal = Calibration(onnx_model, calib, batch, keep=keep)
    lowering = Lowering(onnx_model, cal)
    ir = lowering.run()
    quantizer = Quantizer(cal, lowering.consts, lowering.opsets)
    ops = quantizer.run(ir)
    names = sorted(quantizer.index, key=quantizer.index.__getitem__)
    return Conversion(Model(quantizer.values[0], ops), ir, cal, names)


def convert(model: onnx.ModelProto | str | Path, calib: np.ndarray, *, batch: int = 256) -> Model:
    """Quantize a float ONNX model (one input, one output, batch on axis 0) with calibration inputs."""
    return conversion(model, calib, batch=batch).model


__all__ = ["Conversion", "conversion", "convert"]
