"""Errors the loaders raise; the service turns them into its own user-facing errors.

``loaders`` does not import ``fusion`` (dependencies point one way), so it has its own two::

    SourceError          a whole file cannot be loaded (exit 2 at the command line)
    └── ProfileError     the mapping profile itself is wrong
"""

from __future__ import annotations


class SourceError(Exception):
    """A file cannot be read at all: missing, undecodable, corrupt, required columns absent.

    The message names the file and, where known, the row and column and what was expected.
    """


class ProfileError(SourceError):
    """A mapping profile is missing, not YAML, or describes an impossible mapping."""
