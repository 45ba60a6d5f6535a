"""ethereum/tests GeneralStateTests runner for the `Cancun` post-states.

Each case is one entry of a test's `post["Cancun"]` list: the pre-state is written to a fresh
in-memory state, the entry's signed transaction (`txbytes`) is applied with the VM under test, and
the resulting state root and logs hash must equal the entry's `hash` and `logs`. Entries marked
`expectException` must be rejected (the state stays untouched) and still match their root.

Invariant: with the extension fork, every case reproduces its root except the ones named in
`evm_ext.conformance_expected` (each with its reason). A listed case that does reproduce its root
is a failure too, so the lists stay exact.

    python -m evm_ext.conformance --all                  # the full suite on all cores
    python -m evm_ext.conformance --sample 500 --seed 1  # a deterministic sample
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import rlp
from eth.abc import BlockHeaderAPI, ComputationAPI, VirtualMachineAPI
from eth.consensus.context import ConsensusContext
from eth.db.atomic import AtomicDB
from eth.db.chain import ChainDB
from eth.precompiles import point_evaluation
from eth.tools._utils.normalization import normalize_account_state
from eth.tools.fixtures import setup_state
from eth.vm.chain_context import ChainContext
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.constants import MAX_BLOB_GAS_PER_BLOCK
from eth.vm.forks.cancun.state import CancunState, get_total_blob_gas
from eth.vm.logic.invalid import InvalidOpcode
from eth_hash.auto import keccak
from eth_utils import ValidationError, decode_hex, to_canonical_address

from evm_ext.conformance_expected import EXPECTED_DIFFERENT
from evm_ext.errors import AievmError
from evm_ext.vm.forks import CancunInferVM
from evm_ext.vm.instructions import INFER_OPCODES

FORK = "Cancun"
CHAIN_ID = 1
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FIXTURES = PROJECT_ROOT.parent / "shared/fixtures/ethereum-tests/GeneralStateTests"

# The VMs under test, by name (workers receive the name).
VMS: dict[str, type[VirtualMachineAPI]] = {"cancun-infer": CancunInferVM, "cancun": CancunVM}
DEFAULT_VM = "cancun-infer"

EMPTY_LOGS_HASH = keccak(rlp.encode([]))

PASSED, FAILED, EXPECTED = "passed", "failed", "expected-different"


@dataclass(frozen=True, order=True)
class Case:
    """One `post["Cancun"][index]` entry of test `test` in fixture file `path` (relative, posix)."""

    path: str
    test: str
    index: int
    label: str  # `d{data}g{gas}v{value}` of the entry's indexes

    @property
    def id(self) -> str:
        return f"{self.path}::{self.test}[{self.label}]"


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: str
    detail: str
    seconds: float


def discover(fixtures: Path) -> list[Case]:
    """All Cancun cases under `fixtures`, sorted (files without a Cancun post-state are skipped)."""
    if not fixtures.is_dir():
        raise AievmError(
            f"fixtures directory {fixtures} not found: pass --fixtures PATH pointing at the "
            "GeneralStateTests folder of ethereum/tests"
        )
    cases = []
    for file in sorted(fixtures.rglob("*.json")):
        relpath = file.relative_to(fixtures).as_posix()
        try:
            for test, fixture in json.loads(file.read_bytes()).items():
                for index, post in enumerate(fixture["post"].get(FORK, ())):
                    idx = post["indexes"]
                    cases.append(Case(relpath, test, index, f"d{idx['data']}g{idx['gas']}v{idx['value']}"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AievmError(f"{file} is not a GeneralStateTests fixture file: {exc!r}") from exc
    return sorted(cases)


def sample(cases: Sequence[Case], n: int, seed: int) -> list[Case]:
    """A deterministic sample of `n` cases (all of them if `n` >= their count), sorted."""
    if n >= len(cases):
        return list(cases)
    return sorted(random.Random(seed).sample(list(cases), n))


@functools.lru_cache(maxsize=4)
def _load(file: Path) -> dict:
    return json.loads(file.read_bytes())


def _ancestor_hashes(block_number: int) -> list[bytes]:
    """BLOCKHASH as the ethereum/tests fillers define it: keccak of the decimal block number."""
    return [keccak(str(n).encode()) for n in range(block_number - 1, max(block_number - 257, -1), -1)]


def _header(vm_cls: type[VirtualMachineAPI], env: dict) -> BlockHeaderAPI:
    def num(key: str) -> int:
        return int(env[key], 16)

    header = vm_cls.create_genesis_header(
        coinbase=to_canonical_address(env["currentCoinbase"]),
        gas_limit=num("currentGasLimit"),
        timestamp=num("currentTimestamp"),
        mix_hash=decode_hex(env["currentRandom"]),
        base_fee_per_gas=num("currentBaseFee"),
        excess_blob_gas=num("currentExcessBlobGas"),
    )
    return header.copy(block_number=num("currentNumber"))


def execute(vm_cls: type[VirtualMachineAPI], fixture: dict, post: dict) -> tuple[bytes, bytes, str]:
    """Apply `post`'s transaction to `fixture`'s pre-state: (state root, logs hash, rejection reason).

    The rejection reason is empty when the transaction was valid and applied.
    """
    header = _header(vm_cls, fixture["env"])
    chaindb = ChainDB(AtomicDB())
    vm = vm_cls(header, chaindb, ChainContext(CHAIN_ID), ConsensusContext(chaindb.db))
    # py-evm takes BLOCKHASH values from the chain DB's ancestors; a state test has none, so the
    # VM's state is built here with the fillers' hashes (VM.build_state is py-evm's own constructor).
    vm._state = vm.build_state(chaindb.db, header, vm.chain_context, _ancestor_hashes(header.block_number))
    setup_state(normalize_account_state(fixture["pre"]), vm.state)
    pre_root = vm.state.state_root
    try:
        tx = vm.get_transaction_builder().decode(decode_hex(post["txbytes"]))
        if get_total_blob_gas(tx) > MAX_BLOB_GAS_PER_BLOCK:  # the rule of the tx's one-tx block
            raise ValidationError("transaction exceeds the block's blob gas limit")
        receipt, _ = vm.apply_transaction(header, tx)
    except Exception as exc:  # a rejected transaction leaves the pre-state (classify() checks it was due)
        if "expectException" not in post:
            raise
        return pre_root, EMPTY_LOGS_HASH, f"{type(exc).__name__}: {exc}"
    vm.state.persist()
    return vm.state.state_root, keccak(rlp.encode(receipt.logs)), ""


def classify(case: Case, vm_name: str, fixtures: Path, explain: bool = False) -> Result:
    """Run `case` with VM `vm_name` and decide its outcome against the expected-different list."""
    start = time.perf_counter()
    fixture = _load(fixtures / case.path)[case.test]
    post = fixture["post"][FORK][case.index]
    try:
        root, logs_hash, rejection = execute(VMS[vm_name], fixture, post)
    except Exception as exc:
        problem = f"unexpected {type(exc).__name__}: {exc}"
    else:
        problem = ""
        if "expectException" in post and not rejection:
            problem = f"transaction accepted, expected {post['expectException']}"
        elif root != decode_hex(post["hash"]):
            problem = f"state root 0x{root.hex()} != expected {post['hash']}"
        elif logs_hash != decode_hex(post["logs"]):
            problem = f"logs hash 0x{logs_hash.hex()} != expected {post['logs']}"
    listed = vm_name == DEFAULT_VM and case.id in EXPECTED_DIFFERENT
    if problem:
        outcome = EXPECTED if listed else FAILED
    elif listed:
        outcome, problem = FAILED, "listed as expected-different but reproduces the post-state"
    else:
        outcome = PASSED
    if explain and outcome != PASSED:
        problem += f" [{diagnose(fixture, post)}]"
    return Result(case, outcome, problem, time.perf_counter() - start)


class _NewOpcodeRecorder(InvalidOpcode):
    """Cancun's invalid-opcode halt, recording "0x<op> in <account>" for each execution in this process."""

    executed: set[str] = set()

    def __call__(self, computation: ComputationAPI) -> None:
        msg = computation.msg
        where = f"{'init code of ' if msg.is_create else ''}0x{msg.storage_address.hex()}"
        self.executed.add(f"0x{self.value:X} in {where}")
        super().__call__(computation)


