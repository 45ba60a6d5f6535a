"""Decoding of JSON-RPC parameters: each function raises RpcError(INVALID_PARAMS) naming the parameter."""

from __future__ import annotations

from typing import Any

from eth.constants import CREATE_CONTRACT_ADDRESS

from nodes.chain import AccountOverride, CallRequest
from nodes.errors import INVALID_PARAMS, RpcError
from nodes.logs import LogFilter

MAX_OVERRIDDEN_ACCOUNTS = 1000
_OVERRIDE_FIELDS = {"balance", "nonce", "code", "state", "stateDiff"}



def invalid(what: str, value: Any) -> RpcError:
    return RpcError(INVALID_PARAMS, f"invalid {what}: {str(value)[:80]!r}")


def parse_bytes(value: Any, what: str = "data", size: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise invalid(what, value)
    digits = value[2:]
    if len(digits) % 2:
        digits = "0" + digits
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise invalid(what, value) from None
    if size is not None and len(raw) != size:
        raise invalid(what, value)
    return raw


def parse_address(value: Any) -> bytes:
    return parse_bytes(value, "address", 20)


def parse_quantity(value: Any, what: str = "quantity") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if not isinstance(value, str) or not value.startswith(("0x", "0X")) or len(value) > 66:
        raise invalid(what, value)
    try:
        return int(value[2:], 16)
    except ValueError:
        raise invalid(what, value) from None


def param(params: list[Any], index: int, default: Any = ...) -> Any:
    if index < len(params):
        return params[index]
    if default is ...:
        raise RpcError(INVALID_PARAMS, f"missing value for required argument {index}")
    return default


def parse_call_request(obj: Any, overrides: Any = None) -> CallRequest:
    if not isinstance(obj, dict):
        raise invalid("transaction object", obj)
    raw_data = obj.get("input", obj.get("data"))
    gas_price = obj.get("gasPrice", obj.get("maxFeePerGas"))
    return CallRequest(
        overrides=parse_overrides(overrides),
        sender=parse_address(obj["from"]) if obj.get("from") else b"\x00" * 20,
        to=parse_address(obj["to"]) if obj.get("to") else CREATE_CONTRACT_ADDRESS,
        value=parse_quantity(obj.get("value", 0), "value"),
        data=parse_bytes(raw_data) if raw_data is not None else b"",
        gas=parse_quantity(obj["gas"], "gas") if obj.get("gas") is not None else None,
        gas_price=parse_quantity(gas_price, "gasPrice") if gas_price is not None else 0,
    )


def parse_overrides(value: Any) -> tuple[tuple[bytes, AccountOverride], ...]:
    """geth's state override set {address: {balance, nonce, code, state, stateDiff}} (None: none)."""
    if value is None:
        return ()
    if not isinstance(value, dict) or len(value) > MAX_OVERRIDDEN_ACCOUNTS:
        raise invalid("state overrides", value)
    parsed = []
    for address, fields in value.items():
        if not isinstance(fields, dict) or not set(fields) <= _OVERRIDE_FIELDS:
            raise invalid("account override", fields)
        if "state" in fields and "stateDiff" in fields:
            raise RpcError(INVALID_PARAMS, "an account override has either state or stateDiff, not both")
        parsed.append((
            parse_address(address),
            AccountOverride(
                balance=parse_quantity(fields["balance"], "balance") if "balance" in fields else None,
                nonce=parse_quantity(fields["nonce"], "nonce") if "nonce" in fields else None,
                code=parse_bytes(fields["code"], "code") if "code" in fields else None,
                state=_slots(fields["state"]) if "state" in fields else None,
                state_diff=_slots(fields["stateDiff"]) if "stateDiff" in fields else None,
            ),
        ))
    return tuple(parsed)


def _slots(value: Any) -> dict[int, int]:
    if not isinstance(value, dict):
        raise invalid("storage override", value)
    return {
        int.from_bytes(parse_bytes(k, "storage slot", 32), "big"): int.from_bytes(
            parse_bytes(v, "storage value", 32), "big"
        )
        for k, v in value.items()
    }


def parse_log_filter(criteria: dict[str, Any]) -> LogFilter:
    """{address, topics} of eth_getLogs / eth_subscribe("logs") -> LogFilter."""
    addresses = criteria.get("address")
    if addresses is None:
        address_set: frozenset[bytes] = frozenset()
    elif isinstance(addresses, list):
        address_set = frozenset(parse_address(a) for a in addresses)
    else:
        address_set = frozenset([parse_address(addresses)])
    topics = criteria.get("topics") or []
    if not isinstance(topics, list) or len(topics) > 4:
        raise invalid("topics", topics)
    parsed: list[frozenset[int] | None] = []
    for position in topics:
        if position is None:
            parsed.append(None)
        elif isinstance(position, list):  # any of these; an empty list matches anything (as geth)
            values = frozenset(int.from_bytes(parse_bytes(t, "topic", 32), "big") for t in position)
            parsed.append(values or None)
        else:
            parsed.append(frozenset([int.from_bytes(parse_bytes(position, "topic", 32), "big")]))
    return LogFilter(address_set, tuple(parsed))
