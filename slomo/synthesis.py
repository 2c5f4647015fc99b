"""The paper's equations (Jiang et al. 2018, eqs. 1-4), written once.

Training, validation, video conversion, the classical flow baseline, benchmarks and notebooks
all call `synthesize`; none re-types the maths.
"""
import torch

from .warp import backward_warp


def intermediate_flows(F01, F10, t):
    """Linear approximation of the flows from time t back to the inputs (eq. 4).

    F01, F10: (N,2,H,W) pixels (dx,dy)
    t:        (N,1,1,1) float in (0,1)
    returns Ft0, Ft1: (N,2,H,W) pixels (dx,dy)
    """
    Ft0 = -(1 - t) * t * F01 + t * t * F10
    Ft1 = (1 - t) * (1 - t) * F01 - t * (1 - t) * F10
    return Ft0, Ft1


def fuse(g0, g1, Vt0, Vt1, t):
    """Visibility-weighted blend of the two warped frames (eq. 1).

    g0, g1:   (N,3,H,W) warped frames
    Vt0, Vt1: (N,1,H,W) visibility in [0,1]
    t:        (N,1,1,1)
    """
    w0 = (1 - t) * Vt0
    w1 = t * Vt1
    return (w0 * g0 + w1 * g1) / (w0 + w1)


def synthesize(I0, I1, F01, F10, t, refine=None, padding_mode="zeros"):
    """Frame at time t from two frames and their bidirectional flow.

    I0, I1:   (N,3,H,W) float images (the model passes mean-subtracted frames)
    F01, F10: (N,2,H,W) pixels (dx,dy)
    t:        (N,) float in (0,1)
    refine:   callable mapping the 20-channel stack
              I0, I1, F01, F10, Ft1, Ft0, g1, g0 -> (N,5,H,W):
              flow residuals for Ft0 (0:2) and Ft1 (2:4) and the visibility logit (4).
              None means no refinement and Vt0 = Vt1 = 0.5: classical flow interpolation.
    returns a dict of (N,C,H,W) float32 tensors: It, Ft0, Ft1 (linear), g0, g1 (warped with
    them), Ft0_refined, Ft1_refined, Vt0, Vt1, g0_refined, g1_refined.
    """
    t = t.float().view(-1, 1, 1, 1)
    I0, I1, F01, F10 = I0.float(), I1.float(), F01.float(), F10.float()
    Ft0, Ft1 = intermediate_flows(F01, F10, t)
    g0 = backward_warp(I0, Ft0, padding_mode)
    g1 = backward_warp(I1, Ft1, padding_mode)
    if refine is None:
        Ft0_r, Ft1_r, g0_r, g1_r = Ft0, Ft1, g0, g1
        Vt0 = torch.full_like(Ft0[:, :1], 0.5)
    else:
        out = refine(torch.cat((I0, I1, F01, F10, Ft1, Ft0, g1, g0), dim=1)).float()
        Ft0_r = Ft0 + out[:, 0:2]
        Ft1_r = Ft1 + out[:, 2:4]
        Vt0 = torch.sigmoid(out[:, 4:5])
        g0_r = backward_warp(I0, Ft0_r, padding_mode)
        g1_r = backward_warp(I1, Ft1_r, padding_mode)
    Vt1 = 1 - Vt0
    It = fuse(g0_r, g1_r, Vt0, Vt1, t)
    return {"It": It, "Ft0": Ft0, "Ft1": Ft1, "g0": g0, "g1": g1,
            "Ft0_refined": Ft0_r, "Ft1_refined": Ft1_r, "Vt0": Vt0, "Vt1": Vt1,
            "g0_refined": g0_r, "g1_refined": g1_r}
