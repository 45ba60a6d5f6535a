"""debug_traceTransaction / debug_traceCall: geth's default struct logger and its `callTracer`.

A trace re-executes on a VM whose computation class wraps every opcode (`tracing_vm`): the wrapper
records the step before the opcode runs (pc, op, gas left, depth, stack, optionally memory) and its
cost after (gas left before minus after, so a CALL's cost includes what its callee used and did not
return, and INFER's is everything INFER charges). Tracing changes no result: the wrapped opcodes are
py-evm's own, called the same way. INFER and MODELINFO steps carry an extra `infer` / `modelinfo`
object (model address, input and output sizes) that geth-format parsers ignore.

Invariants: a trace never commits anything (the chain replays on a state it throws away); a struct
log is cut at MAX_STEPS steps with an error rather than growing without bound.
"""

from __future__ import annotations

from typing import Any

from eth.abc import ComputationAPI
from eth.exceptions import Halt, Revert

from evm_ext.vm.instructions import INFER, MODELINFO
from nodes import encode
from nodes.errors import error_message
from nodes.pyevm_patches import memory_bytes, own_log_entries, stack_values

MAX_STEPS = 1_000_000
_CALLS = {"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2"}


class TraceTooLong(Exception):
    """The struct log passed MAX_STEPS steps."""


class Tracer:
    """Collects struct-log steps (when `struct_logs`) and which opcode created each child frame."""

    def __init__(self, *, struct_logs: bool, stack: bool = True, memory: bool = False, storage: bool = True):
        self.struct_logs = struct_logs
        self.with_stack, self.with_memory, self.with_storage = stack, memory, storage
        self.enabled = True
        self.mnemonics: dict[int, str] = {}  # filled by tracing_vm
        self.steps: list[dict[str, Any]] = []
        self.frame_kinds: dict[int, str] = {}  # id(child computation) -> CALL / CREATE2 / ...
        self.log_positions: dict[int, int] = {}  # log counter -> calls made before it in its frame
        self._storage: dict[bytes, dict[str, str]] = {}

    def run(self, opcode: int, fn: Any, computation: ComputationAPI) -> None:
        """Run one opcode `fn` on `computation`, recording it."""
        if not self.enabled:
            fn(computation=computation)
            return
        mnemonic = self.mnemonics[opcode]
        children = len(computation.children)
        code = computation.msg.code
        step = self._step(opcode, mnemonic, computation) if self.struct_logs and code else None
        gas_before = computation.get_gas_remaining()
        try:
            fn(computation=computation)
        except (Halt, Revert):  # STOP / RETURN / REVERT: the frame ends, no step error (as geth)
            raise
        except Exception as exc:
            if step is not None:
                step["error"] = str(exc) or type(exc).__name__
            raise
        finally:
            if step is not None:
                step["gasCost"] = max(gas_before - computation.get_gas_remaining(), 0)
                self._after(opcode, step, computation)
            if mnemonic in _CALLS:
                for child in computation.children[children:]:
                    self.frame_kinds[id(child)] = mnemonic
            elif mnemonic.startswith("LOG") and own_log_entries(computation):
                self.log_positions[own_log_entries(computation)[-1][0]] = len(computation.children)

    def _step(self, opcode: int, mnemonic: str, computation: ComputationAPI) -> dict[str, Any]:
        if len(self.steps) >= MAX_STEPS:
            raise TraceTooLong(f"trace longer than {MAX_STEPS} steps")
        stack = stack_values(computation)
        pc = computation.code.program_counter
        code = computation.msg.code
        # py-evm advances the pc past an opcode before running it, except for the STOP it yields at
        # the end of the code (geth logs that one at pc = len(code))
        implicit_stop = opcode == 0 and pc == len(code) and code[-1] != 0
        step: dict[str, Any] = {
            "pc": pc if implicit_stop else pc - 1,
            "op": mnemonic,
            "gas": computation.get_gas_remaining(),
            "gasCost": 0,
            "depth": computation.msg.depth + 1,
        }
        if self.with_stack:
            step["stack"] = [encode.quantity(_int(v)) for v in stack]
        if self.with_memory:
            memory = memory_bytes(computation)
            step["memory"] = [memory[i : i + 32].hex() for i in range(0, len(memory), 32)]
        if opcode == INFER and len(stack) >= 5:
            model, _, in_size, _, out_size = (_int(v) for v in reversed(stack[-5:]))
            step["infer"] = {"model": encode.data(model.to_bytes(32, "big")[12:]),
                             "inputSize": in_size, "outputSize": out_size}
        if self.with_storage and mnemonic in ("SLOAD", "SSTORE") and stack:
            step["_slot"] = _int(stack[-1])
            if mnemonic == "SSTORE" and len(stack) >= 2:
                step["_value"] = _int(stack[-2])
        self.steps.append(step)
        return step

    def _after(self, opcode: int, step: dict[str, Any], computation: ComputationAPI) -> None:
        stack = stack_values(computation)
        if opcode == INFER and "infer" in step and stack and "error" not in step:
            step["infer"]["success"] = bool(_int(stack[-1]))
        if opcode == MODELINFO and stack and "error" not in step:
            packed = _int(stack[-1])
            step["modelinfo"] = {"inputSize": packed >> 128, "outputSize": packed & ((1 << 128) - 1)}
        if "_slot" in step:
            slot = step.pop("_slot")
            storage = self._storage.setdefault(computation.msg.storage_address, {})
            value = step.pop("_value", None)
            if value is None and stack and "error" not in step:
                value = _int(stack[-1])
            if value is not None:
                storage[slot.to_bytes(32, "big").hex()] = value.to_bytes(32, "big").hex()
            step["storage"] = dict(storage)


