"""Where an input cannot see: occlusion from a flow round trip (forward-backward consistency).

A pixel of frame A that is visible in frame B goes to B along A's flow and comes back along B's flow
to where it started. Where the round trip fails, B does not show it (Sundaram et al. 2010's test,
|a + b|^2 > 0.01 (|a|^2 + |b|^2) + 0.5 pixels^2, with a the flow A -> B and b B's flow back at the
point a finds).

    hidden = hidden_in(It, I0)                      # pixels of It that I0 does not show
    V = true_visibility(I0, It, I1)                 # which input sees each pixel of a true middle frame
    Vt0, Ft0, Ft1 = round_trip_visibility(F01, F10, 0.5)  # a classical guess of Vt0 from a pair's flows

`true_visibility` needs the true frame at t, so it is for teaching and measurement (what a learned
visibility map should find), not for interpolation.
"""
import torch

from .flow import dis_flow
from .synthesis import intermediate_flows
from .warp import backward_warp


def round_trip_failed(Fab, Fba):
    """Pixels of A whose trip A -> B -> A does not come back.

    Fab: (B,2,H,W) pixels (dx,dy), flow from A to B; Fba: (B,2,H,W), flow from B to A
    returns (B,1,H,W) bool
    """
    back = backward_warp(Fba.float(), Fab.float(), "border")  # B's flow at the point A's flow finds
    err = (Fab + back).square().sum(1, keepdim=True)
    return err > 0.01 * (Fab.square().sum(1, keepdim=True) + back.square().sum(1, keepdim=True)) + 0.5


def hidden_in(Ia, Ib, preset: str = "fine"):
    """Pixels of Ia that Ib does not show, and the DIS flow from Ia to Ib.

    Ia, Ib: (B,3,H,W) float RGB in [0,1]
    returns (B,1,H,W) bool, (B,2,H,W) pixels (dx,dy)
    """
    Fab, Fba = dis_flow(Ia, Ib, preset)
    return round_trip_failed(Fab, Fba), Fab


def true_visibility(I0, It, I1, preset: str = "fine"):
    """Which input sees each pixel of the true frame It: 1 where only I0 does, 0 where only I1 does,
    0.5 where both or neither do. What a learned Vt0 should look like.

    I0, It, I1: (B,3,H,W) float RGB in [0,1]
    returns (B,1,H,W) float in {0, 0.5, 1}
    """
    _, seen = teacher_flow(I0, It, I1, preset)
    return visibility_of(~seen[:, :1], ~seen[:, 1:])


def teacher_flow(I0, It, I1, preset: str = "fine"):
    """DIS flow from the true frame It to each input (the intermediate flows a perfect refinement
    would give; the teacher of `slomo.losses.flow_distillation_loss`) and where each is trusted
    (its round trip comes back: the pixel is visible in that input).

    I0, It, I1: (B,3,H,W) float RGB in [0,1]
    returns (B,4,H,W) pixels (Ft0 0:2, Ft1 2:4), (B,2,H,W) bool
    """
    hidden0, Ft0 = hidden_in(It, I0, preset)
    hidden1, Ft1 = hidden_in(It, I1, preset)
    return torch.cat((Ft0, Ft1), 1), torch.cat((~hidden0, ~hidden1), 1)


def visibility_of(hidden0, hidden1):
    """A visibility map from where each input hides the pixels: (B,1,H,W) bool each ->
    (B,1,H,W) float, 1 where only I0 sees the pixel, 0 where only I1 does, 0.5 elsewhere."""
    return 0.5 + 0.5 * (hidden1.float() - hidden0.float())


def round_trip_visibility(F01, F10, t: float = 0.5, scale: float = 1.0):
    """A classical Vt0 from a pair's flows: the round-trip error of each input's flow, carried to time
    t along the paper's intermediate flows (eq. 4). Where the pixel that Ft0 finds in I0 does not come
    back from I1, I1 does not show it: trust I0 (and the other way round).

    F01, F10: (B,2,H,W) pixels (dx,dy); scale: pixels of round-trip error per logit unit
    returns Vt0 (B,1,H,W) float in (0,1), and Ft0, Ft1 (B,2,H,W)
    """
    F01, F10 = F01.float(), F10.float()
    Ft0, Ft1 = intermediate_flows(F01, F10, torch.full((F01.shape[0], 1, 1, 1), float(t), device=F01.device))
    e0 = (F01 + backward_warp(F10, F01, "border")).norm(dim=1, keepdim=True)  # (B,1,H,W) in I0's frame
    e1 = (F10 + backward_warp(F01, F10, "border")).norm(dim=1, keepdim=True)  # in I1's frame
    e0t, e1t = backward_warp(e0, Ft0, "border"), backward_warp(e1, Ft1, "border")
    return torch.sigmoid((e0t - e1t) / scale), Ft0, Ft1


def consistency_visibility(I0, I1, t: float = 0.5, scale: float = 1.0, preset: str = "fine"):
    """`round_trip_visibility` of the pair's DIS flow.

    I0, I1: (B,3,H,W) float RGB in [0,1]
    returns Vt0 (B,1,H,W) float in (0,1), and the warps g0, g1 (B,3,H,W) float RGB it weighs
    """
    Vt0, Ft0, Ft1 = round_trip_visibility(*dis_flow(I0, I1, preset), t, scale)
    return Vt0, backward_warp(I0.float(), Ft0, "border"), backward_warp(I1.float(), Ft1, "border")
