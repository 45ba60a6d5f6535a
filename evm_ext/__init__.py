"""aievm's EVM extension: an integer tensor engine, the on-chain model format and the INFER fork.

Importing this package selects eth-hash's `pysha3` keccak backend (the `safe-pysha3` C extension,
~3 µs per hash instead of pycryptodome's ~11 µs; a node hashes ~30 times per transfer). eth-hash picks
its backend at the first hash, so this must run before any keccak: `nodes`, `solidity_patch` and
`benchmarks` import this package first. Both backends compute the same keccak-256
(tests/test_node_keccak.py).
"""

import os
from importlib.util import find_spec

if find_spec("sha3") is not None:
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

__version__ = "0.1.0"
