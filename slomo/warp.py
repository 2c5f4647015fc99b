"""Backward warping: sample an image at (x + Fx, y + Fy). Stateless; any size, any device."""
import torch
from torch.nn import functional as F


def backward_warp(image, flow, padding_mode: str = "zeros"):
    """g(I, F): bilinear sample of `image` at pixel (x + Fx, y + Fy).

    image: (B,C,H,W) float
    flow:  (B,2,H,W) pixels (dx,dy)
    returns (B,C,H,W) float32; outside the image is 0 (`zeros`) or the nearest edge (`border`).
    """
    if image.shape[0] != flow.shape[0] or image.shape[-2:] != flow.shape[-2:] or flow.shape[1] != 2:
        raise ValueError(f"backward_warp: image {tuple(image.shape)} and flow {tuple(flow.shape)} do not match")
    B, _, H, W = image.shape
    flow = flow.float()
    ys = torch.arange(H, device=flow.device, dtype=torch.float32).view(1, H, 1)
    xs = torch.arange(W, device=flow.device, dtype=torch.float32).view(1, 1, W)
    # exact normalisation for align_corners=True: -1 is pixel 0, +1 is pixel size-1
    gx = (xs + flow[:, 0]) * (2.0 / max(W - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(H - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)  # (B,H,W,2)
    return F.grid_sample(image.float(), grid, mode="bilinear", padding_mode=padding_mode,
                         align_corners=True)
