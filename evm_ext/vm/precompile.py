"""The INFER precompile: INFER for code that stock compilers produce (no `verbatim`, so no 0xC0), and
for chains that take new features only as precompiles (as rollups take RIP-7212's P256VERIFY).

Address 0x0000000000000000000000000000000000000AC0 ("AI", INFER's opcode C0). It is in EIP-1352's range
for precompiles and system contracts (0x0000-0xffff) and outside every range in use or reserved:
0x01-0xff stays with the EIP process (EIP-7587; mainnet uses 0x01-0x11 up to Prague's BLS12-381),
0x100-0x1ff is reserved for RIPs (EIP-7587; RIP-7212's P256VERIFY is 0x100), Arbitrum's precompiles
sit at 0x64-0xff and zkSync's system contracts from 0x8000; Prague's system contracts (EIP-2935, 4788,
7002, 7251) have full-length addresses.

Input: `abi.encode(address model, bytes input)`, strictly (the bytes' offset is 0x40 and the data
ends with their zero padding). Output: the model's output bytes. Gas: INFER's, from the same gas
module and the same code (`instructions.run_model`), charged in INFER's order before the work it pays
for: G_INFER, then the store account and slots, the chunk accounts, the copy and decode (unless the
model was decoded earlier in the transaction), the compute. Unlike the opcode there is no memory to
expand (the caller has paid for its input and output memory). Failure (malformed input, no sealed
valid model at `model`, input of the wrong size) returns empty output after the gas of the steps
reached, as ECRECOVER does with a bad signature: a model's output is never empty, so the caller can
tell.
"""

from __future__ import annotations

from eth.abc import ComputationAPI
from eth_typing import Address

from evm_ext.vm import gas
from evm_ext.vm.instructions import run_model

INFER_PRECOMPILE_ADDRESS = Address((0x0AC0).to_bytes(20, "big"))


def decode_input(data: bytes) -> tuple[Address, bytes] | None:
    """(model, input) of strict `abi.encode(address, bytes)`, or None."""
    if len(data) < 96 or any(data[:12]) or int.from_bytes(data[32:64], "big") != 64:
        return None
    length = int.from_bytes(data[64:96], "big")
    padded = -(-length // 32) * 32
    if len(data) != 96 + padded or any(data[96 + length :]):
        return None
    return Address(data[12:32]), data[96 : 96 + length]


def infer_precompile(computation: ComputationAPI) -> ComputationAPI:
    """Run the model named in the call data on the input in it; the output is the call's output."""
    computation.consume_gas(gas.G_INFER, reason="INFER precompile")
    decoded = decode_input(computation.msg.data_as_bytes)
    if decoded is None:
        return computation
    output = run_model(computation, *decoded, "INFER precompile")
    if output is not None:
        computation.output = output
    return computation
