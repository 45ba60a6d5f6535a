"""`aievm bench --quick` runs end to end and emits JSON with every figure; the baseline equals INFER.

No timing is asserted: figures are only checked to be present and well-formed.
"""

from __future__ import annotations

import json

import pytest

from evm_ext.cli import main


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert (
        main(["bench", "--quick", "--json", str(out / "bench.json"), "--plot", str(out / "bench.png")]) == 0
    )
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return json.loads((out / "bench.json").read_text())


def test_json_has_every_section_and_the_machine(quick_results):
    r = quick_results
    assert r["schema"] == 1 and r["quick"] is True
    assert {"nproc", "cpu_model", "python", "numpy", "blas", "blas_env", "load_average"} <= set(r["machine"])
    assert {"infer_gas", "solidity_baseline", "engine", "rpc", "targets"} <= set(r)


def test_infer_gas_has_ecrecover_and_each_shipped_model(quick_results):
    section = quick_results["infer_gas"]
    assert section["ecrecover"]["gas_per_s"] > 0
    for name in ("mnist_mlp", "mnist_cnn", "dcgan"):
        row = section["models"][name]
        for case in ("cold", "warm", "modelinfo"):
            assert row[case]["gas_per_op"] > 0 and row[case]["ratio"] > 0
        assert row["cold"]["gas_per_op"] > row["warm"]["gas_per_op"]


def test_solidity_baseline_equals_infer_and_costs_more(quick_results):
    mlp = quick_results["solidity_baseline"]["mnist_mlp"]
    assert mlp["outputs_equal"] is True and mlp["mismatched_samples"] == []
    assert mlp["gas_ratio"] >= 100  # the fork's pricing goal, a gas (not time) figure
    assert mlp["solidity"]["upload_gas"] > 0


def test_engine_section_compares_every_runtime(quick_results):
    for name in ("mnist_mlp", "mnist_cnn"):
        row = quick_results["engine"][name]
        assert set(row["timings"]) == {"engine_int8", "numpy_float32", "onnxruntime_float32", "tflite_int8"}
        assert row["engine_vs_tflite_top1_agreement"] >= 0.9
    assert "tflite_int8" not in quick_results["engine"]["dcgan"]["timings"]


def test_rpc_section_and_targets(quick_results):
    rpc = quick_results["rpc"]
    assert rpc["model_infer_call_ms"]["n"] == 100 and rpc["tiny_call_ms"]["n"] == 100
    assert rpc["transfers_per_s"] > 0 and rpc["infer_transactions_per_s"] > 0
    assert rpc["rss_mb"]["calls"] == 200 and len(rpc["rss_mb"]["samples"]) == 11
    targets = quick_results["targets"]
    assert set(targets) >= {"cnn_engine_vs_tflite_int8", "model_infer_call_median_ms", "transfers_per_s"}
    assert all(t["value"] is not None and t["met"] in (True, False) for t in targets.values())
