"""Models on the devnet: `aievm model deploy` (upload, resume, seal, verify) and AIContract.modelInfer
over JSON-RPC, checked against the engine's own output for real MNIST test digits."""

from __future__ import annotations

import numpy as np
import pytest
from web3 import Web3

from evm_ext.cli import main as aievm_main
from evm_ext.contracts import append_calldata, append_gas, chunk_address, model_store, upload_plan
from evm_ext.model import load_model
from evm_ext.model.builder import mlp
from evm_ext.model.identity import chunk_code, model_id
from nodes.accounts import dev_accounts
from nodes.demo import MODEL_PATH, TEST_IMAGES, TEST_LABELS, deploy_ai_contract, pick_samples
from nodes.deploy import DeployError, deploy_model


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL_PATH)


@pytest.fixture(scope="module")
def deployed(node, model):
    return deploy_model(model.encode(), node.url, progress=False)


@pytest.fixture(scope="module")
def ai(w3):
    return deploy_ai_contract(w3, w3.eth.accounts[0])


def test_deploy_uploads_seals_and_verifies(w3, model, deployed):
    data = model.encode()
    assert deployed.length == len(data)
    assert deployed.model_hash == model_id(data) == model.id
    plan = upload_plan(data)
    assert deployed.transactions == len(plan) + 2 == 5  # ModelStore deployment, one append per chunk, seal
    store = w3.eth.contract(address=deployed.address, abi=model_store().abi)
    assert store.functions.isSealed().call() is True
    assert bytes(store.functions.modelId().call()) == model.id
    assert (store.functions.inputSize().call(), store.functions.outputSize().call()) == (784, 10)
    chunks = [store.functions.chunk(i).call() for i in range(len(plan))]
    assert [bytes.fromhex(c[2:]) for c in chunks] == [chunk_address(bytes.fromhex(deployed.address[2:]), i)
                                                      for i in range(len(plan))]  # derived from the nonce
    assert b"".join(bytes(w3.eth.get_code(c))[1:] for c in chunks) == data
    # upload gas: code deposit and calldata, about a third of the 39.1M gas storage cost
    assert 10_000_000 < deployed.gas_used < 13_000_000


def test_model_infer_matches_the_engine_on_mnist_digits(w3, model, deployed, ai):
    images, labels = np.load(TEST_IMAGES), np.load(TEST_LABELS)
    predictions = []
    for index in pick_samples(labels, 10):
        x = images[index].astype(np.float32).reshape(-1) / np.float32(255)
        inp = model.encode_input(x)
        output = ai.functions.modelInfer(deployed.address, inp, model.output_size).call()
        assert bytes(output) == model.run_bytes(inp)
        predictions.append(int(np.argmax(model.decode_output(bytes(output)))))
    assert predictions == [int(labels[i]) for i in pick_samples(labels, 10)]


def test_model_infer_in_a_transaction_and_gas_estimate(w3, model, deployed, ai):
    inp = bytes(model.input_size)
    call = ai.functions.modelInfer(deployed.address, inp, model.output_size)
    estimate = call.estimate_gas({"from": w3.eth.accounts[0]})
    tx_hash = call.transact({"from": w3.eth.accounts[0], "gas": estimate})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert receipt["gasUsed"] <= estimate


def test_infer_on_an_unsealed_or_missing_model_reverts(w3, model, ai):
    from web3.exceptions import ContractLogicError

    nobody = Web3.to_checksum_address("0x" + "42" * 20)
    with pytest.raises(ContractLogicError):
        ai.functions.modelInfer(nobody, bytes(model.input_size), model.output_size).call()


def test_deploy_resumes_an_interrupted_upload(node, w3, model):
    data = model.encode()
    plan = upload_plan(data)
    assert len(plan) == 3
    # interrupted upload: the ModelStore exists and holds only the first chunk
    sender = w3.eth.accounts[0]
    factory = w3.eth.contract(abi=model_store().abi, bytecode=model_store().bytecode)
    address = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": sender}))[
        "contractAddress"
    ]
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
        {"from": sender, "to": address, "data": append_calldata(plan[0]), "gas": append_gas(len(plan[0]))}))
    other_key = dev_accounts()[7].key.hex()
    with pytest.raises(DeployError, match="is owned by"):
        deploy_model(data, node.url, address=address, private_key=other_key, progress=False)
    resumed = deploy_model(data, node.url, address=address, progress=False)
    assert resumed.address == address
    assert resumed.transactions == len(plan) - 1 + 1  # the missing chunks, then seal
    assert resumed.model_hash == model_id(data)
    # a sealed store holding the same model: nothing to send; a different model: refused
    again = deploy_model(data, node.url, address=address, progress=False)
    assert again.transactions == 0
    with pytest.raises(DeployError, match="different model"):
        deploy_model(mlp((4, 4)).encode(), node.url, address=address, progress=False)


def test_resuming_into_a_store_of_another_model_is_refused(node, w3, model):
    sender = w3.eth.accounts[0]
    factory = w3.eth.contract(abi=model_store().abi, bytecode=model_store().bytecode)
    address = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": sender}))[
        "contractAddress"]
    other = bytes(24_575)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
        {"from": sender, "to": address, "data": append_calldata(other), "gas": append_gas(len(other))}))
    assert bytes(w3.eth.get_code(chunk_address(bytes.fromhex(address[2:]), 0))) == chunk_code(other)
    with pytest.raises(DeployError, match="holds another model"):
        deploy_model(model.encode(), node.url, address=address, progress=False)


def test_model_deploy_cli(node, capsys):
    assert aievm_main(["model", "deploy", str(MODEL_PATH), "--rpc", node.url, "--no-progress"]) == 0
    address = capsys.readouterr().out.strip().splitlines()[-1]
    assert Web3.is_checksum_address(address)
    unreachable = ["model", "deploy", str(MODEL_PATH), "--rpc", "http://127.0.0.1:9", "--no-progress"]
    assert aievm_main(unreachable) == 2
    assert "cannot reach a node" in capsys.readouterr().err
