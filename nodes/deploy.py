"""`aievm model deploy`: upload a model into a ModelStore contract over JSON-RPC (web3.py client).

Steps: deploy a ModelStore (or reuse `--address`), write the chunks of `upload_plan` that are not
already stored (so an interrupted upload resumes where it stopped), seal, then verify that the
keccak-256 the contract recorded equals the file's.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from evm_ext.contracts import model_store, seal_calldata, seal_gas, upload_plan, write_calldata, write_gas
from evm_ext.errors import AievmError
from nodes.accounts import dev_accounts

DEPLOY_GAS = 1_500_000


class DeployError(AievmError):
    """The upload failed: node unreachable, a transaction reverted, or the stored hash differs."""


@dataclass(frozen=True)
class Deployment:
    address: str
    length: int
    model_hash: bytes
    transactions: int
    gas_used: int


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
    up = _Uploader(rpc_url, private_key)
    if address is None:
        receipt = up.wait(up.send(None, model_store().bytecode, DEPLOY_GAS), "ModelStore deployment")
        address = receipt["contractAddress"]
    else:
        address = _checksum(address)
        if keccak(bytes(up.w3.eth.get_code(address))) != model_store().runtime_code_hash:
            raise DeployError(f"{address} is not a ModelStore contract")
    store = up.w3.eth.contract(address=address, abi=model_store().abi)
    expected = keccak(data)
    if not store.functions.isSealed().call():
        owner = store.functions.owner().call()
        if owner != up.account.address:
            raise DeployError(f"the ModelStore at {address} is owned by {owner}, not {up.account.address}")
        _upload(up, store, address, data, progress)
        up.wait(up.send(address, seal_calldata(), seal_gas(len(data))), "seal()")
    recorded = bytes(store.functions.modelHash().call())
    length = store.functions.length().call()
    if recorded != expected or length != len(data):
        raise DeployError(
            f"the ModelStore at {address} holds a different model (keccak 0x{recorded.hex()}, "
            f"{length} bytes; the file has 0x{expected.hex()}, {len(data)} bytes)"
        )
    return Deployment(address, length, recorded, up.transactions, up.gas_used)


def _upload(up: _Uploader, store, address: str, data: bytes, progress: bool) -> None:
    """Write every chunk of the plan that the store does not already hold, a block's worth at a time."""
    plan = upload_plan(data, up.block_gas_limit() * 9 // 10)
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("uploading"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task("upload", total=len(data))
        try:
            stored_length = store.functions.length().call()
            for offset, chunk in plan:
                end = offset + len(chunk)
                if end <= stored_length and store.functions.read(offset, len(chunk)).call() == chunk:
                    bar.advance(task, len(chunk))
                    continue
                up.wait(up.send(address, write_calldata(offset, chunk), write_gas(len(chunk))), "write()")
                bar.advance(task, len(chunk))
        except ContractLogicError as exc:
            raise DeployError(f"ModelStore call failed: {exc}") from exc


def _checksum(address: str) -> str:
    try:
        return to_checksum_address(address)
    except ValueError:
        raise DeployError(f"invalid address {address!r}") from None
