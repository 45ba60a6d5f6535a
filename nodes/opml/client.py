"""JSON-RPC client of the game contract (web3.py): deployment, transactions, views and events.

Every transaction is signed locally (dev account 0 unless a key is given), checked with eth_call first
(a move that would revert raises `MoveReverted` with the contract's reason, and is not sent), and its
receipt awaited; `gas_used` accumulates the gas of this party's mined transactions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

import eth_abi
import eth_abi.exceptions
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from evm_ext.contracts import model_store
from evm_ext.contracts.opml import artifacts
from evm_ext.errors import AievmError
from evm_ext.model import Model
from evm_ext.model.format import encode_graph
from nodes.accounts import dev_accounts

TX_GAS = 20_000_000  # gas limit of every transaction (under the devnet's 30M blocks)
PHASES = ("none", "reveal roots", "pick op", "reveal leaves", "prove", "ended")


class OpmlError(AievmError):
    """A node that cannot be reached, an address that is not what it should be, a failed transaction."""


class MoveReverted(OpmlError):
    """The node's gas estimate says the transaction would revert; `reason` is the contract's error."""


@dataclass(frozen=True)
class GameParams:
    """Game constants: blocks of the challenge window and per move, bonds in wei."""

    window_blocks: int = 20
    move_blocks: int = 10
    submit_bond: int = 10**18
    challenge_bond: int = 10**18


class Party:
    """One account talking to one node."""

    def __init__(self, rpc_url: str, private_key: str | None = None) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 120}))
        try:
            self.chain_id = self.w3.eth.chain_id
        except (OSError, Web3Exception) as exc:
            raise OpmlError(f"cannot reach a node at {rpc_url}: {exc}") from exc
        try:
            self.account = Account.from_key(private_key or dev_accounts()[0].key.hex())
        except (ValueError, TypeError) as exc:
            raise OpmlError(f"invalid private key: {exc}") from None
        self.address = self.account.address
        self.rpc_url = rpc_url
        self.gas_used = 0
        self.transactions = 0

    def send(
        self, to: str | None, data: bytes, value: int = 0, what: str = "transaction", preflight: bool = True
    ) -> dict:
        """Sign, send and wait for one transaction; raises MoveReverted if it would revert (not sent) or,
        without `preflight`, if it reverted on chain.

        One eth_call checks the move first (a binary-search gas estimate would run a one-step proof
        about 20 times); the gas limit is then TX_GAS and the node charges only what is used.
        """
        tx: dict[str, Any] = {"from": self.address, "data": data, "value": value, "gas": TX_GAS}
        if to is not None:
            tx["to"] = to
        if preflight:
            try:
                self.w3.eth.call(tx)
            except ContractLogicError as exc:
                raise MoveReverted(f"{what} would revert: {revert_reason(exc.data)}") from None
        base_fee = self.w3.eth.get_block("latest")["baseFeePerGas"]
        tx.update(
            chainId=self.chain_id,
            nonce=self.w3.eth.get_transaction_count(self.address, "pending"),
            maxPriorityFeePerGas=10**9,
            maxFeePerGas=2 * base_fee + 10**9,
        )
        del tx["from"]
        raw = self.account.sign_transaction(tx).raw_transaction
        try:
            tx_hash = self.w3.eth.send_raw_transaction(raw)
        except (ValueError, Web3Exception) as exc:
            # Hardhat Network with automining answers a transaction that reverted with an error that
            # carries its hash (it was mined): that is a revert on chain, not a rejection.
            mined = _mined_revert(exc)
            if mined is None:
                raise OpmlError(f"the node rejected {what}: {exc}") from exc
            tx_hash, data = mined
            self._count(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.02))
            raise MoveReverted(f"{what} reverted on chain: {revert_reason(data)}") from None
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.02)
        self._count(receipt)
        if receipt["status"] != 1:
            raise MoveReverted(f"{what} reverted on chain (transaction 0x{bytes(tx_hash).hex()})")
        return receipt

    def _count(self, receipt: dict) -> None:
        self.gas_used += receipt["gasUsed"]
        self.transactions += 1

    def deploy(self, name: str, *args: Any) -> str:
        art = artifacts()[name]
        data = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(*args).data_in_transaction
        return self.send(None, bytes.fromhex(data[2:]), what=f"{name} deployment")["contractAddress"]


def deploy_game(party: Party, params: GameParams = GameParams(), verifier_kind: str = "plain") -> str:
    """Deploy a one-step verifier ("plain": OneStepVerifier, any EVM; "infer": InferOneStep, chains with
    INFER) and an OpmlGame using it; returns the game's address."""
    verifier = party.deploy("OneStepVerifier")
    if verifier_kind == "infer":  # two-input ops are forwarded to the plain verifier
        verifier = party.deploy("InferOneStep", model_store().runtime_code_hash, verifier)
    return party.deploy(
        "OpmlGame",
        verifier,
        model_store().runtime_code_hash,
        params.window_blocks,
        params.move_blocks,
        params.submit_bond,
        params.challenge_bond,
    )


