"""The INFER one-step verifier (InferOneStep) against the engine, and a dispute that uses it.

Same interface and results as the plain-Solidity OneStepVerifier, on chains with INFER: each op runs as
its registered one-op model. Checked byte for byte against the engine on chunks of every op of the
shipped models and on random single ops of every supported kind; `register` rejects op models that do
not match; a tampered MLP dispute over JSON-RPC on the aievm node ends with the submitter slashed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from evm_ext.contracts import model_store, sealed_accounts
from evm_ext.model import decode_model, load_model
from evm_ext.vm.forks import CancunInferVM
from nodes.opml.client import op_model
from nodes.opml.commitment import CHUNK
from nodes.opml.trace import trace
from tests.opml_fixtures import ADDRESSES, PlainChain, decode, encode
from tests.test_opml_kernels import KINDS, SHIPPED, _random_op

ROOT = Path(__file__).resolve().parent.parent


def _store(label: str, index: int | str) -> bytes:
    return keccak(f"{label} {index}".encode())[:20]


def _accounts(stores: dict[bytes, bytes]) -> dict:
    accounts = {}
    for address, data in stores.items():
        m = decode_model(data)
        accounts |= sealed_accounts(data, address, ADDRESSES[0], m.input_size, m.output_size)
    return accounts


def _call(chain, address, fn: str, *args):
    _, computation = chain.send(address, encode("InferOneStep", fn, *args))
    assert computation.is_success, (fn, computation.error)
    return decode("InferOneStep", fn, computation.output) if computation.output else None


def _reverts(chain, address, fn: str, args: tuple, error: str, *params) -> None:
    _, computation = chain.send(address, encode("InferOneStep", fn, *args))
    assert not computation.is_success
    types = error[error.index("(") + 1 : -1].split(",")
    assert computation.output == keccak(error.encode())[:4] + abi_encode(types, list(params))


@pytest.mark.parametrize("path", SHIPPED)
def test_infer_verifier_matches_the_engine_on_the_shipped_models(path):
    model = load_model(ROOT / "models" / path)
    stores = {_store(path, -1): model.encode()}
    stores |= {_store(path, k): op_model(model, k) for k, op in enumerate(model.ops) if len(op.inputs) == 1}
    stores |= {_store(path, k): model.encode() for k, op in enumerate(model.ops) if len(op.inputs) > 1}
    wrong = bytearray(op_model(model, 0))
    wrong[len(wrong) // 2] ^= 1  # a weight (or, for a small conv, a parameter) of op 1
    stores[_store(path, "wrong")] = bytes(wrong)
    chain = PlainChain(_accounts(stores), vm_class=CancunInferVM)
    verifier = chain.deploy("InferOneStep", model_store().runtime_code_hash, chain.deploy("OneStepVerifier"))
    main = _store(path, -1)
    x = np.random.default_rng(11).integers(-128, 128, model.input_size).astype(np.int8).tobytes()
    values = trace(model, x)
    _reverts(
        chain,
        verifier,
        "chunk",
        (main, 0, [values[0]], 0),
        "NotRegistered(address,uint256)",
        "0x" + main.hex(),
        0,
    )
    for k, op in enumerate(model.ops):
        if len(op.inputs) == 1:
            _call(chain, verifier, "register", main, k, _store(path, k))
        else:  # forwarded to the plain verifier
            _reverts(
                chain,
                verifier,
                "register",
                (main, k, _store(path, k)),
                "NotTheOp(string)",
                "a two-input op runs on the plain verifier",
            )
        n = -(-op.out.size // CHUNK)
        for j in sorted({0, n // 2, n - 1}):
            got = _call(chain, verifier, "chunk", main, k, [values[i] for i in op.inputs], j)
            assert got == values[k + 1][j * CHUNK : (j + 1) * CHUNK], (path, k, j)
    if len(model.ops) > 1:  # op 2's one-op model is not op 1's
        _reverts(chain, verifier, "register", (main, 0, _store(path, 1)), "NotTheOp(string)", "input value")
    _reverts(chain, verifier, "register", (main, 0, ADDRESSES[1]), "NotTheOp(string)", "not a sealed model")
    _reverts(chain, verifier, "register", (main, 0, _store(path, "wrong")), "NotTheOp(string)", "op bytes")


def test_infer_verifier_matches_the_engine_on_random_ops():
    models = {(kind, seed): _random_op(kind, seed) for kind in KINDS for seed in range(3)}
    stores = {_store(str(key), 0): m.encode() for key, m in models.items()}
    chain = PlainChain(_accounts(stores), vm_class=CancunInferVM)
    verifier = chain.deploy("InferOneStep", model_store().runtime_code_hash, chain.deploy("OneStepVerifier"))
    for key, model in models.items():
        address = _store(str(key), 0)
        k = len(model.ops) - 1
        if len(model.ops) == 1:
            _call(chain, verifier, "register", address, 0, address)  # a one-op model is its own op model
        x = np.random.default_rng(key[1]).integers(-128, 128, model.input_size).astype(np.int8).tobytes()
        values = trace(model, x)
        xs, expected = [values[i] for i in model.ops[-1].inputs], model.run_bytes(x)
        for j in range(-(-len(expected) // CHUNK)):
            assert (
                _call(chain, verifier, "chunk", address, k, xs, j) == expected[j * CHUNK : (j + 1) * CHUNK]
            ), key


def test_tampered_mlp_dispute_with_the_infer_verifier_over_json_rpc():
    from nodes.chain import open_chain
    from nodes.deploy import deploy_model
    from nodes.opml.client import Party, deploy_game
    from nodes.opml.demo import INFER_DEMO_PARAMS, mnist_input, play
    from nodes.runner import BackgroundNode

    with BackgroundNode(open_chain(None)) as node:
        model = load_model(ROOT / "models/mnist_mlp/mnist_mlp.aiem")
        address = deploy_model(model.encode(), node.url, progress=False).address
        game = deploy_game(Party(node.url), INFER_DEMO_PARAMS, "infer")
        sub, ch, _ = play(
            node.url, game, address, model, mnist_input(model, 5), tamper_op=1, log=lambda _: None
        )
        assert sub.game.uses_infer and sub.game.submission(sub.sid)["state"] == 3  # submitter slashed
        assert 0 < ch.proof_gas < 500_000
