"""The one exception type for bad user input.

Every check on user input raises :class:`InputError` with a one-line message that names the
argument and what was expected. The CLI turns it into ``sciml: error: ...`` and exit code 2.
"""


class InputError(ValueError):
    """Bad input from the user: wrong shape, dtype, value, name or file."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`InputError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise InputError(message)
