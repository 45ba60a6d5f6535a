"""The devnet driven by web3.py over real HTTP: accounts, transfers, contracts, logs, reverts, dev methods."""

from __future__ import annotations

import time

import pytest
import requests
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from nodes.accounts import dev_accounts
from tests.node_fixtures import counter_artifact, deploy_counter, rpc

ETH = 10**18


@pytest.fixture(scope="module")
def counter(w3):
    return deploy_counter(w3)


def test_identity_and_dev_accounts(w3):
    assert w3.eth.chain_id == 31337
    assert w3.net.version == "31337"
    assert w3.client_version == "anvil-compatible/aievm/v0.1.0/prague"
    accounts = w3.eth.accounts
    assert len(accounts) == 10
    assert accounts[0] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert accounts[1] == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert dev_accounts()[0].key.hex().removeprefix("0x") == (
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    )
    assert w3.eth.get_balance(accounts[9], 0) == 10_000 * ETH


def test_send_transaction_transfers_value_and_mines_one_block(w3):
    a, b = w3.eth.accounts[1], w3.eth.accounts[2]
    before_block = w3.eth.block_number
    before_b = w3.eth.get_balance(b)
    tx_hash = w3.eth.send_transaction({"from": a, "to": b, "value": 3 * ETH})
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert receipt["gasUsed"] == 21_000
    assert receipt["blockNumber"] == before_block + 1 == w3.eth.block_number
    assert w3.eth.get_balance(b) == before_b + 3 * ETH
    tx = w3.eth.get_transaction(tx_hash)
    assert tx["from"] == a and tx["to"] == b and tx["value"] == 3 * ETH and tx["type"] == 2
    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=False)
    assert block["transactions"] == [tx_hash]
    assert w3.eth.get_block(block["hash"])["number"] == receipt["blockNumber"]
    assert block["parentHash"] == w3.eth.get_block(receipt["blockNumber"] - 1)["hash"]
    paid = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(a) == 10_000 * ETH - 3 * ETH - paid


@pytest.mark.parametrize("kind", ["legacy", "eip2930", "eip1559"])
def test_raw_transactions_of_each_type(w3, kind):
    sender = Account.from_key(dev_accounts()[3].key)
    to = w3.eth.accounts[4]
    fields = {"to": to, "value": 12345, "gas": 21_000, "chainId": 31337,
              "nonce": w3.eth.get_transaction_count(sender.address)}
    if kind == "legacy":
        fields["gasPrice"] = w3.eth.gas_price
    elif kind == "eip2930":
        fields.update(gasPrice=w3.eth.gas_price, accessList=[])
    else:
        fields.update(maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=10**9)
    before = w3.eth.get_balance(to)
    tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(fields).raw_transaction)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert receipt["type"] == {"legacy": 0, "eip2930": 1, "eip1559": 2}[kind]
    assert w3.eth.get_balance(to) == before + 12345
    assert w3.eth.get_transaction(tx_hash)["nonce"] == fields["nonce"]


def test_rejected_transactions_do_not_mine(w3):
    sender = Account.from_key(dev_accounts()[5].key)
    head = w3.eth.block_number
    nonce = w3.eth.get_transaction_count(sender.address)
    base = {"to": w3.eth.accounts[0], "value": 1, "gas": 21_000, "maxFeePerGas": 3 * 10**9,
            "maxPriorityFeePerGas": 10**9}
    bad = [
        {**base, "nonce": nonce + 5, "chainId": 31337},  # nonce gap
        {**base, "nonce": nonce, "chainId": 1},  # wrong chain
        {**base, "nonce": nonce, "chainId": 31337, "value": 10**30},  # insufficient funds
        {**base, "nonce": nonce, "chainId": 31337, "gas": 40_000_000},  # above the block gas limit
    ]
    for fields in bad:
        with pytest.raises(Web3RPCError) as info:
            w3.eth.send_raw_transaction(sender.sign_transaction(fields).raw_transaction)
        assert info.value.rpc_response["error"]["code"] == -32000
    assert w3.eth.block_number == head


def test_contract_deploy_call_events_and_logs(w3, counter):
    sender = w3.eth.accounts[0]
    receipt = w3.eth.wait_for_transaction_receipt(counter.functions.bump(7).transact({"from": sender}))
    (event,) = counter.events.Bumped().process_receipt(receipt)
    assert event["args"]["by"] == sender
    assert event["args"]["amount"] == 7
    count = counter.functions.count().call()
    assert event["args"]["newCount"] == count
    assert w3.eth.get_storage_at(counter.address, 0) == count.to_bytes(32, "big")
    code = w3.eth.get_code(counter.address)
    assert bytes(code) == bytes.fromhex(counter_artifact()["deployedBytecode"][2:])
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": counter.address})
    assert receipt["transactionHash"] in [entry["transactionHash"] for entry in logs]
    topic_filter = {"fromBlock": receipt["blockNumber"], "toBlock": receipt["blockNumber"],
                    "topics": [receipt["logs"][0]["topics"][0]]}
    assert [entry["logIndex"] for entry in w3.eth.get_logs(topic_filter)] == [0]
    other = {"fromBlock": 0, "address": counter.address, "topics": [None, "0x" + "11" * 32]}
    assert w3.eth.get_logs(other) == []


