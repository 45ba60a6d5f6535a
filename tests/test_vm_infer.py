"""INFER and MODELINFO on a real py-evm chain: outputs, exact gas, failure cases, static calls, out-of-gas."""

from __future__ import annotations

import pytest
from eth.exceptions import OutOfGas

from evm_ext.contracts import chunk_address
from evm_ext.model import Model, load_model
from evm_ext.model.format import declared_op_count
from evm_ext.model.identity import chunk_count
from evm_ext.vm import gas
from evm_ext.vm.bytecode import assemble
from evm_ext.vm.forks import CancunInferVM, PragueInferVM
from tests.vm_fixtures import (
    MNIST_MLP,
    OUT,
    PROBE,
    ROOT,
    SMALL,
    STORE,
    InferChain,
    address,
    expected_infer_gas,
    failing_accounts,
    infer_probe,
    infer_steps,
    input_offset,
    memory_cost,
    mnist_inputs,
    modelinfo_probe,
    parse_probe,
    random_inputs,
    static_caller,
    store_accounts,
)


def _chain(vm_class: type, model: Model, probe: bytes, extra: dict | None = None) -> InferChain:
    return InferChain(vm_class, {**store_accounts(model), PROBE: {"code": probe}, **(extra or {})})


@pytest.mark.parametrize("vm_class", [CancunInferVM, PragueInferVM])
def test_mnist_mlp_output_is_run_bytes_and_gas_is_the_formula(vm_class):
    model = MNIST_MLP
    chain = _chain(vm_class, model, infer_probe(STORE, model.input_size, model.output_size))
    for sample in mnist_inputs(3) + random_inputs(model, 2):
        _, computation = chain.send(PROBE, sample)
        assert computation.is_success, computation.error
        success, infer_gas, output = parse_probe(computation.output)
        assert success == 1
        assert output == model.run_bytes(sample)
        assert infer_gas == expected_infer_gas(model)  # every transaction is cold: nothing carries over
    assert chunk_count(len(model.encode())) == 3


def test_small_model_gas_is_pinned():
    """Exact numbers, so that any change of the schedule is a visible, reviewed change (docs/gas.md)."""
    costs = [(c.kind, c.macs, c.elements, c.weight_bytes) for c in SMALL.op_costs()]
    assert costs == [("fully_connected", 128, 8, 128), ("lookup", 0, 8, 0), ("fully_connected", 32, 4, 32)]
    assert len(SMALL.encode()) == 596  # 19 words, 1 chunk
    assert gas.copy_gas(596) == 3 * 19
    assert [amount for _, amount in infer_steps(SMALL)] == PINNED_SMALL_STEPS
    chain = _chain(PragueInferVM, SMALL, infer_probe(STORE, 16, 4))
    sample = bytes(range(16))
    _, computation = chain.send(PROBE, sample)
    success, infer_gas, output = parse_probe(computation.output)
    assert (success, output) == (1, SMALL.run_bytes(sample))
    assert infer_gas == sum(PINNED_SMALL_STEPS) == PINNED_SMALL_COLD


# G_INFER, store account, 2 slots, 1 chunk, copy, decode, build x3 (FC, lookup, FC), compute
PINNED_SMALL_STEPS = [700, 2_600, 2_100, 2_100, 2_600, 57, 21_230, 800, 0, 800, 121]
PINNED_SMALL_COLD = 33_108


def test_memory_expansion_is_charged_like_call_and_extra_output_space_is_untouched():
    model = SMALL
    far = 4096
    chain = _chain(PragueInferVM, model, infer_probe(STORE, 16, 100, out_offset=far))
    sample = bytes(range(16))
    _, computation = chain.send(PROBE, sample)
    success, infer_gas, _ = parse_probe(computation.output)
    before = input_offset(100) + 16
    assert success == 1
    assert infer_gas == expected_infer_gas(model, memory_cost(far + 100) - memory_cost(before))
    # a larger output area: the model's 4 bytes are written at its start, the rest keeps its content
    probe = assemble(*[item for i in range(8) for item in (0xFF, OUT + i, "MSTORE8")])  # mark the area
    chain = _chain(PragueInferVM, model, probe + infer_probe(STORE, 16, 8))
    _, computation = chain.send(PROBE, sample)
    success, _, output = parse_probe(computation.output)
    assert success == 1
    assert output == model.run_bytes(sample) + b"\xff" * 4


STEPS_REACHED = {"store": 2, "slots": 4, "chunks": 5}  # how many of infer_steps(SMALL) a failure pays


