"""Just enough EVM disassembly to check where an opcode byte really is an instruction.

A byte such as 0xC0 can also occur inside PUSH data or in the CBOR metadata that solc appends; only
a linear sweep that skips PUSH immediates tells instructions from data.
"""

from __future__ import annotations

import re

_PUSH1, _PUSH32 = 0x60, 0x7F


def code_bytes(hex_code: str) -> bytes:
    """Bytecode hex (0x optional) as bytes, unlinked library placeholders read as zero addresses."""
    return bytes.fromhex(re.sub(r"__\$[0-9a-f]{34}\$__", "0" * 40, hex_code.removeprefix("0x")))


def strip_metadata(code: bytes) -> bytes:
    """`code` without solc's trailing CBOR metadata (whose length is the last two bytes), if present."""
    if len(code) < 2:
        return code
    size = int.from_bytes(code[-2:], "big")
    start = len(code) - 2 - size
    # A CBOR map with a few entries: major type 5 (0xa0..0xbf).
    if size and start >= 0 and 0xA0 <= code[start] <= 0xBF:
        return code[:start]
    return code


def instruction_starts(code: bytes) -> list[int]:
    """Offsets of every instruction in a linear sweep (PUSH immediates skipped)."""
    starts = []
    i = 0
    while i < len(code):
        starts.append(i)
        op = code[i]
        i += 1 + (op - _PUSH1 + 1 if _PUSH1 <= op <= _PUSH32 else 0)
    return starts


def opcode_offsets(code: bytes, opcode: int) -> list[int]:
    """Offsets where `opcode` is executed as an instruction (metadata excluded)."""
    body = strip_metadata(code)
    return [i for i in instruction_starts(body) if body[i] == opcode]


def data_occurrences(code: bytes, opcode: int) -> list[int]:
    """Offsets where the byte `opcode` occurs inside PUSH data (metadata excluded)."""
    body = strip_metadata(code)
    starts = set(instruction_starts(body))
    return [i for i, b in enumerate(body) if b == opcode and i not in starts]
