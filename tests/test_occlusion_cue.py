"""checkpoints/occlusion_cue.py: forward-backward consistency points at the input that sees a pixel."""
import importlib.util

import numpy as np
import torch

from conftest import REPO
from test_visibility import moving_square, occlusion_masks


def _cue():
    spec = importlib.util.spec_from_file_location("occlusion_cue", REPO / "checkpoints" / "occlusion_cue.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_consistency_trusts_the_input_that_sees_the_uncovered_background():
    cue = _cue()
    gaps = []
    for seed in range(4):
        frames, y, xs = moving_square(np.random.default_rng(seed), 3, speed=6.0)
        I0, I1 = (torch.from_numpy(frames[k]).permute(2, 0, 1)[None].float() / 255 for k in (0, 2))
        Vt0, g0, g1 = cue.consistency_visibility(I0, I1)
        only0, only1 = occlusion_masks(y, xs)
        assert Vt0.shape == (1, 1, *frames[0].shape[:2]) and only0.any() and only1.any()
        gaps.append(float(Vt0[0, 0][only0].mean() - Vt0[0, 0][only1].mean()))
    assert np.mean(gaps) > 0.2, gaps  # a flat map gives 0; the reversed sign gives a negative gap
