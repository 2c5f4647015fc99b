"""Atomic output: write a temporary file beside the target, then publish it with one rename."""
import os
from pathlib import Path


def publish(tmp, path) -> Path:
    """Rename the finished temporary file `tmp` onto `path`, with the permissions a plain open()
    would have given it (tempfile.mkstemp creates files readable by their owner only)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    return Path(path)
