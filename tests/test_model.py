"""The model's contract, and its agreement with an independent statement of the reference."""
import datetime

import pytest
import torch
import torch.nn.functional as F

from slomo import InputError, SuperSloMo, write_reference_checkpoint
from slomo.config import ModelConfig

MEAN = torch.tensor([0.429, 0.431, 0.397]).view(1, 3, 1, 1)


def small(**kw):
    torch.manual_seed(0)
    return SuperSloMo(width=0.25, **kw).eval()


@pytest.mark.parametrize("H,W", [(70, 101), (9, 17), (32, 32)])
def test_odd_and_tiny_sizes_keep_shape(H, W):
    m = small()
    out = m.interpolate(torch.rand(2, 3, H, W), torch.rand(2, 3, H, W), [0.25, 0.5, 0.75])
    assert out.shape == (2, 3, 3, H, W)
    assert out.min() >= 0 and out.max() <= 1


def test_batched_t_equals_one_by_one():
    m = small()
    I0, I1 = torch.rand(1, 3, 40, 56), torch.rand(1, 3, 40, 56)
    ts = [0.125, 0.5, 0.875]
    batched = m.interpolate(I0, I1, ts, precision="fp32")
    single = torch.cat([m.interpolate(I0, I1, t, precision="fp32") for t in ts], dim=1)
    assert torch.allclose(batched, single, atol=1e-5)
    chunked = m.interpolate(I0, I1, ts, precision="fp32", max_batch=1)
    assert torch.allclose(batched, chunked, atol=1e-6)


def test_aux_has_teaching_intermediates():
    m = small()
    frames, aux = m.interpolate(torch.rand(1, 3, 33, 47), torch.rand(1, 3, 33, 47), [0.3, 0.6], return_aux=True)
    assert aux["F01"].shape == (1, 2, 33, 47) and aux["F10"].shape == (1, 2, 33, 47)
    for k in ("Ft0", "Ft1", "Ft0_refined", "Ft1_refined"):
        assert aux[k].shape == (1, 2, 2, 33, 47)
    for k in ("g0", "g1", "g0_refined", "g1_refined"):
        assert aux[k].shape == (1, 2, 3, 33, 47)
    assert aux["Vt0"].shape == (1, 2, 1, 33, 47)
    assert torch.allclose(aux["Vt0"] + aux["Vt1"], torch.ones_like(aux["Vt0"]))


def test_dis_front_end_with_zero_head_is_flow_interpolation():
    m = small(flow="dis", padding="border", leaky_head=False)
    torch.nn.init.zeros_(m.interp.conv3.weight)
    torch.nn.init.zeros_(m.interp.conv3.bias)
    assert m.flow is None
    # a square moving right: the zero head means Vt0 = 0.5, no residual
    I0 = torch.zeros(1, 3, 64, 64)
    I1 = torch.zeros(1, 3, 64, 64)
    I0[..., 20:36, 16:32] = 1
    I1[..., 20:36, 22:38] = 1
    frames, aux = m.interpolate(I0, I1, 0.5, return_aux=True, precision="fp32")
    assert torch.allclose(aux["Vt0"], torch.full_like(aux["Vt0"], 0.5))
    assert aux["F01"][0, 0, 28, 24] > 3  # DIS sees the motion to the right
    expect = torch.zeros(1, 3, 64, 64)
    expect[..., 20:36, 19:35] = 1
    assert (frames[0, 0] - expect[0]).abs().mean() < 0.03


@pytest.mark.parametrize("bad_t", [0.0, 1.0, -0.5, [0.5, 1.2]])
def test_t_outside_open_interval(bad_t):
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        small().interpolate(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), bad_t)


def test_mismatched_and_malformed_inputs():
    m = small()
    with pytest.raises(InputError, match="same shape"):
        m.interpolate(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 40), 0.5)
    with pytest.raises(InputError, match=r"\(B,3,H,W\)"):
        m.interpolate(torch.rand(3, 32, 32), torch.rand(3, 32, 32), 0.5)
    with pytest.raises(InputError, match="uint8"):
        m.interpolate(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8), 0.5)


