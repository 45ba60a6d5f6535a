"""Whole transactions on models stored as code chunks: a 1 MiB model and the largest allowed one.

For each model, INFER and MODELINFO are sent as real transactions on a PragueInferVM chain (each mined in
its own block), with the node's decoded-model cache off (every transaction on a freshly opened chain over
the same database: what a restarted or syncing node runs) and on (the cache and the chain's account caches
warm). Each row prints the transaction's gas, its CPU time and the ratio of its gas/s to that of a
transaction calling ECRECOVER once, measured in the same process just before it (both pay the same
per-transaction work: signature recovery, intrinsic gas, receipt, block). Gas is the same in both cases,
by construction; a ratio below 0.8x would make the model a denial-of-service risk.

Run: `python -m benchmarks.storage_bench` (`--quick`: the 1 MiB model only, `--json FILE`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth_keys import keys

from benchmarks.calibrate_gas import (
    ecrecover_loop,
    infer_body,
    infer_setup,
    loop,
    modelinfo_loop,
    store_address,
)
from benchmarks.sweep import largest_model
from evm_ext.contracts import sealed_accounts
from evm_ext.model import Model
from evm_ext.model.builder import mlp
from evm_ext.vm.forks import PragueInferVM
from evm_ext.vm.model_cache import MODEL_CACHE

KEY = keys.PrivateKey(b"\x33" * 32)
SENDER = KEY.public_key.to_canonical_address()
ECRECOVER_PROBE = b"\xec" * 20
GAS_LIMIT = 60_000_000  # the genesis block's; each transaction gets TX_GAS
TX_GAS = 30_000_000


def _probe(name: str, kind: str) -> bytes:
    return store_address(f"{kind}:{name}")


class TxBench:
    """A chain holding the models as sealed ModelStores, an INFER and a MODELINFO probe for each."""

    def __init__(self, models: dict[str, Model]) -> None:
        genesis = {SENDER: {"balance": 10**30, "nonce": 0, "code": b"", "storage": {}}}
        genesis[ECRECOVER_PROBE] = {"balance": 0, "nonce": 1, "code": ecrecover_loop(1), "storage": {}}
        for name, model in models.items():
            store = store_address(name)
            accounts = sealed_accounts(model.encode(), store, SENDER, model.input_size, model.output_size)
            genesis.update({a: {"balance": 0, **account} for a, account in accounts.items()})
            infer = loop(b"", 0, infer_setup(model) + infer_body(model, store))
            for kind, code in (("infer", infer), ("modelinfo", modelinfo_loop(store, 1))):
                genesis[_probe(name, kind)] = {"balance": 0, "nonce": 1, "code": code, "storage": {}}
        self.chain_class = MiningChain.configure(vm_configuration=((0, PragueInferVM),), chain_id=1337)
        params = {"difficulty": 0, "gas_limit": GAS_LIMIT, "timestamp": 1, "coinbase": b"\x00" * 20}
        self.db = AtomicDB()
        self.chain = self.chain_class.from_genesis(self.db, params, genesis)
        self.nonce = 0

    def send(self, to: bytes, fresh: bool) -> tuple[int, float]:
        """(gas used, CPU seconds) of one transaction to `to`, mined in its own block; `fresh`: on a chain
        object opened anew over the database (no account or trie cache)."""
        if fresh:
            self.chain = self.chain_class(self.db)
        vm = self.chain.get_vm()
        tx = vm.create_unsigned_transaction(nonce=self.nonce, gas_price=10**9, gas=TX_GAS, to=to,
                                            value=0, data=b"").as_signed_transaction(KEY)
        self.nonce += 1
        start = time.process_time()
        _, receipt, computation = self.chain.apply_transaction(tx)
        seconds = time.process_time() - start
        computation.raise_if_error()
        self.chain.mine_block()
        return receipt.gas_used, seconds


def measure(models: dict[str, Model], rounds: int = 3) -> list[dict]:
    bench = TxBench(models)
    bench.send(ECRECOVER_PROBE, fresh=False)
    rows = []
    for name, model in models.items():
        for kind in ("infer", "modelinfo"):
            for cache in (False, True):
                MODEL_CACHE.enabled = cache
                MODEL_CACHE.clear()
                if cache:
                    bench.send(_probe(name, kind), fresh=False)  # fill the caches
                pairs = []
                for _ in range(rounds):
                    ec_gas, ec_s = bench.send(ECRECOVER_PROBE, fresh=False)
                    gas_used, seconds = bench.send(_probe(name, kind), fresh=not cache)
                    pairs.append((gas_used, seconds, (gas_used / seconds) / (ec_gas / ec_s)))
                rows.append({"model": name, "bytes": len(model.encode()), "op": kind.upper(),
                             "cache": "on" if cache else "off", "tx_gas": pairs[-1][0],
                             "cpu_ms": 1e3 * statistics.median(s for _, s, _ in pairs),
                             "ratio": statistics.median(r for _, _, r in pairs)})
    MODEL_CACHE.enabled = True
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the 1 MiB model")
    parser.add_argument("--json", type=Path, help="write the rows to this JSON file")
    args = parser.parse_args(argv)
    models = {"mlp_1000_1000_10 (1 MiB)": mlp((1000, 1000, 10))}
    if not args.quick:
        models["largest_32mib"] = largest_model()
    rows = measure(models)
    print("| model | bytes | op | cache | tx gas | CPU ms | ratio to ECRECOVER gas/s |")
    print("|---|---:|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['bytes']:,} | {r['op']} | {r['cache']} | {r['tx_gas']:,} "
              f"| {r['cpu_ms']:,.2f} | {r['ratio']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    low = [f"{r['model']} {r['op']} cache {r['cache']}" for r in rows if r["ratio"] < 0.8]
    print(f"below 0.8x: {', '.join(low) or 'none'}")
    return 1 if low else 0


if __name__ == "__main__":
    raise SystemExit(main())
