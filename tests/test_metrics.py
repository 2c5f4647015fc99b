import pytest
import torch

from slomo.metrics import interpolation_error, psnr, ssim


def test_identical_images():
    x = torch.rand(2, 3, 32, 32)
    assert torch.all(psnr(x, x) > 90)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    assert torch.all(interpolation_error(x, x) == 0)


def test_known_values():
    a, b = torch.zeros(1, 3, 16, 16), torch.full((1, 3, 16, 16), 0.1)
    assert psnr(a, b).item() == pytest.approx(20.0, abs=1e-4)
    assert interpolation_error(a, b).item() == pytest.approx(25.5, abs=1e-3)


def test_ssim_drops_with_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 48, 48, generator=g)
    noisy = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    assert ssim(x, noisy).item() < 0.9
    with pytest.raises(ValueError):
        ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))


def test_visibility_separation_scores_flat_0_and_perfect_1():
    from slomo.metrics import visibility_separation
    It = torch.zeros(2, 3, 4, 4)
    g0, g1 = It.clone(), It.clone()
    g1[..., :2] = 0.5
    g0[..., 2:] = 0.5
    perfect = torch.zeros(2, 1, 4, 4)
    perfect[..., :2] = 1
    assert torch.allclose(visibility_separation(perfect, g0, g1, It), torch.ones(2))
    assert torch.allclose(visibility_separation(torch.full_like(perfect, 0.5), g0, g1, It), torch.zeros(2))
    assert torch.allclose(visibility_separation(1 - perfect, g0, g1, It), -torch.ones(2))
    assert torch.isnan(visibility_separation(perfect, It, It, It)).all()


def _pictures(g):
    """Test images: smooth shapes, texture, and their noisy, shifted and darkened versions."""
    H, W = 72, 96
    ys, xs = torch.meshgrid(torch.linspace(0, 1, H), torch.linspace(0, 1, W), indexing="ij")
    smooth = torch.stack([xs, ys, ((xs - 0.5) ** 2 + (ys - 0.4) ** 2 < 0.08).float()]).unsqueeze(0)
    texture = torch.nn.functional.interpolate(torch.rand(1, 3, 9, 12, generator=g), size=(H, W), mode="bicubic",
                                              align_corners=False).clamp(0, 1)
    a = torch.cat([smooth, texture])
    b = torch.cat([(smooth + 0.05 * torch.randn(smooth.shape, generator=g)).clamp(0, 1),
                   torch.roll(texture, 3, -1) * 0.7 + 0.1])
    return a, b


def test_ssim_matches_scikit_image():
    """The convention of papers' tables: scikit-image's structural_similarity, Gaussian window."""
    skimage_metrics = pytest.importorskip("skimage.metrics")
    a, b = _pictures(torch.Generator().manual_seed(1))
    ours = ssim(a, b)
    for i in range(len(a)):
        want = skimage_metrics.structural_similarity(
            a[i].permute(1, 2, 0).double().numpy(), b[i].permute(1, 2, 0).double().numpy(), gaussian_weights=True,
            sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=2)
        assert abs(ours[i].item() - want) < 1e-4, (i, ours[i].item(), want)
    assert 0.2 < ours.min() and ours.max() < 0.95  # images far enough apart for the check to mean something