class _TracingCancunComputation(CancunComputation):
    opcodes = {**CancunComputation.opcodes, **{op: _NewOpcodeRecorder(op) for op in INFER_OPCODES}}


class _TracingCancunState(CancunState):
    computation_class = _TracingCancunComputation


class TracingCancunVM(CancunVM):
    """Plain Cancun semantics; records where the bytes that the extension defines run as opcodes."""

    _state_class = _TracingCancunState


def diagnose(fixture: dict, post: dict) -> str:
    """Why a case differs: whether plain CancunVM reproduces it, and which new opcodes it executes."""
    _NewOpcodeRecorder.executed.clear()
    try:
        root, logs_hash, _ = execute(TracingCancunVM, fixture, post)
        expected = decode_hex(post["hash"]), decode_hex(post["logs"])
        plain = "reproduces" if (root, logs_hash) == expected else "differs"
    except Exception as exc:
        plain = f"raises {type(exc).__name__}"
    ran = ", ".join(sorted(_NewOpcodeRecorder.executed)) or "none"
    return f"plain CancunVM {plain}; new opcodes executed: {ran}"


def _cache_trusted_setup() -> None:
    """Load py-evm's KZG trusted setup once per process instead of on every point-evaluation call.

    py-evm 0.12.1b1 re-reads the setup file on each call (~5 s); the value never changes, so
    memoizing it keeps the precompile's semantics and makes its 164 cases run in normal time.
    """
    if not hasattr(point_evaluation.load_trusted_setup, "cache_info"):
        point_evaluation.load_trusted_setup = functools.cache(point_evaluation.load_trusted_setup)


