"""`aievm opml ...`: optimistic inference on any EVM chain (docs/optimistic.md)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

EXAMPLES = """\
examples (a devnet: `aievm node --in-memory`, then `aievm model deploy models/mnist_mlp/mnist_mlp.aiem
--rpc http://127.0.0.1:8545` prints the model address):
  aievm opml deploy --rpc http://127.0.0.1:8545            # prints the game address; export it:
  export AIEVM_OPML_GAME=0x...
  aievm opml challenger --rpc http://127.0.0.1:8545        # watcher: re-runs and disputes submissions
  aievm opml submit --rpc http://127.0.0.1:8545 0xMODEL --input digit.npy --defend
  aievm opml submit --rpc http://127.0.0.1:8545 0xMODEL --input digit.npy --tamper-op 1 --defend
  aievm opml status --rpc http://127.0.0.1:8545 0
  aievm opml finalize --rpc http://127.0.0.1:8545 0        # after the window
  aievm opml demo                                          # everything above on a throwaway devnet
  aievm opml demo --verifier infer                         # the one-step proof through INFER
"""

GAME_HELP = "OpmlGame address (default: $AIEVM_OPML_GAME; `aievm opml deploy` prints one)"


def register(subparsers: argparse._SubParsersAction) -> None:
    opml = _command(
        subparsers,
        "opml",
        "optimistic inference: off-chain results secured by a fraud-proof game (any EVM)",
        description="Post inference results computed off chain, with a bond and a Merkle commitment to "
        "every intermediate tensor; a watcher re-runs them and disputes wrong ones: bisection over ops, "
        "then over output chunks, then a one-step proof that recomputes one chunk in plain Solidity.",
    )
    sub = opml.add_subparsers(dest="opml_command", metavar="COMMAND", required=True)

    deploy = _command(sub, "deploy", "deploy the verifier and the game contract", run_deploy)
    _rpc(deploy)
    deploy.add_argument(
        "--window",
        type=int,
        default=20,
        metavar="BLOCKS",
        help="blocks during which a submission can be challenged (20)",
    )
    deploy.add_argument(
        "--move-blocks",
        type=int,
        default=10,
        metavar="BLOCKS",
        help="blocks each party has for its move in a dispute (10)",
    )
    deploy.add_argument("--submit-bond", type=float, default=1.0, metavar="ETH", help="submitter bond (1)")
    deploy.add_argument(
        "--challenge-bond", type=float, default=1.0, metavar="ETH", help="challenger bond (1)"
    )
    _verifier(deploy, "one-step verifier: plain Solidity (any EVM, default) or INFER (aievm chains)")

    submit = _command(sub, "submit", "post a result computed off chain; prints its id", run_submit)
    _rpc(submit, game=True)
    submit.add_argument("model", metavar="MODEL_ADDR", help="address of a sealed ModelStore")
    submit.add_argument(
        "--input",
        required=True,
        type=Path,
        metavar="X.npy",
        help="one sample: int8 (the quantized bytes) or float (quantized with the model's "
        "input parameters); a batch takes --index",
    )
    submit.add_argument("--index", type=int, default=0, help="sample of a batch in X.npy (0)")
    submit.add_argument(
        "--tamper-op",
        type=int,
        metavar="K",
        help="commit a wrong output for op K (1-based, as `aievm model inspect`) and every "
        "op after it: a dishonest submitter, for tests and demos",
    )
    submit.add_argument(
        "--defend",
        action="store_true",
        help="stay running: answer challenges, claim timeouts, finalize after the window",
    )

    watch = _command(
        sub, "challenger", "watch the game, re-run every submission, dispute wrong ones", run_challenger
    )
    _rpc(watch, game=True, account=1)
    watch.add_argument("--from-block", type=int, help="first block to scan (default: the current one)")
    watch.add_argument(
        "--dishonest",
        action="store_true",
        help="challenge every submission, even correct ones (for tests and demos: it loses)",
    )
    watch.add_argument("--poll", type=float, default=0.1, metavar="S", help="seconds between polls (0.1)")

    status = _command(sub, "status", "one submission's state in plain words", run_status)
    _rpc(status, game=True)
    status.add_argument("id", type=int, metavar="ID", help="submission id (printed by submit)")

    finalize = _command(sub, "finalize", "finalize a submission whose window has closed", run_finalize)
    _rpc(finalize, game=True)
    finalize.add_argument("id", type=int, metavar="ID")

    demo = _command(
        sub, "demo", "honest and dishonest submissions end to end on a throwaway devnet", run_demo
    )
    _verifier(demo, "one-step verifier of the game (plain Solidity by default)")


def _command(subparsers: argparse._SubParsersAction, name: str, summary: str, func=None, **kwargs):
    """A (sub-)command with the shared examples epilog; `func` runs it."""
    parser = subparsers.add_parser(
        name, help=summary, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs
    )
    if func is not None:
        parser.set_defaults(func=func)
    return parser


def _verifier(parser: argparse.ArgumentParser, summary: str) -> None:
    parser.add_argument("--verifier", choices=("plain", "infer"), default="plain", help=summary)


def _rpc(parser: argparse.ArgumentParser, game: bool = False, account: int = 0) -> None:
    parser.add_argument(
        "--rpc", required=True, metavar="URL", help="JSON-RPC endpoint, e.g. http://127.0.0.1:8545"
    )
    parser.add_argument("--private-key", metavar="HEX", help=f"signing key (default: dev account {account})")
    parser.set_defaults(account=account)
    if game:
        parser.add_argument(
            "--game", default=os.environ.get("AIEVM_OPML_GAME"), metavar="ADDR", help=GAME_HELP
        )


def _party(args: argparse.Namespace):
    from nodes.accounts import dev_accounts
    from nodes.opml.client import Party

    return Party(args.rpc, args.private_key or dev_accounts()[args.account].key.hex())


def _game(args: argparse.Namespace):
    from nodes.opml.client import Game, OpmlError

    if not args.game:
        raise OpmlError(
            "no game contract: deploy one with `aievm opml deploy --rpc URL`, then pass "
            "--game ADDR or set AIEVM_OPML_GAME"
        )
    return Game(_party(args), args.game)


def run_deploy(args: argparse.Namespace) -> int:
    from nodes.opml.client import GameParams, deploy_game

    params = GameParams(
        args.window, args.move_blocks, int(args.submit_bond * 10**18), int(args.challenge_bond * 10**18)
    )
    print(deploy_game(_party(args), params, args.verifier))
    return 0


def load_input(path: Path, model, index: int) -> bytes:
    """One sample of X.npy as the model's int8 input bytes (see `submit --help`)."""
    import numpy as np

    from nodes.opml.client import OpmlError

    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise OpmlError(f"cannot read {path}: {exc}") from None
    if x.size != model.input_size:
        if x.ndim == 0 or x[0].size != model.input_size or not 0 <= index < len(x):
            raise OpmlError(
                f"{path} has shape {x.shape}: the model takes {model.input_shape} "
                f"(or a batch of them with --index)"
            )
        x = x[index]
    if x.dtype == np.int8:
        return x.tobytes()
    if np.issubdtype(x.dtype, np.floating):
        return model.encode_input(x.reshape(model.input_shape))
    raise OpmlError(f"{path} holds {x.dtype}: give int8 (quantized) or float values")


