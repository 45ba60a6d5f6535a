"""The HTTP + WebSocket JSON-RPC server (aiohttp) in front of an RpcHandler.

One path serves both: POST is JSON-RPC over HTTP (single or batch), a WebSocket upgrade is JSON-RPC
over WebSocket with eth_subscribe("newHeads" | "logs" | "newPendingTransactions") notifications. The
chain runs on the event loop thread: requests are executed one at a time, in arrival order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web
from eth.abc import BlockAPI, ReceiptAPI

from nodes import encode
from nodes.errors import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, RpcError, error_response
from nodes.logs import LogFilter, block_logs
from nodes.rpc import RpcHandler, parse_log_filter

log = logging.getLogger("aievm.node")

FLUSH_SECONDS = 1.0
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 128  # a model chunk of a full 30M-gas block fits with room to spare


def parse_json(body: bytes | str) -> Any:
    """json.loads, refusing nesting deeper than MAX_JSON_DEPTH first.

    py-evm raises the interpreter's recursion limit to 100,000, so the C JSON decoder would recurse
    until the thread's stack overflows (a segfault) on a body like `[[[[...]]]]`.
    """
    raw = body.encode() if isinstance(body, str) else body
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
        depth = deepest = 0
        for bracket in _BRACKETS.findall(_STRINGS.sub(b'""', raw)):
            depth += 1 if bracket in b"[{" else -1
            deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH}")
    return json.loads(raw)


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Subscriptions:
    """The eth_subscribe subscriptions of one WebSocket connection."""

    _ids = itertools.count(1)

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self.send = send
        self.heads: set[str] = set()
        self.pending: set[str] = set()
        self.logs: dict[str, LogFilter] = {}

    def subscribe(self, params: list[Any]) -> str:
        kind = params[0] if params else None
        sub_id = hex(next(self._ids) + (1 << 64))
        if kind == "newHeads":
            self.heads.add(sub_id)
        elif kind == "newPendingTransactions":
            self.pending.add(sub_id)
        elif kind == "logs":
            criteria = params[1] if len(params) > 1 else {}
            if not isinstance(criteria, dict):
                raise RpcError(INVALID_PARAMS, "logs subscription needs a filter object")
            self.logs[sub_id] = parse_log_filter(criteria)
        else:
            raise RpcError(
                INVALID_PARAMS, f"unsupported subscription {kind!r} (newHeads, logs, newPendingTransactions)"
            )
        return sub_id

    def unsubscribe(self, params: list[Any]) -> bool:
        sub_id = params[0] if params else None
        found = sub_id in self.heads or sub_id in self.logs or sub_id in self.pending
        self.heads.discard(sub_id)
        self.pending.discard(sub_id)
        self.logs.pop(sub_id, None)
        return found

    def notifications(
        self, handler: RpcHandler, block: BlockAPI, receipts: tuple[ReceiptAPI, ...]
    ) -> list[str]:
        out = []
        if self.heads:
            head = encode.header_json(block.header)
            out += [_notification(s, head) for s in sorted(self.heads)]
        for sub_id, log_filter in self.logs.items():
            entries = block_logs(handler.chain, block.header, log_filter, block, receipts)
            out += [_notification(sub_id, encode.log_json(e)) for e in entries]
        return out


async def _send_quietly(send: Callable[[str], Awaitable[None]], text: str) -> None:
    """Send a notification; a client that went away meanwhile is not an error."""
    try:
        await send(text)
    except (ConnectionError, RuntimeError):
        pass


def _notification(sub_id: str, result: Any) -> str:
    params = {"subscription": sub_id, "result": result}
    return _dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": params})


class NodeServer:
    """aiohttp application serving `handler`; `block_time` > 0 mines queued transactions on a timer."""

    def __init__(self, handler: RpcHandler, *, block_time: float = 0.0) -> None:
        self.handler = handler
        self.block_time = block_time
        self.connections: set[_Subscriptions] = set()
        self.app = web.Application(client_max_size=MAX_BODY_BYTES)
        self.app.router.add_route("*", "/", self.serve)
        self.app.on_startup.append(self._start_tasks)
        self.app.on_cleanup.append(self._stop_tasks)
        handler.chain.listeners.append(self._on_block)
        handler.pending_listeners.append(self._on_pending)
        self._tasks: list[asyncio.Task] = []

    async def serve(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._serve_ws(request)
        if request.method == "OPTIONS":
            return web.Response(headers=_CORS)
        if request.method != "POST":
            return web.Response(text="aievm JSON-RPC node: POST JSON-RPC 2.0 requests here\n", headers=_CORS)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            error = RpcError(INVALID_REQUEST, f"request body larger than {MAX_BODY_BYTES} bytes")
            return web.json_response(error_response(None, error), status=413, headers=_CORS, dumps=_dumps)
        response = self.handle_text(body)
        if response is None:
            return web.Response(status=204, headers=_CORS)
        return web.Response(text=response, content_type="application/json", headers=_CORS)

    def handle_text(self, body: bytes | str, subscriptions: _Subscriptions | None = None) -> str | None:
        try:
            payload = parse_json(body)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            return _dumps(error_response(None, RpcError(PARSE_ERROR, f"parse error: {exc}")))
        if subscriptions is not None and isinstance(payload, dict):
            method = payload.get("method")
            if method in ("eth_subscribe", "eth_unsubscribe"):
                params = payload.get("params") or []
                try:
                    call = subscriptions.subscribe if method == "eth_subscribe" else subscriptions.unsubscribe
                    result = call(params if isinstance(params, list) else [])
                except RpcError as exc:
                    return _dumps(error_response(payload.get("id"), exc))
                return _dumps({"jsonrpc": "2.0", "id": payload.get("id"), "result": result})
        response = self.handler.handle(payload)
        return None if response is None else _dumps(response)

    async def _serve_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=MAX_BODY_BYTES, heartbeat=30)
        await ws.prepare(request)
        subscriptions = _Subscriptions(ws.send_str)
        self.connections.add(subscriptions)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    response = self.handle_text(message.data, subscriptions)
                    if response is not None:
                        await ws.send_str(response)
                elif message.type == WSMsgType.BINARY:
                    await ws.send_str(self.handle_text(message.data, subscriptions) or "")
        finally:
            self.connections.discard(subscriptions)
        return ws

    def _on_block(self, block: BlockAPI, receipts: tuple[ReceiptAPI, ...]) -> None:
        for subscriptions in list(self.connections):
            for text in subscriptions.notifications(self.handler, block, receipts):
                asyncio.ensure_future(_send_quietly(subscriptions.send, text))

    def _on_pending(self, tx_hash: bytes) -> None:
        for subscriptions in list(self.connections):
            for sub_id in sorted(subscriptions.pending):
                text = _notification(sub_id, encode.data(tx_hash))
                asyncio.ensure_future(_send_quietly(subscriptions.send, text))

    async def _start_tasks(self, app: web.Application) -> None:
        self._tasks.append(asyncio.create_task(self._flush_every()))
        if self.block_time > 0:
            self._tasks.append(asyncio.create_task(self._mine_every()))

    async def _stop_tasks(self, app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()

    async def _flush_every(self) -> None:
        """fsync the database once a second if it changed (commits do not wait for the disk); the
        fsync runs on a worker thread so that requests are not held up behind the disk."""
        loop = asyncio.get_running_loop()
        db = self.handler.chain.db
        flushed = db.commits
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if db.commits != flushed:
                flushed = db.commits
                await loop.run_in_executor(None, db.flush)

    async def _mine_every(self) -> None:
        while True:
            await asyncio.sleep(self.block_time)
            try:
                self.handler.mine_pool()
            except Exception:
                log.exception("interval mining failed")


_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
}
