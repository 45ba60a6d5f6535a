"""Start and stop a node: in the foreground (`aievm node`) or on a background thread (tests, demo)."""

from __future__ import annotations

import asyncio
import signal
import threading

from aiohttp import web
from eth_account.signers.local import LocalAccount

from nodes.chain import DevChain
from nodes.rpc import RpcHandler
from nodes.server import NodeServer


async def _start(server: NodeServer, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(server.app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    return runner, bound_port


class BackgroundNode:
    """A node serving `chain` on host:port (0 = a free port) from its own thread and event loop.

    Use as a context manager; `url` is the HTTP endpoint, `ws_url` the WebSocket one.
    """

    def __init__(self, chain: DevChain, host: str = "127.0.0.1", port: int = 0, block_time: float = 0.0):
        self.chain = chain
        self.server = NodeServer(RpcHandler(chain, automine=block_time <= 0), block_time=block_time)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="aievm-node", daemon=True)
        self._thread.start()
        self._runner, self.port = asyncio.run_coroutine_threadsafe(
            _start(self.server, host, port), self._loop
        ).result()
        self.url = f"http://{host}:{self.port}"
        self.ws_url = f"ws://{host}:{self.port}"

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        asyncio.run_coroutine_threadsafe(self._loop.shutdown_default_executor(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> BackgroundNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    chain: DevChain, host: str, port: int, block_time: float, on_ready, *, automine: bool = True,
    accounts: tuple[LocalAccount, ...] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, calling on_ready(url) once listening."""
    handler = RpcHandler(chain, automine=automine and block_time <= 0, accounts=accounts)
    server = NodeServer(handler, block_time=block_time)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner, bound = await _start(server, host, port)
        on_ready(f"http://{host}:{bound}")
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
