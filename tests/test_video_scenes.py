"""slomo.video.scenes: the one scene-cut detector (conversion and data preparation use it)."""
import numpy as np
import torch

from slomo.video import scenes


def test_cut_score_motion_versus_cut():
    low = torch.rand(1, 3, 6, 32, generator=torch.Generator().manual_seed(0))
    base = (torch.nn.functional.interpolate(low, size=(48, 256), mode="bicubic").clamp(0, 1)[0] * 255)
    base = base.permute(1, 2, 0).to(torch.uint8).numpy()
    a = np.ascontiguousarray(base[:, :128])
    moved = np.ascontiguousarray(base[:, 12:140])   # camera pan: picture changes, colours hardly
    other = (a * 0.4 + np.array([140, 30, 90])).astype(np.uint8)  # another shot, other colours
    ta, tm, to = (scenes.thumbnail(x) for x in (a, moved, other))
    assert scenes.cut_score(ta, ta) == 0
    assert not scenes.is_cut(ta, tm)
    assert scenes.is_cut(ta, to)
    assert not scenes.is_cut(ta, to, threshold=0)
    s = scenes.scores([a, moved, other, other])
    assert s.shape == (3,) and s[1] > scenes.DEFAULT_THRESHOLD > s[0] and s[2] == 0
