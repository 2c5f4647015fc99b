"""Losses: pure functions with the expected zeros, signs and invariances."""
import pytest
import torch

from slomo.errors import InputError
from slomo.losses import (
    REFERENCE_WEIGHTS,
    find_vgg16_weights,
    load_vgg16_conv4_3,
    reconstruction_loss,
    smoothness_loss,
    total_loss,
    warping_loss,
)


def test_reference_weights_are_documented_values():
    assert REFERENCE_WEIGHTS == {"reconstruction": 204.0, "warping": 102.0, "perceptual": 0.005, "smoothness": 1.0}


def test_reconstruction_is_mean_absolute_error(rng):
    a, b = torch.rand(2, 3, 8, 8, generator=rng), torch.rand(2, 3, 8, 8, generator=rng)
    assert reconstruction_loss(a, a) == 0
    assert torch.isclose(reconstruction_loss(a, b), (a - b).abs().mean())
    assert torch.isclose(reconstruction_loss(a, b), reconstruction_loss(b, a))


def test_smoothness_zero_for_constant_flow_and_shift_invariant(rng):
    const = torch.full((1, 2, 16, 16), 3.0)
    assert smoothness_loss(const, -const) == 0
    f = torch.randn(1, 2, 16, 16, generator=rng)
    assert smoothness_loss(f, f) > 0
    assert torch.isclose(smoothness_loss(f + 5, f - 2), smoothness_loss(f, f))


