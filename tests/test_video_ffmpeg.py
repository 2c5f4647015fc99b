"""slomo.video.ffmpeg: frame rates, probing, decoding and encoding through ffmpeg."""
import math
import random
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from _clips import frames_of, make_clip

from slomo import video
from slomo.errors import InputError, SlomoError
from slomo.ffmpeg_binary import ffmpeg_exe
from slomo.video import ffmpeg


@pytest.mark.parametrize("text, want", [("29.97", Fraction(30000, 1001)), ("23.976", Fraction(24000, 1001)),
                                        ("59.94", Fraction(60000, 1001)), ("30000/1001", Fraction(30000, 1001)),
                                        ("60", Fraction(60)), ("25.0", Fraction(25)), ("12.5", Fraction(25, 2))])
def test_parse_fps_exact(text, want):
    assert ffmpeg.parse_fps(text) == want


@pytest.mark.parametrize("bad", ["0", "-5", "abc", "1/0", ""])
def test_parse_fps_rejects(bad):
    with pytest.raises(InputError):
        ffmpeg.parse_fps(bad)


def test_atempo_chain_property():
    rnd = random.Random(0)
    for tempo in [1 / 8, 1 / 4, 1 / 3, 0.5, 1.0, 2.0, 3.0, 100.0] + [10 ** rnd.uniform(-3, 3) for _ in range(200)]:
        chain = ffmpeg.atempo_chain(tempo)
        assert all(0.5 <= f <= 2.0 for f in chain), (tempo, chain)
        assert math.isclose(math.prod(chain), tempo, rel_tol=1e-9)


def test_probe_and_read_frames(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=7, rate="30000/1001", audio="aac")
    info = video.probe(clip)
    assert (info.width, info.height, info.frames) == (64, 48, 7)
    assert info.fps == Fraction(30000, 1001) and not info.vfr
    assert info.audio_codec == "aac"
    frames = list(video.read_frames(clip))
    assert len(frames) == 7 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8


def test_rotated_phone_video_comes_out_upright(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=3, audio=None)
    rot = tmp_path / "rot.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-display_rotation:v:0", "90", "-i", str(clip),
                    "-c", "copy", str(rot)], check=True)
    info = video.probe(rot)
    assert (info.width, info.height) == (48, 64)
    assert next(video.read_frames(rot)).shape == (64, 48, 3)
    res = video.convert(rot, scale=2, method="blend", progress=False)
    assert frames_of(res.output).shape == (5, 64, 48, 3)


def test_probe_rejects_non_videos(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video\n" * 10)
    with pytest.raises(InputError, match="not a video"):
        video.probe(tmp_path / "notes.mp4")
    with pytest.raises(InputError, match="no such file"):
        video.probe(tmp_path / "missing.mp4")


def test_variable_frame_rate_uses_average(tmp_path, capsys):
    clip = make_clip(tmp_path / "vfr.mp4", frames=12, audio=None,
                     extra=["-vf", "setpts='if(lt(N,6),N*2,12+(N-6))/30/TB'", "-fps_mode", "vfr"])
    info = video.probe(clip)
    assert info.vfr and float(info.fps) == pytest.approx(11 / (17 / 30), rel=0.01)
    res = video.convert(clip, scale=2, method="duplicate", progress=False)
    assert res.frames_out == 23 and res.fps_out == info.fps
    assert "variable frame rate" in capsys.readouterr().err


def test_one_missing_frame_is_still_constant_rate(tmp_path):
    clip = make_clip(tmp_path / "gap.mp4", frames=24, rate="30000/1001", audio=None,
                     extra=["-vf", "setpts='(N+gte(N,20))*1001/30000/TB'", "-fps_mode", "vfr"])
    info = video.probe(clip)
    assert not info.vfr and info.fps == Fraction(30000, 1001)


def test_encoder_failure_is_a_slomo_error(tmp_path):
    w = ffmpeg.FrameWriter(tmp_path / "x.mp4", 64, 48, Fraction(30))
    w._proc.kill()
    with pytest.raises(SlomoError):
        for _ in range(200):
            w.write(np.zeros((48, 64, 3), np.uint8))
        w.close()
