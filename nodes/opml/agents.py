"""The two off-chain parties of the game, each a poll-driven state machine (`step()` acts on what changed).

Submitter: posts `(model, input, output, root)` with its bond, answers every challenge of its submission
(the value roots, then the disputed op's chunk leaves, all from its own trace), claims timeouts of
challengers that stopped moving, and finalizes after the window.

Challenger: re-runs every new submission with the engine; if its commitment root differs, challenges,
names the first op whose output root differs (its inputs' roots agree), then the first differing chunk,
and sends the one-step proof with that op's input tensors from its own trace. `dishonest` challenges every
submission and disputes op 1, chunk 0 (for tests and demos: its proof reverts and it loses by timeout).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from evm_ext.model import Model, decode_model
from evm_ext.model.errors import ModelFormatError
from nodes.deploy import deploy_model
from nodes.opml.client import Game, MoveReverted, op_model, read_model
from nodes.opml.commitment import commitment_root, leaves, proof, tensor_root
from nodes.opml.trace import trace

PENDING, FINALIZED, SLASHED = 1, 2, 3
REVEAL_ROOTS, PICK_OP, REVEAL_LEAVES, PROVE, ENDED = 1, 2, 3, 4, 5

Log = Callable[[str], None]


@dataclass
class Commitment:
    """One inference's trace, value roots and root."""

    values: list[bytes]
    roots: list[bytes] = field(init=False)
    root: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.roots = [tensor_root(v) for v in self.values]
        self.root = commitment_root(self.roots)


def _move(log: Log, game: Game, name: str, *args, value: int = 0) -> dict | None:
    """Send one move; a move the contract rejects (e.g. a deadline passed meanwhile) is logged, not raised."""
    try:
        return game.transact(name, *args, value=value)
    except MoveReverted as exc:
        log(f"{name} rejected: {exc}")
        return None


class Submitter:
    def __init__(
        self,
        game: Game,
        model_address: str,
        model: Model,
        x: bytes,
        tamper_op: int | None = None,
        log: Log = print,
    ) -> None:
        self.game, self.model_address, self.log = game, model_address, log
        self.commitment = Commitment(trace(model, x, tamper_op))
        self.x = x
        self.sid: int | None = None
        self._since = 0
        self._answered: set[tuple[int, int]] = set()
        self.post_gas = self.finalize_gas = 0

    def post(self) -> int:
        """Send the submission; returns its id."""
        c = self.commitment
        receipt = self.game.transact(
            "submit", self.model_address, self.x, c.values[-1], c.root, value=self.game.submit_bond
        )
        (event,) = self.game.contract.events.Submitted().process_receipt(receipt)
        self.sid, self._since = event["args"]["id"], receipt["blockNumber"]
        self.post_gas = receipt["gasUsed"]
        self.log(
            f"submission {self.sid}: posted, root 0x{c.root.hex()}, window closes at block "
            f"{event['args']['windowEnd']}"
        )
        return self.sid

    def step(self) -> bool:
        """Act on the submission's challenges; returns True once the submission has its outcome."""
        g, sid = self.game, self.sid
        s = g.submission(sid)
        if s["state"] != PENDING:
            return True
        block = g.block()
        for ev in g.events("Challenged", self._since, block, id=sid):
            cid = ev["challenge"]
            c = g.challenge(cid)
            if c["phase"] == REVEAL_ROOTS and (cid, REVEAL_ROOTS) not in self._answered:
                self._answered.add((cid, REVEAL_ROOTS))
                if _move(self.log, g, "revealRoots", cid, self.commitment.roots):
                    self.log(f"challenge {cid}: revealed {len(self.commitment.roots)} value roots")
            elif c["phase"] == REVEAL_LEAVES and (cid, REVEAL_LEAVES) not in self._answered:
                self._answered.add((cid, REVEAL_LEAVES))
                mine = leaves(self.commitment.values[c["op"] + 1])
                if _move(self.log, g, "revealLeaves", cid, self.commitment.roots, mine):
                    self.log(f"challenge {cid}: revealed the {len(mine)} chunk leaves of op {c['op'] + 1}")
            elif c["phase"] in (PICK_OP, PROVE) and block > c["deadline"]:
                if _move(self.log, g, "timeout", cid):
                    self.log(f"challenge {cid}: the challenger missed its move; claimed its bond")
        s = g.submission(sid)
        if s["state"] == PENDING and s["open"] == 0 and g.block() > s["window_end"]:
            receipt = _move(self.log, g, "finalize", sid)
            if receipt:
                self.finalize_gas = receipt["gasUsed"]
                self.log(f"submission {sid}: finalized")
        return g.submission(sid)["state"] != PENDING


