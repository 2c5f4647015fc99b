"""Frames for data sets: image files and videos read as (H,W,3) uint8 RGB, and the same frames as
(3,H,W) float tensors for the datasets.

    read_rgb_u8(path) -> (H,W,3) uint8 RGB         iter_frames(source) -> (H,W,3) uint8 RGB frames
    to_chw(frame) -> (3,H,W) float RGB in [0,1]    find_sources(root) -> videos and frame folders

Videos are decoded by ffmpeg, as the conversion decodes them (`slomo.video.read_frames`).
"""
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..video import read_frames

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTS = (".mp4", ".mkv", ".avi", ".mov", ".mpg", ".mpeg", ".webm", ".m4v", ".wmv", ".flv")


def read_rgb_u8(path) -> np.ndarray:
    """(H,W,3) uint8 RGB from an image file; InputError when it cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"cannot read image {path}")
    return np.ascontiguousarray(img[:, :, ::-1])


def to_chw(frame: np.ndarray) -> torch.Tensor:
    """(H,W,3) uint8 RGB -> (3,H,W) float RGB in [0,1]."""
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float() / 255


def image_files(folder) -> list:
    """Image files directly inside `folder`, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def iter_frames(source):
    """(H,W,3) uint8 RGB frames of a video file (decoded by ffmpeg) or an image folder."""
    source = Path(source)
    if source.is_dir():
        for f in image_files(source):
            yield read_rgb_u8(f)
    else:
        yield from read_frames(source)


def source_name(source) -> str:
    """A source's name: a video file's stem, or a frame folder's name."""
    source = Path(source)
    return source.stem if source.is_file() else source.name


def find_sources(root) -> list:
    """The videos and frame sequences under `root`: video files, and folders holding images
    (the root itself when it holds images). Sorted by name."""
    root = Path(root)
    if not root.exists():
        raise InputError(f"input not found: {root}")
    if root.is_file():
        if root.suffix.lower() not in VIDEO_EXTS:
            raise InputError(f"{root} is not a video file ({', '.join(VIDEO_EXTS)}) or a folder")
        return [root]
    if image_files(root):
        return [root]
    sources = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in VIDEO_EXTS:
            sources.append(p)
        elif p.is_dir() and image_files(p):
            sources.append(p)
    if not sources:
        raise InputError(f"no videos or image sequences found in {root}")
    return sources


def resize_to(frame: np.ndarray, size) -> np.ndarray:
    """Area-resize an (H,W,3) frame to size=(H,W) for dataset making (never used at inference)."""
    if size is None or tuple(frame.shape[:2]) == tuple(size):
        return frame
    return cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def downscaled_frames(source, max_side: int, max_frames: int):
    """The first `max_frames` (H,W,3) uint8 RGB frames of a source, area-downscaled to at most
    `max_side` pixels (even sizes)."""
    for n, f in enumerate(iter_frames(source), start=1):
        h, w = f.shape[:2]
        s = max_side / max(h, w)
        if s < 1:
            f = resize_to(f, (int(round(h * s / 2)) * 2, int(round(w * s / 2)) * 2))
        yield f
        if n >= max_frames:
            return


def motion_level(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute grey-level difference of two (H,W,3) uint8 frames (0-255)."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
