"""Node CPU time per value transfer (eth_sendRawTransaction + eth_getTransactionReceipt, automine).

Two figures, because the machine is shared (load 4-6) and wall clock alone is noisy:

- in-process: JSON bodies through `NodeServer.handle_text` (JSON decode, dispatch, mining, receipt,
  JSON encode; no HTTP), timed with `time.process_time` -> CPU ms per transfer and the rate a free
  core would reach;
- over HTTP: `aievm node --in-memory` in a subprocess driven by `benchmarks.rpc_bench.RpcClient`,
  wall-clock transfers/s and the node process's CPU time per transfer (utime + stime from /proc).

    .venv/bin/python -m benchmarks.node_profile [--transfers 1000] [--profile cprofile.out] [--no-http]

Signing happens before the clock starts. `--profile` writes cProfile stats of the in-process run.
`ETH_HASH_BACKEND=pysha3` (with safe-pysha3 installed) measures the node with the C keccak backend,
which eth-hash does not pick on its own (it prefers pycryptodome, ~11 µs per hash against ~3 µs).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import time

from benchmarks.rpc_bench import RpcClient, _signed, node_process
from nodes.accounts import dev_accounts
from nodes.chain import open_chain
from nodes.rpc import RpcHandler
from nodes.server import NodeServer

_TICKS = os.sysconf("SC_CLK_TCK")
GAS_PRICE = 10_000_000_000


def _transfers(count: int, chain_id: int, start_nonce: int = 0) -> list[str]:
    sender, recipient = dev_accounts()[1], dev_accounts()[2]
    return _signed(count, recipient.address, b"", 21_000, GAS_PRICE, chain_id, start_nonce, sender)


def _body(request_id: int, method: str, param: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": [param]}).encode()


def in_process(count: int, warmup: int, rounds: int, profile_path: str | None) -> dict:
    """CPU and wall time per transfer through handle_text, on an in-memory chain, in `rounds` rounds of
    `count` transfers (the machine is shared: the fastest round is the least disturbed one)."""
    server = NodeServer(RpcHandler(open_chain(None)))
    raw = _transfers(warmup + rounds * count, server.handler.chain.chain_id)

    def transfer(i: int) -> None:
        tx_hash = json.loads(server.handle_text(_body(i, "eth_sendRawTransaction", raw[i])))["result"]
        receipt = json.loads(server.handle_text(_body(i, "eth_getTransactionReceipt", tx_hash)))["result"]
        if receipt["status"] != "0x1":
            raise RuntimeError(f"transfer failed: {receipt}")

    for i in range(warmup):
        transfer(i)
    profiler = cProfile.Profile() if profile_path else None
    cpu_ms, wall_ms = [], []
    for start in range(warmup, warmup + rounds * count, count):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for i in range(start, start + count):
            transfer(i)
        if profiler:
            profiler.disable()
        cpu_ms.append(1e3 * (time.process_time() - cpu0) / count)
        wall_ms.append(1e3 * (time.perf_counter() - wall0) / count)
    if profiler:
        profiler.dump_stats(profile_path)
        pstats.Stats(profile_path).sort_stats("cumulative").print_stats(40)
    return {
        "transfers": rounds * count,
        "cpu_ms_per_transfer": {"min": min(cpu_ms), "median": statistics.median(cpu_ms)},
        "cpu_bound_transfers_per_s": 1e3 / statistics.median(cpu_ms),
        "wall_transfers_per_s": 1e3 / statistics.median(wall_ms),
        "head_state_root": "0x" + server.handler.chain.head.state_root.hex(),
    }


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of process `pid` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICKS, int(fields[12]) / _TICKS  # utime, stime


def over_http(count: int, warmup: int) -> dict:
    """Wall-clock transfers/s and node CPU per transfer against `aievm node --in-memory`."""
    with node_process() as (url, proc):
        rpc = RpcClient(url)
        raw = _transfers(warmup + count, int(rpc("eth_chainId"), 16))

        def run(batch: list[str]) -> None:
            for tx in batch:
                receipt = rpc("eth_getTransactionReceipt", rpc("eth_sendRawTransaction", tx))
                if receipt["status"] != "0x1":
                    raise RuntimeError(f"transfer failed: {receipt}")

        run(raw[:warmup])
        (user0, system0), wall0 = _cpu_seconds(proc.pid), time.perf_counter()
        run(raw[warmup:])
        (user1, system1), wall = _cpu_seconds(proc.pid), time.perf_counter() - wall0
        rpc.close()
    user, system = user1 - user0, system1 - system0
    cpu = user + system
    return {
        "transfers": count,
        "wall_transfers_per_s": count / wall,
        "node_cpu_ms_per_transfer": 1e3 * cpu / count,
        "node_user_ms_per_transfer": 1e3 * user / count,
        "node_system_ms_per_transfer": 1e3 * system / count,
        "node_cpu_bound_transfers_per_s": count / cpu,
        "load_average_1min": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--transfers", type=int, default=1000, help="measured transfers (per round in-process; default 1000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="in-process rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured transfers first (default 100)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the in-process run into FILE")
    parser.add_argument("--no-http", action="store_true", help="skip the subprocess/HTTP measurement")
    args = parser.parse_args()
    results = {"in_process": in_process(args.transfers, args.warmup, args.rounds, args.profile)}
    if not args.no_http:
        results["http"] = over_http(args.transfers, args.warmup)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
