"""A minimal EVM assembler for hand-written contracts (tests, benchmarks, gas calibration).

`assemble("GAS", 5, b"\\x12" * 20, "INFER")`: a str is a mnemonic (py-evm's opcode names plus INFER and
MODELINFO), an int is pushed with the shortest PUSH1..PUSH32 (never PUSH0, so every push costs 3 gas),
bytes are pushed verbatim (PUSHn with n = len).
"""

from __future__ import annotations

from eth.vm import opcode_values

from evm_ext.vm.instructions import INFER, MODELINFO

_EXTRA = {"INFER": INFER, "MODELINFO": MODELINFO}


def opcode(name: str) -> int:
    """The byte value of mnemonic `name`."""
    if name in _EXTRA:
        return _EXTRA[name]
    value = getattr(opcode_values, name, None)
    if not isinstance(value, int):
        raise ValueError(f"unknown mnemonic {name!r}")
    return value


def push(value: int | bytes) -> bytes:
    """PUSHn of `value` (an int as its shortest big-endian form, at least one byte)."""
    raw = value if isinstance(value, bytes) else value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    if not 1 <= len(raw) <= 32:
        raise ValueError(f"cannot push {len(raw)} bytes")
    return bytes([opcode_values.PUSH1 + len(raw) - 1]) + raw


def assemble(*items: str | int | bytes) -> bytes:
    """Bytecode of `items`: mnemonics, ints and bytes to push."""
    return b"".join(bytes([opcode(item)]) if isinstance(item, str) else push(item) for item in items)


def init_code(runtime: bytes) -> bytes:
    """Creation code that deploys `runtime` as is (CODECOPY of the bytes that follow it, then RETURN)."""
    if len(runtime) >= 1 << 16:
        raise ValueError("runtime code too large")
    head = assemble(len(runtime).to_bytes(2, "big"), "DUP1", 12, 0, "CODECOPY", 0, "RETURN")
    return head + runtime
