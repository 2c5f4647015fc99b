"""Tiny synthetic frame sequences (a panning texture, a scene cut, a still scene) for the data tests."""
import cv2
import numpy as np


def texture(seed, H=48, W=64):
    r = np.random.default_rng(seed)
    small = (r.random((H // 4, W // 4 + 16, 3)) * 255).astype(np.uint8)
    return cv2.resize(small, ((W // 4 + 16) * 4, H), interpolation=cv2.INTER_LINEAR)


def write_sequence(folder, n, seed, speed=2, cut_at=None, static=False):
    folder.mkdir(parents=True)
    tex = texture(seed)
    other = tex // 4  # a darker scene: a clear histogram change
    for i in range(n):
        src = other if cut_at is not None and i >= cut_at else tex
        x = 0 if static else i * speed
        frame = src[:, x % 40:x % 40 + 64]
        cv2.imwrite(str(folder / f"{i:05d}.png"), frame[:, :, ::-1])


