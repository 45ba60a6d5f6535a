"""The one base class for errors a user can act on.

Anything raised as an `AievmError` is printed by the CLI as `aievm: error: <message>` (no traceback),
so its message must say what went wrong and what to do about it.
"""


class AievmError(Exception):
    """A user-facing error: bad input, missing file, unreachable node, unsupported model..."""