@pytest.mark.parametrize("case", list(failing_accounts(SMALL)))
def test_invalid_model_pushes_zero_with_defined_gas(case):
    """Each failure pays the steps up to the check that fails (docs/opcodes.md), nothing after it."""
    accounts, reached = failing_accounts(SMALL)[case]
    chain = InferChain(PragueInferVM, {**accounts, PROBE: {"code": infer_probe(STORE, 16, 4)}})
    _, computation = chain.send(PROBE, bytes(16))
    assert computation.is_success, computation.error
    success, infer_gas, output = parse_probe(computation.output)
    assert (success, output) == (0, bytes(4))
    steps = [amount for _, amount in infer_steps(SMALL)]
    if reached in STEPS_REACHED:
        assert infer_gas == sum(steps[: STEPS_REACHED[reached]])
    else:  # copied and decoded: the steps up to the decode, then the builds of the ops that were built
        code = chain.state.get_code(chunk_address(STORE, 0))
        data = code[1:] if code[:1] == b"\x00" else b""
        length = len(code) - 1
        paid = sum(steps[:5]) + gas.copy_gas(length) + gas.decode_gas(length, declared_op_count(data))
        built = {"chunk without STOP": 0, "malformed": 0, "truncated": 2, "wrong recorded sizes": 3}[case]
        assert infer_gas == paid + sum(steps[7 : 7 + built]), case
    # MODELINFO reads only the store: it reports the recorded sizes of a sealed store whatever its chunks
    chain = InferChain(PragueInferVM, {**accounts, PROBE: {"code": modelinfo_probe(STORE)}})
    _, computation = chain.send(PROBE)
    info, info_gas, _ = parse_probe(computation.output)
    store_ok = reached not in ("store", "slots")
    sizes = (16 + (case == "wrong recorded sizes")) << 128 | 4
    assert info == (sizes if store_ok else 0)
    assert info_gas == gas.G_MODELINFO + gas.COLD_ACCOUNT_ACCESS_COST + (
        gas.COLD_SLOAD_COST if reached != "store" else 0)


@pytest.mark.parametrize(("in_size", "out_size"), [(15, 4), (17, 4), (0, 4), (16, 3), (16, 0)])
def test_wrong_sizes_push_zero_after_the_decode(in_size, out_size):
    chain = _chain(PragueInferVM, SMALL, infer_probe(STORE, in_size, out_size))
    _, computation = chain.send(PROBE, bytes(in_size))
    assert computation.is_success, computation.error
    success, infer_gas, output = parse_probe(computation.output)
    assert (success, output) == (0, bytes(out_size))
    in_offset = input_offset(out_size)
    before = in_offset + in_size if in_size else 0  # the probe copied the calldata to the input area
    after = max(before, OUT + out_size if out_size else 0)
    assert infer_gas == (memory_cost(after) - memory_cost(before)
                         + sum(amount for _, amount in infer_steps(SMALL)[:-1]))


def test_modelinfo_returns_sizes_and_its_gas():
    chain = _chain(PragueInferVM, MNIST_MLP, modelinfo_probe(STORE))
    _, computation = chain.send(PROBE)
    info, info_gas, _ = parse_probe(computation.output)
    assert info == (784 << 128) | 10 == (MNIST_MLP.input_size << 128) | MNIST_MLP.output_size
    assert info_gas == gas.G_MODELINFO + gas.COLD_ACCOUNT_ACCESS_COST + gas.COLD_SLOAD_COST


def test_second_infer_in_a_transaction_is_warm_and_skips_copy_and_decode():
    model = MNIST_MLP
    in_offset = input_offset(10)
    twice = assemble("CALLDATASIZE", 0, in_offset, "CALLDATACOPY",
                     10, OUT, 784, in_offset, STORE, "INFER", "POP") + infer_probe(STORE, 784, 10)
    chain = _chain(PragueInferVM, model, twice)
    sample = mnist_inputs(1)[0]
    _, computation = chain.send(PROBE, sample)
    success, infer_gas, output = parse_probe(computation.output)
    assert (success, output) == (1, model.run_bytes(sample))
    warm = expected_infer_gas(model, decoded=True)
    assert infer_gas == warm == gas.G_INFER + 100 + 2 * 100 + gas.compute_gas(model.op_costs())
    assert warm < expected_infer_gas(model) // 10
    # the next transaction is cold again
    _, computation = chain.send(PROBE, sample)
    assert parse_probe(computation.output)[1] == warm
    _, computation = _chain(PragueInferVM, model, infer_probe(STORE, 784, 10)).send(PROBE, sample)
    assert parse_probe(computation.output)[1] == expected_infer_gas(model)


def test_a_reverted_frame_forgets_the_decoded_model():
    """The warm rule is journaled like EIP-2929's access sets: a sub-call that INFERs and then reverts
    leaves the model (and its accounts) cold for the caller."""
    model = SMALL
    child = address("reverting child")
    child_code = assemble(4, OUT, 16, OUT + 32, STORE, "INFER", "POP", 0, 0, "REVERT")
    caller = assemble(0, 0, 0, 0, 0, child, "GAS", "CALL", "POP") + infer_probe(STORE, 16, 4)
    chain = _chain(PragueInferVM, model, caller, {child: {"code": child_code}})
    _, computation = chain.send(PROBE, bytes(16))
    success, infer_gas, _ = parse_probe(computation.output)
    assert success == 1
    assert infer_gas == expected_infer_gas(model)


