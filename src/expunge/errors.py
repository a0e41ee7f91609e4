"""Exception types: every user-facing error names the problem and the fix."""


class ExpungeError(Exception):
    """Base class for errors raised by expunge."""


class ConfigError(ExpungeError, ValueError):
    """A configuration key is unknown or its value is impossible."""


class DataError(ExpungeError, ValueError):
    """A dataset or forget set is missing, malformed or inconsistent."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """The dataset files could not be found (and could not be downloaded)."""


class RegistryError(ExpungeError, KeyError):
    """A name was looked up in a registry that does not hold it."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""
