"""Cancun GeneralStateTests cases that the extension fork is expected NOT to reproduce, by case id.

Filled by the investigation described in docs/conformance.md.
"""

EXPECTED_DIFFERENT: dict[str, str] = {}
