"""The plain-Solidity baseline (Int8Net) vs INFER and the engine, on a real DevChain with the INFER fork."""

from __future__ import annotations

import json

import numpy as np
import pytest
from eth_utils import keccak

from benchmarks.baseline import (
    ARTIFACT,
    SOURCE,
    BaselineUnsupportedError,
    artifact,
    compile_baseline,
    param_words,
    plan_layers,
    weight_words,
)
from benchmarks.engine_compare import ROOT
from benchmarks.harness import BenchChain
from benchmarks.solidity_compare import compare
from evm_ext.model import load_model
from tests.bench_models import padded_cnn, with_lookup


def test_weight_words_pack_32_per_word_lowest_byte_first_rows_word_aligned():
    weight = np.zeros((2, 33), dtype=np.int8)
    weight[0, 0], weight[0, 1], weight[0, 32] = 1, -1, 5
    weight[1, 31] = -128
    words = weight_words(weight)
    assert words == [0xFF01, 5, 0x80 << 248, 0]


def test_param_words_two_complement_bias_multiplier_and_shift():
    (word,) = param_words(np.array([-2]), np.array([1 << 30]), np.array([37]))
    assert word == ((1 << 128) - 2) | (1 << 158) | (37 << 192)


def test_committed_artifact_is_the_compiled_source():
    built = json.loads(ARTIFACT.read_text())
    assert built["sourceKeccak"] == "0x" + keccak(text=SOURCE.read_text()).hex()
    abi, init_code = compile_baseline(SOURCE.read_text())
    assert (abi, init_code) == artifact()


def test_padded_strided_dilated_cnn_matches_infer_and_engine():
    model = padded_cnn()
    rng = np.random.default_rng(7)
    inputs = [rng.integers(-128, 128, model.input_size, dtype=np.int8).tobytes() for _ in range(3)]
    result = compare(BenchChain(), model, inputs, infer_repeat=1)
    assert result.outputs_equal and result.mismatches == []
    # the outputs are not saturated constants: the check compares real values
    outputs = {model.run_bytes(inp) for inp in inputs}
    assert len(outputs) == 3
    assert len(set(next(iter(outputs)))) > 1
    assert min(result.solidity_gas) > 10 * max(result.infer_gas)


def test_plan_layers_maps_the_shipped_cnn():
    layers = plan_layers(load_model(ROOT / "models/mnist_cnn/mnist_cnn.aiem"))
    assert [(layer.kind, layer.cin, layer.h, layer.cout, layer.oh) for layer in layers] == [
        (2, 1, 28, 8, 24),
        (3, 8, 24, 8, 12),
        (2, 8, 12, 16, 8),
        (3, 16, 8, 16, 4),
        (1, 256, 1, 32, 1),
        (1, 32, 1, 10, 1),
    ]


def test_unsupported_op_is_a_clear_error():
    with pytest.raises(BaselineUnsupportedError, match="no Lookup op"):
        plan_layers(with_lookup())


def test_wrong_input_size_reverts_with_a_reason():
    from benchmarks.baseline import Baseline
    from benchmarks.harness import BenchExecutionError

    baseline = Baseline(BenchChain(), plan_layers(padded_cnn()))
    with pytest.raises(BenchExecutionError, match="reverted: wrong input size"):
        baseline.forward(b"\x00" * 10)
