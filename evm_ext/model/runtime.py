"""`Model`: a decoded graph ready to run, with its identity (`evm_ext.model.identity.model_id`)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from functools import cache, cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import ThreadpoolController

from evm_ext.errors import AievmError
from evm_ext.model.errors import ModelFormatError, ModelInputError
from evm_ext.model.format import DEFAULT_LIMITS, BuildHook, Limits, decode_graph, encode_graph
from evm_ext.model.identity import model_id
from evm_ext.model.ops import Conv, MaxPool, Op, OpCost, Value
from evm_ext.model.quantize import quantize

if TYPE_CHECKING:
    from evm_ext.model.lowering import Program

# Batches are run in chunks whose temporaries stay under this many elements (cache-sized: measured 1.4x
# faster per sample than 2**24 on the MNIST CNN and the DCGAN at batch 256).
_CHUNK_ELEMENTS = 1 << 20
# OpenBLAS splits a GEMM across threads from about this many MACs. Measured on the shipped models, that
# is slower (up to 20x for one sample when the cores are busy), so such runs use one BLAS thread.
_THREADED_MACS = 1 << 18


ENGINES = ("compiled", "numpy")


@cache
def engine() -> str:
    """The engine `Model.run` uses: AIEVM_ENGINE ("compiled", the default, or "numpy", the reference);
    "numpy" also when numba cannot be imported. Both give bit-identical results (tested)."""
    name = os.environ.get("AIEVM_ENGINE", "compiled")
    if name not in ENGINES:
        choices = ", ".join(ENGINES)
        raise AievmError(f"AIEVM_ENGINE must be one of {choices}, got {name!r} (unset it for the default)")
    if name == "compiled" and _jit() is None:
        return "numpy"
    return name


@cache
def _jit() -> ModuleType | None:
    """`evm_ext.tensor.jit`, imported on first use (numba takes ~0.4 s to import), or None without numba."""
    try:
        from evm_ext.tensor import jit
    except ImportError:
        return None
    return jit


@cache
def _blas() -> ThreadpoolController:
    """The BLAS libraries loaded in this process (scanned once: a fresh scan costs ~0.3 ms)."""
    return ThreadpoolController().select(user_api="blas")


def _blas_threaded() -> bool:
    """Whether some BLAS may use several threads (a ctypes call per library, < 1 µs)."""
    return any(lib.num_threads > 1 for lib in _blas().lib_controllers)


class Model:
    """An immutable int8 graph: one input value, ops in execution order, the last op's value is the output."""

    def __init__(self, source: Value, ops: list[Op]) -> None:
        if not ops:
            raise ValueError("a model needs at least one op")
        self.source, self.ops = source, tuple(ops)
        self.values = (source, *(op.out for op in ops))
        self.input_shape, self.output_shape = source.shape, ops[-1].out.shape
        self.input_size, self.output_size = source.size, ops[-1].out.size
        peak = max(op.workspace + op.out.size for op in ops)
        self._chunk = max(1, _CHUNK_ELEMENTS // max(peak, 1))
        self._max_macs = max(op.macs for op in ops)

    @cached_property
    def _steps(self) -> list[Step]:
        """The numpy engine's execution steps (built on its first run: INFER runs the compiled engine)."""
        return _plan(self.ops)

    @cached_property
    def raw(self) -> bytes:
        return encode_graph(self.source, list(self.ops))

    def encode(self) -> bytes:
        """Canonical bytes: decode_model(m.encode()) == m and re-encodes to the same bytes."""
        return self.raw

    @cached_property
    def id(self) -> bytes:
        """The model's identity hash: `model_id` of its canonical encoding (the commitment over its code
        chunks that ModelStore.seal() records and INFER checks)."""
        return model_id(self.raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def params(self) -> int:
        return sum(op.params for op in self.ops)

    def op_costs(self) -> list[OpCost]:
        """Per op: kind, MACs and output elements per sample, from shapes only."""
        return [op.cost() for op in self.ops]

    @cached_property
    def program(self) -> Program:
        """The compiled engine's program of this model (`evm_ext.model.lowering`), built on first use."""
        from evm_ext.model.lowering import lower

        return lower(self.source, self.ops)

    def run(self, x_q: np.ndarray) -> np.ndarray:
        """int8 inputs (N, *input_shape) -> int8 outputs (N, *output_shape), on `engine()`."""
        x_q = self._check_input(x_q)
        if engine() == "numpy":
            return self._run_numpy(x_q)
        return self._run_compiled(x_q)

    def run_numpy(self, x_q: np.ndarray) -> np.ndarray:
        """`run` on the numpy engine (the reference the compiled engine is tested against)."""
        return self._run_numpy(self._check_input(x_q))

    def _check_input(self, x_q: np.ndarray) -> np.ndarray:
        x_q = np.asarray(x_q)
        if x_q.dtype != np.int8 or x_q.shape[1:] != self.input_shape:
            raise ModelInputError(
                f"expected int8 input of shape (N, {', '.join(map(str, self.input_shape))}),"
                f" got {x_q.dtype} {x_q.shape}"
            )
        return x_q

    def _run_compiled(self, x: np.ndarray) -> np.ndarray:
        y = np.empty((len(x), *self.output_shape), np.int8)
        _jit().execute(np.ascontiguousarray(x).reshape(-1), y.reshape(-1), *self.program)
        return y

    def _run_numpy(self, x_q: np.ndarray) -> np.ndarray:
        if len(x_q) <= self._chunk:
            return self._run(x_q)
        return np.concatenate([self._run(x_q[i : i + self._chunk]) for i in range(0, len(x_q), self._chunk)])

    def _run(self, x: np.ndarray) -> np.ndarray:
        # Entering the limit costs ~7 µs, so it is skipped when BLAS is single-threaded already.
        if len(x) * self._max_macs >= _THREADED_MACS and _blas_threaded():
            with _blas().limit(limits=1):
                return self._execute(x)
        return self._execute(x)

    def _execute(self, x: np.ndarray) -> np.ndarray:
        values: list[np.ndarray | None] = [x, *(None for _ in self.ops)]
        for run, inputs, out in self._steps:
            values[out] = run([values[i] for i in inputs])
        return values[-1]

    def run_bytes(self, inp: bytes) -> bytes:
        """The INFER semantics: `input_size` int8 bytes in, `output_size` int8 bytes out (one sample)."""
        if len(inp) != self.input_size:
            raise ModelInputError(f"input has {len(inp)} bytes, the model takes {self.input_size}")
        if engine() == "numpy":
            return self._run(np.frombuffer(inp, dtype=np.int8).reshape((1, *self.input_shape))).tobytes()
        # bytes in, a bytearray out: numba takes both as byte buffers, with no numpy wrapper to build
        out = bytearray(self.output_size)
        _jit().execute(inp, out, *self.program)
        return bytes(out)

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float inputs (N, *input_shape) or one sample -> int8, rounding half to even (off-chain only)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape == self.input_shape:
            x = x[None]
        if x.shape[1:] != self.input_shape:
            raise ModelInputError(f"expected input shape {self.input_shape} or (N, ...), got {x.shape}")
        return quantize(x, self.source.scale, self.source.zero_point)

    def dequantize_output(self, y_q: np.ndarray) -> np.ndarray:
        out = self.ops[-1].out
        return (y_q.astype(np.float64) - out.zero_point) * out.scale

    def encode_input(self, x_float: np.ndarray) -> bytes:
        """Quantized input bytes for one sample (or all samples of a batch, concatenated)."""
        return self.quantize_input(x_float).tobytes()

    def decode_output(self, raw: bytes) -> np.ndarray:
        """Dequantized output of one sample's `output_size` bytes."""
        if len(raw) != self.output_size:
            raise ModelInputError(f"output has {len(raw)} bytes, the model produces {self.output_size}")
        return self.dequantize_output(np.frombuffer(raw, dtype=np.int8).reshape(self.output_shape))


Step = tuple[Callable[[list[np.ndarray]], np.ndarray], tuple[int, ...], int]


def _plan(ops: tuple[Op, ...]) -> list[Step]:
    """Execution steps (run, input value indices, output value index): one per op, except that a conv
    read only by the max pool right after it runs fused with it (`Conv.then_max_pool`)."""
    readers = Counter(i for op in ops for i in op.inputs)
    steps: list[Step] = []
    k = 0
    while k < len(ops):
        op, nxt = ops[k], ops[k + 1] if k + 1 < len(ops) else None
        if (
            isinstance(op, Conv)
            and isinstance(nxt, MaxPool)
            and nxt.inputs == (k + 1,)
            and readers[k + 1] == 1
        ):
            steps.append((op.then_max_pool(nxt), op.inputs, k + 2))
            k += 2
        else:
            steps.append((op.run, op.inputs, k + 1))
            k += 1
    return steps


def decode_model(
    data: bytes, limits: Limits = DEFAULT_LIMITS, before_build: BuildHook | None = None
) -> Model:
    """bytes -> Model; ModelFormatError (with byte offset) on any defect or limit violation
    (`before_build`: see `decode_graph`)."""
    return Model(*decode_graph(data, limits, before_build))


def load_model(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Model:
    """Read and strictly decode a .aiem file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelFormatError(f"cannot read model file {path}: {exc.strerror}") from None
    return decode_model(data, limits)
