"""`aievm art`: deploy InferArt and its generator, mint tokens, save their pictures, serve a gallery."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """\
examples:
  aievm node --in-memory &                            # a devnet on http://127.0.0.1:8545
  aievm art deploy --rpc http://127.0.0.1:8545        # generator model + InferArt, remembered per chain
  aievm art mint --rpc http://127.0.0.1:8545 --count 8
  aievm art show --rpc http://127.0.0.1:8545 1 -o token1.png --gas
  aievm art show --rpc http://127.0.0.1:8545 1 2 3 4 5 6 7 8 -o grid.png   # several ids: a grid
  aievm art show --rpc http://127.0.0.1:8545 1 -o t1.png --latent z1.npy
  aievm model run models/cppn/cppn.aiem --input z1.npy   # the same pixels: output byte + 128
  aievm art gallery --rpc http://127.0.0.1:8545 --port 8080   # open http://127.0.0.1:8080/

Deployments are remembered in .aievm/art/<chain id>.json ($AIEVM_ART_DIR); --contract ADDR overrides.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    art = subparsers.add_parser(
        "art",
        help="InferArt: an ERC-721 whose tokenURI draws a 64x64 picture with INFER",
        description="On-chain generative art (docs/art.md): a CPPN generator (models/cppn/cppn.aiem) sealed "
        "in a ModelStore, and InferArt, an OpenZeppelin ERC-721 that stores only each token's seed and whose "
        "tokenURI runs the generator, encodes a PNG and returns base64 JSON metadata.",
        epilog=EXAMPLES,
        formatter_class=fmt,
    )
    art.set_defaults(func=lambda _args: art.print_help())
    sub = art.add_subparsers(dest="art_command", metavar="SUBCOMMAND")

    def command(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=f"example:\n  {example}",
                           formatter_class=fmt)
        p.add_argument("--rpc", default="http://127.0.0.1:8545", help="JSON-RPC URL (default %(default)s)")
        return p

    p = command("deploy", "upload and seal the generator model, deploy InferArt on it",
                "aievm art deploy --rpc http://127.0.0.1:8545")
    p.add_argument("--private-key", help="deployer key (default: dev account 0)")
    p.set_defaults(func=_deploy)

    p = command("mint", "mint tokens (each stores only its seed)",
                "aievm art mint --rpc http://127.0.0.1:8545 --count 8")
    p.add_argument("--count", type=int, default=1, help="how many tokens (default 1)")
    p.add_argument("--private-key", help="minter key (default: dev account 0)")
    p.add_argument("--contract", help="InferArt address (default: the one deployed on this chain)")
    p.set_defaults(func=_mint)

    p = command("show", "decode tokenURI into a PNG (several ids: a grid), print the metadata",
                "aievm art show --rpc http://127.0.0.1:8545 3 -o token3.png")
    p.add_argument("ids", type=int, nargs="+", metavar="ID", help="token id(s)")
    p.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    p.add_argument("--contract", help="InferArt address (default: the one deployed on this chain)")
    p.add_argument("--latent", type=Path, help="also save the float latents as .npy (for `aievm model run`)")
    p.add_argument("--gas", action="store_true", help="measure tokenURI's gas and where it goes (first ID)")
    p.add_argument("--zoom", type=int, default=2, help="grid upscaling (default 2)")
    p.set_defaults(func=_show)

    p = command("gallery", "serve a web page of the minted tokens (the browser reads the chain itself, "
                "so it must reach --rpc)",
                "aievm art gallery --rpc http://127.0.0.1:8545 --port 8080")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    p.add_argument("--contract", help="InferArt address (default: the one deployed on this chain)")
    p.set_defaults(func=_gallery)


def _deploy(args: argparse.Namespace) -> None:
    from nodes.art.contract import deploy, state_dir

    d = deploy(args.rpc, args.private_key)
    print(f"generator: {d.generator} (ModelStore, sealed, model id {d.model_id[:18]}...)")
    where = state_dir() / f"{d.chain_id}.json"
    print(f"InferArt:  {d.contract} on chain {d.chain_id} (remembered in {where})")


def _mint(args: argparse.Namespace) -> None:
    from rich.progress import Progress

    from nodes.art.contract import connect, contract_at, mint

    w3 = connect(args.rpc)
    art = contract_at(w3, args.contract)
    with Progress(transient=True) as bar:
        task = bar.add_task("minting", total=args.count)
        ids = mint(w3, art, args.count, args.private_key, on_minted=lambda _id: bar.advance(task))
    print(f"minted {len(ids)} token(s) of {art.address}: ids {', '.join(map(str, ids))}")


def _show(args: argparse.Namespace) -> None:
    import numpy as np
    from PIL import Image
    from rich.progress import Progress

    from models.cppn import sampling
    from nodes.art.contract import ArtError, connect, contract_at
    from nodes.art.token import decode_token_uri

    w3 = connect(args.rpc)
    art = contract_at(w3, args.contract)
    supply = art.functions.totalSupply().call()
    if missing := [i for i in args.ids if not 1 <= i <= supply]:
        raise ArtError(f"no token {missing[0]}: {art.address} has ids 1..{supply} (`aievm art mint`)")
    images = []
    with Progress(transient=True) as bar:
        task = bar.add_task("tokenURI", total=len(args.ids))
        for token_id in args.ids:
            token = decode_token_uri(art.functions.tokenURI(token_id).call())
            images.append(token.pixels)
            traits = ", ".join(
                f"{a['trait_type']} {str(a['value'])[:10]}" for a in token.metadata["attributes"]
            )
            bar.console.print(f"{token.metadata['name']}: {traits}")
            bar.advance(task)
    if len(images) == 1:
        Image.fromarray(images[0]).save(args.output)
    else:
        sampling.save_grid(np.stack(images), args.output, zoom=args.zoom)
    print(f"wrote {args.output}")
    if args.latent:
        latents = [sampling.dequantize(bytes(art.functions.latent(i).call())) for i in args.ids]
        np.save(args.latent, np.concatenate(latents))
        print(f"wrote {args.latent}: float latents (the INFER input bytes / 127.5)")
    if args.gas:
        _print_gas(art, args.ids[0])


def _print_gas(art, token_id: int) -> None:
    from nodes.art.contract import gas_split

    split = gas_split(art, token_id)
    print(f"gas of token {token_id} (eth_estimateGas of each stage's view function):")
    for stage, gas in split.items():
        print(f"  {stage:<28} {gas:>12,}")


def _gallery(args: argparse.Namespace) -> None:
    from nodes.art.contract import connect, contract_at
    from nodes.art.gallery import serve

    art = contract_at(connect(args.rpc), args.contract)

    def ready(url: str) -> None:
        print(f"gallery: {url} (InferArt {art.address}, node {args.rpc}); Ctrl-C stops", flush=True)

    serve(args.rpc, art.address, args.host, args.port, ready)
