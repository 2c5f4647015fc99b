"""slomo.data.frames: one contract per name, and videos decoded by the conversion's ffmpeg reader."""
import cv2
import numpy as np
import pytest
import torch
from _clips import make_clip
from _frames import write_sequence

from slomo.data import find_sources, iter_frames, read_rgb_u8, to_chw
from slomo.data.frames import downscaled_frames
from slomo.errors import InputError
from slomo.video import read_frames


def test_read_rgb_u8_gives_hwc_uint8_rgb(tmp_path):
    bgr = np.zeros((5, 7, 3), np.uint8)
    bgr[..., 0] = 200  # blue, in OpenCV's order
    cv2.imwrite(str(tmp_path / "blue.png"), bgr)
    rgb = read_rgb_u8(tmp_path / "blue.png")
    assert rgb.shape == (5, 7, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    assert (rgb[..., 2] == 200).all() and (rgb[..., :2] == 0).all()
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read image"):
        read_rgb_u8(tmp_path / "bad.png")


def test_to_chw_gives_3hw_float_in_0_1():
    frame = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    x = to_chw(frame)
    assert x.shape == (3, 2, 3) and x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(frame).permute(2, 0, 1).float() / 255)


def test_videos_are_decoded_by_ffmpeg_as_the_conversion_decodes_them(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=5, audio=None)
    mine, theirs = list(iter_frames(clip)), list(read_frames(clip))
    assert len(mine) == 5 and all(np.array_equal(a, b) for a, b in zip(mine, theirs))
    write_sequence(tmp_path / "seq", 4, seed=0)
    frames = list(iter_frames(tmp_path / "seq"))
    assert len(frames) == 4 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert find_sources(tmp_path) == [tmp_path / "c.mp4", tmp_path / "seq"]


def test_downscaled_frames_keep_even_sizes_and_stop_at_max_frames(tmp_path):
    write_sequence(tmp_path / "seq", 6, seed=0)  # 64x48
    frames = list(downscaled_frames(tmp_path / "seq", max_side=33, max_frames=4))
    assert len(frames) == 4 and frames[0].shape == (24, 32, 3)  # 64x48 times 33/64, each side rounded to even
    assert list(downscaled_frames(tmp_path / "seq", 1000, 2))[0].shape == (48, 64, 3)
