"""INFER (0xC0) and MODELINFO (0xC1), specified in docs/opcodes.md.

Each instruction has the four steps of ethereum/execution-specs: STACK, GAS (every charge is made before
the work it pays for: nothing is read, allocated or computed that is not paid yet), OPERATION and
PROGRAM COUNTER. A failure pushes 0; the only exceptions that leave an instruction are py-evm's own VM
errors (OutOfGas, stack errors), which halt the frame the usual way.

Importing this module limits BLAS to one thread for the whole process: the gas schedule is calibrated
single-threaded, and multi-threaded BLAS on the engine's small matrices is both slower and erratic
(measured 2-23 ms instead of a steady 0.2 ms for one DCGAN layer on a loaded 2-core machine).
"""

from __future__ import annotations

from eth._utils.address import force_bytes_to_address
from eth.abc import ComputationAPI, OpcodeAPI
from eth.vm.opcode import as_opcode
from eth_typing import Address
from threadpoolctl import threadpool_limits

from evm_ext.model import Model
from evm_ext.vm import gas
from evm_ext.vm import model_store as store_reader
from evm_ext.vm.warm_models import WarmModel

INFER = 0xC0
MODELINFO = 0xC1

threadpool_limits(limits=1, user_api="blas")


def infer(computation: ComputationAPI) -> None:
    """Run the sealed model at `model` on memory[inOffset:+inSize], write its output at outOffset, push 1.

    Pushes 0 (after the gas of the steps reached, see docs/opcodes.md) when the model is not valid,
    `inSize != inputSize` or `outSize < outputSize`.
    """
    # STACK
    address = force_bytes_to_address(computation.stack_pop1_bytes())
    in_offset, in_size, out_offset, out_size = computation.stack_pop_ints(4)

    # GAS
    computation.consume_gas(gas.G_INFER, reason="INFER")
    computation.extend_memory(in_offset, in_size)
    computation.extend_memory(out_offset, out_size)
    model = charge_model(computation, address, "INFER")
    if model is None or in_size != model.input_size or out_size < model.output_size:
        computation.stack_push_int(0)
        return
    computation.consume_gas(gas.model_compute_gas(model), reason="INFER: compute")

    # OPERATION
    output = model.run_bytes(computation.memory_read_bytes(in_offset, in_size))
    computation.memory_write(out_offset, len(output), output)
    computation.stack_push_int(1)

    # PROGRAM COUNTER: advanced by py-evm's interpreter loop.


def modelinfo(computation: ComputationAPI) -> None:
    """Push `(inputSize << 128) | outputSize` as recorded by the sealed ModelStore at `model`, or 0 if it
    is not one. Reads one storage slot; never reads or decodes the model."""
    # STACK
    address = force_bytes_to_address(computation.stack_pop1_bytes())

    # GAS
    computation.consume_gas(gas.G_MODELINFO, reason="MODELINFO")
    _charge_account_access(computation, address, "MODELINFO")
    is_store = store_reader.is_model_store(computation.state, address)
    if is_store:
        _charge_slot_access(computation, address, store_reader.STORE_SLOTS[:1], "MODELINFO")

    # OPERATION
    header = store_reader.read_header(computation.state, address) if is_store else None
    valid = header is not None and header.sealed and 0 < header.length <= store_reader.MAX_MODEL_BYTES
    computation.stack_push_int((header.input_size << 128) | header.output_size if valid else 0)

    # PROGRAM COUNTER: advanced by py-evm's interpreter loop.


def run_model(computation: ComputationAPI, address: Address, data: bytes, mnemonic: str) -> bytes | None:
    """Everything INFER charges and does for the model at `address` on input `data` but its base price
    and memory: the output, or None if the model is not valid or `data` is not its input size (the INFER
    precompile, which charges G_INFER itself)."""
    model = charge_model(computation, address, mnemonic)
    if model is None or len(data) != model.input_size:
        return None
    computation.consume_gas(gas.model_compute_gas(model), reason=f"{mnemonic}: compute")
    return model.run_bytes(data)


def charge_model(computation: ComputationAPI, address: Address, mnemonic: str) -> Model | None:
    """Charge, then do, each step of reaching the decoded model at `address` (docs/opcodes.md): the store
    account; its two slots; then, unless the model was decoded earlier in this transaction, every chunk
    account (EIP-2929 cold or warm) and the id check, the copy of its code, the decode and each op's build.
    None if a check fails."""
    state = computation.state
    _charge_account_access(computation, address, mnemonic)
    warm = state.warm_models.get(address)
    if warm is not None:
        # decoded earlier in this transaction, so a sealed store (whose code cannot change its slots
        # after sealing): the same charges, but neither its code, its slots nor any chunk is read again
        _charge_slot_access(computation, address, store_reader.STORE_SLOTS, mnemonic)
        return warm.model
    if not store_reader.is_model_store(state, address):
        return None
    _charge_slot_access(computation, address, store_reader.STORE_SLOTS, mnemonic)
    store = store_reader.read_store(state, address)
    if store is None:
        return None
    chunks = store_reader.chunk_addresses(store)
    for chunk in chunks:
        _charge_account_access(computation, chunk, f"{mnemonic}: chunk")
    if not store_reader.verify_chunks(state, store, chunks):
        return None
    computation.consume_gas(gas.copy_gas(store.length), reason=f"{mnemonic}: copy")
    raw = store_reader.read_model(state, store, chunks)
    ops = store_reader.declared_ops(raw)
    computation.consume_gas(gas.decode_gas(store.length, ops), reason=f"{mnemonic}: decode")
    model = store_reader.decode(store, raw, lambda amount: computation.consume_gas(
        amount, reason=f"{mnemonic}: build"))
    if not store_reader.matches_record(store, model):
        model = None
    state.warm_models.add(address, WarmModel(model))
    return model


def _charge_account_access(computation: ComputationAPI, address: Address, mnemonic: str) -> None:
    """EIP-2929: cold account access the first time in the transaction (and mark it warm), else warm."""
    if computation.state.is_address_warm(address):
        computation.consume_gas(gas.WARM_STORAGE_READ_COST, reason=f"{mnemonic}: warm account")
    else:
        computation.consume_gas(gas.COLD_ACCOUNT_ACCESS_COST, reason=f"{mnemonic}: cold account")
        computation.state.mark_address_warm(address)


def _charge_slot_access(computation: ComputationAPI, address: Address, slots: tuple[int, ...],
                        mnemonic: str) -> None:
    """EIP-2929: each storage slot cold the first time in the transaction (and marked warm), else warm."""
    state = computation.state
    for slot in slots:
        if state.is_storage_warm(address, slot):
            computation.consume_gas(gas.WARM_STORAGE_READ_COST, reason=f"{mnemonic}: warm slot")
        else:
            computation.consume_gas(gas.COLD_SLOAD_COST, reason=f"{mnemonic}: cold slot")
            state.mark_storage_warm(address, slot)


INFER_OPCODES: dict[int, OpcodeAPI] = {
    INFER: as_opcode(logic_fn=infer, mnemonic="INFER", gas_cost=0),
    MODELINFO: as_opcode(logic_fn=modelinfo, mnemonic="MODELINFO", gas_cost=0),
}
