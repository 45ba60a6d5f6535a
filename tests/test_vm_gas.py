"""The gas schedule: coverage of every op kind, integer rounding, and the calibration harness's accounting."""

from __future__ import annotations

from eth_keys import keys
from eth_utils import keccak

from benchmarks.calibrate_gas import VMBench, ecrecover_input, infer_loop, mlp, store_address, sweep
from evm_ext.model.ops import OpCost, OpKind
from evm_ext.vm import gas


def test_every_op_kind_of_the_engine_has_a_price():
    assert set(gas.OP_PRICES) == {kind.name.lower() for kind in OpKind}
    assert {cost.kind for model in sweep().values() for cost in model.op_costs()} == set(gas.OP_PRICES)


def test_compute_gas_sums_microgas_and_rounds_up_once():
    lookup = gas.OP_PRICES["lookup"]
    one = OpCost("lookup", 0, 1)
    assert gas.compute_gas([]) == 0
    assert gas.compute_gas([one]) == -(-(lookup.base + lookup.element) // 10**6)
    # 3 ops summed before rounding, not rounded each
    assert gas.compute_gas([one] * 3) == -(-3 * (lookup.base + lookup.element) // 10**6)
    fc = gas.OP_PRICES["fully_connected"]
    microgas = fc.base + 1000 * fc.mac + 10 * fc.element
    assert gas.compute_gas([OpCost("fully_connected", 1000, 10)]) == -(-microgas // 10**6)


def test_model_access_gas_is_760_milligas_per_word_rounded_up():
    lengths = (0, 1, 32 * 25, 32 * 25 + 1, 32 * 50, 51_541)
    assert [gas.model_access_gas(n) for n in lengths] == [0, 1, 19, 20, 38, 1_225]


def test_calibration_loops_execute_infer_with_exact_gas():
    """The harness measures what it claims: each loop iteration is one successful warm INFER plus 57 gas
    of loop opcodes (5 PUSH, ISZERO, PUSH2, JUMPI, PUSH1, SWAP1, SUB, DUP1, PUSH1, JUMPI, JUMPDEST)."""
    model = mlp((8, 4))
    bench = VMBench({"m": model})
    address = store_address("m")
    cold, _ = bench.run(infer_loop(model, address, 1))  # the state keeps the address warm afterwards
    one, _ = bench.run(infer_loop(model, address, 1))
    three, _ = bench.run(infer_loop(model, address, 3))
    assert cold - one == gas.COLD_ACCOUNT_ACCESS_COST - gas.WARM_STORAGE_READ_COST
    warm = (gas.G_INFER + gas.WARM_STORAGE_READ_COST + gas.model_access_gas(len(model.encode()))
            + gas.compute_gas(model.op_costs()))
    assert three - one == 2 * (warm + 57)


def test_ecrecover_reference_input_is_a_valid_signature():
    """Otherwise the precompile would return nothing and the reference would be cheaper work."""
    data = ecrecover_input()
    digest, v, r, s = data[:32], int.from_bytes(data[32:64], "big"), data[64:96], data[96:]
    signature = keys.Signature(vrs=(v - 27, int.from_bytes(r, "big"), int.from_bytes(s, "big")))
    recovered = signature.recover_public_key_from_msg_hash(digest).to_canonical_address()
    assert recovered == keys.PrivateKey(b"\x07" * 32).public_key.to_canonical_address()
    assert digest == keccak(b"aievm")
