"""debug_traceTransaction and debug_traceCall with geth's default struct logger or its callTracer
(`{"tracer": "callTracer", "tracerConfig": {"onlyTopCall", "withLog"}}`); struct logger options
disableStack, disableStorage, enableMemory as geth's. See nodes/tracing.py for the formats.

A mixin of RpcHandler (uses its `chain` and `_header`). The node's own traces are the only debugger
for contracts that call infer(): revm-based tools do not know the INFER opcode.
"""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI, ComputationAPI

from nodes import encode
from nodes.chain import CallRequest, DevChain
from nodes.errors import INVALID_PARAMS, TRANSACTION_REJECTED, RpcError
from nodes.params import param, parse_bytes, parse_call_request
from nodes.tracing import Tracer, TraceTooLong, call_frame, struct_log_result, tracing_vm

_TRACERS = (None, "callTracer")
_OPTIONS = {"tracer", "tracerConfig", "disableStack", "disableStorage", "enableMemory", "enableReturnData",
            "timeout", "stateOverrides", "blockOverrides"}


def _tracer(options: Any) -> tuple[Tracer, dict[str, Any]]:
    if options is None:
        options = {}
    if not isinstance(options, dict) or not set(options) <= _OPTIONS:
        known = ", ".join(sorted(_OPTIONS))
        raise RpcError(INVALID_PARAMS, f"invalid trace options {str(options)[:80]!r}; known: {known}")
    name = options.get("tracer")
    if name not in _TRACERS:
        raise RpcError(INVALID_PARAMS, f"unknown tracer {name!r}: this node has the default struct logger "
                       "and callTracer")
    config = options.get("tracerConfig") or {}
    if not isinstance(config, dict):
        raise RpcError(INVALID_PARAMS, "tracerConfig must be an object")
    tracer = Tracer(
        struct_logs=name is None,
        stack=not options.get("disableStack", False),
        memory=bool(options.get("enableMemory", False)),
        storage=not options.get("disableStorage", False),
    )
    return tracer, {"name": name, "config": config}


class DebugMethods:
    chain: DevChain

    def _result(
        self, tracer: Tracer, how: dict[str, Any], computation: ComputationAPI, *, sender: bytes,
        gas: int, gas_used: int,
    ) -> dict[str, Any]:
        if how["name"] is None:
            return struct_log_result(tracer, computation, gas_used)
        kind = "CREATE" if computation.msg.is_create else "CALL"
        return call_frame(
            tracer, computation, kind=kind, sender=sender, gas=gas, gas_used=gas_used,
            with_logs=bool(how["config"].get("withLog")), only_top=bool(how["config"].get("onlyTopCall")),
        )

    def debug_traceTransaction(self, params: list[Any]) -> dict[str, Any]:
        tx_hash = parse_bytes(param(params, 0), "transaction hash", 32)
        location = self.chain.transaction_location(tx_hash)
        if location is None:
            raise RpcError(TRANSACTION_REJECTED, f"transaction 0x{tx_hash.hex()} not found in a mined block")
        return self._trace_mined(*location, param(params, 1, None))

    def debug_traceBlockByNumber(self, params: list[Any]) -> list[dict[str, Any]]:
        """geth's [{txHash, result}] of every transaction of the block (each replayed from the block's
        start, so a block of n transactions costs n(n+1)/2 executions)."""
        tag = param(params, 0)
        if isinstance(tag, str) and len(tag) == 66:
            header = self.chain.header_by_hash(parse_bytes(tag, "block hash", 32))
            if header is None:
                raise RpcError(TRANSACTION_REJECTED, "header not found")
        else:
            header = self._header(tag)
        transactions = self.chain.block(header).transactions
        return [
            {"txHash": encode.data(tx.hash), "result": self._trace_mined(header, i, param(params, 1, None))}
            for i, tx in enumerate(transactions)
        ]

    debug_traceBlockByHash = debug_traceBlockByNumber

    def _trace_mined(self, header: BlockHeaderAPI, index: int, options: Any) -> dict[str, Any]:
        tracer, how = _tracer(options)
        tracer.enabled = False

        def start() -> None:
            tracer.enabled = True

        vm_class = tracing_vm(self.chain.base_vm_class, tracer)
        try:
            computation, gas_used = self.chain.replay(header, index, vm_class, start)
        except TraceTooLong as exc:
            raise RpcError(INVALID_PARAMS, f"{exc}; use the callTracer") from None
        tx = self.chain.block(header).transactions[index]
        return self._result(tracer, how, computation, sender=tx.sender, gas=tx.gas, gas_used=gas_used)

    def debug_traceCall(self, params: list[Any]) -> dict[str, Any]:
        options = param(params, 2, None)
        tracer, how = _tracer(options)
        overrides = options.get("stateOverrides") if isinstance(options, dict) else None
        request: CallRequest = parse_call_request(param(params, 0), overrides)
        header = self._header(param(params, 1, "latest"))
        vm_class = tracing_vm(self.chain.vm_class, tracer)
        try:
            computation = self.chain.trace_call(request, header, vm_class)
        except TraceTooLong as exc:
            raise RpcError(INVALID_PARAMS, f"{exc}; use the callTracer") from None
        gas = request.gas or self.chain.block_gas_limit
        used = gas - computation.get_gas_remaining()
        gas_used = used - min(computation.get_gas_refund(), used // 5)
        return self._result(tracer, how, computation, sender=request.sender, gas=gas, gas_used=gas_used)