def test_reverts_return_code_3_with_revert_data(node, w3, counter):
    with pytest.raises(ContractCustomError) as info:
        counter.functions.bump(500).call()
    selector = Web3.keccak(text="TooBig(uint256)")[:4].hex()
    assert info.value.data == "0x" + selector + (500).to_bytes(32, "big").hex()
    call = {"to": counter.address, "data": counter.encode_abi("fail", [])}
    response = rpc(node.url, "eth_call", [call, "latest"])
    assert response["error"]["code"] == 3
    assert response["error"]["message"] == "execution reverted: nope"
    error_string = Web3.keccak(text="Error(string)")[:4].hex()
    assert response["error"]["data"].startswith("0x" + error_string)
    with pytest.raises(ContractLogicError, match="nope"):
        counter.functions.fail().estimate_gas()
    # a reverting transaction is still mined, with status 0
    tx = counter.functions.bump(1).build_transaction({"from": w3.eth.accounts[0], "gas": 100_000})
    tx["data"] = counter.encode_abi("fail", [])
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
    assert receipt["status"] == 0


def test_estimate_gas_is_enough_and_tight(w3, counter):
    sender = w3.eth.accounts[0]
    estimate = counter.functions.bump(3).estimate_gas({"from": sender})
    assert w3.eth.estimate_gas({"from": sender, "to": w3.eth.accounts[1], "value": 1}) == 21_000
    receipt = w3.eth.wait_for_transaction_receipt(
        counter.functions.bump(3).transact({"from": sender, "gas": estimate})
    )
    assert receipt["status"] == 1
    assert receipt["gasUsed"] <= estimate < receipt["gasUsed"] + 5_000
    low = w3.eth.wait_for_transaction_receipt(
        counter.functions.bump(3).transact({"from": sender, "gas": estimate - 1})
    )
    assert low["status"] == 0


def test_calls_at_past_blocks(w3, counter):
    sender = w3.eth.accounts[0]
    before = counter.functions.count().call()
    receipt = w3.eth.wait_for_transaction_receipt(counter.functions.bump(2).transact({"from": sender}))
    number = receipt["blockNumber"]
    assert counter.functions.count().call(block_identifier=number - 1) == before
    assert counter.functions.count().call(block_identifier=number) == before + 2
    assert w3.eth.get_balance(sender, "earliest") == 10_000 * ETH
    # the block context of a call is the block asked for (as geth)
    for tag in (number - 1, number):
        block = w3.eth.get_block(tag)
        assert counter.functions.context().call(block_identifier=tag) == [
            block["number"], bytes(block["parentHash"]), block["timestamp"]
        ]


def test_fees(w3):
    assert w3.eth.max_priority_fee == 10**9
    history = w3.eth.fee_history(4, "latest", [50])
    head = w3.eth.block_number
    assert history["oldestBlock"] == head - 3
    assert len(history["baseFeePerGas"]) == 5
    assert len(history["gasUsedRatio"]) == 4 and len(history["reward"]) == 4
    assert history["baseFeePerGas"][-2] == w3.eth.get_block(head)["baseFeePerGas"]
    assert w3.eth.gas_price == history["baseFeePerGas"][-1] + 10**9


def test_snapshot_revert_and_time(node, w3):
    a, b = w3.eth.accounts[6], w3.eth.accounts[7]
    snapshot = rpc(node.url, "evm_snapshot")["result"]
    head = w3.eth.block_number
    tx_hash = w3.eth.send_transaction({"from": a, "to": b, "value": ETH})
    assert w3.eth.get_balance(b) == 10_001 * ETH
    assert rpc(node.url, "evm_revert", [snapshot])["result"] is True
    assert w3.eth.block_number == head
    assert w3.eth.get_balance(b) == 10_000 * ETH
    assert rpc(node.url, "eth_getTransactionReceipt", [tx_hash.to_0x_hex()])["result"] is None
    assert rpc(node.url, "evm_revert", [snapshot])["result"] is False  # consumed
    # the chain goes on from the reverted head
    w3.eth.send_transaction({"from": a, "to": b, "value": 2 * ETH})
    assert w3.eth.block_number == head + 1
    wall_clock = int(time.time())
    rpc(node.url, "evm_increaseTime", [3600])
    assert rpc(node.url, "evm_mine")["result"] == "0x0"
    assert w3.eth.get_block("latest")["timestamp"] >= wall_clock + 3600


@pytest.mark.parametrize("prefix", ["anvil", "hardhat"])
def test_set_balance_code_storage(node, w3, prefix):
    target = Web3.to_checksum_address("0x" + ("ab" if prefix == "anvil" else "cd") * 20)
    assert rpc(node.url, f"{prefix}_setBalance", [target, hex(5 * ETH)])["result"] is True
    assert w3.eth.get_balance(target) == 5 * ETH
    runtime = counter_artifact()["deployedBytecode"]
    assert rpc(node.url, f"{prefix}_setCode", [target, runtime])["result"] is True
    assert w3.eth.get_code(target).to_0x_hex() == runtime
    slot_value = "0x" + (41).to_bytes(32, "big").hex()
    assert rpc(node.url, f"{prefix}_setStorageAt", [target, "0x0", slot_value])["result"] is True
    counter = w3.eth.contract(address=target, abi=counter_artifact()["abi"])
    assert counter.functions.count().call() == 41
    tx_hash = counter.functions.bump(1).transact({"from": w3.eth.accounts[0]})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert counter.functions.count().call() == 42
    assert w3.eth.get_balance(target) == 5 * ETH


def test_batch_requests(node):
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "no_such_method", "params": []},
        {"jsonrpc": "2.0", "method": "eth_blockNumber", "params": []},  # notification: no response
        {"jsonrpc": "2.0", "id": "x", "method": "eth_getBalance", "params": ["0x" + "00" * 20, "latest"]},
    ]
    responses = requests.post(node.url, json=batch, timeout=30).json()
    assert [r["id"] for r in responses] == [1, 2, "x"]
    assert responses[0]["result"] == "0x7a69"
    assert responses[1]["error"]["code"] == -32601
    assert responses[2]["result"].startswith("0x")
