"""The gas schedule: coverage of every op kind, integer rounding, and the calibration harness's accounting."""

from __future__ import annotations

from eth_keys import keys
from eth_utils import keccak

from benchmarks.calibrate_gas import VMBench, ecrecover_input, infer_loop, store_address
from benchmarks.sweep import big_conv, conv_to_one_position, sweep, upsampler
from evm_ext.model import load_model
from evm_ext.model.builder import Graph, mlp
from evm_ext.model.ops import OpCost, OpKind
from evm_ext.vm import gas
from tests.conftest import ROOT


def test_every_op_kind_of_the_engine_has_a_price():
    assert set(gas.OP_PRICES) == {kind.name.lower() for kind in OpKind}
    kinds = {cost.kind for model in sweep(largest=False).values() for cost in model.op_costs()}
    assert kinds == set(gas.OP_PRICES)


def test_compute_gas_sums_microgas_and_rounds_up_once():
    lookup = gas.OP_PRICES["lookup"]
    one = OpCost("lookup", 0, 1)
    assert gas.compute_gas([]) == 0
    assert gas.compute_gas([one]) == -(-(lookup.base + lookup.element) // 10**6)
    # 3 ops summed before rounding, not rounded each
    assert gas.compute_gas([one] * 3) == -(-3 * (lookup.base + lookup.element) // 10**6)
    fc = gas.OP_PRICES["fully_connected"]
    microgas = fc.base + 1000 * fc.mac + 10 * fc.element + 4000 * fc.weight_byte
    assert gas.compute_gas([OpCost("fully_connected", 1000, 10, 4000)]) == -(-microgas // 10**6)


def test_weight_bytes_are_the_int8_weights_whatever_their_values():
    """The compiled engine streams each int8 weight as one byte: small weights (which the numpy engine
    would run as a float32 GEMM) and large ones (float64) cost the same."""
    costs = {}
    for path in ("fast", "slow"):
        g = Graph((1040,), fast=path == "fast", slow=path == "slow")
        g.fc(0, 512)
        costs[path] = g.model().op_costs()
    assert costs["fast"] == costs["slow"]
    assert costs["fast"][0].weight_bytes == 1040 * 512
    # microgas: 60e6 + 512 * 3_000 + 532_480 * 5_000 = 2,723,936,000, rounded up once
    assert [gas.compute_gas(costs[path]) for path in ("fast", "slow")] == [1_500, 1_500]


def test_weight_bytes_past_the_cache_size_pay_the_stream_term():
    """The stream term counts the model's weight bytes together, whichever op holds them."""
    half = OpCost("fully_connected", 0, 0, gas.WEIGHT_CACHE_BYTES // 2)
    fc = gas.OP_PRICES["fully_connected"]
    within = 2 * (fc.base + fc.weight_byte * half.weight_bytes)
    assert gas.compute_gas([half, half]) == -(-within // 10**6)
    past = within + fc.base + fc.weight_byte * 1_000_000 + gas.G_STREAM_BYTE_MICROGAS * 1_000_000
    assert gas.compute_gas([half, half, OpCost("fully_connected", 0, 0, 1_000_000)]) == -(-past // 10**6)


def test_matrix_vector_convolutions_are_priced_as_fully_connected():
    """A conv with one output position, or a transposed conv with one input position, runs one
    matrix-vector product: it is priced as the fully connected layer it is (OpCost docstring)."""
    to_one = conv_to_one_position(512, 3)
    assert to_one.output_shape == (512, 1, 1)
    assert to_one.op_costs() == [OpCost("fully_connected", 512 * 512 * 9, 512, 512 * 512 * 9)]
    assert [c.kind for c in big_conv(8, 3).op_costs()] == ["conv"]
    assert [c.kind for c in upsampler(64, 32, 1, k=2).op_costs()] == ["fully_connected"]
    assert [c.kind for c in upsampler(64, 32, 2, k=2).op_costs()] == ["conv_transpose"]
    dcgan = load_model(ROOT / "models/dcgan/dcgan_generator.aiem")  # its first layer reads the 1x1 latent
    kinds = ["fully_connected", "conv_transpose", "conv_transpose", "lookup"]
    assert [c.kind for c in dcgan.op_costs()] == kinds


def test_copy_decode_and_build_gas_are_exact_integers_rounded_up_once():
    lengths = (1, 32, 33, 51_541)
    assert [gas.copy_gas(n) for n in lengths] == [3, 3, 6, 3 * 1_611]
    milligas = gas.G_DECODE_BASE_MILLIGAS + 51_541 * gas.G_DECODE_BYTE_MILLIGAS + 2 * gas.G_DECODE_OP_MILLIGAS
    assert gas.decode_gas(51_541, 2) == -(-milligas // 1000)
    assert gas.build_gas("fully_connected") == -(-gas.OP_PRICES["fully_connected"].build // 10**6)
    assert gas.build_gas("lookup") == 0


def test_calibration_loops_execute_infer_with_exact_gas():
    """The harness measures what it claims: one cold INFER, then each loop iteration is one successful
    INFER warm in the transaction plus 57 gas of loop opcodes (5 PUSH, ISZERO, PUSH2, JUMPI, PUSH1, SWAP1,
    SUB, DUP1, PUSH1, JUMPI, JUMPDEST)."""
    from tests.vm_fixtures import expected_infer_gas

    model = mlp((8, 4))
    bench = VMBench({"m": model})
    address = store_address("m")
    first, _ = bench.run_cold(infer_loop(model, address, 0, first=True))
    one, _ = bench.run_cold(infer_loop(model, address, 1, first=True))
    three, _ = bench.run_cold(infer_loop(model, address, 3, first=True))
    assert three - one == 2 * (expected_infer_gas(model, decoded=True) + 57)
    setup, _ = bench.run_cold(infer_loop(model, address, 0))
    assert first - setup == expected_infer_gas(model) + 31  # 5 PUSH, ISZERO, PUSH2, JUMPI around the INFER


def test_ecrecover_reference_input_is_a_valid_signature():
    """Otherwise the precompile would return nothing and the reference would be cheaper work."""
    data = ecrecover_input()
    digest, v, r, s = data[:32], int.from_bytes(data[32:64], "big"), data[64:96], data[96:]
    signature = keys.Signature(vrs=(v - 27, int.from_bytes(r, "big"), int.from_bytes(s, "big")))
    recovered = signature.recover_public_key_from_msg_hash(digest).to_canonical_address()
    assert recovered == keys.PrivateKey(b"\x07" * 32).public_key.to_canonical_address()
    assert digest == keccak(b"aievm")
