"""Errors the toolkit raises on bad input.

`InputError` marks a problem with what the user gave (a graph file, a parameter). The CLI turns it into one
line on stderr and exit status 2; library callers can catch it as a `ValueError`.
"""


class InputError(ValueError):
    """Invalid user input: the message is one line that names the problem."""
