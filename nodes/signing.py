"""Node-side signing with the node's own accounts (ethers' JsonRpcSigner, permit tests): eth_sign,
personal_sign (EIP-191 personal messages) and eth_signTypedData_v4 (EIP-712), as Anvil and Hardhat.

A mixin of RpcHandler (uses its `accounts`). Only the node's accounts sign: an impersonated address
has no key, so it cannot (as on Anvil), and the error says so.
"""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from nodes import encode
from nodes.errors import INVALID_PARAMS, TRANSACTION_REJECTED, RpcError
from nodes.params import invalid, param, parse_address, parse_bytes


class SigningMethods:
    accounts: dict[bytes, LocalAccount]

    def _sign(self, address: Any, message: SignableMessage) -> str:
        sender = parse_address(address)
        account = self.accounts.get(sender)
        if account is None:
            raise RpcError(
                TRANSACTION_REJECTED,
                f"no key for {to_checksum_address(sender)}: only the node's accounts (eth_accounts) can sign",
            )
        return encode.data(Account.sign_message(message, account.key).signature)

    def eth_sign(self, params: list[Any]) -> str:
        """eth_sign(address, data): the EIP-191 personal-message signature of the bytes `data`."""
        return self._sign(param(params, 0), encode_defunct(parse_bytes(param(params, 1), "message")))

    def personal_sign(self, params: list[Any]) -> str:
        """personal_sign(data, address): eth_sign with the parameters the other way round."""
        return self._sign(param(params, 1), encode_defunct(parse_bytes(param(params, 0), "message")))

    def eth_signTypedData_v4(self, params: list[Any]) -> str:
        """eth_signTypedData_v4(address, typedData): typedData as an object or its JSON text."""
        typed = param(params, 1)
        if isinstance(typed, str):
            try:
                typed = json.loads(typed)
            except ValueError:
                raise invalid("typed data", typed) from None
        if not isinstance(typed, dict) or not {"types", "primaryType", "domain", "message"} <= set(typed):
            raise RpcError(INVALID_PARAMS, "EIP-712 typed data needs types, primaryType, domain and message")
        try:
            message = encode_typed_data(full_message=typed)
        except (ValueError, TypeError, KeyError) as exc:
            raise RpcError(INVALID_PARAMS, f"invalid typed data: {exc}") from None
        return self._sign(param(params, 0), message)
