"""Optimistic inference (docs/optimistic.md): off-chain commitment, game client, submitter, challenger."""
