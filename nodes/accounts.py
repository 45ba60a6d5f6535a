"""The dev accounts: the standard test mnemonic (as Anvil and Hardhat), derived with eth-account."""

from __future__ import annotations

import functools

from eth_account import Account
from eth_account.signers.local import LocalAccount

from nodes.defaults import DEFAULT_ACCOUNT_COUNT, DEFAULT_BALANCE, TEST_MNEMONIC  # noqa: F401 (re-exported)

Account.enable_unaudited_hdwallet_features()


@functools.cache
def dev_accounts(
    count: int = DEFAULT_ACCOUNT_COUNT, mnemonic: str = TEST_MNEMONIC
) -> tuple[LocalAccount, ...]:
    """Accounts m/44'/60'/0'/0/i for i < count; the first is 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266."""
    return tuple(
        Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)
    )
