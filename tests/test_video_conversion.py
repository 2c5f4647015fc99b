"""slomo.video.conversion: `convert` end to end: options, frame counts, rates, audio, scene cuts, atomicity."""
from fractions import Fraction

import numpy as np
import pytest
import torch
from _clips import frames_of, has_audio, make_clip, stream_times, tiny_model

from slomo import video
from slomo.errors import InputError, SlomoError
from slomo.video import ffmpeg
from slomo.video.conversion import ConvertOptions, parse_scale
from slomo.video.interpolator import FrameInterpolator


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt")


# ---- pure helpers ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [1, 0, -3, "2.5", 2.5, "x", None, True])
def test_parse_scale_rejects(bad):
    with pytest.raises(InputError):
        parse_scale(bad)


def test_parse_scale_accepts_integers():
    assert parse_scale("4") == 4 and parse_scale(8) == 8 and parse_scale(2.0) == 2


def test_convert_takes_exactly_the_options_that_convert_options_holds():
    import dataclasses
    import inspect
    params = inspect.signature(video.convert).parameters
    keywords = {k: p.default for k, p in params.items() if p.kind is p.KEYWORD_ONLY}
    assert keywords == {f.name: f.default for f in dataclasses.fields(ConvertOptions)}


def test_convert_options_are_normalised_or_refused_in_one_line():
    opts = ConvertOptions(scale="4", fps="59.94", scene_threshold="0.2", workers=1)
    assert (opts.scale, opts.fps, opts.scene_threshold) == (4, Fraction(60000, 1001), 0.2)
    for bad in ({"scale": 1}, {"fps": "fast"}, {"scene_threshold": -1}, {"batch_size": 0}, {"workers": True},
                {"method": "magic"}):
        with pytest.raises(InputError) as e:
            ConvertOptions(**bad)
        assert "\n" not in str(e.value)


# ---- probe and read_frames -----------------------------------------------------------------------

# ---- convert: frame counts, rates, audio -------------------------------------------------------
@pytest.mark.parametrize("rate, scale", [("30", 3), ("30000/1001", 2), ("24000/1001", 4)])
def test_convert_counts_and_exact_rates(tmp_path, rate, scale):
    clip = make_clip(tmp_path / "in.mp4", frames=5, rate=rate, audio=None)
    res = video.convert(clip, scale=scale, method="blend", progress=False)
    assert res.output == tmp_path / f"in-x{scale}.mp4" and res.output.is_file()
    assert res.frames_out == (5 - 1) * scale + 1
    pts, _ = stream_times(res.output)
    assert len(pts) == res.frames_out
    assert Fraction(len(pts) - 1) / (pts[-1] - pts[0]) == Fraction(rate)  # exact, from the timestamps
    assert res.fps_out == Fraction(rate) and not has_audio(res.output)


def test_superslomo_slow_motion_keeps_audio_slowed(tmp_path, ckpt):
    clip = make_clip(tmp_path / "in.mkv", frames=6, rate="30", audio="opus")
    res = video.convert(clip, tmp_path / "out.mp4", scale=4, checkpoint=ckpt, progress=False)
    assert res.frames_out == 21 and res.audio == "slowed"
    _, vend = stream_times(res.output, "v")
    _, aend = stream_times(res.output, "a")
    assert float(vend) == pytest.approx(21 / 30, abs=0.01)
    assert float(aend) == pytest.approx(float(vend), abs=0.1)   # 4x longer than the 0.2 s input
    out = frames_of(res.output)
    src = frames_of(clip)
    assert np.abs(out[::4] - src).mean() < 4   # every input frame kept (up to H.264 loss)


def test_batching_pairs_gives_the_same_frames(tmp_path, ckpt):
    clip = make_clip(tmp_path / "in.mp4", frames=6, audio=None)
    one = video.convert(clip, tmp_path / "b1.mp4", scale=3, checkpoint=ckpt, batch_size=1, progress=False)
    three = video.convert(clip, tmp_path / "b3.mp4", scale=3, checkpoint=ckpt, batch_size=3, progress=False)
    assert one.frames_out == three.frames_out == 16
    assert np.abs(frames_of(one.output) - frames_of(three.output)).max() <= 2


def test_fast_skips_the_mirror_pass_of_an_ensemble_checkpoint(tmp_path, ckpt):
    from dataclasses import replace

    from slomo.checkpoint import read_checkpoint, write_checkpoint
    config, state, meta = read_checkpoint(ckpt)
    g = torch.Generator().manual_seed(0)
    state["interp.conv3.weight"] = torch.randn(state["interp.conv3.weight"].shape, generator=g)  # not mirror-symmetric
    single = write_checkpoint(tmp_path / "single.pt", config, state, **meta)
    mirrored = write_checkpoint(tmp_path / "mirror.pt", replace(config, flip_ensemble=True), state, **meta)
    clip = make_clip(tmp_path / "in.mp4", frames=4, audio=None)
    kw = dict(scale=2, progress=False, workers=1)
    plain = frames_of(video.convert(clip, tmp_path / "p.mp4", checkpoint=single, **kw).output)
    both = frames_of(video.convert(clip, tmp_path / "m.mp4", checkpoint=mirrored, **kw).output)
    fast = frames_of(video.convert(clip, tmp_path / "f.mp4", checkpoint=mirrored, fast=True, **kw).output)
    assert np.array_equal(fast, plain)
    assert np.abs(both - plain).max() > 2  # the mirrored pass changed the in-between frames


