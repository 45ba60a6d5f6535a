"""Stage 2: run the float graph on the calibration set with every intermediate tensor exposed.

Gives, per tensor, its observed range [lo, hi] (always including 0), its per-sample shape, and the value
of every input-independent tensor (initializers, Constant nodes, folded shape arithmetic).

The batch dimension may be exported symbolic, fixed at 1, or fixed at N: the samples run in chunks of
the batch the model accepts (symbolic: `batch` at a time). A fixed-N model's last chunk is filled up
with samples from the start of the set, which repeats observed values and so leaves every range as it
is. Per-sample shapes come from the first chunk: a tensor whose leading axis is the chunk length drops
that axis; in a batch-1 model a tensor without it (the batch axis squeezed away) keeps its whole shape.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from evm_ext.model.errors import ConversionError


class Calibration:
    """Observed ranges, per-sample shapes and input-independent values of every tensor.

    With `keep=True`, `floats[name]` holds each batched float tensor over the whole calibration set
    (for the per-layer report). `chunk` is the batch each onnxruntime run took, `fixed` whether the
    model's input fixes it.
    """

    def __init__(self, model: onnx.ModelProto, calib: np.ndarray, batch: int, keep: bool = False) -> None:
        calib = np.asarray(calib)
        if calib.ndim < 2 or not len(calib) or not np.issubdtype(calib.dtype, np.number):
            raise ConversionError(f"calibration data must be a numeric batch (N, ...), got {calib.shape}")
        if batch < 1:
            raise ConversionError(f"the calibration batch must be >= 1, got {batch}")
        session = _session(model)
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ConversionError(f"the model must have exactly one input, it has {len(inputs)}")
        self.input_name = inputs[0].name
        chunk, fixed = _chunk_size(inputs[0], calib.shape[1:], batch)
        self.chunk, self.fixed = chunk, fixed
        names = [o.name for o in session.get_outputs()]
        self.lo: dict[str, float] = {}
        self.hi: dict[str, float] = {}
        self.shape: dict[str, tuple[int, ...]] = {}
        self.values: dict[str, np.ndarray] = {}
        self.floats: dict[str, np.ndarray] = {}
        parts: dict[str, list[np.ndarray]] = {}
        calib = calib.astype(np.float32)
        for start in range(0, len(calib), chunk):
            part = (
                calib[np.arange(start, start + chunk) % len(calib)] if fixed else calib[start : start + chunk]
            )
            real = min(chunk, len(calib) - start)
            try:
                outs = session.run(names, {self.input_name: part})
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ConversionError(f"onnxruntime failed on the calibration data: {exc}") from None
            for name, out in zip([self.input_name, *names], [part, *outs], strict=True):
                batched = out.ndim and out.shape[0] == len(part)
                if start == 0:
                    self.values[name] = out
                    self.shape[name] = out.shape[1:] if batched else (out.shape if len(part) == 1 else ())
                if np.issubdtype(out.dtype, np.floating) and out.size:
                    seen = out[:real] if batched else out
                    self.lo[name] = min(self.lo.get(name, 0.0), float(seen.min()))
                    self.hi[name] = max(self.hi.get(name, 0.0), float(seen.max()))
                    if keep:
                        parts.setdefault(name, []).append(out[:real] if batched else out[None])
        self.floats = {name: np.concatenate(p) for name, p in parts.items()}


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    known = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for name in node.output:
            if name and name not in known:
                exposed.graph.output.append(onnx.ValueInfoProto(name=name))
                known.add(name)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ConversionError(f"onnxruntime cannot load the model: {exc}") from None


def _chunk_size(arg: ort.NodeArg, sample: tuple[int, ...], batch: int) -> tuple[int, bool]:
    """(chunk, fixed): the batch the model input takes, or `batch` if symbolic; checks the sample dims."""
    dims = list(arg.shape)
    declared = tuple(d if isinstance(d, int) else "?" for d in dims[1:])
    if len(dims) != len(sample) + 1 or any(
        isinstance(d, int) and d != s for d, s in zip(dims[1:], sample, strict=True)
    ):
        raise ConversionError(
            f"calibration samples have shape {tuple(sample)}, but model input {arg.name!r} takes "
            f"(batch, {', '.join(map(str, declared))}): save the .npy as (N, {', '.join(map(str, declared))})"
        )
    fixed = isinstance(dims[0], int) and dims[0] >= 1
    return (dims[0] if fixed else batch), fixed