@pytest.mark.parametrize("vm_class", [CancunInferVM, PragueInferVM])
def test_infer_and_modelinfo_work_under_staticcall(vm_class):
    model = SMALL
    caller = address("static caller")
    chain = _chain(vm_class, model, infer_probe(STORE, 16, 4), {caller: {"code": static_caller(PROBE)}})
    sample = bytes(range(100, 116))
    _, computation = chain.send(caller, sample)
    assert computation.is_success, computation.error
    call_ok = int.from_bytes(computation.output[:32], "big")
    success, _, output = parse_probe(computation.output[32:])
    assert (call_ok, success, output) == (1, 1, model.run_bytes(sample))
    info_probe = address("info probe")
    chain = _chain(vm_class, model, modelinfo_probe(STORE), {caller: {"code": static_caller(info_probe)},
                                                             info_probe: {"code": modelinfo_probe(STORE)}})
    _, computation = chain.send(caller)
    assert int.from_bytes(computation.output[:32], "big") == 1
    assert int.from_bytes(computation.output[32:64], "big") == (16 << 128) | 4


def _oog_probe(model: Model) -> bytes:
    """Writes storage slot 1, then INFERs on `model` (input from calldata), then stops."""
    in_offset = input_offset(model.output_size)
    return assemble(1, 1, "SSTORE", "CALLDATASIZE", 0, in_offset, "CALLDATACOPY",
                    model.output_size, OUT, model.input_size, in_offset, STORE, "INFER", "POP", "STOP")


def _calling(gas_for_probe: int) -> bytes:
    """CALLs PROBE with this call's calldata and `gas_for_probe` gas; returns the call's success flag."""
    return assemble("CALLDATASIZE", 0, 0, "CALLDATACOPY", 0, 0, "CALLDATASIZE", 0, 0, PROBE,
                    gas_for_probe, "CALL", 0, "MSTORE", 32, 0, "RETURN")


@pytest.mark.parametrize("step", range(len(infer_steps(MNIST_MLP))))
def test_out_of_gas_at_each_charge_point_halts_with_state_unchanged(step):
    """Called with one gas too few for charge `step` of INFER, the frame halts with OutOfGas at that charge
    (py-evm names it), consumes all its gas, and its storage write is undone; the caller continues."""
    model = MNIST_MLP
    probe = _oog_probe(model)
    sample = mnist_inputs(1)[0]
    _, direct = _chain(PragueInferVM, model, probe).send(PROBE, sample)
    assert direct.is_success
    steps = infer_steps(model)
    before_infer = direct.get_gas_used() - sum(amount for _, amount in steps) - 2  # POP
    reason, amount = steps[step]
    gas_for_probe = before_infer + sum(a for _, a in steps[:step]) + amount - 1
    caller = address("caller")
    chain = _chain(PragueInferVM, model, probe, {caller: {"code": _calling(gas_for_probe)}})
    _, computation = chain.send(caller, sample)
    assert computation.is_success
    assert int.from_bytes(computation.output, "big") == 0
    child = computation.children[0]
    assert isinstance(child.error, OutOfGas)
    assert reason in str(child.error)
    assert child.get_gas_used() == gas_for_probe
    assert chain.state.get_storage(PROBE, 1) == 0
    # with all the gas it needs, the same call succeeds and writes the slot
    chain = _chain(PragueInferVM, model, probe, {caller: {"code": _calling(direct.get_gas_used())}})
    _, computation = chain.send(caller, sample)
    assert int.from_bytes(computation.output, "big") == 1 and chain.state.get_storage(PROBE, 1) == 1


@pytest.mark.parametrize(("in_offset", "out_offset"), [(2**255, OUT), (OUT, 2**256 - 1), (2**64, 2**64)])
def test_absurd_memory_ranges_are_out_of_gas_before_any_allocation(in_offset, out_offset):
    probe = assemble(4, out_offset, 16, in_offset, STORE, "INFER", 0, "MSTORE", 32, 0, "RETURN")
    chain = _chain(PragueInferVM, SMALL, probe)
    gas_used, computation = chain.send(PROBE, gas=1_000_000)
    assert isinstance(computation.error, OutOfGas)
    assert gas_used == 1_000_000


@pytest.mark.parametrize("name", ["mnist_cnn/mnist_cnn.aiem", "dcgan/dcgan_generator.aiem"])
def test_other_shipped_models_run_in_infer(name):
    model = load_model(ROOT / "models" / name)
    chain = _chain(PragueInferVM, model, infer_probe(STORE, model.input_size, model.output_size))
    for sample in random_inputs(model, 2, seed=11):
        _, computation = chain.send(PROBE, sample)
        success, infer_gas, output = parse_probe(computation.output)
        assert (success, output) == (1, model.run_bytes(sample))
        assert infer_gas == expected_infer_gas(model)
