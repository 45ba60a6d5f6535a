"""`python -m evm_ext.contracts.opml`: rebuild opml.json after editing a .sol file."""

import json

from evm_ext.contracts.opml import ARTIFACT, build

ARTIFACT.write_text(json.dumps(build(), indent=1) + "\n")
print(f"wrote {ARTIFACT}")
