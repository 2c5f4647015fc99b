"""Augmentation for training samples: random crops, flips and time reversal, the flows kept consistent.

    ys, xs = crop_box(H, W, (h, w), g)                        # a random crop, slices
    I0, I1, It, t, flows = augment(I0, I1, It, t, g, flows)   # flips and reversal, drawn from g
"""
import torch

from ..errors import InputError


def crop_box(H, W, crop, g) -> tuple:
    """(rows, columns) slices of a random crop=(h, w) of an (H,W) frame, drawn from the generator g."""
    ch, cw = crop
    if H < ch or W < cw:
        raise InputError(f"frames of {H}x{W} are smaller than the crop {ch}x{cw}")
    y = int(torch.randint(0, H - ch + 1, (1,), generator=g))
    x = int(torch.randint(0, W - cw + 1, (1,), generator=g))
    return slice(y, y + ch), slice(x, x + cw)


def augment(I0, I1, It, t, g, flows=None, flip: bool = True, reverse: bool = True):
    """Random horizontal/vertical flips and temporal reversal, applied consistently.

    I0, I1: (3,H,W); It: (T,3,H,W); t: (T,) in (0,1); flows: optional (4,H,W) = F01 (0:2), F10 (2:4)
    returns the same tuple (I0, I1, It, t, flows)
    """
    def coin():
        return bool(torch.rand((), generator=g) < 0.5)
    if flip and coin():
        I0, I1, It = I0.flip(-1), I1.flip(-1), It.flip(-1)
        if flows is not None:
            flows = flows.flip(-1) * torch.tensor([-1.0, 1.0, -1.0, 1.0]).view(4, 1, 1)
    if flip and coin():
        I0, I1, It = I0.flip(-2), I1.flip(-2), It.flip(-2)
        if flows is not None:
            flows = flows.flip(-2) * torch.tensor([1.0, -1.0, 1.0, -1.0]).view(4, 1, 1)
    if reverse and coin():
        I0, I1, It, t = I1, I0, It.flip(0), (1 - t).flip(0)
        if flows is not None:
            flows = flows[[2, 3, 0, 1]]
    return I0, I1, It, t, flows
