"""`aievm bench`: INFER against ECRECOVER, plain Solidity, float/TFLite runtimes and over JSON-RPC."""

import evm_ext  # noqa: F401  (first: selects the keccak backend, see evm_ext/__init__.py)
