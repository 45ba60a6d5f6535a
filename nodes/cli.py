"""`aievm node` (the JSON-RPC devnet) and `aievm demo` (MNIST on-chain, end to end)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nodes.defaults import (
    DEFAULT_ACCOUNT_COUNT,
    DEFAULT_BALANCE,
    DEFAULT_BLOCK_GAS_LIMIT,
    DEFAULT_CHAIN_ID,
    DEFAULT_FORK,
    GENESIS_BASE_FEE,
    TEST_MNEMONIC,
)

NODE_EXAMPLES = """\
examples:
  aievm node                                # http://127.0.0.1:8545, data in ./.aievm/chain
  aievm node --in-memory --port 8546        # throwaway chain
  aievm node --data-dir /tmp/chain --block-time 2   # mine queued transactions every 2 s
  aievm node --in-memory --accounts 3 --balance 100 --mnemonic "word1 ... word12"
  aievm node --in-memory --no-mining              # queue until evm_mine / anvil_mine
  aievm node --in-memory --dump-state s.gz        # write the state at exit ...
  aievm node --in-memory --load-state s.gz        # ... and start from it again
  aievm node --in-memory --fork cancun --no-infer # stock Cancun: no INFER/MODELINFO, no precompile
  curl -s -X POST -H 'Content-Type: application/json' \\
       -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' http://127.0.0.1:8545

The node prints its funded dev accounts (by default 10 of the mnemonic "test test ... junk", as
Anvil and Hardhat). WebSocket clients connect to ws://HOST:PORT (eth_subscribe newHeads / logs /
newPendingTransactions). --chain-id, --fork, --no-infer, --accounts, --mnemonic, --balance and
--block-base-fee-per-gas shape a NEW chain; a data directory keeps the chain it already holds.
"""

DEPLOY_EXAMPLES = """\
examples:
  aievm model deploy models/mnist_mlp/mnist_mlp.aiem --rpc http://127.0.0.1:8545
  aievm model deploy model.aiem --rpc http://127.0.0.1:8545 --private-key 0xac09...ff80
  aievm model deploy model.aiem --rpc http://127.0.0.1:8545 --address 0x5FbD...0aa3   # resume
