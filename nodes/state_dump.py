"""anvil_dumpState / anvil_loadState and `aievm node --dump-state / --load-state`: the whole state as
one blob, gzip-compressed JSON (as Anvil's), in this node's own format.

The format holds every trie node reachable from the state root (the account trie, each account's
storage trie) and every account's code, keyed by hash, plus the root: loading it gives back exactly
that state (same root, so same balances, code and storage), on any chain of the same fork. Anvil's
format lists accounts by address instead; the trie does not keep addresses (it is keyed by their
hashes), so this node cannot produce that one.

Invariants: a blob is checked completely (version, every node's hash, the root present) before
anything is written; loading writes the nodes and the new pending root in one database commit.
"""

from __future__ import annotations

import gzip
import io
import json
from typing import TYPE_CHECKING, Any

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth_hash.auto import keccak

from nodes.errors import INVALID_PARAMS, RpcError

if TYPE_CHECKING:
    from nodes.chain import DevChain

FORMAT = "aievm-state-1"
MAX_BLOB_BYTES = 256 * 1024 * 1024  # decompressed


def _trie_nodes(db: Any, root: bytes, nodes: dict[bytes, bytes]) -> list[bytes]:
    """Add the nodes of the trie at `root` to `nodes`; return its leaf values."""
    leaves: list[bytes] = []
    pending: list[Any] = [root]
    while pending:
        ref = pending.pop()
        if isinstance(ref, bytes):
            if ref in (b"", BLANK_ROOT_HASH) or ref in nodes:
                continue
            raw = db[ref]
            nodes[ref] = raw
            node = rlp.decode(raw)
        else:
            node = ref  # a node of under 32 bytes, embedded in its parent
        if len(node) == 17:
            pending.extend(child for child in node[:16] if child)
            if node[16]:
                leaves.append(node[16])
        elif node[0][0] >> 4 in (2, 3):  # leaf (hex-prefix flag)
            leaves.append(node[1])
        else:  # extension
            pending.append(node[1])
    return leaves


def dump_state(chain: DevChain) -> bytes:
    """The pending state as a gzip-compressed JSON blob."""
    root = chain.pending_root
    nodes: dict[bytes, bytes] = {}
    for value in _trie_nodes(chain.db, root, nodes):
        _, _, storage_root, code_hash = rlp.decode(value)
        _trie_nodes(chain.db, storage_root, nodes)
        if code_hash != EMPTY_SHA3:
            nodes[code_hash] = chain.db[code_hash]
    body = {
        "format": FORMAT,
        "fork": chain.fork,
        "stateRoot": "0x" + root.hex(),
        "nodes": {"0x" + k.hex(): "0x" + v.hex() for k, v in sorted(nodes.items())},
    }
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), mtime=0)


def load_state(chain: DevChain, blob: bytes) -> None:
    """Make the state of `blob` (from dump_state) the chain's pending state."""
    try:
        text = gzip.GzipFile(fileobj=io.BytesIO(blob)).read(MAX_BLOB_BYTES + 1)
        body = json.loads(text)
    except (OSError, EOFError, ValueError) as exc:
        raise RpcError(INVALID_PARAMS, f"not a state dump of this node (gzip JSON): {exc}") from None
    if len(text) > MAX_BLOB_BYTES:
        raise RpcError(INVALID_PARAMS, f"state dump larger than {MAX_BLOB_BYTES} bytes")
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise RpcError(INVALID_PARAMS, f"not a state dump of this node: expected format {FORMAT}")
    if body.get("fork") != chain.fork:
        raise RpcError(INVALID_PARAMS, f"the dump is of a {body.get('fork')} chain, this one is {chain.fork}")
    try:
        root = bytes.fromhex(body["stateRoot"][2:])
        nodes = {bytes.fromhex(k[2:]): bytes.fromhex(v[2:]) for k, v in body["nodes"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RpcError(INVALID_PARAMS, f"malformed state dump: {exc}") from None
    for key, value in nodes.items():
        if keccak(value) != key:
            raise RpcError(INVALID_PARAMS, f"malformed state dump: node 0x{key.hex()} does not hash to it")
    if root != BLANK_ROOT_HASH and root not in nodes:
        raise RpcError(INVALID_PARAMS, "malformed state dump: its state root node is missing")
    chain.load_nodes(nodes, root)
