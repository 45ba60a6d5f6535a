"""The committed opml contract build (`evm_ext/contracts/opml/opml.json`) is what its sources compile to."""

from __future__ import annotations

import json

from evm_ext.contracts.opml import ARTIFACT, CONTRACTS, build


def test_rebuild_reproduces_the_committed_artifact():
    committed = json.loads(ARTIFACT.read_text())
    rebuilt = build()
    assert rebuilt["compiler"] == committed["compiler"]
    for name in CONTRACTS:
        assert rebuilt[name] == committed[name], f"{name}: run `python -m evm_ext.contracts.opml`"
    assert len(bytes.fromhex(committed["OneStepVerifier"]["runtime"][2:])) <= 24576  # EIP-170
    assert len(bytes.fromhex(committed["InferOneStep"]["runtime"][2:])) <= 24576
