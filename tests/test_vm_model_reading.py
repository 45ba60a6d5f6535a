"""Reading a model from storage: header checks, hash verification, and no exception on hostile bytes."""

from __future__ import annotations

import numpy as np
from eth_utils import keccak

from evm_ext.contracts import DATA_BASE, data_words
from evm_ext.model import Model
from evm_ext.vm.forks import PragueInferVM
from evm_ext.vm.model_store import MAX_MODEL_BYTES, read_header, read_model_bytes, verify_and_decode
from tests.vm_fixtures import MNIST_MLP, SMALL, STORE, InferChain, model_store_account


def test_hostile_model_bytes_decode_to_none_never_raise():
    rng = np.random.default_rng(7)
    outcomes = {"model": 0, "none": 0}
    for raw in (SMALL.encode(), MNIST_MLP.encode()):
        for _ in range(150):
            mutated = bytearray(raw)
            if rng.integers(2):
                mutated[rng.integers(len(mutated))] = rng.integers(256)
            else:
                mutated = mutated[: rng.integers(len(mutated))]
            model = verify_and_decode(bytes(mutated), keccak(bytes(mutated)))
            outcomes["none" if model is None else "model"] += 1
            if model is not None:
                assert isinstance(model, Model)
                assert len(model.run_bytes(bytes(model.input_size))) == model.output_size
    assert outcomes["none"] > 50 and outcomes["model"] > 50  # both paths exercised
    assert verify_and_decode(SMALL.encode(), keccak(b"other")) is None
    assert verify_and_decode(SMALL.encode(), SMALL.hash) == SMALL


def test_header_and_bytes_are_read_through_the_state():
    chain = InferChain(PragueInferVM, {STORE: model_store_account(MNIST_MLP.encode())})
    header = read_header(chain.state, STORE)
    raw = MNIST_MLP.encode()
    assert (header.address, header.length, header.recorded_hash) == (STORE, len(raw), keccak(raw))
    assert read_model_bytes(chain.state, STORE, header.length) == raw
    assert chain.state.get_storage(STORE, DATA_BASE + len(data_words(raw)) - 1) == data_words(raw)[-1]
    too_long = model_store_account(raw)
    too_long["storage"][1] = MAX_MODEL_BYTES + 1
    assert read_header(InferChain(PragueInferVM, {STORE: too_long}).state, STORE) is None
