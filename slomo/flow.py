"""Classical optical flow (OpenCV DIS), the `dis` front end and the flow baseline."""
import cv2
import numpy as np
import torch

# name -> (OpenCV preset, finest pyramid scale or None for the preset's own). "fine" is "medium"
# run down to full resolution (OpenCV's medium stops at half): about 4x the time, and
# +0.1-0.3 dB of flow interpolation on low-resolution clips (checkpoints/README.md)
DIS_PRESETS = {"ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, None),
               "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, None),
               "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, None),
               "fine": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 0)}


def _gray_u8(image):  # (3,H,W) float RGB in [0,1] -> (H,W) uint8
    rgb = (image.detach().float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0)
    return cv2.cvtColor(np.ascontiguousarray(rgb.cpu().numpy()), cv2.COLOR_RGB2GRAY)


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
    for a, b in zip(I0, I1):
        ga, gb = _gray_u8(a), _gray_u8(b)
        F01.append(torch.from_numpy(dis.calc(ga, gb, None)).permute(2, 0, 1))
        F10.append(torch.from_numpy(dis.calc(gb, ga, None)).permute(2, 0, 1))
    return torch.stack(F01).to(I0.device), torch.stack(F10).to(I0.device)
