"""Defaults of a new devnet chain (kept import-light: the CLI reads them to build its --help)."""

DEFAULT_CHAIN_ID = 31337
DEFAULT_BLOCK_GAS_LIMIT = 30_000_000
DEFAULT_FORK = "prague"
GENESIS_BASE_FEE = 1_000_000_000
TEST_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_ACCOUNT_COUNT = 10
DEFAULT_BALANCE = 10_000 * 10**18  # 10,000 ETH each, as Anvil