def run_submit(args: argparse.Namespace) -> int:
    from evm_ext.model import decode_model
    from nodes.opml.agents import Submitter
    from nodes.opml.client import read_model
    from nodes.opml.status import describe

    game = _game(args)
    model = decode_model(read_model(game.w3, args.model))
    x = load_input(args.input, model, args.index)
    log = print if args.defend else (lambda _: None)
    submitter = Submitter(game, args.model, model, x, args.tamper_op, log=log)
    sid = submitter.post()
    if not args.defend:
        print(sid)
        return 0
    print(f"submission id {sid}; defending it until it has its outcome (Ctrl-C to stop)", flush=True)
    while not submitter.step():
        time.sleep(0.1)
    print(f"submission {sid}: {describe(game, sid)}; gas used {game.party.gas_used:,}")
    return 0


def run_challenger(args: argparse.Namespace) -> int:
    from nodes.opml.agents import Challenger

    game = _game(args)
    start = game.block() if args.from_block is None else args.from_block
    role = "dishonest challenger" if args.dishonest else "challenger"
    print(f"{role} {game.party.address} watching game {game.address} from block {start}", flush=True)
    challenger = Challenger(game, args.dishonest, log=lambda m: print(m, flush=True), from_block=start)
    while True:
        challenger.step()
        time.sleep(args.poll)


def run_status(args: argparse.Namespace) -> int:
    from nodes.opml.status import describe

    print(describe(_game(args), args.id))
    return 0


def run_finalize(args: argparse.Namespace) -> int:
    from nodes.opml.client import OpmlError

    game = _game(args)
    if args.id >= game.fn.submissionCount().call():
        raise OpmlError(f"no submission {args.id} (the game has {game.fn.submissionCount().call()})")
    game.transact("finalize", args.id)
    print(f"submission {args.id}: finalized")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from nodes.opml.demo import run_demo as demo

    outcomes = demo(verifier_kind=args.verifier)
    head = ("model", "scenario", "outcome", "rounds", "submitter gas", "challenger gas", "proof gas", "time")
    print(
        f"\n{head[0]:10} {head[1]:21} {head[2]:32} {head[3]:>6} {head[4]:>13} {head[5]:>14} {head[6]:>10} "
        f"{head[7]:>6}"
    )
    for o in outcomes:
        print(
            f"{o.model:10} {o.scenario:21} {o.status:32} {o.rounds:>6} {o.submitter_gas:>13,} "
            f"{o.challenger_gas:>14,} {o.proof_gas:>10,} {o.seconds:>5.1f}s"
        )
    print(
        "rounds: dispute transactions (challenge to proof or timeout); gas: dispute moves only; "
        "time: from the submission to its outcome"
    )
    return 0
