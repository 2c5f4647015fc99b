"""Errors that name a user's mistake; the CLI prints them as one line."""


class SlomoError(Exception):
    """Base class for every error that is the user's to fix (bad file, bad argument)."""


class CheckpointError(SlomoError):
    """A checkpoint is missing, corrupt or does not fit the model."""


class InputError(SlomoError, ValueError):
    """An argument or a tensor does not meet its contract."""
