"""slomo.video.preview: copies of videos that every browser plays."""
import subprocess

from slomo.ffmpeg_binary import ffmpeg_exe
from slomo.video import browser_video, probe, trim_video


def test_browser_video_and_trim_make_even_sized_h264(tmp_path):
    src = tmp_path / "odd size clip.avi"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=101x75:rate=10", "-t", "2", "-c:v", "mjpeg", str(src)], check=True)
    before = src.read_bytes()
    out = browser_video(src, tmp_path / "out")
    info = probe(out)
    assert out.name == "odd size clip.preview.mp4" and info.codec == "h264"
    assert (info.width, info.height) == (100, 74)
    short = trim_video(src, tmp_path / "out", seconds=0.5)
    assert short.name == "odd size clip-first0.5s.mp4" and probe(short).frames == 5
    whole = trim_video(src, tmp_path / "out", seconds=3)  # longer than the clip: named by what it holds
    assert whole.name == "odd size clip-first2s.mp4" and probe(whole).frames == 20
    assert src.read_bytes() == before  # the input is never touched


def test_a_failed_copy_is_one_error_and_leaves_nothing(tmp_path):
    import pytest

    from slomo.errors import SlomoError
    bad = tmp_path / "not a video.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(SlomoError, match="could not re-encode"):
        browser_video(bad, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
