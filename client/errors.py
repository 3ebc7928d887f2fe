"""The errors a REPL command raises for a mistake the user can fix (shown as one line)."""


class ShellError(Exception):
    """A mistake the user can fix, explained in one line (no such local file, not connected...)."""


class UsageError(ShellError):
    """The words do not fit the verb's usage."""