def _classify_packed(args: tuple[Case, str, Path, bool]) -> Result:
    return classify(*args)


def run(
    cases: Sequence[Case],
    vm_name: str = DEFAULT_VM,
    fixtures: Path = DEFAULT_FIXTURES,
    jobs: int = 1,
    explain: bool = False,
) -> Iterable[Result]:
    """Results of `cases` (in completion order when `jobs` > 1); `explain` diagnoses the non-passing."""
    _cache_trusted_setup()
    work = [(case, vm_name, fixtures, explain) for case in cases]
    if jobs == 1:
        yield from map(_classify_packed, work)
        return
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap_unordered(_classify_packed, work)


def summary(counts: Counter) -> str:
    return f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[EXPECTED]} expected-different"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evm_ext.conformance",
        description=__doc__.split("\n\n")[0] + "\n\nEnds with: N passed, M failed, K expected-different.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python -m evm_ext.conformance --all\n"
            "  python -m evm_ext.conformance --sample 500 --seed 1 --jobs 2\n"
            "  python -m evm_ext.conformance --match stBadOpcode/ --verbose\n"
            "  python -m evm_ext.conformance --all --vm cancun   # plain py-evm CancunVM, no list applies"
        ),
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--all", action="store_true", help="run every Cancun case")
    what.add_argument("--sample", type=_positive, metavar="N", help="run N cases drawn with --seed")
    what.add_argument("--match", metavar="TEXT", help="run the cases whose id contains TEXT")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--vm", choices=sorted(VMS), default=DEFAULT_VM, help=f"default {DEFAULT_VM}")
    parser.add_argument("--jobs", type=_positive, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, help="GeneralStateTests dir")
    parser.add_argument("--verbose", action="store_true", help="print every case, not only failures")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="rerun each non-passing case with a tracing plain CancunVM: does it reproduce the root, "
        "and which of the new opcode bytes (0xC0, 0xC1) does it execute, in which contract",
    )
    args = parser.parse_args(argv)
    try:
        cases = discover(args.fixtures)
    except AievmError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return 2
    if args.sample is not None:
        cases = sample(cases, args.sample, args.seed)
    elif args.match is not None:
        cases = [case for case in cases if args.match in case.id]
    counts: Counter = Counter()
    start = time.monotonic()
    for result in run(cases, args.vm, args.fixtures, args.jobs, args.explain):
        counts[result.outcome] += 1
        if result.outcome == FAILED or args.verbose:
            print(f"{result.outcome} {result.seconds:.2f}s {result.case.id}\t{result.detail}", flush=True)
    print(f"{len(cases)} cases with {args.vm} in {time.monotonic() - start:.0f} s")
    print(summary(counts))
    return 1 if counts[FAILED] else 0


if __name__ == "__main__":
    sys.exit(main())
