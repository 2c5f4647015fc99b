"""slomo.occlusion: the round-trip test, and the two visibility maps built on it, on a moving square."""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import checkpoint_script
from slomo.occlusion import consistency_visibility, round_trip_failed, true_visibility
from test_visibility import moving_square, occlusion_masks

shift = st.floats(-6, 6, allow_nan=False)


def _field(dx, dy, h=12, w=10):  # (1,2,h,w) constant flow
    return torch.tensor([dx, dy], dtype=torch.float32).view(1, 2, 1, 1).expand(1, 2, h, w).contiguous()


@settings(max_examples=30, deadline=None)
@given(shift, shift)
def test_a_flow_and_its_inverse_always_come_back(dx, dy):
    assert not round_trip_failed(_field(dx, dy), _field(-dx, -dy)).any()


@settings(max_examples=30, deadline=None)
@given(shift, shift, st.floats(1.5, 4))
def test_a_flow_that_does_not_come_back_fails_everywhere(dx, dy, miss):
    assert round_trip_failed(_field(dx, dy), _field(-dx + miss, -dy)).all()


def _triplets(n=4, speed=6.0):
    for seed in range(n):
        frames, y, xs = moving_square(np.random.default_rng(seed), 3, speed=speed)
        I0, It, I1 = (torch.from_numpy(frames[k]).permute(2, 0, 1)[None].float() / 255 for k in range(3))
        yield I0, It, I1, occlusion_masks(y, xs)


def test_true_visibility_finds_the_pixels_only_one_input_sees():
    for I0, It, I1, (only0, only1) in _triplets():
        V = true_visibility(I0, It, I1)[0, 0]
        assert V.shape == only0.shape and set(V.unique().tolist()) <= {0.0, 0.5, 1.0}
        assert V[only0].mean() > 0.8 and V[only1].mean() < 0.2, (V[only0].mean(), V[only1].mean())
        assert (V[~(only0 | only1)] == 0.5).float().mean() > 0.9  # elsewhere both inputs see it


def test_consistency_trusts_the_input_that_sees_the_uncovered_background():
    gaps = []
    for I0, _, I1, (only0, only1) in _triplets():
        Vt0, g0, g1 = consistency_visibility(I0, I1)
        assert Vt0.shape == (1, 1, *only0.shape) and g0.shape == g1.shape == I0.shape
        gaps.append(float(Vt0[0, 0][only0].mean() - Vt0[0, 0][only1].mean()))
    assert np.mean(gaps) > 0.2, gaps  # a flat map gives 0; the reversed sign gives a negative gap


def test_the_oracle_script_counts_occlusions_among_the_labelled_pixels():
    cue = checkpoint_script("occlusion_cue")
    for I0, It, I1, _ in _triplets(2):
        for true_flow in (False, True):
            Vt0, g0, g1, occluded = cue.oracle(I0, It, I1, true_flow)
            assert occluded.any() and 0 < cue.labelled_share(occluded, g0, g1, It) <= 1


@settings(max_examples=20, deadline=None)
@given(st.integers(-4, 4), st.integers(-4, 4), st.sampled_from([0.25, 0.5, 0.75]))
def test_splatting_a_uniform_flow_gives_eq_4_inside_the_frame(dx, dy, t):
    mod = checkpoint_script("flow_headroom")
    F01, F10 = _field(2 * dx, 2 * dy, 24, 20), _field(-2 * dx, -2 * dy, 24, 20)
    I = torch.rand(1, 3, 24, 20)
    Ft0, Ft1 = mod.splatted_flows(I, I, F01, F10, t)
    inner = (slice(None), slice(None), slice(9, 15), slice(9, 11))
    assert torch.allclose(Ft0[inner], -t * F01[inner], atol=1e-4)
    assert torch.allclose(Ft1[inner], (1 - t) * F01[inner], atol=1e-4)


def test_forward_splat_keeps_the_total_weight_of_pixels_that_stay_inside():
    mod = checkpoint_script("flow_headroom")
    flow = torch.rand(1, 2, 16, 16) * 2 - 1  # under a pixel: everything lands inside but the border
    num, den = mod.forward_splat(torch.ones(1, 1, 16, 16), flow, torch.ones(1, 1, 16, 16))
    assert torch.allclose(num, den) and abs(float(den[..., 2:-2, 2:-2].mean()) - 1) < 0.1


def test_the_headroom_script_scores_the_oracles_above_the_front_end():
    mod = checkpoint_script("flow_headroom")
    for I0, It, I1, _ in _triplets(2):
        r = mod.headroom(I0, It, I1)
        assert set(r) == {"front end", "+ oracle V", "teacher flow", "+ true V", "eq. 4 px", "splatted px",
                          "re-estimated px"}
        assert r["+ oracle V"] >= r["front end"] and r["teacher flow"] > r["front end"]
        assert all(r[k] >= 0 for k in ("eq. 4 px", "splatted px", "re-estimated px"))
