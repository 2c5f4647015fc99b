"""slomo.video.interpolator: FrameInterpolator, the video side of the method registry."""
import numpy as np
import pytest
import torch
from _clips import tiny_model

from slomo import video
from slomo.errors import InputError
from slomo.video import interpolator
from slomo.video.interpolator import FrameInterpolator, PairJob, TimeGrid, load_method


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt")


def test_reduced_resolution_path(monkeypatch, ckpt):
    model = load_method("superslomo", ckpt, "cpu", "fp32")
    monkeypatch.setattr(interpolator, "MODEL_PIXELS", 32 * 32)
    interp = FrameInterpolator(model, 4, 48, 80, "fp32")
    assert interp.reduced and interp.model_size[0] * interp.model_size[1] <= 32 * 64
    I0 = torch.rand(2, 3, 48, 80)
    same = interp(I0, I0)                              # a still scene stays still
    assert same.shape == (2, 3, 3, 48, 80)
    assert torch.allclose(same, I0.unsqueeze(1).expand_as(same), atol=1e-4)
    I1 = torch.roll(I0, 2, dims=-1)
    out = interp(I0, I1)
    assert out.shape == (2, 3, 3, 48, 80) and 0 <= out.min() and out.max() <= 1


def test_interpolate_u8_contract_and_a_share_of_the_times():
    blend = FrameInterpolator(load_method("blend"), 4, 8, 12)
    window = np.random.default_rng(0).integers(0, 256, (3, 8, 12, 3), dtype=np.uint8)  # (P+1,H,W,3)
    out = blend.interpolate_u8(window, [0, 1])
    assert out.shape == (2, 3, 8, 12, 3) and out.dtype == np.uint8  # (len(keep),T,H,W,3)
    a, b = window[:2].astype(np.float32) / 255, window[1:].astype(np.float32) / 255
    want = np.floor((0.5 * a + 0.5 * b) * 255 + 0.5)
    assert np.abs(out[:, 1].astype(np.float32) - want).max() <= 1
    assert np.array_equal(blend.interpolate_u8(window, [1], blend.ts[2:]), out[1:, 2:])
    assert blend.name == "blend" and not blend.is_model and not blend.reduced


def test_time_grid_is_made_as_asked_for():
    grid = TimeGrid(5)
    assert len(grid) == 4 and list(grid) == [0.2, 0.4, 0.6, 0.8] and grid[1] == 0.4
    assert [list(c) for c in grid.chunks(3)] == [[0.2, 0.4, 0.6], [0.8]]
    assert len(TimeGrid(10 ** 9)) == 10 ** 9 - 1  # no list of a billion times


def test_a_job_builds_the_same_interpolator_as_its_caller(ckpt):
    job = PairJob("superslomo", ckpt, "fp32", 3, 48, 64, None)
    mine = FrameInterpolator.for_job(job, load_method("superslomo", ckpt, "cpu", "fp32"))
    theirs = FrameInterpolator.for_job(job)  # what a spawned helper does
    window = np.random.default_rng(1).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    assert mine.is_model and mine.name == "superslomo" and mine.batch_size == 1
    assert np.array_equal(mine.interpolate_u8(window, [0]), theirs.interpolate_u8(window, [0]))


def test_load_method_refuses_what_does_not_apply(ckpt):
    with pytest.raises(InputError, match="applies to --method superslomo only"):
        load_method("blend", ckpt)
    with pytest.raises(InputError, match="unknown method"):
        load_method("magic")
    with pytest.raises(InputError):
        load_method("superslomo", ckpt, device="tpu")
    assert load_method("superslomo", ckpt, "cpu", fast=True).config.flip_ensemble is False
    assert video.METHODS[0] == "superslomo"
