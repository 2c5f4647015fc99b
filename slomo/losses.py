"""Training losses (Jiang et al. 2018, sec. 3.3). Pure functions of tensors; weights live in the config.

The reference implementation combines them as

    loss = 204 * reconstruction + 102 * warping + 0.005 * perceptual + 1 * smoothness

(`REFERENCE_WEIGHTS`), with images in the network's mean-subtracted [0,1] scale.
"""
from pathlib import Path

import torch
from torch.nn import functional as F

from .warp import backward_warp

REFERENCE_WEIGHTS = {"reconstruction": 204.0, "warping": 102.0, "perceptual": 0.005, "smoothness": 1.0}
# terms the reference does not have; they default to 0 (off)
EXTRA_WEIGHTS = {"visibility": 0.0, "distillation": 0.0}
LOSS_WEIGHTS = {**REFERENCE_WEIGHTS, **EXTRA_WEIGHTS}
VISIBILITY_MARGIN = 20 / 255  # warps whose distances to the truth differ by more than this label a pixel
VGG16_URL_NAME = "vgg16-397923af.pth"  # the file name torchvision's cache uses for VGG16 weights
VGG16_CONV4_3 = 22  # index after conv4_3's ReLU in torchvision's vgg16().features


def reconstruction_loss(pred, target):
    """Mean absolute error (L1).

    pred, target: (N,3,H,W) float RGB
    returns a scalar tensor
    """
    return (pred.float() - target.float()).abs().mean()


def warping_loss(I0, I1, It, F01, F10, Ft0, Ft1, padding_mode: str = "zeros"):
    """L1 between frames and their flow-warped neighbours (the paper's l_w).

    I0, I1:   (B,3,H,W) float RGB, the inputs
    It:       (B,T,3,H,W) float RGB, the ground-truth intermediate frames
    F01, F10: (B,2,H,W) pixels (dx,dy)
    Ft0, Ft1: (B,T,2,H,W) pixels (dx,dy), the flows from t to 0 and 1
    returns a scalar tensor
    """
    B, T = It.shape[:2]
    idx = torch.arange(B, device=I0.device).repeat_interleave(T)
    Itf = It.reshape(B * T, *It.shape[2:])
    terms = [
        reconstruction_loss(backward_warp(I1, F01, padding_mode), I0),
        reconstruction_loss(backward_warp(I0, F10, padding_mode), I1),
        reconstruction_loss(backward_warp(I0[idx], Ft0.reshape(B * T, 2, *Ft0.shape[-2:]), padding_mode), Itf),
        reconstruction_loss(backward_warp(I1[idx], Ft1.reshape(B * T, 2, *Ft1.shape[-2:]), padding_mode), Itf),
    ]
    return sum(terms)


def smoothness_loss(F01, F10):
    """Total variation (L1 of horizontal and vertical differences) of both flows.

    F01, F10: (B,2,H,W) pixels (dx,dy)
    returns a scalar tensor
    """
    def tv(f):
        return (f[..., :, 1:] - f[..., :, :-1]).abs().mean() + (f[..., 1:, :] - f[..., :-1, :]).abs().mean()
    return tv(F01.float()) + tv(F10.float())


def flow_regression_loss(F01, F10, D01, D10):
    """Mean end-point error of the flow network's output against target flow (DIS): the warm start
    that gives the paper's flow network, which learns slowly, a classical flow to begin from.

    F01, F10: (B,2,H,W) pixels (dx,dy), predicted
    D01, D10: (B,2,H,W) pixels (dx,dy), targets
    returns a scalar tensor
    """
    def epe(a, b):
        return (a.float() - b.float()).square().sum(1).add(1e-6).sqrt().mean()
    return 0.5 * (epe(F01, D01) + epe(F10, D10))


def visibility_labels(g0, g1, It, margin: float = VISIBILITY_MARGIN):
    """Which input to trust at each pixel: where the two warped inputs' distances to the true frame
    (mean over channels) differ by more than `margin`, the closer one.

    g0, g1, It: (N,3,H,W) float RGB in [0,1]
    returns trust0, trust1: (N,1,H,W) bool (both False where neither is clearly closer)
    """
    d0 = (g0.float() - It.float()).abs().mean(1, keepdim=True)
    d1 = (g1.float() - It.float()).abs().mean(1, keepdim=True)
    return d1 - d0 > margin, d0 - d1 > margin


def visibility_loss(Vt0, g0, g1, It, margin: float = VISIBILITY_MARGIN):
    """Binary cross-entropy of Vt0 against `visibility_labels` (1 = trust I0), over the labelled
    pixels only, a direct signal for the visibility map where occlusion makes one input wrong.

    Vt0:        (N,1,H,W) float in [0,1]
    g0, g1, It: (N,3,H,W) float RGB in [0,1]; the labels are not differentiated
    returns a scalar tensor (0 when no pixel is labelled)
    """
    with torch.no_grad():
        trust0, trust1 = visibility_labels(g0, g1, It, margin)
        mask = (trust0 | trust1).float()
    V = Vt0.float().clamp(1e-6, 1 - 1e-6)
    bce = F.binary_cross_entropy(V, trust0.float(), reduction="none")
    return (bce * mask).sum() / mask.sum().clamp_min(1.0)


