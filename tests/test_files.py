import os
import stat
import tempfile

from slomo.files import publish


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
