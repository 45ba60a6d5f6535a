"""An in-process devnet for the benchmarks: the node's own DevChain (INFER fork), driven without HTTP.

Transactions are signed by the first dev account and mined one block each (as the node's automine);
calls run exactly as the node's eth_call does (`DevChain.call`), with an explicit gas cap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

from eth.abc import ComputationAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth_abi import decode, encode
from eth_keys import keys
from eth_utils import function_signature_to_4byte_selector, to_canonical_address

from evm_ext.errors import AievmError
from nodes.accounts import dev_accounts
from nodes.chain import CallRequest, error_message, open_chain

BENCH_BLOCK_GAS_LIMIT = 60_000_000
ERROR_SELECTOR = function_signature_to_4byte_selector("Error(string)")
CALL_GAS_CAP = 2_000_000_000  # raised like `--rpc.gascap`: the plain-Solidity CNN exceeds any block limit


class BenchExecutionError(AievmError):
    """A benchmark transaction or call failed (revert, out of gas): the bench itself is broken."""


@dataclass(frozen=True)
class CallResult:
    output: bytes
    gas_used: int
    seconds: float


class BenchChain:
    """A fresh in-memory DevChain plus a funded sender."""

    def __init__(self, block_gas_limit: int = BENCH_BLOCK_GAS_LIMIT) -> None:
        self.chain = open_chain(None, block_gas_limit=block_gas_limit)
        account = dev_accounts()[0]
        self.sender = to_canonical_address(account.address)
        self._key = keys.PrivateKey(bytes(account.key))
        self.gas_price = 2 * self.chain.head.base_fee_per_gas

    def transact(self, to: bytes, data: bytes, gas: int | None = None) -> tuple[int, ComputationAPI]:
        """Mine one block with one transaction; returns (gas used, computation). Raises on failure."""
        state = self.chain.state_at(self.chain.head)
        unsigned = self.chain.vm_class.create_unsigned_transaction(
            nonce=state.get_nonce(self.sender),
            gas_price=self.gas_price,
            gas=gas or self.chain.block_gas_limit,
            to=to,
            value=0,
            data=data,
        )
        tx = unsigned.as_signed_transaction(self._key, chain_id=self.chain.chain_id)
        _, receipts, computations = self.chain.mine([tx])
        if computations[0].is_error:
            raise BenchExecutionError(f"benchmark transaction failed: {_failure(computations[0])}")
        return receipts[0].gas_used, computations[0]

    def deploy(self, init_code: bytes) -> tuple[bytes, int]:
        """Deploy a contract; returns (its address, the gas the deployment used)."""
        gas, computation = self.transact(CREATE_CONTRACT_ADDRESS, init_code)
        return computation.msg.storage_address, gas

    def call(self, to: bytes, data: bytes, gas: int = CALL_GAS_CAP) -> CallResult:
        """eth_call at the head: output, gas used (including the 21000 intrinsic) and wall time."""
        request = CallRequest(sender=self.sender, to=to, data=data, gas=gas)
        start = time.perf_counter()
        computation = self.chain.call(request, self.chain.head)
        seconds = time.perf_counter() - start
        if computation.is_error:
            raise BenchExecutionError(f"benchmark call failed: {_failure(computation)}")
        return CallResult(bytes(computation.output), gas - computation.get_gas_remaining(), seconds)

    def deploy_model(self, data: bytes) -> bytes:
        """Deploy a ModelStore, append `data`'s chunks and seal it; returns its address."""
        from evm_ext.contracts import append_calldata, model_store, seal_calldata, upload_plan
        from evm_ext.model import decode_model
        from evm_ext.model.identity import model_id

        model = decode_model(data)
        address, _ = self.deploy(model_store().bytecode)
        for chunk in upload_plan(data):
            self.transact(address, append_calldata(chunk))
        self.transact(address, seal_calldata(model_id(data), model.input_size, model.output_size))
        return address


def _failure(computation: ComputationAPI) -> str:
    """The node's error message, plus the reason string of a `require` revert."""
    message, data = error_message(computation), bytes(computation.output)
    if computation.is_error and data[:4] == ERROR_SELECTOR:
        (reason,) = decode(["string"], data[4:])
        message += f": {reason}"
    return message


@cache
def ai_contract() -> tuple[list, bytes]:
    """(abi, init code) of the research post's AIContract (the demo's source), compiled with infer()."""
    from nodes.demo import AI_CONTRACT
    from solidity_patch import compile_source

    compiled = compile_source(AI_CONTRACT, "AIContract.sol")["AIContract"]
    return compiled["abi"], bytes.fromhex(compiled["bytecode"].removeprefix("0x"))


def model_infer_calldata(model_address: bytes, input_bytes: bytes, output_size: int) -> bytes:
    """ABI calldata of AIContract.modelInfer(address, bytes, uint256)."""
    return function_signature_to_4byte_selector("modelInfer(address,bytes,uint256)") + encode(
        ["address", "bytes", "uint256"], [model_address, input_bytes, output_size]
    )


def decode_bytes(output: bytes) -> bytes:
    (value,) = decode(["bytes"], output)
    return value
