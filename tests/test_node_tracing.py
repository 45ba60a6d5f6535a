"""debug_traceTransaction / debug_traceCall of a real modelInfer transaction (MNIST on the devnet):
the struct log has an INFER step whose gas is INFER's and adds up to the receipt's gasUsed, and the
callTracer output has exactly the fields and types of geth's callFrame."""

from __future__ import annotations

import re

import pytest

from evm_ext.model import load_model
from evm_ext.vm import gas
from nodes.chain import open_chain
from nodes.demo import MODEL_PATH, deploy_ai_contract
from nodes.deploy import deploy_model
from nodes.runner import BackgroundNode
from tests.node_fixtures import deploy_counter, rpc

HEX = re.compile(r"^0x[0-9a-f]*$")
QUANTITY = re.compile(r"^0x(0|[1-9a-f][0-9a-f]*)$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# geth's callFrame (eth/tracers/native/call.go): field -> (required, pattern or type)
CALL_FRAME = {
    "type": (True, {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE", "CREATE", "CREATE2", "SELFDESTRUCT"}),
    "from": (True, ADDRESS),
    "gas": (True, QUANTITY),
    "gasUsed": (True, QUANTITY),
    "to": (False, ADDRESS),
    "input": (True, HEX),
    "output": (False, HEX),
    "error": (False, str),
    "revertReason": (False, str),
    "calls": (False, list),
    "logs": (False, list),
    "value": (False, QUANTITY),
}
CALL_LOG = {"address": ADDRESS, "topics": list, "data": HEX, "position": QUANTITY}


def check_call_frame(frame: dict) -> None:
    """Fails unless `frame` (and every frame under it) has exactly geth's callFrame shape."""
    assert set(frame) <= set(CALL_FRAME), set(frame) - set(CALL_FRAME)
    for name, (required, kind) in CALL_FRAME.items():
        if name not in frame:
            assert not required, f"missing {name}"
            continue
        value = frame[name]
        if isinstance(kind, set):
            assert value in kind, value
        elif isinstance(kind, re.Pattern):
            assert isinstance(value, str) and kind.match(value), (name, value)
        else:
            assert isinstance(value, kind), (name, value)
    for log in frame.get("logs", []):
        assert set(log) == set(CALL_LOG)
        assert ADDRESS.match(log["address"]) and HEX.match(log["data"]) and QUANTITY.match(log["position"])
        assert all(re.match(r"^0x[0-9a-f]{64}$", t) for t in log["topics"])
    for child in frame.get("calls", []):
        check_call_frame(child)


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL_PATH)


@pytest.fixture(scope="module")
def node():
    # Cancun: no EIP-7623 calldata floor, which on Prague can exceed a cheap model's execution gas and
    # then be all the receipt shows
    with BackgroundNode(open_chain(None, fork="cancun")) as running:
        yield running


@pytest.fixture(scope="module")
def inferred(node, w3, model):
    """A mined modelInfer transaction: (receipt, model address, input)."""
    deployed = deploy_model(model.encode(), node.url, progress=False)
    ai = deploy_ai_contract(w3, w3.eth.accounts[0])
    inp = bytes((7 * i) % 256 for i in range(model.input_size))
    tx_hash = ai.functions.modelInfer(deployed.address, inp, model.output_size).transact(
        {"from": w3.eth.accounts[0]}
    )
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt.status == 1
    return receipt, deployed.address, ai


def _calldata_gas(data: bytes) -> int:
    return sum(4 if b == 0 else 16 for b in data)


def test_struct_log_has_the_infer_step_and_adds_up_to_the_receipt(node, w3, model, inferred):
    receipt, model_address, _ = inferred
    trace = rpc(node.url, "debug_traceTransaction", [receipt.transactionHash.to_0x_hex()])["result"]
    assert trace["failed"] is False and trace["gas"] == receipt.gasUsed
    steps = trace["structLogs"]
    infers = [s for s in steps if s["op"] == "INFER"]
    assert len(infers) == 1
    step = infers[0]
    assert step["infer"] == {
        "model": model_address.lower(),
        "inputSize": model.input_size,
        "outputSize": model.output_size,
        "success": True,
    }
    # INFER's whole charge (store, chunks, copy, decode, compute: docs/opcodes.md) is the step's cost
    assert step["gasCost"] == step["gas"] - steps[steps.index(step) + 1]["gas"]
    assert step["gasCost"] > gas.G_INFER + gas.COLD_ACCOUNT_ACCESS_COST + gas.model_compute_gas(model)
    # every gas unit of the receipt: intrinsic (21,000 + calldata) plus the steps of the one frame
    tx = w3.eth.get_transaction(receipt.transactionHash)
    intrinsic = 21_000 + _calldata_gas(bytes(tx.input))
    assert all(s["depth"] == 1 for s in steps)
    assert intrinsic + sum(s["gasCost"] for s in steps) == receipt.gasUsed
    assert steps[0]["pc"] == 0 and steps[0]["gas"] == tx.gas - intrinsic
    assert trace["returnValue"].startswith("0x") and len(trace["returnValue"]) > 2


def test_trace_block_lists_every_transaction(node, inferred):
    receipt = inferred[0]
    traces = rpc(node.url, "debug_traceBlockByNumber", [hex(receipt.blockNumber), {"tracer": "callTracer"}])
    (only,) = traces["result"]
    assert only["txHash"] == receipt.transactionHash.to_0x_hex()
    assert int(only["result"]["gasUsed"], 16) == receipt.gasUsed
    by_hash = rpc(
        node.url, "debug_traceBlockByHash", [receipt.blockHash.to_0x_hex(), {"tracer": "callTracer"}]
    )
    assert by_hash["result"] == traces["result"]


def test_call_tracer_output_parses_with_geths_call_frame(node, w3, model, inferred):
    receipt, model_address, ai = inferred
    options = {"tracer": "callTracer", "tracerConfig": {"withLog": True}}
    frame = rpc(node.url, "debug_traceTransaction", [receipt.transactionHash.to_0x_hex(), options])["result"]
    check_call_frame(frame)
    assert frame["type"] == "CALL" and frame["to"].lower() == ai.address.lower()
    assert int(frame["gasUsed"], 16) == receipt.gasUsed
    assert frame["from"].lower() == w3.eth.accounts[0].lower()


def test_trace_call_logs_storage_and_reverts(node, w3):
    counter = deploy_counter(w3)
    call = {"from": w3.eth.accounts[0], "to": counter.address, "data": counter.encode_abi("bump", [7])}
    frame = rpc(
        node.url,
        "debug_traceCall",
        [call, "latest", {"tracer": "callTracer", "tracerConfig": {"withLog": True}}],
    )["result"]
    check_call_frame(frame)
    assert len(frame["logs"]) == 1 and frame["logs"][0]["position"] == "0x0"
    reverted = {"from": w3.eth.accounts[0], "to": counter.address, "data": counter.encode_abi("fail")}
    failed = rpc(node.url, "debug_traceCall", [reverted, "latest", {"tracer": "callTracer"}])["result"]
    check_call_frame(failed)
    assert failed["error"] == "execution reverted" and failed["revertReason"] == "nope"
    logs = rpc(node.url, "debug_traceCall", [call, "latest", {"enableMemory": True}])["result"]
    sstores = [s for s in logs["structLogs"] if s["op"] == "SSTORE"]
    assert sstores and sstores[0]["storage"] == {"00" * 32: (7).to_bytes(32, "big").hex()}
    assert counter.functions.count().call() == 0  # traced, not committed
    unknown = rpc(node.url, "debug_traceCall", [call, "latest", {"tracer": "prestateTracer"}])
    assert unknown["error"]["code"] == -32602 and "callTracer" in unknown["error"]["message"]


PRECOMPILE_USER = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.4;
import "aievm/AIPrecompile.sol";

contract PrecompileUser {
    function run(address model, bytes calldata input) external view returns (bytes memory) {
        return AIPrecompile.infer(model, input);
    }

    function attempt(address model, bytes calldata input) external view returns (bool ok, bytes memory out) {
        return AIPrecompile.tryInfer(model, input);
    }
}
"""


def test_the_precompile_gives_the_opcodes_output_for_the_opcodes_gas(node, w3, model, inferred):
    from solidity_patch import compile_source
    from solidity_patch.disasm import code_bytes, opcode_offsets

    _, model_address, ai = inferred
    art = compile_source(PRECOMPILE_USER, "PrecompileUser.sol")["PrecompileUser"]
    assert opcode_offsets(code_bytes(art["deployedBytecode"]), 0xC0) == []  # no INFER opcode in it
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    address = w3.eth.wait_for_transaction_receipt(
        factory.constructor().transact({"from": w3.eth.accounts[0]})
    )["contractAddress"]
    user = w3.eth.contract(address=address, abi=art["abi"])
    inp = bytes((3 * i) % 256 for i in range(model.input_size))
    output = user.functions.run(model_address, inp).call()
    assert (
        output
        == model.run_bytes(inp)
        == ai.functions.modelInfer(model_address, inp, model.output_size).call()
    )
    assert user.functions.attempt(model_address, inp[:-1]).call() == [False, b""]
    assert user.functions.attempt(w3.eth.accounts[3], inp).call() == [False, b""]
    call = {"from": w3.eth.accounts[0], "to": address, "data": user.encode_abi("run", [model_address, inp])}
    frame = rpc(node.url, "debug_traceCall", [call, "latest", {"tracer": "callTracer"}])["result"]
    check_call_frame(frame)
    (precompile,) = frame["calls"]
    assert precompile["type"] == "STATICCALL" and precompile["to"].lower() == "0x" + "00" * 18 + "0ac0"
    # the same gas as the INFER opcode's step in the modelInfer transaction (also a cold model access)
    receipt = inferred[0]
    steps = rpc(node.url, "debug_traceTransaction", [receipt.transactionHash.to_0x_hex()])["result"][
        "structLogs"
    ]
    (infer_step,) = [s for s in steps if s["op"] == "INFER"]
    assert int(precompile["gasUsed"], 16) == infer_step["gasCost"]
