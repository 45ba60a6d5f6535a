"""`aievm demo`: MNIST digits classified by a smart contract, over JSON-RPC, end to end.

The shipped MNIST
MLP converted from its ONNX file with `aievm model convert`'s code (and checked against the committed
.aiem and on the held-out digits off chain); a fresh in-memory node on a free loopback port; the
converted model uploaded with `aievm model deploy`'s code; the research post's AIContract compiled with
`solidity_patch`; each digit classified by an eth_call to `modelInfer` (the INFER opcode runs the
model), timed over a keep-alive HTTP session; the node stopped at the end.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import requests
from web3 import Web3

from evm_ext.errors import AievmError

ROOT = Path(__file__).resolve().parent.parent
MODEL_PATH = ROOT / "models" / "mnist_mlp" / "mnist_mlp.aiem"
ONNX_PATH = ROOT / "models" / "mnist_mlp" / "mnist_mlp.onnx"
CALIBRATION_PATH = ROOT / "models" / "mnist_mlp" / "calibration.npy"
TEST_IMAGES = ROOT / "models" / "data" / "mnist_test_images.npy"
TEST_LABELS = ROOT / "models" / "data" / "mnist_test_labels.npy"

AI_CONTRACT = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

contract AIContract {
    function modelInfer(address model_address, bytes memory input_data, uint output_size)
        public pure returns (bytes memory)
    {
        bytes memory output = new bytes(output_size);
        infer(model_address, input_data, output);
        return output;
    }
}
"""


def deploy_ai_contract(w3: Web3, sender: str):
    """Compile AIContract with the infer() builtin, deploy it from `sender`; returns the web3 contract."""
    from solidity_patch import compile_source

    artifact = compile_source(AI_CONTRACT, "AIContract.sol")["AIContract"]
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": sender}))
    if receipt["status"] != 1:
        raise AievmError("AIContract deployment reverted")
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def pick_samples(labels: np.ndarray, count: int) -> np.ndarray:
    """`count` indices spread evenly over the test set (it is ordered by digit), so all digits show up."""
    return np.linspace(0, len(labels) - 1, num=count).round().astype(int)


def convert_shipped_model(images: np.ndarray, labels: np.ndarray):
    """Convert the MNIST MLP's ONNX file to int8 as `aievm model convert` does; report it and its accuracy."""
    from evm_ext.model import load_model
    from evm_ext.model.convert import convert

    started = time.perf_counter()
    model = convert(ONNX_PATH, np.load(CALIBRATION_PATH))
    same = "identical to" if model.encode() == load_model(MODEL_PATH).encode() else "differs from"
    print(
        f"model: {ONNX_PATH.relative_to(ROOT)} converted to int8 in {time.perf_counter() - started:.2f} s: "
        f"{len(model.encode()):,} bytes, id 0x{model.id.hex()[:16]}... ({same} the shipped "
        f"{MODEL_PATH.name})"
    )
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    q = np.frombuffer(b"".join(model.encode_input(row) for row in x), np.int8).reshape(len(x), -1)
    predicted = np.argmax(model.run(q), axis=1)
    accuracy = np.mean(predicted == labels)
    print(f"       off-chain int8 accuracy on {len(labels):,} held-out MNIST digits: {accuracy:.1%}")
    return model


def run(samples: int = 10) -> int:
    from nodes.chain import open_chain
    from nodes.deploy import deploy_model
    from nodes.runner import BackgroundNode

    if samples < 1:
        raise AievmError("--samples must be at least 1")
    if not ONNX_PATH.is_file() or not MODEL_PATH.is_file():
        raise AievmError(f"the shipped model files under {ONNX_PATH.parent} are missing (a partial clone?)")
    images, labels = np.load(TEST_IMAGES), np.load(TEST_LABELS)
    model = convert_shipped_model(images, labels)
    picked = pick_samples(labels, min(samples, len(labels)))

    chain = open_chain(None)
    with BackgroundNode(chain) as node:
        print(f"node: {node.url} (chain id {chain.chain_id}, fork {chain.fork}, in memory)")
        w3 = Web3(Web3.HTTPProvider(node.url))
        sender = w3.eth.accounts[0]
        started = time.perf_counter()
        deployment = deploy_model(model.encode(), node.url, progress=False)
        print(
            f"model: {deployment.length:,} bytes sealed in ModelStore "
            f"{deployment.address}: {deployment.transactions} transactions, {deployment.gas_used:,} gas, "
            f"{time.perf_counter() - started:.2f} s"
        )
        contract = deploy_ai_contract(w3, sender)
        print(f"AIContract: {contract.address}\n")
        print(f"{'sample':>6}  {'predicted':>9}  {'true':>4}  {'gas':>10}  {'latency':>9}")
        correct = 0
        session = requests.Session()  # keep-alive JSON-RPC: the latency is the node's, not a library's
        for index in picked:
            x = images[index].astype(np.float32).reshape(-1) / np.float32(255)
            args = [deployment.address, model.encode_input(x), model.output_size]
            gas = contract.functions.modelInfer(*args).estimate_gas({"from": sender})
            call = {"from": sender, "to": contract.address, "data": contract.encode_abi("modelInfer", args)}
            request = {"jsonrpc": "2.0", "id": int(index), "method": "eth_call", "params": [call, "latest"]}
            t0 = time.perf_counter()
            reply = session.post(node.url, json=request, timeout=60).json()
            latency = time.perf_counter() - t0
            if "result" not in reply:
                raise AievmError(f"modelInfer failed: {reply.get('error')}")
            (output,) = w3.codec.decode(["bytes"], bytes.fromhex(reply["result"][2:]))
            predicted = int(np.argmax(model.decode_output(output)))
            correct += predicted == labels[index]
            mark = "" if predicted == labels[index] else "  (miss)"
            ms = latency * 1000
            print(f"{index:>6}  {predicted:>9}  {labels[index]:>4}  {gas:>10,}  {ms:>7.1f} ms{mark}")
        print(f"\n{correct}/{len(picked)} correct; node stopped.")
    chain.db.close()
    return 0
