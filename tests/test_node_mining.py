"""Mining modes: automine off + evm_mine (several transactions in one block) and --block-time."""

from __future__ import annotations

from web3 import Web3

from nodes.chain import open_chain
from nodes.runner import BackgroundNode
from tests.node_fixtures import counter_artifact, rpc


def test_manual_mining_puts_queued_transactions_in_one_block():
    with BackgroundNode(open_chain(None)) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        a = w3.eth.accounts
        art = counter_artifact()
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        created = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": a[0]}))
        counter = w3.eth.contract(address=created["contractAddress"], abi=art["abi"])
        assert rpc(node.url, "evm_setAutomine", [False])["result"] is True
        head = w3.eth.block_number
        hashes = [
            counter.functions.bump(1).transact({"from": a[1], "gas": 100_000}),
            counter.functions.bump(2).transact({"from": a[1], "gas": 100_000}),
            w3.eth.send_transaction({"from": a[2], "to": a[3], "value": 5, "gas": 21_000}),
            counter.functions.bump(3).transact({"from": a[2], "gas": 100_000}),
        ]
        assert w3.eth.block_number == head
        assert w3.eth.get_transaction_count(a[1], "pending") == 2
        assert w3.eth.get_transaction_count(a[1], "latest") == 0
        assert w3.eth.get_transaction(hashes[0])["blockHash"] is None
        rpc(node.url, "evm_mine")
        assert w3.eth.block_number == head + 1
        block = w3.eth.get_block("latest")
        assert block["transactions"] == hashes
        receipts = [w3.eth.get_transaction_receipt(h) for h in hashes]
        assert [r["transactionIndex"] for r in receipts] == [0, 1, 2, 3]
        assert all(r["status"] == 1 for r in receipts)
        assert receipts[2]["gasUsed"] == 21_000
        cumulative = 0
        for receipt in receipts:
            cumulative += receipt["gasUsed"]
            assert receipt["cumulativeGasUsed"] == cumulative
        assert block["gasUsed"] == cumulative
        log_indexes = [log["logIndex"] for r in receipts for log in r["logs"]]
        assert log_indexes == [0, 1, 2]
        assert counter.functions.count().call() == 6


def test_block_time_mines_queued_transactions_on_a_timer():
    with BackgroundNode(open_chain(None), block_time=0.2) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        a = w3.eth.accounts
        hashes = [w3.eth.send_transaction({"from": a[i], "to": a[9], "value": 1}) for i in range(3)]
        receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.05) for h in hashes]
        assert all(r["status"] == 1 for r in receipts)
        mined = {r["blockNumber"] for r in receipts}
        assert sum(len(w3.eth.get_block(n)["transactions"]) for n in mined) == 3
        assert w3.eth.get_balance(a[9]) == 10_000 * 10**18 + 3


def test_invalid_queued_transactions_are_left_out():
    from nodes.accounts import dev_accounts

    with BackgroundNode(open_chain(None)) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        rpc(node.url, "evm_setAutomine", [False])
        sender = dev_accounts()[4]
        fields = {"to": dev_accounts()[5].address, "value": 1, "gas": 21_000, "chainId": 31337,
                  "maxFeePerGas": 5 * 10**9, "maxPriorityFeePerGas": 10**9}
        gap = w3.eth.send_raw_transaction(sender.sign_transaction({**fields, "nonce": 7}).raw_transaction)
        good = w3.eth.send_raw_transaction(sender.sign_transaction({**fields, "nonce": 0}).raw_transaction)
        rpc(node.url, "evm_mine")
        assert w3.eth.get_block("latest")["transactions"] == [good]
        assert w3.eth.get_transaction_receipt(good)["status"] == 1
        assert rpc(node.url, "eth_getTransactionReceipt", [gap.to_0x_hex()])["result"] is None
        assert rpc(node.url, "eth_getTransactionByHash", [gap.to_0x_hex()])["result"] is None
