"""INFER and MODELINFO on a real py-evm chain: outputs, exact gas, failure cases, static calls, out-of-gas."""

from __future__ import annotations

import pytest
from eth.exceptions import OutOfGas

from evm_ext.model import Model, load_model
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
    failing_accounts,
    infer_probe,
    input_offset,
    memory_cost,
    mnist_inputs,
    model_store_account,
    modelinfo_probe,
    parse_probe,
    random_inputs,
    static_caller,
)


def expected_infer_gas(model: Model, memory: int = 0, cold: bool = True) -> int:
    """The documented formula (docs/gas.md) for a successful INFER."""
    access = gas.COLD_ACCOUNT_ACCESS_COST if cold else gas.WARM_STORAGE_READ_COST
    return (gas.G_INFER + memory + access + gas.model_access_gas(len(model.encode()))
            + gas.compute_gas(model.op_costs()))


def _chain(vm_class: type, model: Model, probe: bytes, extra: dict | None = None) -> InferChain:
    return InferChain(vm_class, {STORE: model_store_account(model.encode()), PROBE: {"code": probe},
                                 **(extra or {})})


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
        assert infer_gas == expected_infer_gas(model)  # the input area already holds the input: no expansion
    assert expected_infer_gas(model) == 3_388  # 700 + 2,600 + 17 (1,611 words) + 71 (compute)


def test_small_model_gas_is_pinned():
    """Exact numbers, so that any change of the schedule is a visible, reviewed change."""
    costs = [(c.kind, c.macs, c.elements, c.weight_bytes) for c in SMALL.op_costs()]
    assert costs == [("fully_connected", 128, 8, 128), ("lookup", 0, 8, 0), ("fully_connected", 32, 4, 32)]
    assert len(SMALL.encode()) == 596  # 19 words
    assert gas.model_access_gas(596) == 1  # ceil(19 * 10 / 1000)
    # microgas: ceil((20e6 + 8*3_000 + 128*600 + 300_000 + 8*27_000 + 20e6 + 4*3_000 + 32*600) / 1e6)
    assert gas.compute_gas(SMALL.op_costs()) == 41
    chain = _chain(PragueInferVM, SMALL, infer_probe(STORE, 16, 4))
    sample = bytes(range(16))
    _, computation = chain.send(PROBE, sample)
    success, infer_gas, output = parse_probe(computation.output)
    assert (success, output) == (1, SMALL.run_bytes(sample))
    assert infer_gas == 700 + 2_600 + 1 + 41 == 3_342


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


@pytest.mark.parametrize("case", list(failing_accounts(SMALL)))
def test_invalid_model_pushes_zero_with_defined_gas(case):
    account, steps = failing_accounts(SMALL)[case]
    accounts = {PROBE: {"code": infer_probe(STORE, 16, 4)}}
    if account is not None:
        accounts[STORE] = account
    chain = InferChain(PragueInferVM, accounts)
    _, computation = chain.send(PROBE, bytes(16))
    assert computation.is_success, computation.error
    success, infer_gas, output = parse_probe(computation.output)
    length = chain.state.get_storage(STORE, 1)
    words = gas.model_access_gas(length) if steps == "words" else 0
    assert (success, output) == (0, bytes(4))
    assert infer_gas == gas.G_INFER + gas.COLD_ACCOUNT_ACCESS_COST + words
    # MODELINFO agrees: 0, after its account access (it has no per-word term)
    chain = InferChain(PragueInferVM, {**accounts, PROBE: {"code": modelinfo_probe(STORE)}})
    _, computation = chain.send(PROBE)
    info, info_gas, _ = parse_probe(computation.output)
    assert (info, info_gas) == (0, gas.G_MODELINFO + gas.COLD_ACCOUNT_ACCESS_COST)  # no per-word term


@pytest.mark.parametrize(("in_size", "out_size"), [(15, 4), (17, 4), (0, 4), (16, 3), (16, 0)])
def test_wrong_sizes_push_zero_after_model_access_gas(in_size, out_size):
    chain = _chain(PragueInferVM, SMALL, infer_probe(STORE, in_size, out_size))
    _, computation = chain.send(PROBE, bytes(in_size))
    assert computation.is_success, computation.error
    success, infer_gas, output = parse_probe(computation.output)
    assert (success, output) == (0, bytes(out_size))
    in_offset = input_offset(out_size)
    before = in_offset + in_size if in_size else 0  # the probe copied the calldata to the input area
    after = max(before, OUT + out_size if out_size else 0)
    assert infer_gas == (gas.G_INFER + memory_cost(after) - memory_cost(before) + gas.COLD_ACCOUNT_ACCESS_COST
                         + gas.model_access_gas(len(SMALL.encode())))


