"""Reading a model through the state: header checks, the chunk commitment, and no exception on hostile
bytes."""

from __future__ import annotations

import numpy as np

from evm_ext.contracts import HEADER_SLOT, Header
from evm_ext.model import Model
from evm_ext.model.format import declared_op_count
from evm_ext.model.identity import model_id
from evm_ext.vm.forks import PragueInferVM
from evm_ext.vm.model_cache import MODEL_CACHE
from evm_ext.vm.model_store import (
    MAX_MODEL_BYTES,
    chunk_addresses,
    decode,
    is_model_store,
    read_model,
    read_store,
    verify_chunks,
)
from tests.vm_fixtures import MNIST_MLP, SMALL, STORE, InferChain, store_accounts


def test_hostile_model_bytes_decode_to_none_never_raise():
    rng = np.random.default_rng(7)
    outcomes = {"model": 0, "none": 0}
    chain = InferChain(PragueInferVM, store_accounts(SMALL))
    store = read_store(chain.state, STORE)
    charged = []
    for raw in (SMALL.encode(), MNIST_MLP.encode()):
        for _ in range(150):
            mutated = bytearray(raw)
            if rng.integers(2):
                mutated[rng.integers(len(mutated))] = rng.integers(256)
            else:
                mutated = mutated[: rng.integers(len(mutated))]
            MODEL_CACHE.clear()
            declared_op_count(bytes(mutated))  # never raises either
            model = decode(store, bytes(mutated), charged.append)
            outcomes["none" if model is None else "model"] += 1
            if model is not None:
                assert isinstance(model, Model)
                assert len(model.run_bytes(bytes(model.input_size))) == model.output_size
    MODEL_CACHE.clear()
    assert outcomes["none"] > 50 and outcomes["model"] > 50  # both paths exercised
    assert all(isinstance(amount, int) and amount >= 0 for amount in charged) and any(charged)


def test_header_chunks_and_bytes_are_read_through_the_state():
    raw = MNIST_MLP.encode()
    chain = InferChain(PragueInferVM, store_accounts(MNIST_MLP))
    state = chain.state
    assert is_model_store(state, STORE)
    store = read_store(state, STORE)
    assert (store.address, store.length, store.chunks, store.model_id) == (STORE, len(raw), 3, model_id(raw))
    assert (store.input_size, store.output_size) == (784, 10)
    addresses = chunk_addresses(store)
    assert verify_chunks(state, store, addresses)
    MODEL_CACHE.enabled = False
    try:
        assert read_model(state, store, addresses) == raw
    finally:
        MODEL_CACHE.enabled = True
    too_long = store_accounts(MNIST_MLP)
    too_long[STORE]["storage"][HEADER_SLOT] = Header(MAX_MODEL_BYTES + 1, True, 784, 10).pack()
    assert read_store(InferChain(PragueInferVM, too_long).state, STORE) is None
    assert not is_model_store(state, b"\x42" * 20)
