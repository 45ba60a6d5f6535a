"""`aievm bench`: every section in one run, so each figure has its baseline measured alongside it.

1. INFER gas/s vs ECRECOVER gas/s (benchmarks/calibrate_gas.py's measurement, same VM, same run).
2. INFER vs the same network in plain Solidity (Int8Net) on the same chain: gas, time, equal outputs.
3. The engine vs numpy float32, onnxruntime float32 and TFLite int8 (LiteRT) per inference.
4. JSON-RPC: modelInfer / tiny eth_call latency, transfers and INFER transactions per second, node RSS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from benchmarks import calibrate_gas
from benchmarks.engine_compare import SHIPPED, compare_engine, float_inputs
from benchmarks.harness import BenchChain
from benchmarks.litert_runner import TFLITE_FILES
from benchmarks.machine import describe
from benchmarks.opml_bench import opml_section
from benchmarks.rpc_bench import rpc_figures
from benchmarks.solidity_compare import compare
from benchmarks.sweep import SHIPPED as SHIPPED_MODELS
from benchmarks.sweep import sweep
from evm_ext.errors import AievmError
from evm_ext.model import load_model

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Settings:
    """How much of each section to run."""

    calibration_sweep: bool  # False: the shipped models only
    calibration_rounds: int
    calibration_budget_s: float
    baseline_models: tuple[tuple[str, int], ...]  # (shipped model, samples)
    engine_repeat: int
    engine_budget_s: float
    rpc_calls: int
    rpc_transactions: int
    rss_calls: int


QUICK = Settings(False, 3, 0.01, (("mnist_mlp", 1),), 300, 0.3, 100, 50, 200)
FULL = Settings(True, 7, 0.03, (("mnist_mlp", 3), ("mnist_cnn", 1)), 3000, 3.0, 500, 500, 1000)

# name: (figure path in the results, comparison, target)
TARGETS: dict[str, tuple[tuple[str, ...], str, float]] = {
    "infer_gas_per_s_vs_ecrecover_min": (("infer_gas", "ratio_min"), ">=", 0.8),
    "infer_gas_per_s_vs_ecrecover_max": (("infer_gas", "ratio_max"), "<=", 2.0),
    "mlp_infer_cheaper_than_solidity": (("solidity_baseline", "mnist_mlp", "gas_ratio"), ">=", 100.0),
    "cnn_engine_vs_tflite_int8": (("engine", "mnist_cnn", "engine_ratio", "tflite_int8"), "<=", 1.5),
    "mlp_engine_vs_tflite_int8": (("engine", "mnist_mlp", "engine_ratio", "tflite_int8"), "<=", 1.5),
    "dcgan_engine_vs_onnxruntime": (("engine", "dcgan", "engine_ratio", "onnxruntime_float32"), "<=", 1.0),
    "model_infer_call_median_ms": (("rpc", "model_infer_call_ms", "median"), "<=", 5.0),
    "tiny_call_median_ms": (("rpc", "tiny_call_ms", "median"), "<=", 1.5),
    "transfers_per_s": (("rpc", "transfers_per_s"), ">=", 300.0),
    "node_rss_max_mb": (("rpc", "rss_mb", "max"), "<", 300.0),
    "node_rss_growth_mb": (("rpc", "rss_mb", "growth"), "<=", 10.0),
    "opml_dispute_max_s": (("opml", "max_dispute_s"), "<", 10.0),
    "opml_one_step_proof_max_gas": (("opml", "max_proof_gas"), "<", 5_000_000),
}


def _lookup(results: dict, path: tuple[str, ...]) -> float | None:
    for key in path:
        if not isinstance(results, dict) or key not in results:
            return None
        results = results[key]
    return results


def check_targets(results: dict) -> dict[str, dict]:
    """Each target with its measured value and whether it is met (None when the figure was not run)."""
    out = {}
    for name, (path, op, target) in TARGETS.items():
        value = _lookup(results, path)
        met = (
            None if value is None else {"<=": value <= target, ">=": value >= target, "<": value < target}[op]
        )
        out[name] = {"value": value, "target": f"{op} {target:g}", "met": met}
    return out


def infer_gas_section(settings: Settings) -> dict:
    models = sweep(largest=settings.calibration_sweep)
    if not settings.calibration_sweep:
        models = {name: model for name, model in models.items() if name in SHIPPED_MODELS}
    result = calibrate_gas.calibrate(
        models, budget_s=settings.calibration_budget_s, rounds=settings.calibration_rounds
    )
    ratios = [row[case]["ratio"] for row in result["models"].values() for case in calibrate_gas.CASES]
    return {**result, "ratio_min": min(ratios), "ratio_max": max(ratios)}


def baseline_section(settings: Settings) -> dict:
    out = {}
    for name, samples in settings.baseline_models:
        shipped = next(s for s in SHIPPED if s.name == name)
        model = load_model(shipped.aiem)
        inputs = [model.encode_input(x[None]) for x in float_inputs(shipped, model, samples)]
        out[name] = compare(BenchChain(), model, inputs).as_dict()
    return out


def engine_section(settings: Settings) -> dict:
    return {s.name: compare_engine(s, settings.engine_repeat, settings.engine_budget_s) for s in SHIPPED}


def rpc_section(settings: Settings) -> dict:
    shipped = SHIPPED[0]  # the MNIST MLP
    model = load_model(shipped.aiem)
    inputs = [model.encode_input(x[None]) for x in float_inputs(shipped, model, 32)]
    result = rpc_figures(
        model.encode(),
        inputs,
        model.output_size,
        calls=settings.rpc_calls,
        transactions=settings.rpc_transactions,
        rss_calls=settings.rss_calls,
    )
    result["model_infer_vs_tiny_call"] = (
        result["model_infer_call_ms"]["median"] / result["tiny_call_ms"]["median"]
    )
    result["infer_tx_vs_transfer_rate"] = result["infer_transactions_per_s"] / result["transfers_per_s"]
    return result


# The engine section runs first, in a fresh process heap: after the chain-heavy sections, the garbage
# collector's passes over their live objects added ~50% to single-sample engine times.
SECTIONS: dict[str, Callable[[Settings], dict]] = {
    "engine": engine_section,
    "infer_gas": infer_gas_section,
    "solidity_baseline": baseline_section,
    "rpc": rpc_section,
    "opml": opml_section,
}


def run_bench(
    quick: bool, sections: tuple[str, ...] = tuple(SECTIONS), progress: Callable[[str], None] = lambda _: None
) -> dict:
    """Run the chosen sections; returns the JSON-ready results (machine, settings, figures, targets)."""
    settings = QUICK if quick else FULL
    missing = [str(p) for s in SHIPPED for p in (s.aiem, s.onnx, s.inputs) if not p.exists()]
    missing += [str(p) for p in TFLITE_FILES.values() if not p.exists()]
    if missing:
        raise AievmError(f"aievm bench needs the shipped model files; missing: {', '.join(missing)}")
    started = time.perf_counter()
    results: dict = {
        "schema": SCHEMA_VERSION,
        "quick": quick,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
    }
    for name in sections:
        progress(name)
        t0 = time.perf_counter()
        results[name] = SECTIONS[name](settings)
        results[name]["section_seconds"] = time.perf_counter() - t0
    results["targets"] = check_targets(results)
    results["seconds"] = time.perf_counter() - started
    return results
