"""`aievm art gallery`: a web page of the minted tokens that reads the chain itself.

The server only hands out files: the page (gallery.html), ethers' browser build from the pinned npm
package (node_modules/ethers/dist/ethers.min.js; no CDN) and /config.json (the node's JSON-RPC URL and the
InferArt address). The browser then calls totalSupply, tokenURI and ownerOf over JSON-RPC (the node
answers CORS requests) and decodes each data URI itself, as any NFT client would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from nodes.art.contract import NODE_MODULES, ArtError

PAGE = Path(__file__).resolve().parent / "gallery.html"
ETHERS = NODE_MODULES / "ethers" / "dist" / "ethers.min.js"


def app(rpc_url: str, contract: str) -> web.Application:
    if not ETHERS.is_file():
        raise ArtError(f"{ETHERS} is missing: run `make setup` (npm ci)")
    config = {"rpc": rpc_url, "contract": contract}

    async def page(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})

    async def ethers(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(ETHERS, headers={"Content-Type": "text/javascript; charset=utf-8"})

    async def configuration(_request: web.Request) -> web.Response:
        return web.json_response(config)

    application = web.Application()
    application.router.add_get("/", page)
    application.router.add_get("/ethers.min.js", ethers)
    application.router.add_get("/config.json", configuration)
    return application


def serve(rpc_url: str, contract: str, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve until interrupted, calling on_ready(url) once listening (port 0: any free port)."""

    async def main() -> None:
        runner = web.AppRunner(app(rpc_url, contract), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ArtError(f"cannot listen on {host}:{port}: {exc}; pick another --port") from None
        on_ready(f"http://{host}:{runner.addresses[0][1]}/")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())
