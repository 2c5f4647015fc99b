"""slomo.video.schedule: windows in, every frame out once and in order, whoever makes the window."""
import numpy as np
import pytest
from _clips import make_clip

from slomo import SuperSloMo, video
from slomo.video.interpolator import FrameInterpolator, load_method
from slomo.video.schedule import WindowScheduler, WindowWork


class ListSink:
    def __init__(self):
        self.frames = []

    def put(self, frames):
        self.frames.extend(frames)


class SlowHelper:
    """A helper that makes its windows in this process, and is never ready before it is asked."""

    def __init__(self, interp):
        self.interp, self.queue, self.sent = interp, [], []

    @property
    def in_flight(self):
        return len(self.queue)

    @property
    def busy(self):
        return bool(self.queue)

    def free_in(self, window_seconds):
        return len(self.queue) * window_seconds

    def submit(self, window, keep, ts=None):
        self.sent.append(ts)
        self.queue.append(self.interp.interpolate_u8(window, keep, ts))

    def ready(self):
        return False

    def result(self):
        return self.queue.pop(0)

    def end_now(self):
        pass


def frames(n, H=8, W=12, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, H, W, 3), dtype=np.uint8))


def expected(interp, fs, cut_after=()):
    """The output by hand: each input frame, then its pair's in-between frames (or itself at a cut)."""
    out = []
    for j in range(len(fs) - 1):
        made = interp.interpolate_u8(np.stack(fs[j:j + 2]), [0])[0]
        out += [fs[j]] + ([fs[j]] * len(made) if j in cut_after else list(made))
    return out + [fs[-1]]


@pytest.mark.parametrize("batch_size", [1, 2, 3])
def test_every_frame_comes_out_once_in_order(batch_size):
    interp = FrameInterpolator(load_method("blend"), 3, 8, 12, batch_size=batch_size)
    fs, sink = frames(6), ListSink()
    WindowScheduler(interp, [], sink, scene_threshold=0).run(fs, len(fs))
    want = expected(interp, fs)
    assert len(sink.frames) == (6 - 1) * 3 + 1 and all(np.array_equal(a, b) for a, b in zip(sink.frames, want))


def test_a_pair_across_a_scene_cut_is_duplicated_and_counted():
    interp = FrameInterpolator(load_method("blend"), 4, 36, 64, batch_size=2)
    dark, bright = np.zeros((36, 64, 3), np.uint8), np.full((36, 64, 3), 230, np.uint8)
    fs, sink = [dark, dark, bright, bright], ListSink()
    scheduler = WindowScheduler(interp, [], sink, scene_threshold=0.15)
    scheduler.run(fs, len(fs))
    assert scheduler.cuts == 1
    assert all(np.array_equal(a, b) for a, b in zip(sink.frames, expected(interp, fs, cut_after={1})))


@pytest.mark.parametrize("n", [2, 9])
def test_windows_of_a_slower_helper_are_written_in_order(n):
    interp = FrameInterpolator(load_method("blend"), 5, 8, 12, batch_size=1)
    helper, fs, sink = SlowHelper(interp), frames(n), ListSink()
    scheduler = WindowScheduler(interp, [helper], sink, scene_threshold=0)
    scheduler.run(fs, len(fs))
    want = expected(interp, fs)
    assert len(sink.frames) == len(want) and all(np.array_equal(a, b) for a, b in zip(sink.frames, want))
    assert helper.sent and not scheduler.pending
    if n == 2:  # one pair, an idle helper: it makes the first two of four times, this process the rest
        assert helper.sent == [[0.2, 0.4]]


def test_shared_work_puts_the_helpers_times_first():
    interp = FrameInterpolator(load_method("blend"), 5, 8, 12)
    helper, window = SlowHelper(interp), np.stack(frames(2))
    helper.submit(window, [0], list(interp.ts[:3]))
    work = WindowWork(list(window), [0], helper, interp.with_times(interp.ts[3:]).interpolate_u8(window, [0]))
    assert not work.ready()
    assert np.array_equal(work.frames(), interp.interpolate_u8(window, [0]))


def test_every_window_holds_batch_size_pairs(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "in.mp4", frames=6, size="96x64", audio=None, source="testsrc2")  # 5 pairs
    ckpt = SuperSloMo(width=0.125, flow="unet", padding="border", leaky_head=False).save(tmp_path / "random.pt")
    sizes = []
    real = FrameInterpolator.interpolate_u8
    monkeypatch.setattr(FrameInterpolator, "interpolate_u8", lambda self, w, keep, ts=None: sizes.append(len(keep))
                        or real(self, w, keep, ts))
    video.convert(clip, tmp_path / "out.mp4", scale=3, checkpoint=ckpt, scene_threshold=0, progress=False,
                  workers=1, batch_size=2)
    assert sizes == [2, 2, 1]
