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

from evm_ext.vm import gas
from evm_ext.vm.model_store import load_model, read_header

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
    _charge_account_access(computation, address, "INFER")
    header, model = read_header(computation.state, address), None
    if header is not None:
        computation.consume_gas(gas.model_access_gas(header.length), reason="INFER: model words")
        model = load_model(computation.state, header)
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
    """Push `(inputSize << 128) | outputSize` of the sealed model at `model`, or 0 if it is not valid."""
    # STACK
    address = force_bytes_to_address(computation.stack_pop1_bytes())

    # GAS
    computation.consume_gas(gas.G_MODELINFO, reason="MODELINFO")
    _charge_account_access(computation, address, "MODELINFO")
    header = read_header(computation.state, address)
    model = None if header is None else load_model(computation.state, header)

    # OPERATION
    computation.stack_push_int(0 if model is None else (model.input_size << 128) | model.output_size)

    # PROGRAM COUNTER: advanced by py-evm's interpreter loop.


def _charge_account_access(computation: ComputationAPI, address: Address, mnemonic: str) -> None:
    """EIP-2929: cold account access the first time in the transaction (and mark it warm), else warm."""
    if computation.state.is_address_warm(address):
        computation.consume_gas(gas.WARM_STORAGE_READ_COST, reason=f"{mnemonic}: warm account")
    else:
        computation.consume_gas(gas.COLD_ACCOUNT_ACCESS_COST, reason=f"{mnemonic}: cold account")
        computation.state.mark_address_warm(address)


INFER_OPCODES: dict[int, OpcodeAPI] = {
    INFER: as_opcode(logic_fn=infer, mnemonic="INFER", gas_cost=0),
    MODELINFO: as_opcode(logic_fn=modelinfo, mnemonic="MODELINFO", gas_cost=0),
}
