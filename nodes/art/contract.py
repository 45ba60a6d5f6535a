"""InferArt on a chain: compile it, deploy the CPPN generator and the contract, remember where, mint.

Deployments are remembered per chain id in `.aievm/art/<chain id>.json` under the current directory
(`$AIEVM_ART_DIR` overrides the directory), next to `aievm node`'s default `.aievm/chain`. A remembered
address with no code (a fresh in-memory node reuses the chain id) is reported, not used.
Transactions are signed locally (`--private-key`, default: dev account 0 of the standard test mnemonic),
so any JSON-RPC node works, not only `aievm node`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3Exception

from evm_ext.errors import AievmError
from nodes.accounts import dev_accounts

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(__file__).resolve().parent / "InferArt.sol"
MODEL_PATH = ROOT / "models" / "cppn" / "cppn.aiem"
NODE_MODULES = ROOT / "node_modules"


class ArtError(AievmError):
    """A user-facing `aievm art` failure: node unreachable, nothing deployed, no such token."""


@dataclass(frozen=True)
class ArtDeployment:
    """Where InferArt and its generator live on one chain."""

    chain_id: int
    contract: str
    generator: str  # the sealed ModelStore
    model_id: str  # its model id (docs/model-storage.md)


@cache
def artifact() -> dict:
    """InferArt compiled by the project's compiler (solc-js, `infer()` builtin); OpenZeppelin Contracts
    resolve from node_modules (pinned in package.json)."""
    from solidity_patch import compile_file

    if not (NODE_MODULES / "@openzeppelin" / "contracts").is_dir():
        raise ArtError("node_modules/@openzeppelin/contracts is missing: run `make setup` (npm ci)")
    return compile_file(SOURCE, base_path=SOURCE.parent, include_paths=(NODE_MODULES,))["InferArt"]


def connect(rpc_url: str) -> Web3:
    """A web3 client of the node at `rpc_url`; ArtError if it does not answer."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 300}))
    try:
        w3.eth.get_block_number()
    except (OSError, Web3Exception) as exc:
        raise ArtError(f"cannot reach a node at {rpc_url} ({exc}); start one with `aievm node`") from None
    return w3


def account(private_key: str | None) -> LocalAccount:
    try:
        return Account.from_key(private_key or dev_accounts()[0].key.hex())
    except (ValueError, TypeError) as exc:
        raise ArtError(f"invalid private key: {exc}") from None


def state_dir() -> Path:
    return Path(os.environ.get("AIEVM_ART_DIR") or Path.cwd() / ".aievm" / "art")


def remember(deployment: ArtDeployment) -> Path:
    path = state_dir() / f"{deployment.chain_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(deployment), indent=2) + "\n")
    return path


def contract_at(w3: Web3, address: str | None) -> Contract:
    """InferArt at `address`, else the one remembered for this chain; ArtError with what to do."""
    chain_id = w3.eth.chain_id
    if address is None:
        path = state_dir() / f"{chain_id}.json"
        if not path.is_file():
            raise ArtError(
                f"no InferArt deployment remembered for chain {chain_id} (in {path.parent}): "
                "run `aievm art deploy --rpc URL` or pass --contract ADDR"
            )
        address = json.loads(path.read_text())["contract"]
    try:
        address = to_checksum_address(address)
    except ValueError:
        raise ArtError(f"invalid contract address {address!r}") from None
    if len(w3.eth.get_code(address)) == 0:
        raise ArtError(
            f"no contract at {address} on chain {chain_id} (a fresh node?): run `aievm art deploy --rpc URL`"
        )
    return w3.eth.contract(address=address, abi=artifact()["abi"])


def transact(w3: Web3, signer: LocalAccount, tx: dict) -> dict:
    """Sign and send one transaction built by web3 (nonce, fees, gas filled in); wait for its receipt."""
    tx = {**tx, "nonce": w3.eth.get_transaction_count(signer.address, "pending")}
    try:
        tx_hash = w3.eth.send_raw_transaction(signer.sign_transaction(tx).raw_transaction)
    except (ValueError, Web3Exception) as exc:
        raise ArtError(f"the node rejected a transaction: {exc}") from None
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=300, poll_latency=0.05)
    if receipt["status"] != 1:
        raise ArtError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def deploy(rpc_url: str, private_key: str | None = None, progress: bool = True) -> ArtDeployment:
    """Upload and seal the CPPN generator (nodes.deploy.deploy_model), deploy InferArt on it, remember it."""
    from nodes.deploy import deploy_model

    w3 = connect(rpc_url)
    signer = account(private_key)
    model = deploy_model(MODEL_PATH.read_bytes(), rpc_url, private_key=signer.key.hex(), progress=progress)
    art = artifact()
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    tx = factory.constructor(model.address).build_transaction({"from": signer.address})
    receipt = transact(w3, signer, tx)
    deployment = ArtDeployment(
        w3.eth.chain_id, receipt["contractAddress"], model.address, "0x" + model.model_hash.hex()
    )
    remember(deployment)
    return deployment


def mint(
    w3: Web3, contract: Contract, count: int, private_key: str | None = None,
    on_minted: Callable[[int], None] = lambda _id: None,
) -> list[int]:
    """Mint `count` tokens to the signer; returns their ids (read from the Transfer events)."""
    if count < 1:
        raise ArtError("--count must be at least 1")
    signer = account(private_key)
    ids = []
    for _ in range(count):
        receipt = transact(w3, signer, contract.functions.mint().build_transaction({"from": signer.address}))
        (event,) = contract.events.Transfer().process_receipt(receipt)
        ids.append(event["args"]["tokenId"])
        on_minted(ids[-1])
    return ids


def gas_split(contract: Contract, token_id: int) -> dict[str, int]:
    """eth_estimateGas of InferArt's view functions, each one stage further than the last, and the
    differences: what INFER, the PNG encoding and base64 + JSON each add to tokenURI."""
    stages = ("latent", "pixels", "png", "tokenURI")
    gas = {name: contract.functions[name](token_id).estimate_gas() for name in stages}
    return {
        "call + latent": gas["latent"],
        "INFER (+ output buffer)": gas["pixels"] - gas["latent"],
        "PNG encoding": gas["png"] - gas["pixels"],
        "attributes, base64, JSON": gas["tokenURI"] - gas["png"],
        "tokenURI total": gas["tokenURI"],
    }