# ---- an independent, plain fp32 statement of the reference algorithm ---------------------------
def _ref_unet(sd, x):
    lk = lambda v: F.leaky_relu(v, 0.1)  # noqa: E731
    conv = lambda v, n: F.conv2d(v, sd[n + ".weight"], sd[n + ".bias"], padding=sd[n + ".weight"].shape[-1] // 2)  # noqa: E731
    x = lk(conv(lk(conv(x, "conv1")), "conv2"))
    skips = [x]
    for i in range(1, 6):
        x = F.avg_pool2d(x, 2)
        x = lk(conv(lk(conv(x, f"down{i}.conv1")), f"down{i}.conv2"))
        skips.append(x)
    skips.pop()
    for i in range(1, 6):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = lk(conv(x, f"up{i}.conv1"))
        x = lk(conv(torch.cat([x, skips.pop()], 1), f"up{i}.conv2"))
    return lk(conv(x, "conv3"))


def _ref_warp(img, flow):
    # bilinear sampling written out by hand, zeros outside the image
    B, C, H, W = img.shape
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij")
    px, py = xs + flow[:, 0].double(), ys + flow[:, 1].double()
    x0, y0 = px.floor(), py.floor()
    out = torch.zeros(B, C, H, W, dtype=torch.float64)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            w = (1 - (px - xi).abs()) * (1 - (py - yi).abs())
            ok = (xi >= 0) & (xi <= W - 1) & (yi >= 0) & (yi <= H - 1)
            idx = (yi.clamp(0, H - 1) * W + xi.clamp(0, W - 1)).long()
            vals = torch.gather(img.double().flatten(2), 2, idx.flatten(1).unsqueeze(1).expand(B, C, -1)).view(B, C, H, W)
            out += vals * (w * ok).unsqueeze(1)
    return out.float()


def _ref_interpolate(fc, at, I0, I1, t):
    I0, I1 = I0 - MEAN, I1 - MEAN
    flow = _ref_unet(fc, torch.cat([I0, I1], 1))
    F01, F10 = flow[:, :2], flow[:, 2:]
    Ft0 = -(1 - t) * t * F01 + t * t * F10
    Ft1 = (1 - t) ** 2 * F01 - t * (1 - t) * F10
    g0, g1 = _ref_warp(I0, Ft0), _ref_warp(I1, Ft1)
    o = _ref_unet(at, torch.cat([I0, I1, F01, F10, Ft1, Ft0, g1, g0], 1))
    Ft0f, Ft1f = Ft0 + o[:, :2], Ft1 + o[:, 2:4]
    V0 = torch.sigmoid(o[:, 4:5])
    V1 = 1 - V0
    It = ((1 - t) * V0 * _ref_warp(I0, Ft0f) + t * V1 * _ref_warp(I1, Ft1f)) / ((1 - t) * V0 + t * V1)
    return (It + MEAN).clamp(0, 1), F01


def test_reference_checkpoint_matches_independent_equations(tmp_path):
    torch.manual_seed(1)
    donor = SuperSloMo()  # full reference widths, random weights
    with torch.no_grad():  # scale the heads so flows are several pixels
        donor.flow.conv3.weight.mul_(60.0)
        donor.flow.conv3.bias.copy_(torch.tensor([4.0, 3.0, 3.5, 2.5]))  # the leaky head damps negatives
        donor.interp.conv3.weight.mul_(10.0)
    fc = {k: v.clone() for k, v in donor.flow.state_dict().items()}
    at = {k: v.clone() for k, v in donor.interp.state_dict().items()}
    path = write_reference_checkpoint(tmp_path / "SuperSloMo.ckpt", fc, at)
    with torch.serialization.safe_globals([datetime.datetime]):
        raw = torch.load(path, weights_only=True)
    assert isinstance(raw["timestamp"], datetime.datetime)

    model = SuperSloMo.from_checkpoint(path, device="cpu")
    assert model.config.width == 1.0 and model.config.flow == "unet"
    g = torch.Generator().manual_seed(3)
    I0 = torch.rand(1, 3, 64, 96, generator=g)
    I1 = torch.roll(I0, shifts=(2, 3), dims=(2, 3)) * 0.9 + 0.05
    got, aux = model.interpolate(I0, I1, [0.5, 0.25], precision="fp32", return_aux=True)
    for k, t in enumerate((0.5, 0.25)):
        want, F01 = _ref_interpolate(fc, at, I0, I1, t)
        if k == 0:
            assert F01.abs().mean() > 2.0, "flows should be several pixels for this test to mean something"
            assert torch.allclose(aux["F01"], F01, atol=1e-3)
        diff = (got[:, k] - want).abs()
        print(f"t={t}: max abs {diff.max():.2e}, mean abs {diff.mean():.2e}")
        assert diff.max() < 2e-3 and diff.mean() < 1e-4, (diff.max(), diff.mean())


def test_zero_head_dis_model_equals_flow_baseline_at_odd_sizes():
    from slomo.baselines import FlowInterp
    m = small(flow="dis", padding="border", leaky_head=False)
    torch.nn.init.zeros_(m.interp.conv3.weight)
    torch.nn.init.zeros_(m.interp.conv3.bias)
    g = torch.Generator().manual_seed(5)
    I0 = torch.rand(1, 3, 50, 70, generator=g)
    I1 = torch.roll(I0, shifts=(1, 2), dims=(2, 3))
    ours = m.interpolate(I0, I1, [0.3, 0.5], precision="fp32")
    base = FlowInterp(preset="medium", padding="border").interpolate(I0, I1, [0.3, 0.5])
    assert torch.allclose(ours, base, atol=1e-5)


def test_zero_head_fine_mirrored_model_equals_the_same_classical_front_end():
    from slomo.baselines import FlowInterp
    m = small(flow="dis", padding="border", leaky_head=False, dis_preset="fine", flip_ensemble=True)
    torch.nn.init.zeros_(m.interp.conv3.weight)
    torch.nn.init.zeros_(m.interp.conv3.bias)
    g = torch.Generator().manual_seed(6)
    I0 = torch.rand(1, 3, 45, 61, generator=g)
    I1 = torch.roll(I0, shifts=(2, -1), dims=(2, 3))
    ours = m.interpolate(I0, I1, [0.25, 0.5], precision="fp32")
    base = FlowInterp(preset="fine", padding="border", flip_ensemble=True).interpolate(I0, I1, [0.25, 0.5])
    assert ours.shape == (1, 2, 3, 45, 61)
    assert torch.allclose(ours, base, atol=1e-5)


def test_flip_ensemble_averages_the_pair_and_its_mirror_image():
    m = small(flow="dis", padding="border", leaky_head=False)
    g = torch.Generator().manual_seed(7)
    I0 = torch.rand(1, 3, 40, 56, generator=g)
    I1 = torch.roll(I0, shifts=(0, 3), dims=(2, 3))
    plain = m.interpolate(I0, I1, 0.5, precision="fp32")
    mirrored = m.interpolate(I0.flip(-1), I1.flip(-1), 0.5, precision="fp32").flip(-1)
    both_model = SuperSloMo(m.config, flip_ensemble=True).eval()
    both_model.load_state_dict(m.state_dict())
    both = both_model.interpolate(I0, I1, 0.5, precision="fp32")
    assert not torch.allclose(plain, mirrored, atol=1e-3)  # DIS is not mirror-symmetric: two estimates
    assert torch.allclose(both, ((plain + mirrored) / 2).clamp(0, 1), atol=1e-5)


def test_config_rejects_a_non_boolean_flip_ensemble():
    with pytest.raises(InputError, match="flip_ensemble"):
        ModelConfig(flip_ensemble="yes")


def test_where_the_weights_came_from_is_given_at_construction(tmp_path):
    m = small(flow="dis")
    assert m.metadata == {} and m.checkpoint_path is None
    path = m.save(tmp_path / "m.pt", step=7)
    back = SuperSloMo.from_checkpoint(path, device="cpu")
    assert back.metadata == {"step": 7} and back.checkpoint_path == str(path)
    assert SuperSloMo(back.config, metadata={"a": 1}, checkpoint_path="x").metadata == {"a": 1}


def test_config_overrides_at_loading_leave_the_checkpoint_as_it_is(tmp_path):
    path = small(flow="dis", flip_ensemble=True).save(tmp_path / "mirror.pt")
    plain = SuperSloMo.from_checkpoint(path, device="cpu", flip_ensemble=False)
    assert plain.config.flip_ensemble is False
    assert SuperSloMo.from_checkpoint(path, device="cpu").config.flip_ensemble is True
    I0 = torch.rand(1, 3, 32, 48)
    I1 = torch.roll(I0, 2, -1)
    assert torch.allclose(plain.interpolate(I0, I1, 0.5, precision="fp32"),
                          small(flow="dis").interpolate(I0, I1, 0.5, precision="fp32"), atol=1e-6)


def test_precomputed_kernels_serve_inference_on_frames_of_that_size():
    from slomo.cpu import nnpack
    if not nnpack.direct_available():
        pytest.skip("NNPACK cannot be called directly here")
    m = small()
    assert m.precompute_kernels(50, 70) > 0  # the frames are padded to 64x96 inside
    kept = [e for net in (m.flow, m.interp) for layer, _ in net.levels() for e in layer.kernel_cache.values()]
    m.interpolate(torch.rand(1, 3, 50, 70), torch.rand(1, 3, 50, 70), [0.5], precision="fp32")
    again = [e for net in (m.flow, m.interp) for layer, _ in net.levels() for e in layer.kernel_cache.values()]
    assert len(again) == len(kept) and all(a is b for a, b in zip(kept, again))
