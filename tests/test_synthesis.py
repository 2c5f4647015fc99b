import torch

from slomo.synthesis import intermediate_flows, synthesize


def test_intermediate_flows_endpoints():
    F01, F10 = torch.randn(1, 2, 4, 4), torch.randn(1, 2, 4, 4)
    t = torch.full((1, 1, 1, 1), 0.5)
    Ft0, Ft1 = intermediate_flows(F01, F10, t)
    assert torch.allclose(Ft0, -0.25 * F01 + 0.25 * F10)
    assert torch.allclose(Ft1, 0.25 * F01 - 0.25 * F10)
    # near t=0 the flow back to I0 vanishes and the flow to I1 approaches F01
    Ft0, Ft1 = intermediate_flows(F01, F10, torch.full((1, 1, 1, 1), 1e-6))
    assert Ft0.abs().max() < 1e-4 and torch.allclose(Ft1, F01, atol=1e-4)


def test_no_refinement_is_linear_blend_for_zero_flow(rng):
    I0, I1 = torch.rand(2, 3, 8, 8, generator=rng), torch.rand(2, 3, 8, 8, generator=rng)
    z = torch.zeros(2, 2, 8, 8)
    t = torch.tensor([0.25, 0.75])
    out = synthesize(I0, I1, z, z, t)
    expect = (1 - t.view(-1, 1, 1, 1)) * I0 + t.view(-1, 1, 1, 1) * I1
    assert torch.allclose(out["It"], expect, atol=1e-6)


def test_constant_motion_is_recovered(rng):
    # a pattern moving 4 px right: I1(x) = I0(x - 4); F01 = +4, F10 = -4
    H, W = 16, 40
    base = torch.rand(1, 3, H, W + 8, generator=rng)
    I0, I1, Ihalf = base[..., 4:4 + W], base[..., 0:W], base[..., 2:2 + W]
    F01 = torch.zeros(1, 2, H, W)
    F01[:, 0] = 4.0  # I0(x) = base(x+4) = I1(x+4)
    F10 = -F01
    out = synthesize(I0, I1, F01, F10, torch.tensor([0.5]))
    assert torch.allclose(out["It"][..., 4:-4], Ihalf[..., 4:-4], atol=1e-5)


def test_refine_sees_twenty_channels_and_visibility_weights(rng):
    I0, I1 = torch.rand(1, 3, 8, 8, generator=rng), torch.rand(1, 3, 8, 8, generator=rng)
    z = torch.zeros(1, 2, 8, 8)
    seen = {}

    def refine(x):
        seen["c"] = x.shape[1]
        out = torch.zeros(x.shape[0], 5, *x.shape[2:])
        out[:, 4] = 30.0  # Vt0 ~ 1: only I0 is visible
        return out

    out = synthesize(I0, I1, z, z, torch.tensor([0.5]), refine=refine)
    assert seen["c"] == 20
    assert torch.allclose(out["It"], I0, atol=1e-5)
    assert torch.allclose(out["Vt0"] + out["Vt1"], torch.ones_like(out["Vt0"]))
