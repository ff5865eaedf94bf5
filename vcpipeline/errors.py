"""Errors that end a command with one clear line instead of a traceback.

Kept apart from the modules that raise them so the command line can catch them without
importing pandas.
"""

from __future__ import annotations


class UsageError(Exception):
    """A problem with what the user asked for (a bad argument or option)."""


class InputError(ValueError):
    """Input that cannot be used at all (a missing file or column): one clear line for the user."""
