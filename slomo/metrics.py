"""Image quality metrics. All take (B,3,H,W) float RGB in [0,1] and return (B,) float tensors."""
import torch
import torch.nn.functional as F


def psnr(pred, target, eps: float = 1e-10):
    """Peak signal-to-noise ratio in dB, peak 1.0, over all pixels and channels."""
    mse = ((pred.float() - target.float()) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / (mse + eps))


def _gaussian_window(size: int, sigma: float, channels: int, device):
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    g = (g / g.sum()).view(1, 1, 1, -1)
    return g.expand(channels, 1, 1, size), g.view(1, 1, -1, 1).expand(channels, 1, size, 1)


def ssim(pred, target, window: int = 11, sigma: float = 1.5):
    """Structural similarity (Wang et al. 2004): Gaussian 11x11 window, sigma 1.5,
    constants for a data range of 1, valid region only, mean over channels and pixels. The same as
    scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=...)`, the usual convention of papers'
    tables (to ~1e-6, tests/test_metrics.py)."""
    x, y = pred.float(), target.float()
    C = x.shape[1]
    gx, gy = _gaussian_window(window, sigma, C, x.device)

    def blur(v):
        return F.conv2d(F.conv2d(v, gx, groups=C), gy, groups=C)

    if min(x.shape[-2:]) < window:
        raise ValueError(f"ssim needs images of at least {window}x{window}, got {tuple(x.shape[-2:])}")
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)


def interpolation_error(pred, target):
    """Middlebury IE: root-mean-square difference in 0-255 grey levels over all channels."""
    d = (pred.float() - target.float()) * 255
    return torch.sqrt((d ** 2).flatten(1).mean(1))


def visibility_separation(Vt0, g0, g1, It, margin: float = 20 / 255):
    """How well a visibility map tells which input to trust: over the pixels where the two refined
    warps' distances to the true frame differ by more than `margin` (20 grey levels), the mean Vt0
    where I0's warp is closer minus the mean Vt0 where I1's is. A flat map scores 0, a perfect one 1.

    Vt0:        (B,1,H,W) float in [0,1]
    g0, g1, It: (B,3,H,W) float RGB in [0,1]
    returns (B,) float; NaN for an item with no labelled pixel of either kind
    """
    d0 = (g0.float() - It.float()).abs().mean(1, keepdim=True)
    d1 = (g1.float() - It.float()).abs().mean(1, keepdim=True)
    trust0, trust1 = (d1 - d0 > margin).float(), (d0 - d1 > margin).float()
    V = Vt0.float()
    n0, n1 = trust0.flatten(1).sum(1), trust1.flatten(1).sum(1)
    m0 = (V * trust0).flatten(1).sum(1) / n0
    m1 = (V * trust1).flatten(1).sum(1) / n1
    return torch.where((n0 > 0) & (n1 > 0), m0 - m1, torch.full_like(m0, float("nan")))
