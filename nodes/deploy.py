"""`aievm model deploy`: upload a model into a ModelStore and its code chunks over JSON-RPC (web3.py).

Steps: deploy a ModelStore (or reuse `--address`); check that the chunks it already holds are the file's
(an interrupted upload resumes after them); `append` the others, one transaction each; `seal` with the
file's model id (the contract recomputes it from the chunks' code hashes and reverts on a mismatch); then
verify the sealed store against the file: its id, length and sizes, and every chunk's code.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from evm_ext.contracts import (
    DEPLOY_GAS,
    append_calldata,
    append_gas,
    model_store,
    seal_calldata,
    seal_gas,
    upload_plan,
)
from evm_ext.errors import AievmError
from evm_ext.model import ModelFormatError, decode_model
from evm_ext.model.identity import chunk_code, model_id
from nodes.accounts import dev_accounts


class DeployError(AievmError):
    """The upload failed: node unreachable, a transaction reverted, or the stored hash differs."""


@dataclass(frozen=True)
class Deployment:
    """A sealed, verified ModelStore: `model_hash` is the model id; gas and transactions of this run."""

    address: str
    length: int
    model_hash: bytes
    transactions: int
    gas_used: int
    chunks: int


class _Uploader:
    def __init__(self, rpc_url: str, private_key: str | None) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 120}))
        try:
            self.chain_id = self.w3.eth.chain_id
        except (OSError, Web3Exception) as exc:
            raise DeployError(f"cannot reach a node at {rpc_url}: {exc}") from exc
        key = private_key or dev_accounts()[0].key.hex()
        try:
            self.account = Account.from_key(key)
        except (ValueError, TypeError) as exc:
            raise DeployError(f"invalid private key: {exc}") from None
        self.store = self.w3.eth.contract(abi=model_store().abi)
        self.nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")
        self.transactions = 0
        self.gas_used = 0

    def send(self, to: str | None, data: bytes, gas: int) -> str:
        """Sign and send; returns the tx hash (receipts are collected by `wait`)."""
        base_fee = self.w3.eth.get_block("latest")["baseFeePerGas"]
        tx = {
            "chainId": self.chain_id, "nonce": self.nonce, "gas": gas, "data": data, "value": 0,
            "maxPriorityFeePerGas": 10**9, "maxFeePerGas": 2 * base_fee + 10**9,
        }
        if to is not None:
            tx["to"] = to
        raw = self.account.sign_transaction(tx).raw_transaction
        try:
            tx_hash = self.w3.eth.send_raw_transaction(raw)
        except (ValueError, Web3Exception) as exc:
            raise DeployError(f"the node rejected a transaction: {exc}") from exc
        self.nonce += 1
        return tx_hash

    def wait(self, tx_hash: str, what: str) -> dict:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=300, poll_latency=0.05)
        self.transactions += 1
        self.gas_used += receipt["gasUsed"]
        if receipt["status"] != 1:
            raise DeployError(f"{what} reverted (transaction {tx_hash.hex()})")
        return receipt

    def block_gas_limit(self) -> int:
        return self.w3.eth.get_block("latest")["gasLimit"]


def deploy_model(
    data: bytes, rpc_url: str, *, private_key: str | None = None, address: str | None = None,
    progress: bool = True,
) -> Deployment:
    """Upload `data` (canonical model bytes) to a sealed ModelStore and verify it; see the module doc."""
    try:
        model = decode_model(data)
    except ModelFormatError as exc:
        raise DeployError(f"not a valid model: {exc}") from None
    plan = upload_plan(data)
    expected = model_id(data)
    up = _Uploader(rpc_url, private_key)
    if address is None:
        receipt = up.wait(up.send(None, model_store().bytecode, DEPLOY_GAS), "ModelStore deployment")
        address = receipt["contractAddress"]
    else:
        address = _checksum(address)
        if keccak(bytes(up.w3.eth.get_code(address))) != model_store().runtime_code_hash:
            raise DeployError(f"{address} is not a ModelStore contract")
    store = up.w3.eth.contract(address=address, abi=model_store().abi)
    if not store.functions.isSealed().call():
        owner = store.functions.owner().call()
        if owner != up.account.address:
            raise DeployError(f"the ModelStore at {address} is owned by {owner}, not {up.account.address}")
        _upload(up, store, plan, progress)
        calldata = seal_calldata(expected, model.input_size, model.output_size)
        up.wait(up.send(address, calldata, seal_gas(len(data))), "seal()")
    _verify(up, store, data, expected, (model.input_size, model.output_size))
    return Deployment(address, len(data), expected, up.transactions, up.gas_used, len(plan))


def _stored_chunks(up: _Uploader, store, plan: list[bytes]) -> int:
    """How many chunks the store already holds; each must be the file's (else the upload cannot resume)."""
    count = store.functions.chunkCount().call()
    other = f"the ModelStore at {store.address} holds another model; deploy into a new store (omit --address)"
    if count > len(plan):
        raise DeployError(f"{other} ({count} chunks, the file has {len(plan)})")
    for i in range(count):
        if bytes(up.w3.eth.get_code(store.functions.chunk(i).call())) != chunk_code(plan[i]):
            raise DeployError(f"{other} (its chunk {i} differs from the file's)")
    return count


def _upload(up: _Uploader, store, plan: list[bytes], progress: bool) -> None:
    """Append every chunk the store does not hold yet, one transaction each, with a progress bar."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    done = _stored_chunks(up, store, plan)
    limit = up.block_gas_limit()
    columns = (TextColumn("uploading chunks"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task("upload", total=sum(map(len, plan)), completed=sum(map(len, plan[:done])))
        for chunk in plan[done:]:
            needed = append_gas(len(chunk))
            if needed > limit:
                raise DeployError(f"a chunk upload needs {needed:,} gas, over the block gas limit {limit:,}")
            up.wait(up.send(store.address, append_calldata(chunk), needed), "append()")
            bar.advance(task, len(chunk))


def _verify(up: _Uploader, store, data: bytes, expected: bytes, sizes: tuple[int, int]) -> None:
    """The sealed store holds exactly the file: id, length, sizes and every chunk's code."""
    try:
        recorded = bytes(store.functions.modelId().call())
        length = store.functions.length().call()
        recorded_sizes = (store.functions.inputSize().call(), store.functions.outputSize().call())
        plan = upload_plan(data)
        same_chunks = store.functions.chunkCount().call() == len(plan) and all(
            bytes(up.w3.eth.get_code(store.functions.chunk(i).call())) == chunk_code(chunk)
            for i, chunk in enumerate(plan))
    except ContractLogicError as exc:
        raise DeployError(f"ModelStore call failed: {exc}") from exc
    if recorded != expected or length != len(data) or recorded_sizes != sizes or not same_chunks:
        raise DeployError(
            f"the ModelStore at {store.address} holds a different model (id 0x{recorded.hex()}, {length} "
            f"bytes; the file has id 0x{expected.hex()}, {len(data)} bytes)"
        )


def _checksum(address: str) -> str:
    try:
        return to_checksum_address(address)
    except ValueError:
        raise DeployError(f"invalid address {address!r}") from None
