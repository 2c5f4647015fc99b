"""Classical optical flow (OpenCV DIS), the `dis` front end and the flow baseline."""
import cv2
import numpy as np
import torch

# name -> (OpenCV preset, finest pyramid scale or None for the preset's own). "fine" is "medium"
# run down to full resolution (OpenCV's medium stops at half): slower and more accurate
# (checkpoints/README.md has the figures)
DIS_PRESETS = {"ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, None),
               "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, None),
               "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, None),
               "fine": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 0)}
DIS_SAFE_SIDE = 32  # OpenCV 5's DIS refuses frames with both sides below 12 and crashes on a side below
# 32 next to one above it (8x40, 16x128); such frames are edge-padded to 32 a side, the flow cropped back


def _dis_padding(H: int, W: int) -> tuple:
    """(rows, columns) to add at the bottom and right so that DIS works on an HxW frame."""
    lo, hi = min(H, W), max(H, W)
    if lo >= DIS_SAFE_SIDE or (lo >= 12 and hi <= DIS_SAFE_SIDE):
        return 0, 0
    return max(0, DIS_SAFE_SIDE - H), max(0, DIS_SAFE_SIDE - W)


def _gray_u8(image):  # (3,H,W) float RGB in [0,1] -> (H',W') uint8, edge-padded where DIS needs it
    rgb = (image.detach().float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0)
    gray = cv2.cvtColor(np.ascontiguousarray(rgb.cpu().numpy()), cv2.COLOR_RGB2GRAY)
    ph, pw = _dis_padding(*gray.shape)
    return cv2.copyMakeBorder(gray, 0, ph, 0, pw, cv2.BORDER_REPLICATE) if ph or pw else gray


def dis_flow(I0, I1, preset: str = "medium"):
    """Bidirectional DIS optical flow.

    I0, I1: (B,3,H,W) float RGB in [0,1]
    returns F01, F10: (B,2,H,W) float32 pixels (dx,dy), on the inputs' device.
    F01 maps I0's pixels to I1: I0(x) ~ I1(x + F01(x)).
    """
    if preset not in DIS_PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; choose one of {sorted(DIS_PRESETS)}")
    cv_preset, finest_scale = DIS_PRESETS[preset]
    dis = cv2.DISOpticalFlow_create(cv_preset)
    if finest_scale is not None:
        dis.setFinestScale(finest_scale)
    F01, F10 = [], []
    H, W = I0.shape[-2:]
    for a, b in zip(I0, I1):
        ga, gb = _gray_u8(a), _gray_u8(b)
        F01.append(torch.from_numpy(dis.calc(ga, gb, None)[:H, :W]).permute(2, 0, 1))
        F10.append(torch.from_numpy(dis.calc(gb, ga, None)[:H, :W]).permute(2, 0, 1))
    return torch.stack(F01).to(I0.device), torch.stack(F10).to(I0.device)