@pytest.mark.parametrize("codec", ["mp3", "opus", "ac3"])
def test_same_duration_copies_audio_untouched(tmp_path, codec):
    clip = make_clip(tmp_path / "in.mkv", frames=6, rate="30000/1001", audio=codec)
    res = video.convert(clip, tmp_path / "out.mp4", scale=2, fps="60000/1001", method="blend", progress=False)
    assert res.audio == "copied" and video.probe(res.output).audio_codec == codec
    assert res.fps_out == Fraction(60000, 1001)
    _, vend = stream_times(res.output, "v")
    _, aend = stream_times(res.output, "a")
    assert float(aend) == pytest.approx(float(vend), abs=0.1)


def test_pcm_audio_reencoded_and_no_audio(tmp_path):
    clip = make_clip(tmp_path / "in.mkv", frames=4, rate="25", audio="pcm")
    res = video.convert(clip, scale=2, fps=50, method="duplicate", progress=False)
    assert res.audio == "re-encoded" and video.probe(res.output).audio_codec == "aac"
    res = video.convert(clip, scale=2, method="duplicate", audio=False, overwrite=True, progress=False)
    assert res.audio is None and not has_audio(res.output)


def test_audio_failure_fails_the_conversion_unless_no_audio(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio="aac")
    monkeypatch.setattr(ffmpeg.AudioPlan, "args", lambda self: ["-c:a", "no_such_codec"])
    with pytest.raises(SlomoError, match="could not add the audio.*--no-audio"):
        video.convert(clip, scale=2, method="blend", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    res = video.convert(clip, scale=2, method="blend", audio=False, progress=False)
    assert res.audio is None and res.frames_out == 5 and not has_audio(res.output)


def test_odd_size_padded_by_one_edge_pixel(tmp_path):
    clip = make_clip(tmp_path / "odd.mkv", frames=3, size="65x49", audio=None)
    res = video.convert(clip, scale=2, method="blend", progress=False)
    out = frames_of(res.output)
    assert out.shape == (5, 50, 66, 3)
    assert np.abs(out[:, :, -1] - out[:, :, -2]).mean() < 3   # the added column repeats the edge


# ---- scene cuts --------------------------------------------------------------------------------
def _cut_clip(tmp_path):
    a = make_clip(tmp_path / "a.mp4", frames=3, audio=None, source="testsrc")
    b = make_clip(tmp_path / "b.mp4", frames=3, audio=None, source="color=c=green")
    pieces = [frames_of(a), frames_of(b)]
    w = ffmpeg.FrameWriter(tmp_path / "cut.mp4", 64, 48, Fraction(30))
    for f in np.concatenate(pieces).astype(np.uint8):
        w.write(f)
    w.close()
    return tmp_path / "cut.mp4"


def test_scene_cut_duplicates_instead_of_morphing(tmp_path):
    clip = _cut_clip(tmp_path)
    res = video.convert(clip, scale=4, method="blend", progress=False)
    out = frames_of(res.output)
    assert res.cuts == 1 and len(out) == 21
    # pair 2 -> 3 is the cut: frames 9, 10, 11 hold frame 8; pair 0 -> 1 is blended normally
    for k in (9, 10, 11):
        assert np.abs(out[k] - out[8]).mean() < 2
    assert np.abs(out[10] - out[12]).mean() > 20
    res = video.convert(clip, scale=4, method="blend", scene_threshold=0, overwrite=True, progress=False)
    out = frames_of(res.output)
    assert res.cuts == 0 and np.abs(out[10] - out[8]).mean() > 10   # morphing when detection is off


# ---- large frames --------------------------------------------------------------------------------

# ---- safety ------------------------------------------------------------------------------------
@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_midway_leaves_no_file(tmp_path, monkeypatch, exc):
    clip = make_clip(tmp_path / "in.mp4", frames=8, audio="aac")
    calls = []
    real = FrameInterpolator.__call__

    def flaky(self, I0, I1):
        calls.append(1)
        if len(calls) == 3:
            raise exc
        return real(self, I0, I1)

    monkeypatch.setattr(FrameInterpolator, "__call__", flaky)
    with pytest.raises(type(exc)):
        video.convert(clip, tmp_path / "out.mp4", scale=2, method="blend", progress=False)
    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_existing_output_refused_and_only_an_earlier_output_overwritten(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=3, audio=None)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(InputError, match="--overwrite"):
        video.convert(clip, out, method="duplicate", progress=False)
    with pytest.raises(InputError, match="not written by slomo convert"):
        video.convert(clip, out, method="duplicate", overwrite=True, progress=False)
    assert out.read_bytes() == b"precious"
    with pytest.raises(InputError, match="is the input"):
        video.convert(clip, clip, method="duplicate", overwrite=True, progress=False)
    out.unlink()
    video.convert(clip, out, method="duplicate", progress=False)
    video.convert(clip, out, scale=3, method="duplicate", overwrite=True, progress=False)
    assert video.probe(out).frames == 7