def test_modelinfo_returns_sizes_and_its_gas():
    chain = _chain(PragueInferVM, MNIST_MLP, modelinfo_probe(STORE))
    _, computation = chain.send(PROBE)
    info, info_gas, _ = parse_probe(computation.output)
    assert info == (784 << 128) | 10 == (MNIST_MLP.input_size << 128) | MNIST_MLP.output_size
    assert info_gas == gas.G_MODELINFO + gas.COLD_ACCOUNT_ACCESS_COST == 320 + 2_600


def test_second_access_in_a_transaction_is_warm():
    model = SMALL
    in_offset = input_offset(4)
    twice = assemble("CALLDATASIZE", 0, in_offset, "CALLDATACOPY",
                     4, OUT, 16, in_offset, STORE, "INFER", "POP") + infer_probe(STORE, 16, 4)
    chain = _chain(PragueInferVM, model, twice)
    _, computation = chain.send(PROBE, bytes(range(16)))
    success, infer_gas, output = parse_probe(computation.output)
    assert (success, output) == (1, model.run_bytes(bytes(range(16))))
    assert infer_gas == expected_infer_gas(model, cold=False)


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


def test_out_of_gas_in_infer_reverts_the_frame_and_charges_all_gas():
    """The probe writes storage, then INFERs (its last gas charge is INFER's compute gas). Called with one
    gas too few, the frame halts with OutOfGas, consumes all its gas and its storage write is undone; the
    caller sees 0 and continues. With exactly enough, the same call succeeds."""
    model = MNIST_MLP
    in_offset = input_offset(10)
    probe = assemble(1, 1, "SSTORE", "CALLDATASIZE", 0, in_offset, "CALLDATACOPY",
                     10, OUT, 784, in_offset, STORE, "INFER", "POP", "STOP")
    sample = mnist_inputs(1)[0]
    _, direct = _chain(PragueInferVM, model, probe).send(PROBE, sample)
    assert direct.is_success
    needed = direct.get_gas_used()  # the probe frame's gas: SSTORE, copy, INFER, POP
    caller = address("caller")
    for gas_for_probe, call_ok, stored in ((needed - 3, 0, 0), (needed, 1, 1)):  # POP costs 2: -3 hits INFER
        code = assemble("CALLDATASIZE", 0, 0, "CALLDATACOPY", 0, 0, "CALLDATASIZE", 0, 0, PROBE,
                        gas_for_probe, "CALL", 0, "MSTORE", 32, 0, "RETURN")
        chain = _chain(PragueInferVM, model, probe, {caller: {"code": code}})
        _, computation = chain.send(caller, sample)
        assert computation.is_success
        child = computation.children[0]
        assert int.from_bytes(computation.output, "big") == call_ok
        assert chain.state.get_storage(PROBE, 1) == stored
        if not call_ok:
            assert isinstance(child.error, OutOfGas)
            assert "INFER: compute" in str(child.error)
            assert child.get_gas_used() == gas_for_probe


@pytest.mark.parametrize(("in_offset", "out_offset"), [(2**255, OUT), (OUT, 2**256 - 1), (2**64, 2**64)])
def test_absurd_memory_ranges_are_out_of_gas_before_any_allocation(in_offset, out_offset):
    probe = assemble(4, out_offset, 16, in_offset, STORE, "INFER", 0, "MSTORE", 32, 0, "RETURN")
    chain = _chain(PragueInferVM, SMALL, probe)
    gas_used, computation = chain.send(PROBE, gas=1_000_000)
    assert isinstance(computation.error, OutOfGas)
    assert gas_used == 1_000_000


@pytest.mark.parametrize(("name", "cold_gas"), [("mnist_cnn/mnist_cnn.aiem", 3_868),  # 3,300 + 4 + 564
                                              ("dcgan/dcgan_generator.aiem", 5_275)])  # 3,300 + 27 + 1,948
def test_other_shipped_models_run_in_infer(name, cold_gas):
    model = load_model(ROOT / "models" / name)
    assert expected_infer_gas(model) == cold_gas
    chain = _chain(PragueInferVM, model, infer_probe(STORE, model.input_size, model.output_size))
    for sample in random_inputs(model, 2, seed=11):
        _, computation = chain.send(PROBE, sample)
        success, infer_gas, output = parse_probe(computation.output)
        assert (success, output) == (1, model.run_bytes(sample))
        assert infer_gas == expected_infer_gas(model)
