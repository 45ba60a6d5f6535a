"""The aievm devnet node: chain, LMDB database, JSON-RPC/WebSocket server, deployer and demo."""

import evm_ext  # noqa: F401  (first: selects the keccak backend, see evm_ext/__init__.py)