def read_model(w3: Web3, address: str) -> bytes:
    """The bytes of the sealed model at `address` (a ModelStore), read from its code chunks."""
    address = checksum(address)
    if keccak(bytes(w3.eth.get_code(address))) != model_store().runtime_code_hash:
        raise OpmlError(f"{address} is not a ModelStore (deploy models with `aievm model deploy`)")
    store = w3.eth.contract(address=address, abi=model_store().abi)
    if not store.functions.isSealed().call():
        raise OpmlError(f"the model at {address} is not sealed; seal it (aievm model deploy) first")
    count = store.functions.chunkCount().call()
    data = b"".join(bytes(w3.eth.get_code(store.functions.chunk(i).call()))[1:] for i in range(count))
    if len(data) != store.functions.length().call():
        raise OpmlError(f"the chunks of the model at {address} do not add up to its length")
    return data


def _mined_revert(exc: Exception) -> tuple[str, str] | None:
    """(transaction hash, revert data) of a send error that reports a mined, reverted transaction."""
    response = getattr(exc, "rpc_response", None) or (exc.args[0] if exc.args else None)
    error = response.get("error", response) if isinstance(response, dict) else None
    data = error.get("data") if isinstance(error, dict) else None
    if isinstance(data, dict) and isinstance(data.get("txHash"), str):
        return data["txHash"], data.get("data", "0x")
    return None


@cache
def _errors() -> dict[bytes, tuple[str, list[dict]]]:
    """Custom errors of the opml contracts by selector (and Error(string))."""
    out = {keccak(b"Error(string)")[:4]: ("Error", [{"name": "reason", "type": "string"}])}
    for art in artifacts().values():
        for item in art.abi:
            if item["type"] == "error":
                signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                out[keccak(signature.encode())[:4]] = (item["name"], item["inputs"])
    return out


def revert_reason(data: Any) -> str:
    """A revert's data as `Name(arg=value, ...)` when it is one of the contracts' errors, else hex."""
    raw = bytes.fromhex(data[2:]) if isinstance(data, str) and data.startswith("0x") else b""
    if len(raw) < 4 or raw[:4] not in _errors():
        return f"reverted with data {data!r}"
    name, inputs = _errors()[raw[:4]]
    try:
        values = eth_abi.decode([i["type"] for i in inputs], raw[4:])
    except eth_abi.exceptions.DecodingError:
        return f"{name}(…)"
    return f"{name}(" + ", ".join(f"{i['name']}={v}" for i, v in zip(inputs, values, strict=True)) + ")"


def op_model(model: Model, k: int) -> bytes:
    """The one-op model of op `k` (0-based) that InferOneStep.register accepts: op k's input value as the
    model input, op k reading value 0, the same body bytes."""
    op = copy.copy(model.ops[k])
    source = model.values[model.ops[k].inputs[0]]
    op.inputs = (0,)
    return encode_graph(source, [op])


def checksum(address: str) -> str:
    try:
        return to_checksum_address(address)
    except ValueError:
        raise OpmlError(f"invalid address {address!r}") from None


class Game:
    """The game contract at `address`, used by `party`."""

    def __init__(self, party: Party, address: str) -> None:
        self.party, self.w3 = party, party.w3
        self.address = checksum(address)
        # the runtime code equals the artifact's except for the immutables (same length)
        if len(self.w3.eth.get_code(self.address)) != len(artifacts()["OpmlGame"].runtime):
            raise OpmlError(
                f"{self.address} is not an OpmlGame contract; deploy one with `aievm opml deploy --rpc URL`"
            )
        self.contract = self.w3.eth.contract(address=self.address, abi=artifacts()["OpmlGame"].abi)
        self.fn = self.contract.functions
        self.submit_bond = self.fn.submitBond().call()
        verifier = self.fn.verifier().call()
        infer = len(self.w3.eth.get_code(verifier)) == len(artifacts()["InferOneStep"].runtime)
        self.verifier = self.w3.eth.contract(
            address=verifier, abi=artifacts()["InferOneStep" if infer else "OneStepVerifier"].abi
        )
        self.uses_infer = infer
        self.challenge_bond = self.fn.challengeBond().call()

    def transact(self, name: str, *args: Any, value: int = 0, preflight: bool = True) -> dict:
        data = self.contract.encode_abi(name, args=list(args))
        return self.party.send(self.address, bytes.fromhex(data[2:]), value, f"{name}()", preflight)

    def submission(self, sid: int) -> dict:
        fields = (
            "submitter",
            "model",
            "window_end",
            "ops",
            "open",
            "lost",
            "state",
            "input_root",
            "output_root",
            "root",
        )
        return dict(zip(fields, self.fn.submissions(sid).call(), strict=True))

    def challenge(self, cid: int) -> dict:
        fields = (
            "sid",
            "challenger",
            "phase",
            "deadline",
            "op",
            "input",
            "input2",
            "arity",
            "leaf_count",
        )
        return dict(zip(fields, self.fn.challenges(cid).call(), strict=True))

    def events(self, name: str, from_block: int, to_block: int, **filters: Any) -> list[dict]:
        """Decoded `name` events in [from_block, to_block]; `filters` match indexed arguments."""
        event = getattr(self.contract.events, name)
        logs = event().get_logs(from_block=from_block, to_block=to_block, argument_filters=filters or None)
        return [dict(log["args"]) | {"block": log["blockNumber"]} for log in logs]

    def block(self) -> int:
        return self.w3.eth.block_number
