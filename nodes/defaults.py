"""Defaults of a new devnet chain (kept import-light: the CLI reads them to build its --help)."""

DEFAULT_CHAIN_ID = 31337
DEFAULT_BLOCK_GAS_LIMIT = 30_000_000
DEFAULT_FORK = "prague"
