"""Errors that name a user's mistake; the CLI prints them as one line."""
import errno

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class SlomoError(Exception):
    """Base class for every error that is the user's to fix (bad file, bad argument)."""


class CheckpointError(SlomoError):
    """A checkpoint is missing, corrupt or does not fit the model."""


class InputError(SlomoError, ValueError):
    """An argument or a tensor does not meet its contract."""


class DiskFullError(SlomoError):
    """The disk an output goes to has no space left (or the user's quota is used up)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`): handled like Ctrl-C (work saved or removed), then exit status 143."""


def disk_full(folder) -> DiskFullError:
    """The error that names a full disk, for an output written to `folder`."""
    return DiskFullError(f"the disk holding {folder} is full (no space left on device); free some space "
                         f"and run again")


def os_error_line(e: OSError) -> str:
    """One line for an OSError that escaped: the full disk by name, else the reason and the file."""
    if e.errno in DISK_FULL:
        return str(disk_full(e.filename or "the output"))
    name = f": {e.filename}" if e.filename else ""
    return f"{e.strerror or e}{name}"
