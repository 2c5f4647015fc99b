"""slomo.video.helpers: helper processes give the same frames as the main process alone, and fail cleanly."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from _clips import frames_of, make_clip

from slomo import SuperSloMo, video
from slomo.cpu.conv import prefers_single_items
from slomo.errors import SlomoError
from slomo.video import helpers
from slomo.video.helpers import Helper, helper_count, share_times
from slomo.video.interpolator import FrameInterpolator, PairJob


@pytest.fixture(scope="module")
def clip_and_ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("workers")
    torch.manual_seed(0)
    ckpt = SuperSloMo(width=0.125, flow="unet", padding="border", leaky_head=False).save(d / "random.pt")
    return make_clip(d / "in.mp4", frames=6, size="96x64", audio=None, source="testsrc2"), ckpt


def _convert(clip, out, ckpt, **kw):
    return video.convert(clip, out, scale=3, checkpoint=ckpt, scene_threshold=0, progress=False, **kw)


def test_spawned_helpers_give_the_frames_of_one_process(tmp_path, clip_and_ckpt, monkeypatch):
    clip, ckpt = clip_and_ckpt
    threads = torch.get_num_threads()
    one = _convert(clip, tmp_path / "one.mp4", ckpt, workers=1)
    monkeypatch.setattr(helpers, "fork_is_safe", lambda: False)  # this process has run NNPACK already
    three = _convert(clip, tmp_path / "three.mp4", ckpt, workers=3)
    assert one.frames_out == three.frames_out == 16
    a, b = frames_of(one.output), frames_of(three.output)
    assert a.shape == b.shape and np.abs(a - b).max() <= 1
    assert torch.get_num_threads() == threads  # restored after the conversion


def test_kernel_transforms_are_prepared_once_before_helpers_are_forked(tmp_path, clip_and_ckpt, monkeypatch):
    clip, ckpt = clip_and_ckpt
    calls = []
    real = FrameInterpolator.precompute_kernels
    monkeypatch.setattr(FrameInterpolator, "precompute_kernels", lambda self: calls.append(self.model_size) or real(self))
    one = _convert(clip, tmp_path / "one.mp4", ckpt, workers=1)
    monkeypatch.setattr(helpers, "fork_is_safe", lambda: False)
    _convert(clip, tmp_path / "spawned.mp4", ckpt, workers=2)
    assert calls == []  # no helper, or spawned helpers that load their own model: nothing to share
    monkeypatch.setattr(helpers, "fork_is_safe", lambda: True)
    forked = _convert(clip, tmp_path / "forked.mp4", ckpt, workers=2)
    assert calls == [(64, 96)]
    assert np.abs(frames_of(one.output) - frames_of(forked.output)).max() <= 1


def test_forked_helpers_from_the_command_line(tmp_path, clip_and_ckpt):
    """A fresh `slomo convert` process forks its helper (model already loaded, no threads yet)."""
    clip, ckpt = clip_and_ckpt
    outs = []
    for n in (1, 2):
        outs.append(tmp_path / f"w{n}.mp4")
        subprocess.run([sys.executable, "-m", "slomo", "convert", str(clip), "-o", str(outs[-1]), "--scale", "3",
                        "--checkpoint", str(ckpt), "--scene-threshold", "0", "--workers", str(n), "-q"],
                       check=True, timeout=300)
    a, b = frames_of(outs[0]), frames_of(outs[1])
    assert a.shape == b.shape == (16, 64, 96, 3) and np.abs(a - b).max() <= 1


@pytest.mark.parametrize("direct", [True, False])
def test_fork_is_unsafe_once_pytorchs_nnpack_pool_has_started(clip_and_ckpt, direct):
    from slomo.cpu import nnpack
    if direct and not nnpack.direct_available():
        pytest.skip("NNPACK cannot be called directly here")
    code = ("import torch, slomo.video.helpers as w; from slomo.cpu.conv import Conv2d; from slomo.networks import UNet; "
            f"net = UNet(6, 4, 0.25); [setattr(m, 'nnpack_direct', {direct}) for m in net.modules() "
            "if isinstance(m, Conv2d)]; torch.set_num_threads(2); "
            "a = w.fork_is_safe(); torch.set_grad_enabled(False); net(torch.rand(1, 6, 64, 64)); "
            "print(a, w.fork_is_safe())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    # called directly, NNPACK's pool belongs to this process (a forked child makes its own)
    assert out.stdout.split() == ["True", "True" if direct else "False"]


def test_helper_failure_is_one_line_and_leaves_no_file(tmp_path, clip_and_ckpt, monkeypatch):
    clip, ckpt = clip_and_ckpt
    monkeypatch.setattr(helpers, "fork_is_safe", lambda: True)

    main, real = os.getpid(), FrameInterpolator.interpolate_u8

    def broken(self, *args):  # in the forked helper only
        if os.getpid() != main:
            raise MemoryError("no room")
        return real(self, *args)
    monkeypatch.setattr(FrameInterpolator, "interpolate_u8", broken)
    with pytest.raises(SlomoError, match="a helper process failed: MemoryError: no room"):
        _convert(clip, tmp_path / "out.mp4", ckpt, workers=2)
    assert not list(tmp_path.iterdir())


def test_default_worker_count(clip_and_ckpt):
    _, ckpt = clip_and_ckpt
    model = SuperSloMo.from_checkpoint(ckpt)
    job = PairJob("superslomo", ckpt, "fp32", 2, 352, 640, None)
    interp = FrameInterpolator.for_job(job, model)
    assert helper_count(interp, workers=3) == 2
    want = torch.get_num_threads() - 1 if prefers_single_items(model.device, "fp32") else 0
    assert helper_count(interp, None) == want
    small = FrameInterpolator.for_job(PairJob("superslomo", ckpt, "fp32", 2, 48, 64, None), model)
    big = FrameInterpolator.for_job(PairJob("superslomo", ckpt, "fp32", 2, 1080, 1920, None), model)
    blend = FrameInterpolator.for_job(PairJob("blend", None, "fp32", 2, 352, 640, None), None)
    assert helper_count(small, None) == helper_count(big, None) == helper_count(blend, None) == 0


def test_last_pair_times_are_shared_with_a_helper(tmp_path, clip_and_ckpt, monkeypatch):
    """One pair at x4: the idle helper makes t = 1/4, 2/4 and this process 3/4; the frames come out in order."""
    _, ckpt = clip_and_ckpt
    clip = make_clip(tmp_path / "two.mp4", frames=2, size="96x64", audio=None, source="testsrc2")
    sent = []
    real = Helper.submit
    monkeypatch.setattr(Helper, "submit", lambda self, w, k, ts=None: sent.append(ts) or real(self, w, k, ts))
    monkeypatch.setattr(helpers, "fork_is_safe", lambda: False)
    one = video.convert(clip, tmp_path / "one.mp4", scale=4, checkpoint=ckpt, scene_threshold=0, progress=False,
                        workers=1)
    two = video.convert(clip, tmp_path / "shared.mp4", scale=4, checkpoint=ckpt, scene_threshold=0, progress=False,
                        workers=2)
    assert sent == [[0.25, 0.5]]
    a, b = frames_of(one.output), frames_of(two.output)
    assert a.shape == b.shape == (5, 64, 96, 3) and np.abs(a - b).max() <= 1


def test_share_times_balances_the_two_finishing_times():
    # a pass is window_seconds / (T + 1); both sides run the flow pass
    assert share_times(3, wait=0.0, window_seconds=4.0) == 1  # helper 2 times, this process 1
    assert share_times(7, wait=0.0, window_seconds=8.0) == 3  # 1+4 passes against 1+3
    assert share_times(3, wait=1.0, window_seconds=4.0) == 2  # the helper is busy for one more pass
    assert share_times(3, wait=3.5, window_seconds=4.0) == 3  # nearly a whole window: do it alone
    assert share_times(1, wait=0.0, window_seconds=1.0) == 1


def test_a_window_submitted_to_a_busy_helper_queues_without_deadlock(clip_and_ckpt):
    """Results larger than a pipe's buffer, and a second window sent while the helper is still sending
    the first result: the helper reads its inbox on a thread, so neither side blocks the other."""
    _, ckpt = clip_and_ckpt
    job = PairJob("superslomo", ckpt, "fp32", 4, 192, 256, None)
    window = np.random.default_rng(0).integers(0, 256, (2, 192, 256, 3), dtype=np.uint8)
    helper = Helper(job)  # spawned: loads the model itself
    try:
        helper.submit(window, [0])
        helper.submit(window, [0], [0.5])
        assert helper.busy and helper.free_in(10.0) > 0
        first, second = helper.result(), helper.result()
    finally:
        helper.close()
    assert first.shape == (1, 3, 192, 256, 3) and second.shape == (1, 1, 192, 256, 3)
    assert np.array_equal(first[:, 1], second[:, 0]) and not helper.busy
