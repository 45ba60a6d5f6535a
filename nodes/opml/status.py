"""`aievm opml status`: one submission's state in plain words."""

from __future__ import annotations

from nodes.opml.agents import FINALIZED, PENDING, SLASHED
from nodes.opml.client import PHASES, Game, OpmlError


def describe(game: Game, sid: int) -> str:
    """pending (window end), challenged (round), finalized, submitter slashed, challenger slashed."""
    if sid >= game.fn.submissionCount().call():
        raise OpmlError(f"no submission {sid} (the game has {game.fn.submissionCount().call()})")
    s = game.submission(sid)
    lost = f"; {s['lost']} challenger slashed" if s["lost"] else ""
    if s["state"] == SLASHED:
        return "submitter slashed"
    if s["state"] == FINALIZED:
        return "finalized" + lost
    assert s["state"] == PENDING
    if s["open"]:
        rounds = []
        for ev in game.events("Challenged", 0, game.block(), id=sid):
            c = game.challenge(ev["challenge"])
            if c["phase"] < 5:
                rounds.append(
                    f"challenge {ev['challenge']} in round {c['phase']} of 4 ({PHASES[c['phase']]}, "
                    f"due by block {c['deadline']})"
                )
        return "challenged: " + "; ".join(rounds)
    if s["lost"]:
        return f"challenger slashed; pending (the window closes at block {s['window_end']})"
    return f"pending (the window closes at block {s['window_end']})"
