"""Engine micro-benchmark: per model and per op, single sample and batch, plus a TFLite int8 reference.

    .venv/bin/python -m benchmarks.engine_profile            # every shipped model
    .venv/bin/python -m benchmarks.engine_profile --ops      # also the per-op breakdown (compiled, numpy)
    .venv/bin/python -m benchmarks.engine_profile --model mnist_cnn --repeat 2000

Times are medians of repeated calls (`benchmarks.stats.measure`) in microseconds per sample. The TFLite
column runs the committed int8 .tflite (ai-edge-litert, one thread) when it exists; otherwise numpy
float32 of the same model stands in as the reference. Not a test: timings never gate CI.
"""

from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.engine_compare import SHIPPED, ShippedModel, float_inputs
from benchmarks.float_numpy import load_float_model
from benchmarks.litert_runner import TFLITE_FILES, LiteRTModel
from benchmarks.stats import measure
from evm_ext.model import Model, load_model
from evm_ext.model.ops import Reshape

BATCH = 256


def _us(seconds: float) -> float:
    return seconds * 1e6


def _reference(shipped: ShippedModel, x: np.ndarray, repeat: int) -> tuple[str, float]:
    """(name, µs per single sample) of the TFLite int8 model, or numpy float32 when there is none."""
    tflite = TFLITE_FILES.get(shipped.name)
    if tflite is not None and tflite.exists():
        lite = LiteRTModel(tflite, num_threads=1)
        sample = lite.quantize(x[:1])[0]
        return "tflite_int8", _us(measure(lambda: lite.invoke(sample), repeat=repeat).median)
    float_model = load_float_model(shipped.onnx)
    return "numpy_float32", _us(measure(lambda: float_model.run(x[:1]), repeat=repeat).median)


def profile_model(shipped: ShippedModel, repeat: int, ops: bool) -> dict:
    model = load_model(shipped.aiem)
    x = float_inputs(shipped, model, BATCH)
    xq = model.quantize_input(x)
    single = xq[0].tobytes()
    result = {
        "single_us": _us(measure(lambda: model.run_bytes(single), repeat=repeat).median),
        "batch_us_per_sample": _us(measure(lambda: model.run(xq), repeat=max(5, repeat // 100)).median)
        / BATCH,
    }
    result["reference"], result["reference_us"] = _reference(shipped, x, repeat)
    result["ratio"] = result["single_us"] / result["reference_us"]
    if ops:
        result["ops"] = _per_op(model, xq, repeat)
    return result


def _per_op(model: Model, xq: np.ndarray, repeat: int) -> list[tuple[str, float, float]]:
    """(op kind, µs of the op in the compiled engine, µs of its numpy kernel), one sample each.

    Compiled: the median time of the model's first k + 1 ops less that of its first k (of an op-less
    program for the first op), so each op is timed inside the one-call program INFER runs, with the
    engine's per-call cost counted once, in the "call" row. A conv fused with the max pool after it
    (`lowering`) shows the pair's time on the conv and about 0 on the pool."""
    sample = xq[:1]
    empty = Model(model.source, [Reshape((0,), [model.source], model.input_shape)])
    prefixes = [empty] + [Model(model.source, list(model.ops[: k + 1])) for k in range(len(model.ops))]
    compiled = [_us(measure(lambda m=m: m.run(sample), repeat=repeat).median) for m in prefixes]
    values = [sample]
    for op in model.ops:
        values.append(op.run([values[i] for i in op.inputs]))
    rows = [("call", compiled[0], float("nan"))]
    for k, op in enumerate(model.ops):
        args = [values[i] for i in op.inputs]
        reference = _us(measure(lambda op=op, args=args: op.run(args), repeat=repeat).median)
        rows.append((op.kind.name.lower(), compiled[k + 1] - compiled[k], reference))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=[s.name for s in SHIPPED], action="append")
    parser.add_argument("--repeat", type=int, default=1000, help="timed single-sample calls (default 1000)")
    parser.add_argument("--ops", action="store_true", help="print the per-op breakdown")
    args = parser.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):
        for shipped in SHIPPED:
            if args.model and shipped.name not in args.model:
                continue
            r = profile_model(shipped, args.repeat, args.ops)
            print(
                f"{shipped.name:10s} single {r['single_us']:8.1f} µs   batch {BATCH}"
                f" {r['batch_us_per_sample']:7.2f} µs/sample   {r['reference']} {r['reference_us']:7.1f} µs"
                f"   single/ref {r['ratio']:.2f}x"
            )
            for kind, compiled, reference in r.get("ops", []):
                print(f"    {kind:16s} compiled {compiled:7.1f} µs   numpy {reference:7.1f} µs")


if __name__ == "__main__":
    main()
