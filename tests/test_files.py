import os
import stat
import tempfile
from pathlib import Path

import pytest

from slomo.errors import InputError
from slomo.files import atomic_output, check_apart, publish


def test_publish_renames_with_ordinary_permissions(tmp_path):
    fd, tmp = tempfile.mkstemp(dir=tmp_path)
    os.write(fd, b"done")
    os.close(fd)
    assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o600  # what mkstemp gives
    old = os.umask(0o022)
    try:
        out = publish(tmp, tmp_path / "result.bin")
    finally:
        os.umask(old)
    assert out.read_bytes() == b"done" and not os.path.exists(tmp)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_publish_never_replaces_unless_allowed(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("theirs")
    for allowed in (False, lambda p: p.read_text() == "mine"):
        fd, tmp = tempfile.mkstemp(dir=tmp_path)
        os.close(fd)
        with pytest.raises(FileExistsError):
            publish(tmp, target, overwrite=allowed)
        os.unlink(tmp)
    assert target.read_text() == "theirs"
    fd, tmp = tempfile.mkstemp(dir=tmp_path)
    os.write(fd, b"new")
    os.close(fd)
    publish(tmp, target, overwrite=lambda p: p.read_text() == "theirs")
    assert target.read_text() == "new" and sorted(os.listdir(tmp_path)) == ["out.txt"]


def test_a_published_folder_gets_mkdir_permissions_and_replaces_a_folder_only(tmp_path):
    old = os.umask(0o022)
    try:
        new = Path(tempfile.mkdtemp(dir=tmp_path))
        (new / "a").write_text("1")
        out = publish(new, tmp_path / "ds")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755 and (out / "a").read_text() == "1"
    again = Path(tempfile.mkdtemp(dir=tmp_path))
    (again / "b").write_text("2")
    publish(again, out, overwrite=True)
    assert sorted(os.listdir(out)) == ["b"] and sorted(os.listdir(tmp_path)) == ["ds"]
    (tmp_path / "file").write_text("x")
    third = Path(tempfile.mkdtemp(dir=tmp_path))
    with pytest.raises(FileExistsError):
        publish(third, tmp_path / "file", overwrite=True)  # a folder never replaces a file
    assert (tmp_path / "file").read_text() == "x"


def test_atomic_output_leaves_nothing_on_error_and_refuses_an_output_that_appeared(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    with pytest.raises(InputError, match="appeared"):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"mine")
            target.write_bytes(b"another run's")
    assert target.read_bytes() == b"another run's" and os.listdir(tmp_path) == ["out.bin"]


def test_check_apart(tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for out, where in ((tmp_path / "in", "is the input"), (tmp_path / "in" / "sub" / "x", "is inside"),
                       (tmp_path, "holds")):
        with pytest.raises(InputError, match=where):
            check_apart(out, [tmp_path / "in"])
    check_apart(tmp_path / "other", [tmp_path / "in", None, ""])
