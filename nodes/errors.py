"""Errors as clients see them: the JSON-RPC error codes and objects, and geth's wording of a failed
or reverted execution (the message and revert data of eth_call, eth_estimateGas and traces).
"""

from __future__ import annotations

from typing import Any

import eth_abi
import eth_abi.exceptions
from eth.abc import ComputationAPI
from eth.exceptions import Revert

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TRANSACTION_REJECTED = -32000  # geth's code for nonce/funds/gas errors
EXECUTION_REVERTED = 3  # geth/Anvil: eth_call and eth_estimateGas reverts, with the revert data


class RpcError(Exception):
    """An error response: JSON-RPC code, message and optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


class ExecutionReverted(Exception):
    """A call or gas estimate that reverted or failed; `data` is the revert data (may be empty)."""

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message)
        self.data = data


def revert_data(computation: ComputationAPI) -> bytes:
    return bytes(computation.output) if computation.is_error else b""


_ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


def error_message(computation: ComputationAPI) -> str:
    """geth's wording: "execution reverted[: reason]" for REVERT, else the failure kind."""
    error = computation.error
    if not isinstance(error, Revert):
        detail = f": {error}" if str(error) else ""
        return f"execution failed: {type(error).__name__}{detail}"
    output = bytes(computation.output)
    if output[:4] == _ERROR_STRING_SELECTOR:
        try:
            (reason,) = eth_abi.decode(["string"], output[4:])
        except (eth_abi.exceptions.DecodingError, UnicodeDecodeError):
            return "execution reverted"
        return f"execution reverted: {reason}"
    return "execution reverted"
