"""Byte-level reading and writing of the model format: little-endian fixed-width fields.

`Reader` checks every length against the bytes left BEFORE slicing, and reports the byte offset of any
defect in its `ModelFormatError`.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from evm_ext.model.errors import ModelFormatError

_U8 = struct.Struct("<B")
_I8 = struct.Struct("<b")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_F64 = struct.Struct("<d")


class Reader:
    """Sequential strict reader over immutable bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    def fail(self, message: str, offset: int | None = None) -> ModelFormatError:
        """The error to raise for a defect at `offset` (default: the current position)."""
        return ModelFormatError(f"{message} (at byte offset {self.pos if offset is None else offset})")

    def check(self, condition: bool, message: str, offset: int | None = None) -> None:
        if not condition:
            raise self.fail(message, offset)

    def take(self, size: int, what: str) -> bytes:
        left = len(self.data) - self.pos
        if size > left:
            raise self.fail(f"truncated {what}: needs {size} bytes, {left} left")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def _unpack(self, fmt: struct.Struct, what: str) -> int | float:
        return fmt.unpack(self.take(fmt.size, what))[0]

    def u8(self, what: str) -> int:
        return int(self._unpack(_U8, what))

    def i8(self, what: str) -> int:
        return int(self._unpack(_I8, what))

    def u16(self, what: str) -> int:
        return int(self._unpack(_U16, what))

    def u32(self, what: str) -> int:
        return int(self._unpack(_U32, what))

    def flag(self, what: str) -> bool:
        at = self.pos
        value = self.u8(what)
        self.check(value in (0, 1), f"{what} must be 0 or 1, got {value}", at)
        return bool(value)

    def scale(self, what: str) -> float:
        at = self.pos
        value = float(self._unpack(_F64, what))
        self.check(math.isfinite(value) and value > 0, f"{what} must be finite and > 0, got {value!r}", at)
        return value

    def array(self, dtype: type[np.generic], count: int, what: str) -> np.ndarray:
        """`count` little-endian elements (read-only view; the count was bounded by the caller)."""
        dt = np.dtype(dtype).newbyteorder("<")
        return np.frombuffer(self.take(count * dt.itemsize, what), dtype=dt).astype(dtype, copy=False)

    def end(self) -> None:
        self.check(self.pos == len(self.data), f"{len(self.data) - self.pos} trailing bytes after the model")


class Writer:
    """Accumulates the canonical encoding."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def u8(self, value: int) -> None:
        self.parts.append(_U8.pack(value))

    def i8(self, value: int) -> None:
        self.parts.append(_I8.pack(value))

    def u16(self, value: int) -> None:
        self.parts.append(_U16.pack(value))

    def u32(self, value: int) -> None:
        self.parts.append(_U32.pack(value))

    def f64(self, value: float) -> None:
        self.parts.append(_F64.pack(value))

    def array(self, dtype: type[np.generic], values: np.ndarray) -> None:
        self.parts.append(np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes())

    def getvalue(self) -> bytes:
        return b"".join(self.parts)
