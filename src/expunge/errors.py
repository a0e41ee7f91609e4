"""Exception types: every user-facing error names the problem and the fix.

The command line maps them to exit statuses: an ``ExpungeError`` is bad input (2) unless it
carries its own ``exit_code`` (``RunsFailed``: 1).
"""


class ExpungeError(Exception):
    """Base class for errors raised by expunge."""

    exit_code = 2


class DeterministicError(ExpungeError):
    """The same inputs fail the same way (bad config, bad data, divergence): executors do not retry it."""


class ConfigError(DeterministicError, ValueError):
    """A configuration key is unknown or its value is impossible."""


class DataError(DeterministicError, ValueError):
    """A dataset or forget set is missing, malformed or inconsistent."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """The dataset files could not be found (and could not be downloaded)."""


class RegistryError(DeterministicError, KeyError):
    """A name was looked up in a registry that does not hold it."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class RunsFailed(ExpungeError):
    """Every run of some method failed: the command finished, but scripts and CI must see a failure."""

    exit_code = 1


class OutFolderConflict(ExpungeError):
    """The out folder holds another config's records, or another run holds its lock."""
