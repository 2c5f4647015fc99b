"""Classical optical flow (OpenCV DIS), the `dis` front end and the flow baseline."""
import cv2
import numpy as np
import torch

DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
               "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


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
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    F01, F10 = [], []
    for a, b in zip(I0, I1):
        ga, gb = _gray_u8(a), _gray_u8(b)
        F01.append(torch.from_numpy(dis.calc(ga, gb, None)).permute(2, 0, 1))
        F10.append(torch.from_numpy(dis.calc(gb, ga, None)).permute(2, 0, 1))
    return torch.stack(F01).to(I0.device), torch.stack(F10).to(I0.device)
