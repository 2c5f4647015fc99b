"""Safe output: what a command writes appears whole or not at all, and replaces nothing unasked.

    with atomic_output(path) as tmp:     # a hidden temporary beside `path` (a file or a folder):
        write(tmp)                       # published on success, refused if `path` appeared
                                         # meanwhile; removed on any error, Ctrl-C or `kill`
    with scratch(path, "video") as tmp:  # a hidden temporary that is always removed
    check_apart(output, inputs)          # an output is never an input, inside one or around one

Temporaries are named `.<name>.<random>.<tag>.tmp` and locked (flock) while their writer lives, so
the next run for the same output removes those that a killed run left behind (`sweep`).
"""
import contextlib
import ctypes
import errno
import fcntl
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from .errors import DISK_FULL, InputError, SlomoError, disk_full

RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2  # renameat2 flags (Linux)
_AT_FDCWD = -100
_UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM)


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (os.umask sets it)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0)
        os.umask(umask)
        return umask


def _renameat2(src, dst, flags: int) -> bool:
    """Linux renameat2(2); False where the system or the filesystem does not offer it."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _rename_noreplace(src, dst) -> None:
    """Rename `src` to `dst`; FileExistsError when `dst` exists, however recently it appeared.
    renameat2(RENAME_NOREPLACE), else (files) a hard link then unlink, else a check and a rename."""
    if _renameat2(src, dst, RENAME_NOREPLACE):
        return
    if not os.path.isdir(src):
        try:
            os.link(src, dst)
        except FileExistsError:
            raise
        except OSError:
            pass  # no hard links on this filesystem
        else:
            os.unlink(src)
            return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def _replace(src, dst) -> None:
    """Put `src` where `dst` is, a folder for a folder, a file for a file."""
    if os.path.isdir(src) != os.path.isdir(dst) or os.path.islink(dst):
        raise FileExistsError(errno.EEXIST, "exists and is of another kind", str(dst))
    if not os.path.isdir(src):
        os.replace(src, dst)
    elif _renameat2(src, dst, RENAME_EXCHANGE):  # src now holds the old folder
        shutil.rmtree(src)
    else:  # move the old folder into a locked temporary, then the new one into place
        old, fd = _temp(Path(dst), "old", directory=True)
        try:
            os.rename(dst, old / "old")
            try:
                _rename_noreplace(src, dst)
            except BaseException:
                os.rename(old / "old", dst)
                raise
        finally:
            _remove(old)
            os.close(fd)


def publish(tmp, path, overwrite=False) -> Path:
    """Rename the finished temporary `tmp` (a file or a folder) to `path`, with the permissions a
    plain open() or mkdir() would have given it (mkstemp and mkdtemp make them private).

    overwrite: False refuses an existing `path` (FileExistsError), even one that appeared a moment
               ago; True replaces it; a function of the path replaces it where it returns True
               (an earlier output of the same command, recognised by its manifest)."""
    os.chmod(tmp, (0o777 if os.path.isdir(tmp) else 0o666) & ~_umask())
    try:
        _rename_noreplace(tmp, path)
    except FileExistsError:
        if not (overwrite is True or (callable(overwrite) and overwrite(Path(path)))):
            raise
        _replace(tmp, path)
    return Path(path)


# ---- temporaries ---------------------------------------------------------------------------------
def _pattern(path: Path):
    return re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}\.(?:[a-z]+\.tmp|new)")


def _lock(fd: int) -> bool:
    """Take the lock that marks a temporary as in use; False when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:  # no locks on this filesystem: nobody can tell a live temporary from a dead one
        return False