class Challenger:
    def __init__(self, game: Game, dishonest: bool = False, log: Log = print, from_block: int = 0) -> None:
        self.game, self.dishonest, self.log = game, dishonest, log
        self._since = from_block
        self._models: dict[str, Model | None] = {}
        # challenge id -> (my trace, block it opened, model address)
        self.mine: dict[int, tuple[Commitment, int, str]] = {}
        self.checked: dict[int, bool] = {}  # submission id -> whether its root was correct
        self._given_up: set[int] = set()
        self.proof_gas = 0  # gas of the last accepted one-step proof

    def _model(self, address: str) -> Model | None:
        if address not in self._models:
            try:
                self._models[address] = decode_model(read_model(self.game.w3, address))
            except ModelFormatError as exc:
                self.log(f"model {address}: cannot decode ({exc}); its submissions are skipped")
                self._models[address] = None
        return self._models[address]

    def _register(self, address: str, k: int) -> None:
        """InferOneStep needs op k's one-op model: deploy it (aievm model deploy) and register it, once."""
        g = self.game
        if int(g.verifier.functions.opModel(address, k).call(), 16):
            return
        party = g.party
        sub = deploy_model(
            op_model(self._models[address], k),
            party.rpc_url,
            private_key=party.account.key.hex(),
            progress=False,
        )
        data = g.verifier.encode_abi("register", args=[address, k, sub.address])
        party.send(g.verifier.address, bytes.fromhex(data[2:]), what="register()")
        self.log(f"op {k + 1} of {address}: deployed its op model {sub.address} for INFER and registered it")

    def step(self) -> None:
        g = self.game
        block = g.block()
        if block >= self._since:
            for ev in g.events("Submitted", self._since, block):
                self._check(ev, block)
            self._since = block + 1
        for cid, (mine, opened, model) in list(self.mine.items()):
            self._play(cid, mine, opened, model)

    def _check(self, ev: dict, block: int) -> None:
        sid = ev["id"]
        model = self._model(ev["model"])
        if model is None or sid in self.checked:
            return
        mine = Commitment(trace(model, bytes(ev["input"])))
        honest = mine.root == bytes(ev["root"])
        self.checked[sid] = honest
        self.log(f"submission {sid}: re-ran the model: root {'matches' if honest else 'DIFFERS'}")
        if (honest and not self.dishonest) or block > ev["windowEnd"]:
            return
        receipt = _move(self.log, self.game, "challenge", sid, value=self.game.challenge_bond)
        if receipt is None:
            return
        (event,) = self.game.contract.events.Challenged().process_receipt(receipt)
        cid = event["args"]["challenge"]
        self.mine[cid] = (mine, receipt["blockNumber"], ev["model"])
        self.log(f"submission {sid}: challenged (challenge {cid}, block {receipt['blockNumber']})")

    def _play(self, cid: int, mine: Commitment, opened: int, model: str) -> None:
        g = self.game
        c = g.challenge(cid)
        block = g.block()
        if c["phase"] != ENDED and cid in self._given_up:
            return
        if c["phase"] == ENDED:
            del self.mine[cid]
            (ev,) = g.events("ChallengeEnded", opened, block, challenge=cid)
            won = "won" if ev["challengerWon"] else "lost"
            self.log(f"challenge {cid}: {won} ({ev['reason']})")
        elif c["phase"] == PICK_OP:
            (ev,) = g.events("RootsRevealed", opened, block, challenge=cid)
            theirs = [bytes(r) for r in ev["roots"]]
            k = (
                0
                if self.dishonest
                else next(i for i in range(1, len(theirs)) if theirs[i] != mine.roots[i]) - 1
            )
            if _move(self.log, g, "pickOp", cid, k):
                self.log(f"challenge {cid}: disputes op {k + 1} (the first output root that differs)")
        elif c["phase"] == PROVE:
            (ev,) = g.events("LeavesRevealed", opened, block, challenge=cid)
            theirs = [bytes(h) for h in ev["leaves"]]
            (roots_ev,) = g.events("RootsRevealed", opened, block, challenge=cid)
            ours = leaves(mine.values[c["op"] + 1])
            j = next((i for i, (a, b) in enumerate(zip(theirs, ours, strict=True)) if a != b), 0)
            inputs = (c["input"], c["input2"])[: c["arity"]]
            if g.uses_infer and c["arity"] == 1:
                self._register(model, c["op"])
            try:  # sent without an eth_call first (that would run the kernel twice); a wrong one reverts
                roots = list(roots_ev["roots"])
                xs = [mine.values[i] for i in inputs]
                receipt = g.transact("prove", cid, roots, j, theirs[j], proof(theirs, j), xs, preflight=False)
                self.proof_gas = receipt["gasUsed"]
                self.log(f"challenge {cid}: one-step proof of chunk {j} of op {c['op'] + 1} accepted")
            except MoveReverted as exc:
                self._given_up.add(cid)
                self.log(f"challenge {cid}: one-step proof rejected ({exc}); giving up")
        elif c["phase"] in (REVEAL_ROOTS, REVEAL_LEAVES) and block > c["deadline"]:
            if _move(self.log, g, "timeout", cid):
                self.log(f"challenge {cid}: the submitter missed its move; claimed the bonds")
