"""`aievm art` end to end on one in-process node: deploy the CPPN generator and InferArt, mint 8 tokens,
decode every tokenURI (JSON, then PNG with Pillow) and compare the pictures with the integer engine's;
the off-chain reference (`aievm model run`), tokenURI's gas, and the gallery page in headless Chromium.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from itertools import combinations
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from eth_utils import keccak
from PIL import Image

from evm_ext.cli import main
from evm_ext.contracts import model_store
from evm_ext.model import load_model
from evm_ext.model.identity import model_id
from models.cppn import sampling
from nodes.accounts import dev_accounts
from nodes.art.contract import MODEL_PATH, connect, contract_at, gas_split
from nodes.art.token import attributes, decode_token_uri

ROOT = Path(__file__).resolve().parent.parent
TOKENS = 8
ETH_CALL_GAS_CAP = 50_000_000  # geth's and reth's default RPC gas cap
CHROMIUM = Path(os.environ.get("AIEVM_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = ROOT / "build" / "test-artifacts" / "art-gallery.png"
PNG_BYTES = 8 + 25 + (12 + 2 + 5 + 64 * (1 + 64 * 3) + 4) + 12  # signature, IHDR, IDAT, IEND


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    from nodes.chain import open_chain
    from nodes.runner import BackgroundNode

    state = tmp_path_factory.mktemp("art-state")
    patch = pytest.MonkeyPatch()
    patch.setenv("AIEVM_ART_DIR", str(state))
    with BackgroundNode(open_chain(None)) as node:
        assert main(["art", "deploy", "--rpc", node.url]) == 0
        assert main(["art", "mint", "--rpc", node.url, "--count", str(TOKENS)]) == 0
        contract = contract_at(connect(node.url), None)
        uris = {i: contract.functions.tokenURI(i).call() for i in range(1, TOKENS + 1)}
        tokens = {i: decode_token_uri(uri) for i, uri in uris.items()}
        seeds = {i: contract.functions.seedOf(i).call() for i in tokens}
        yield SimpleNamespace(
            url=node.url, contract=contract, uris=uris, tokens=tokens, seeds=seeds, state=state
        )
    patch.undo()


def test_deploy_is_remembered_and_sealed(art):
    (path,) = art.state.glob("*.json")
    remembered = json.loads(path.read_text())
    assert path.name == "31337.json"
    assert remembered["contract"] == art.contract.address
    assert remembered["generator"] == art.contract.functions.generator().call()
    w3 = art.contract.w3
    assert keccak(bytes(w3.eth.get_code(remembered["generator"]))) == model_store().runtime_code_hash
    store = w3.eth.contract(address=remembered["generator"], abi=model_store().abi)
    assert store.functions.isSealed().call()
    assert bytes(store.functions.modelId().call()) == model_id(MODEL_PATH.read_bytes())
    assert remembered["model_id"] == "0x" + model_id(MODEL_PATH.read_bytes()).hex()
    assert store.functions.length().call() == len(MODEL_PATH.read_bytes())
    assert art.contract.functions.totalSupply().call() == TOKENS
    assert art.contract.functions.ownerOf(TOKENS).call() == dev_accounts()[0].address
    assert art.contract.functions.name().call() == "InferArt"


def test_token_uris_decode_to_metadata_and_valid_pngs(art):
    for i, token in art.tokens.items():
        meta = token.metadata
        assert set(meta) == {"name", "description", "attributes", "image"}
        assert meta["name"] == f"InferArt #{i}"
        assert "INFER" in meta["description"]
        assert meta["attributes"] == attributes(art.seeds[i], token.pixels)
        assert len(token.png) == PNG_BYTES
        with Image.open(io.BytesIO(token.png)) as picture:
            picture.verify()  # chunk CRCs included
        chunks = _chunks(token.png)
        assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
        assert chunks[0][1] == struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
        raw = zlib.decompress(chunks[1][1])  # stored blocks and the Adler-32 trailer
        rows = np.frombuffer(raw, np.uint8).reshape(64, 1 + 64 * 3)
        assert (rows[:, 0] == 0).all()
        assert (rows[:, 1:].reshape(64, 64, 3) == token.pixels).all()


def test_token_uris_are_the_documented_bytes(art):
    """The whole tokenURI, byte for byte, from an independent Python writer of the rules in docs/art.md."""
    model = load_model(MODEL_PATH)
    for i, uri in art.uris.items():
        pixels = sampling.pixels(model.run_bytes(sampling.latent_bytes(art.seeds[i])))[0]
        assert uri == _reference_uri(i, art.seeds[i], pixels)


def _reference_uri(token_id: int, seed: int, pixels: np.ndarray) -> str:
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    stream = b"\x78\x01\x01" + struct.pack("<HH", len(raw), len(raw) ^ 0xFFFF) + raw
    stream += struct.pack(">I", zlib.adler32(raw))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")
    metadata = {
        "name": f"InferArt #{token_id}",
        "description": "Drawn on chain by a CPPN generator run with INFER inside tokenURI.",
        "attributes": attributes(seed, pixels),
        "image": "data:image/png;base64," + base64.b64encode(png).decode(),
    }
    text = json.dumps(metadata, separators=(",", ":"))
    return "data:application/json;base64," + base64.b64encode(text.encode()).decode()


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, checking each CRC-32 with zlib's."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        assert struct.unpack(">I", png[at + 8 + length : at + 12 + length])[0] == zlib.crc32(kind + data)
        chunks.append((kind, data))
        at += 12 + length
    return chunks


def test_images_equal_the_engine_and_are_pairwise_distinct(art):
    model = load_model(MODEL_PATH)
    for i, token in art.tokens.items():
        latent = sampling.latent_bytes(art.seeds[i])
        assert bytes(art.contract.functions.latent(i).call()) == latent
        assert (token.pixels == sampling.pixels(model.run_bytes(latent))[0]).all()
    for a, b in combinations(art.tokens.values(), 2):
        difference = np.abs(a.pixels.astype(np.int16) - b.pixels.astype(np.int16)).mean()
        assert difference > 10, f"two tokens are nearly the same picture (mean difference {difference:.1f})"
    assert len({token.metadata["attributes"][0]["value"] for token in art.tokens.values()}) == TOKENS


def test_off_chain_reference_run_gives_the_same_pixels(art, tmp_path, capsys):
    png, latent = tmp_path / "token3.png", tmp_path / "z3.npy"
    assert main(["art", "show", "--rpc", art.url, "3", "-o", str(png), "--latent", str(latent)]) == 0
    assert "InferArt #3: Seed 0x" in capsys.readouterr().out
    shown = np.asarray(Image.open(png).convert("RGB"))
    assert (shown == art.tokens[3].pixels).all()
    assert main(["model", "run", str(MODEL_PATH), "--input", str(latent)]) == 0
    (hex_line,) = re.findall(r"^0x[0-9a-f]+$", capsys.readouterr().out, re.MULTILINE)
    assert (sampling.pixels(bytes.fromhex(hex_line[2:]))[0] == shown).all()


def test_grid_of_several_tokens(art, tmp_path):
    grid = tmp_path / "grid.png"
    assert main(["art", "show", "--rpc", art.url, "1", "2", "-o", str(grid), "--zoom", "1"]) == 0
    picture = np.asarray(Image.open(grid).convert("RGB"))
    assert picture.shape == (68, 4 * 68, 3)
    assert (picture[2:66, 2:66] == art.tokens[1].pixels).all()
    assert (picture[2:66, 70:134] == art.tokens[2].pixels).all()


def test_token_uri_gas_is_far_below_the_eth_call_cap(art):
    split = gas_split(art.contract, 1)
    parts = [gas for stage, gas in split.items() if stage != "tokenURI total"]
    assert sum(parts) == split["tokenURI total"]
    assert split["tokenURI total"] < ETH_CALL_GAS_CAP // 4, split
    assert 0 < split["INFER (+ output buffer)"] < 1_000_000, split
    print(split)


def test_errors_say_what_to_do(art, tmp_path, capsys, monkeypatch):
    assert main(["art", "show", "--rpc", art.url, "99", "-o", str(tmp_path / "x.png")]) == 2
    assert "no token 99" in capsys.readouterr().err
    monkeypatch.setenv("AIEVM_ART_DIR", str(tmp_path / "empty"))
    assert main(["art", "mint", "--rpc", art.url]) == 2
    assert "run `aievm art deploy --rpc URL`" in capsys.readouterr().err
    assert main(["art", "mint", "--rpc", "http://127.0.0.1:9"]) == 2
    assert "cannot reach a node" in capsys.readouterr().err


def test_gallery_page_in_headless_chromium(art):
    if not CHROMIUM.exists():
        if not os.environ.get("CI"):
            pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium; CI installs it in .ci/run)")
        pytest.fail(f"CI is set but {CHROMIUM} is missing: .ci/run installs Debian's chromium")
    assert shutil.which("node"), "node.js is required (make setup installs node_modules)"
    gallery = subprocess.Popen(
        [sys.executable, "-m", "evm_ext.cli", "art", "gallery", "--rpc", art.url, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "AIEVM_ART_DIR": str(art.state), "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = gallery.stdout.readline()
        match = re.match(r"gallery: (http://\S+) ", line)
        assert match, f"the gallery did not start: {line}{gallery.stdout.read() if gallery.poll() else ''}"
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        browser = subprocess.run(
            ["node", str(ROOT / "tests" / "js" / "art_gallery.mjs"), match.group(1), str(SCREENSHOT)],
            capture_output=True, text=True, cwd=ROOT, timeout=600,
        )
    finally:
        gallery.terminate()
        gallery.wait(timeout=30)
    assert browser.returncode == 0, browser.stderr
    seen = json.loads(browser.stdout.strip().splitlines()[-1])
    assert seen["state"] == "done", seen
    assert seen["tokens"] == TOKENS
    assert f"{TOKENS} tokens of {art.contract.address}" in seen["status"]
    assert sorted(image["id"] for image in seen["images"]) == list(range(1, TOKENS + 1))
    for image in seen["images"]:
        assert image["complete"] and image["width"] >= 64 and image["height"] >= 64, image
    assert seen["errors"] == []
    with Image.open(SCREENSHOT) as shot:
        assert shot.width >= 1024
