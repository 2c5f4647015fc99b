"""Cheap scene-cut detection from small thumbnails.

A cut between two consecutive frames changes both the picture (a large mean difference of small
grey thumbnails) and its colours (a large histogram distance); fast camera motion changes the first
but hardly the second. The score is the smaller of the two, so motion alone does not count as a cut.
"""
import cv2
import numpy as np

DEFAULT_THRESHOLD = 0.15
THUMB_SIZE = (64, 36)  # (width, height)
BINS = 16


def thumbnail(frame: np.ndarray) -> tuple:
    """Summary of one (H,W,3) uint8 RGB frame: a (36,64) float grey thumbnail and a (3,BINS) histogram."""
    small = cv2.resize(frame, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    grey = small.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255
    hist = np.stack([np.bincount(small[..., c].ravel() // (256 // BINS), minlength=BINS) for c in range(3)])
    return grey, hist.astype(np.float32) / hist[0].sum()


def cut_score(a: tuple, b: tuple) -> float:
    """Score in [0,1] between two thumbnails: high only when both picture and colours change."""
    picture = float(np.abs(a[0] - b[0]).mean())
    colours = float(0.5 * np.abs(a[1] - b[1]).sum(axis=1).mean())  # total variation distance
    return min(picture * 2, colours)


def is_cut(a: tuple, b: tuple, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True when the thumbnails a and b lie on two sides of a scene cut (threshold 0: never)."""
    return threshold > 0 and cut_score(a, b) > threshold


def scores(frames) -> np.ndarray:
    """Cut scores between consecutive frames of an iterable of (H,W,3) uint8 RGB frames (to pick a
    threshold: `scores(video.read_frames(path))`)."""
    out, prev = [], None
    for frame in frames:
        cur = thumbnail(frame)
        if prev is not None:
            out.append(cut_score(prev, cur))
        prev = cur
    return np.array(out, dtype=np.float32)