def flow_distillation_loss(Ft0, Ft1, teacher, teacher_ok):
    """Mean absolute difference (pixels) between the refined intermediate flows and a teacher's: DIS
    flow from the true frame It to each input, which no interpolator has at inference. Counted only
    where the teacher's round trip comes back (the pixel is visible in that input).

    Ft0, Ft1:   (N,2,H,W) pixels (dx,dy), the model's refined flows from t to 0 and to 1
    teacher:    (N,4,H,W) pixels: the teacher's Ft0 (0:2) and Ft1 (2:4)
    teacher_ok: (N,2,H,W) bool: where each of the two is trusted
    returns a scalar tensor
    """
    ok = teacher_ok.float()
    terms = []
    for k, F in enumerate((Ft0, Ft1)):
        err = (F.float() - teacher[:, 2 * k:2 * k + 2].float()).abs().sum(1, keepdim=True)  # (N,1,H,W)
        terms.append((err * ok[:, k:k + 1]).sum() / ok[:, k:k + 1].sum().clamp_min(1.0))
    return 0.5 * (terms[0] + terms[1])


def perceptual_loss(features, pred, target):
    """L2 between VGG16 conv4_3 features of prediction and target.

    features: a callable (N,3,H,W) float RGB in [0,1] -> (N,C,h,w), e.g. from `load_vgg16_conv4_3`
    pred, target: (N,3,H,W) float RGB in [0,1]
    returns a scalar tensor
    """
    return F.mse_loss(features(pred.float()), features(target.float()))


def find_vgg16_weights(path=None):
    """The VGG16 weights file to use: `path` if given, else torchvision's cache, else None."""
    if path:
        return Path(path)
    hub = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_URL_NAME
    return hub if hub.is_file() else None


def load_vgg16_conv4_3(path=None, device=None):
    """Frozen torchvision VGG16 up to conv4_3 (with ImageNet normalisation inside), or None
    when no weights file is found. Nothing is downloaded.

    returns a module mapping (N,3,H,W) float RGB in [0,1] -> (N,512,H/8,W/8), or None
    """
    from torchvision.models import vgg16

    from .errors import InputError

    weights = find_vgg16_weights(path)
    if weights is None:
        return None
    if not weights.is_file():
        raise InputError(f"VGG16 weights file not found: {weights}")
    net = vgg16()
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except Exception as e:  # noqa: BLE001 - any failure here is a bad weights file
        raise InputError(f"{weights}: not a torchvision VGG16 state dict ({type(e).__name__})") from e
    body = net.features[:VGG16_CONV4_3 + 1].eval().requires_grad_(False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    class _Features(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body
            self.register_buffer("mean", mean, persistent=False)
            self.register_buffer("std", std, persistent=False)

        def forward(self, x):
            return self.body((x - self.mean) / self.std)

    return _Features().to(device or "cpu")


def total_loss(out: dict, I0, I1, It, weights: dict, features=None, padding_mode: str = "zeros",
               teacher=None):
    """The weighted sum of the losses for one batch.

    out:     the dict from `SuperSloMo.forward` (It (B,T,3,H,W), F01, F10, Ft0, Ft1, ...)
    I0, I1:  (B,3,H,W) float RGB in [0,1]
    It:      (B,T,3,H,W) float RGB in [0,1], ground truth
    weights: {"reconstruction", "warping", "perceptual", "smoothness", "visibility"} -> float
             (0 or missing switches a term off)
    features: VGG16 conv4_3 callable or None (perceptual term then skipped)
    teacher: None, or (flows (B,T,4,H,W), ok (B,T,2,H,W) bool) for `flow_distillation_loss`
    returns (loss scalar tensor, dict of float terms)
    """
    B, T = It.shape[:2]
    pred = out["It"].reshape(B * T, *It.shape[2:])
    gt = It.reshape(B * T, *It.shape[2:])
    terms = {"reconstruction": reconstruction_loss(pred, gt)}
    if weights.get("warping", 0):
        terms["warping"] = warping_loss(I0, I1, It, out["F01"], out["F10"], out["Ft0"], out["Ft1"], padding_mode)
    if weights.get("smoothness", 0):
        terms["smoothness"] = smoothness_loss(out["F01"], out["F10"])
    if weights.get("perceptual", 0) and features is not None:
        terms["perceptual"] = perceptual_loss(features, pred, gt)
    if weights.get("visibility", 0):
        flat = {k: out[k].reshape(B * T, *out[k].shape[2:]) for k in ("Vt0", "g0_refined", "g1_refined")}
        terms["visibility"] = visibility_loss(flat["Vt0"], flat["g0_refined"], flat["g1_refined"], gt)
    if weights.get("distillation", 0) and teacher is not None:
        Ft0, Ft1, flows, ok = (x.reshape(B * T, *x.shape[2:]) for x in
                               (out["Ft0_refined"], out["Ft1_refined"], *teacher))
        terms["distillation"] = flow_distillation_loss(Ft0, Ft1, flows, ok)
    loss = sum(weights[k] * v for k, v in terms.items())
    return loss, {k: float(v.detach()) for k, v in terms.items()}