def _temp(path: Path, tag: str, directory: bool):
    """(temporary, locked fd): `.<name>.<random>.<tag>.tmp` beside `path`, locked before it gets
    the name that `sweep` looks for."""
    prefix, parent = f".{path.name}.", path.parent
    if directory:
        made = tempfile.mkdtemp(prefix=prefix, suffix=".new", dir=parent)
        fd = os.open(made, os.O_RDONLY)
    else:
        fd, made = tempfile.mkstemp(prefix=prefix, suffix=".new", dir=parent)
    try:
        _lock(fd)
        tmp = Path(made[:-len(".new")] + f".{tag}.tmp")
        os.rename(made, tmp)
    except BaseException:
        os.close(fd)
        _remove(Path(made))
        raise
    return tmp, fd


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def sweep(path) -> list:
    """Remove the temporaries of `path` that killed runs left (kill -9, a crash): those whose lock
    no process holds. Temporaries of runs still going are kept. Returns the paths removed."""
    path, removed = Path(path), []
    pattern = _pattern(path)
    try:
        entries = [e for e in os.scandir(path.parent) if pattern.fullmatch(e.name) and not e.is_symlink()]
    except OSError:
        return removed
    for e in entries:
        p = Path(e.path)
        try:
            if e.name.endswith(".new") and time.time() - e.stat().st_mtime < 60:
                continue  # being named by a live run this very moment
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            if _lock(fd):
                _remove(p)
                removed.append(p)
        finally:
            os.close(fd)
    return removed


def _write_error(e: OSError, folder: Path) -> SlomoError:
    if e.errno in DISK_FULL:
        return disk_full(folder)
    return InputError(f"cannot write to the folder {folder} ({e.strerror or e})")


@contextlib.contextmanager
def scratch(path, tag: str = "part", directory: bool = False):
    """A hidden temporary file (or folder) beside `path`, removed on leaving, whatever happens.
    First removes what killed runs for `path` left. A full disk becomes DiskFullError."""
    path = Path(path)
    sweep(path)
    try:
        tmp, fd = _temp(path, tag, directory)
    except OSError as e:
        raise _write_error(e, path.parent) from None
    try:
        yield tmp
    except OSError as e:
        if e.errno in DISK_FULL:
            raise disk_full(path.parent) from e
        raise
    finally:
        _remove(tmp)
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path, overwrite=False, directory: bool = False):
    """Write `path` (a file, or a folder when `directory`) whole or not at all: yields a temporary
    beside it, published on success with `publish(tmp, path, overwrite)`, removed otherwise."""
    path = Path(path)
    with scratch(path, "part", directory) as tmp:
        yield tmp
        try:
            publish(tmp, path, overwrite)
        except FileExistsError:
            raise InputError(f"{path} appeared while this run was writing it (another run?); it is left "
                             f"as it is and this result discarded (--overwrite replaces it)") from None


def write_failed(path) -> SlomoError:
    """The error for a writer that failed without saying why (cv2.imwrite returns False)."""
    folder = Path(path).parent
    try:
        full = shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        full = False
    return disk_full(folder) if full else SlomoError(f"could not write {path}")


def check_apart(output, inputs, what: str = "output") -> None:
    """InputError when `output` is one of `inputs`, lies inside one, or holds one: writing it could
    change or delete what the command reads."""
    out = Path(output).expanduser().resolve()
    for src in inputs:
        if src is None or str(src) == "":
            continue
        s = Path(src).expanduser().resolve()
        if out == s or (out.exists() and s.exists() and os.path.samefile(out, s)):
            where = "is"
        elif s in out.parents:
            where = "is inside"
        elif out in s.parents:
            where = "holds"
        else:
            continue
        raise InputError(f"the {what} {output} {where} the input {src}; writing it could change or delete "
                         f"the input, so choose an {what} outside it")


def check_replaceable(path, overwrite: bool, is_ours, what: str) -> None:
    """InputError unless `path` is free, or `overwrite` is given and `is_ours(path)`: an earlier
    output of the same command (`what`, e.g. "slomo convert"), recognised by its manifest or tag."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it")
    if not is_ours(path):
        raise InputError(f"{path} was not written by {what}, and --overwrite replaces only what it wrote; "
                         f"move or delete it yourself, or choose another name")