"""

DEMO_EXAMPLES = """\
examples:
  aievm demo                 # classify 10 MNIST test digits on-chain
  aievm demo --samples 25
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    node = subparsers.add_parser(
        "node",
        help="run a local JSON-RPC devnet with the INFER opcode",
        description="Run a local Ethereum devnet (like Anvil / Hardhat Network) whose EVM has the INFER "
        "and MODELINFO opcodes. JSON-RPC 2.0 over HTTP and WebSocket on the same port; one block per "
        "transaction unless --block-time is given; chain data persisted in LMDB.",
        epilog=NODE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    node.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    node.add_argument("--port", type=int, default=8545, help="port (default 8545; 0 = any free port)")
    where = node.add_mutually_exclusive_group()
    where.add_argument("--data-dir", default=".aievm/chain", help="LMDB data directory (./.aievm/chain)")
    where.add_argument("--in-memory", action="store_true", help="keep nothing after exit")
    node.add_argument("--chain-id", type=int, default=DEFAULT_CHAIN_ID, help="chain id of a new chain")
    node.add_argument(
        "--block-gas-limit", type=int, default=DEFAULT_BLOCK_GAS_LIMIT, help="gas limit of each block (30M)"
    )
    node.add_argument("--fork", choices=("prague", "cancun"), default=DEFAULT_FORK, help="EVM fork (prague)")
    node.add_argument(
        "--no-infer", action="store_true", help="the stock fork: no INFER/MODELINFO opcodes, no precompile"
    )
    mining = node.add_mutually_exclusive_group()
    mining.add_argument(
        "--block-time", type=float, default=0.0, metavar="S",
        help="mine queued transactions every S seconds instead of one block per transaction",
    )
    mining.add_argument(
        "--no-mining", action="store_true", help="no automine and no interval mining: mine with evm_mine"
    )
    node.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNT_COUNT, metavar="N",
                      help="number of dev accounts (10)")
    node.add_argument(
        "--mnemonic", default=TEST_MNEMONIC, help='BIP-39 mnemonic of the dev accounts ("test ... junk")'
    )
    node.add_argument("--balance", type=int, default=DEFAULT_BALANCE // 10**18, metavar="ETH",
                      help="genesis balance of each dev account, in ETH (10000)")
    node.add_argument("--block-base-fee-per-gas", type=int, default=GENESIS_BASE_FEE, metavar="WEI",
                      help="base fee of the genesis block (1 gwei; 0 for free gas)")
    node.add_argument("--dump-state", type=Path, metavar="FILE", help="write the state to FILE at exit")
    node.add_argument("--load-state", type=Path, metavar="FILE",
                      help="start from a state written by --dump-state or anvil_dumpState")
    node.set_defaults(func=run_node)

    demo = subparsers.add_parser(
        "demo",
        help="start a node, deploy the MNIST model and classify digits on-chain",
        description="End-to-end demo: start an in-memory node on a free loopback port, deploy the shipped "
        "MNIST model into a ModelStore, compile and deploy AIContract (Solidity calling infer()), classify "
        "MNIST test digits through eth_call, print prediction, true label, gas and latency, stop the node.",
        epilog=DEMO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--samples", type=int, default=10, help="how many test digits to classify (10)")
    demo.set_defaults(func=run_demo)


def run_node(args: argparse.Namespace) -> int:
    from nodes.accounts import dev_accounts
    from nodes.chain import ChainConfigError, Genesis, open_chain
    from nodes.errors import RpcError
    from nodes.runner import serve_forever
    from nodes.state_dump import dump_state, load_state

    if args.block_gas_limit < 21_000:
        raise ChainConfigError("--block-gas-limit must be at least 21000")
    if not 1 <= args.accounts <= 1000 or args.balance < 0 or args.block_base_fee_per_gas < 0:
        raise ChainConfigError("--accounts must be 1..1000; --balance, --block-base-fee-per-gas at least 0")
    try:
        accounts = dev_accounts(args.accounts, args.mnemonic)
    except Exception as exc:  # eth-account raises ValidationError for a bad mnemonic
        raise ChainConfigError(f"--mnemonic is not a valid BIP-39 mnemonic: {exc}") from None
    genesis = Genesis(
        accounts=tuple(bytes.fromhex(a.address[2:]) for a in accounts),
        balance=args.balance * 10**18,
        base_fee=args.block_base_fee_per_gas,
    )
    chain = open_chain(
        None if args.in_memory else args.data_dir,
        chain_id=args.chain_id,
        fork=f"{args.fork}-noinfer" if args.no_infer else args.fork,
        block_gas_limit=args.block_gas_limit,
        genesis=genesis,
    )
    if args.load_state is not None:
        try:
            load_state(chain, args.load_state.read_bytes())
        except OSError as exc:
            raise ChainConfigError(f"cannot read --load-state {args.load_state}: {exc.strerror}") from None
        except RpcError as exc:
            raise ChainConfigError(f"--load-state {args.load_state}: {exc.message}") from None

    def ready(url: str) -> None:
        print(f"aievm node listening on {url} (WebSocket: {url.replace('http', 'ws', 1)})")
        storage = "in memory" if args.in_memory else f"LMDB in {args.data_dir}"
        head = chain.head.block_number
        print(f"chain id {chain.chain_id}, fork {chain.fork}, head block {head}, {storage}")
        mining = "no mining (evm_mine)" if args.no_mining else (
            f"a block every {args.block_time} s" if args.block_time > 0 else "one block per transaction")
        print(f"mining: {mining}")
        print(f"\nDev accounts ({args.balance} ETH each at genesis of a new chain):")
        for i, account in enumerate(accounts):
            print(f"  ({i}) {account.address}  private key 0x{account.key.hex().removeprefix('0x')}")
        print("\nCtrl-C to stop.", flush=True)

    try:
        serve_forever(chain, args.host, args.port, args.block_time, ready,
                      automine=not args.no_mining and args.block_time <= 0, accounts=accounts)
        if args.dump_state is not None:
            args.dump_state.write_bytes(dump_state(chain))
            print(f"state written to {args.dump_state}", flush=True)
    finally:
        chain.db.close()
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from nodes.demo import run

    return run(samples=args.samples)


def register_model_deploy(model_subparsers: argparse._SubParsersAction) -> None:
    """Add `deploy` to the `aievm model` subcommands (called by evm_ext/cli.py)."""
    parser = model_subparsers.add_parser(
        "deploy",
        help="upload a .aiem model into a ModelStore contract on a node",
        description="Deploy a ModelStore contract, upload the model as contract-code chunks of 24,575 bytes "
        "(one transaction each; an interrupted upload resumes after the chunks already stored), seal it with "
        "the file's model id (the contract checks it against the chunks' code hashes) and verify the sealed "
        "store against the file. Prints the gas used and the ModelStore address to pass to infer().",
        epilog=DEPLOY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="the model file (.aiem, from `aievm model convert`)")
    parser.add_argument("--rpc", default="http://127.0.0.1:8545", help="node JSON-RPC URL")
    parser.add_argument("--private-key", help="deployer key (default: dev account 0 of the test mnemonic)")
    parser.add_argument("--address", help="resume the upload into this existing ModelStore")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_deploy)


def run_deploy(args: argparse.Namespace) -> int:
    from evm_ext.model import load_model
    from nodes.deploy import DeployError, deploy_model

    if not args.file.is_file():
        raise DeployError(f"no such model file: {args.file}")
    data = load_model(args.file).encode()
    result = deploy_model(
        data, args.rpc, private_key=args.private_key, address=args.address, progress=not args.no_progress
    )
    print(f"model {args.file} ({result.length:,} bytes in {result.chunks} chunks, "
          f"id 0x{result.model_hash.hex()})")
    print(f"sealed in ModelStore {result.address} ({result.transactions} txs, {result.gas_used:,} gas)")
    print(result.address)
    return 0