def _shifted_pair(rng, dx=2):
    base = torch.rand(1, 3, 24, 40, generator=rng)
    I0 = base[..., 4:20, 4:36]
    I1 = base[..., 4:20, 4 - dx:36 - dx]  # content moves right by dx: I0(x) = I1(x + dx)
    It = base[..., 4:20, 4 - dx // 2:36 - dx // 2]
    return I0, I1, It


def test_warping_loss_smaller_with_true_flow(rng):
    I0, I1, It = _shifted_pair(rng)
    z = torch.zeros(1, 2, *I0.shape[-2:])
    F01, F10 = z.clone(), z.clone()
    F01[:, 0], F10[:, 0] = 2, -2
    Ft0, Ft1 = z.clone(), z.clone()
    Ft0[:, 0], Ft1[:, 0] = -1, 1
    good = warping_loss(I0, I1, It[:, None], F01, F10, Ft0[:, None], Ft1[:, None], "border")
    bad = warping_loss(I0, I1, It[:, None], z, z, z[:, None], z[:, None], "border")
    assert good < 0.5 * bad


def test_total_loss_switches_terms_off():
    B, T, H, W = 1, 2, 16, 16
    out = {"It": torch.rand(B, T, 3, H, W), "F01": torch.zeros(B, 2, H, W, requires_grad=True),
           "F10": torch.zeros(B, 2, H, W), "Ft0": torch.zeros(B, T, 2, H, W), "Ft1": torch.zeros(B, T, 2, H, W)}
    I0, I1, It = torch.rand(B, 3, H, W), torch.rand(B, 3, H, W), torch.rand(B, T, 3, H, W)
    _, terms = total_loss(out, I0, I1, It, {"reconstruction": 1.0, "warping": 0.0, "perceptual": 1.0,
                                            "smoothness": 0.0}, features=None)
    assert set(terms) == {"reconstruction"}
    loss, terms = total_loss(out, I0, I1, It, dict(REFERENCE_WEIGHTS), features=None)
    assert set(terms) == {"reconstruction", "warping", "smoothness"}
    expected = 204 * terms["reconstruction"] + 102 * terms["warping"] + terms["smoothness"]
    assert abs(float(loss.detach()) - expected) < 1e-3 * expected


def test_perceptual_loss_off_without_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert find_vgg16_weights() is None
    assert load_vgg16_conv4_3() is None


def test_perceptual_weights_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_vgg16_conv4_3(tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(InputError, match="VGG16"):
        load_vgg16_conv4_3(bad)


def test_visibility_loss_rewards_the_closer_warp():
    from slomo.losses import visibility_loss
    It = torch.zeros(1, 3, 4, 4)
    g0, g1 = It.clone(), It.clone()
    g1[..., :2] = 0.5  # left half: I0's warp is right
    g0[..., 2:] = 0.5  # right half: I1's warp is right
    right = torch.zeros(1, 1, 4, 4)
    right[..., :2] = 1
    assert float(visibility_loss(right.clamp(0.01, 0.99), g0, g1, It)) < 0.02
    assert abs(float(visibility_loss(torch.full_like(right, 0.5), g0, g1, It)) - 0.6931) < 1e-3
    assert float(visibility_loss(1 - right.clamp(0.01, 0.99), g0, g1, It)) > 4
    assert float(visibility_loss(right, It, It, It)) == 0  # no labelled pixel


def test_total_loss_adds_the_visibility_term_only_when_weighted():
    from slomo.losses import LOSS_WEIGHTS
    B, T, H, W = 1, 1, 8, 8
    out = {"It": torch.rand(B, T, 3, H, W), "Vt0": torch.rand(B, T, 1, H, W),
           "g0_refined": torch.rand(B, T, 3, H, W), "g1_refined": torch.rand(B, T, 3, H, W)}
    I0, I1, It = torch.rand(B, 3, H, W), torch.rand(B, 3, H, W), torch.rand(B, T, 3, H, W)
    w = {k: 0.0 for k in LOSS_WEIGHTS} | {"reconstruction": 1.0}
    _, terms = total_loss(out, I0, I1, It, w)
    assert set(terms) == {"reconstruction"}
    loss, terms = total_loss(out, I0, I1, It, w | {"visibility": 2.0})
    assert set(terms) == {"reconstruction", "visibility"}
    assert abs(float(loss) - terms["reconstruction"] - 2 * terms["visibility"]) < 1e-5


def test_flow_distillation_counts_only_trusted_pixels():
    from slomo.losses import flow_distillation_loss
    teacher = torch.zeros(1, 4, 4, 4)
    Ft0, Ft1 = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    ok = torch.ones(1, 2, 4, 4, dtype=torch.bool)
    assert float(flow_distillation_loss(Ft0, Ft1, teacher, ok)) == 0
    Ft0[:, 0, :, :2] = 3.0  # Ft0 is 3 px off in x on the left half
    assert float(flow_distillation_loss(Ft0, Ft1, teacher, ok)) == pytest.approx(0.5 * 1.5)
    ok[:, 0, :, :2] = False  # ... where I0 does not see the pixel: not counted
    assert float(flow_distillation_loss(Ft0, Ft1, teacher, ok)) == 0


def test_total_loss_adds_distillation_only_with_a_teacher_and_a_weight():
    from slomo.losses import LOSS_WEIGHTS
    B, T, H, W = 2, 1, 8, 8
    out = {"It": torch.rand(B, T, 3, H, W), "Ft0_refined": torch.rand(B, T, 2, H, W),
           "Ft1_refined": torch.rand(B, T, 2, H, W)}
    I0, I1, It = torch.rand(B, 3, H, W), torch.rand(B, 3, H, W), torch.rand(B, T, 3, H, W)
    teacher = (torch.rand(B, T, 4, H, W), torch.ones(B, T, 2, H, W, dtype=torch.bool))
    w = {k: 0.0 for k in LOSS_WEIGHTS} | {"reconstruction": 1.0, "distillation": 0.5}
    assert set(total_loss(out, I0, I1, It, w)[1]) == {"reconstruction"}  # no teacher
    loss, terms = total_loss(out, I0, I1, It, w, teacher=teacher)
    assert set(terms) == {"reconstruction", "distillation"} and terms["distillation"] > 0
    assert float(loss) == pytest.approx(terms["reconstruction"] + 0.5 * terms["distillation"], rel=1e-5)