def _int(value: int | bytes) -> int:
    return value if isinstance(value, int) else int.from_bytes(value, "big")


def tracing_vm(vm_class: type, tracer: Tracer) -> type:
    """`vm_class` whose computations run every opcode through `tracer`."""
    state_class = vm_class.get_state_class()
    base = state_class.computation_class

    def wrap(opcode: int, fn: Any) -> Any:
        def traced(computation: ComputationAPI) -> None:
            tracer.run(opcode, fn, computation)

        # some of py-evm's opcodes are decorated functions whose mnemonic is on the wrapped object
        traced.mnemonic = tracer.mnemonics[opcode] = (  # type: ignore[attr-defined]
            getattr(fn, "mnemonic", None) or fn.__wrapped__.mnemonic
        )
        return traced

    computation_class = base.configure(
        __name__=f"Traced{base.__name__}", opcodes={op: wrap(op, fn) for op, fn in base.opcodes.items()}
    )
    traced_state = state_class.configure(__name__=state_class.__name__, computation_class=computation_class)
    return vm_class.configure(__name__=vm_class.__name__, _state_class=traced_state)


def struct_log_result(tracer: Tracer, computation: ComputationAPI, gas_used: int) -> dict[str, Any]:
    """geth's default tracer result: {gas, failed, returnValue, structLogs}."""
    return {
        "gas": gas_used,
        "failed": computation.is_error,
        "returnValue": encode.data(bytes(computation.output)),
        "structLogs": tracer.steps,
    }


def call_frame(
    tracer: Tracer,
    computation: ComputationAPI,
    *,
    kind: str,
    sender: bytes,
    gas: int,
    gas_used: int,
    with_logs: bool = False,
    only_top: bool = False,
) -> dict[str, Any]:
    """geth's callTracer frame of `computation` and, unless `only_top`, of its children."""
    msg = computation.msg
    frame: dict[str, Any] = {
        "type": kind,
        "from": encode.address(sender),
        "gas": encode.quantity(gas),
        "gasUsed": encode.quantity(gas_used),
        "to": encode.address(msg.storage_address),
        "input": encode.data(bytes(msg.code) if kind in ("CREATE", "CREATE2") else msg.data_as_bytes),
    }
    if kind not in ("STATICCALL", "DELEGATECALL"):
        frame["value"] = encode.quantity(msg.value)
    output = bytes(computation.output)
    if computation.is_error:
        message = error_message(computation)
        frame["error"] = "execution reverted" if isinstance(computation.error, Revert) else message
        if message.startswith("execution reverted: "):
            frame["revertReason"] = message.removeprefix("execution reverted: ")
        if output and isinstance(computation.error, Revert):
            frame["output"] = encode.data(output)
    elif output or kind not in ("CREATE", "CREATE2"):
        frame["output"] = encode.data(output)
    if with_logs and not computation.is_error and own_log_entries(computation):
        frame["logs"] = [
            {"address": encode.address(address), "topics": [encode.topic(t) for t in topics],
             "data": encode.data(data), "position": encode.quantity(tracer.log_positions.get(counter, 0))}
            for counter, address, topics, data in own_log_entries(computation)
        ]
    if not only_top and computation.children:
        frame["calls"] = [
            call_frame(
                tracer, child, kind=tracer.frame_kinds.get(id(child), "CALL"),
                sender=msg.storage_address, gas=child.msg.gas, gas_used=child.get_gas_used(),
                with_logs=with_logs,
            )
            for child in computation.children
        ]
    return frame
