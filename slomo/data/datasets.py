"""Training datasets: prepared clips (`ClipDataset`), the dataset for any data path (`open_dataset`),
batches (`collate`) made ahead of time (`Prefetcher`), and frame-skipped triplets for validation.

Every item is a dict: I0, I1 (3,h,w) and It (T,3,h,w) float RGB in [0,1], t (T,), flows (4,h,w)
(F01, F10 in pixels) or None. `get(i, g)` draws its randomness from the generator `g` only.
"""
from pathlib import Path

import torch

from ..errors import InputError
from .augmentation import augment, crop_box
from .flow_cache import FlowCache
from .footage import FootageDataset, is_footage_cache
from .frames import image_files, read_rgb_u8, to_chw


class ClipDataset:
    """Fixed-length clips (prepared by `prepare`, or the reference's Adobe240fps folders).

    Each item: I0 = frame a, I1 = frame a + span, and `targets` ground-truth frames in between at
    t = k/span (sharing one flow pass), randomly cropped, flipped and time-reversed.
    get(i, g) -> dict I0, I1 (3,h,w), It (T,3,h,w) float RGB in [0,1], t (T,) float, flows None
    """

    def __init__(self, root, crop=(128, 128), span: int = None, targets: int = 1, augment: bool = True):
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"dataset folder not found: {root}")
        self.clips = [p for p in sorted(root.iterdir()) if p.is_dir() and image_files(p)]
        if not self.clips:
            raise InputError(f"no clip folders with images in {root}")
        self.length = min(len(image_files(p)) for p in self.clips)
        self.span = span or self.length - 1
        if not 2 <= self.span <= self.length - 1:
            raise InputError(f"span {self.span} does not fit clips of {self.length} frames")
        if not 1 <= targets <= self.span - 1:
            raise InputError(f"targets must be between 1 and {self.span - 1}, got {targets}")
        self.crop, self.targets, self.augment = tuple(crop), targets, augment

    def __len__(self):
        return len(self.clips)

    def get(self, i: int, g: torch.Generator) -> dict:
        files = image_files(self.clips[i])
        a = int(torch.randint(0, len(files) - self.span, (1,), generator=g))
        ks = torch.randperm(self.span - 1, generator=g)[:self.targets].sort().values + 1
        idx = [a, a + self.span] + [a + int(k) for k in ks]
        frames = [read_rgb_u8(files[j]) for j in idx]
        ys, xs = crop_box(*frames[0].shape[:2], self.crop, g)
        frames = [to_chw(f[ys, xs]) for f in frames]
        I0, I1, It = frames[0], frames[1], torch.stack(frames[2:])
        t = ks.float() / self.span
        if self.augment:
            I0, I1, It, t, _ = augment(I0, I1, It, t, g)
        return {"I0": I0, "I1": I1, "It": It, "t": t, "flows": None}


def collate(items: list) -> dict:
    """Stack dataset items into a batch: I0, I1 (B,3,h,w), It (B,T,3,h,w), t (B,T), flows or None."""
    out = {k: torch.stack([it[k] for it in items]) for k in ("I0", "I1", "It", "t")}
    out["flows"] = torch.stack([it["flows"] for it in items]) if items[0]["flows"] is not None else None
    for k in ("teacher", "teacher_ok"):  # footage with teacher flow: (B,T,4,h,w) and (B,T,2,h,w)
        if k in items[0]:
            out[k] = torch.stack([it[k] for it in items])
    return out


class Prefetcher:
    """Makes batches ahead of time in background threads (image decoding and OpenCV release the GIL).

    make: step -> batch, a pure function of the step (as `Trainer.batch` is), so the batches are
          the same with or without prefetching, in any order of `get` calls
    get(step) -> make(step), waiting only if it is not ready; steps step+1 .. step+depth-1 are queued
    """

    def __init__(self, make, threads: int, depth: int = None):
        from concurrent.futures import ThreadPoolExecutor
        self.make, self.threads, self.depth = make, threads, depth or 2 * threads
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="slomo-batch")
        self.pending = {}  # step -> Future

    def get(self, step: int):
        for s in [s for s in self.pending if not step <= s < step + self.depth]:
            self.pending.pop(s).cancel()  # a jump (resume, or a caller that skips): no longer wanted
        for s in range(step, step + self.depth):
            if s not in self.pending:
                self.pending[s] = self.pool.submit(self.make, s)
        return self.pending.pop(step).result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending.clear()


def open_dataset(path, crop=(128, 128), span: int = None, targets: int = 1, augment: bool = True,
                 preset: str = None, hard_fraction: float = 1.0, hard_crops: int = 1, hard_prob: float = 0.5,
                 teacher: bool = False):
    """A FlowCache for an `.npz` file, a FootageDataset for a footage cache folder (`slomo.data.footage`),
    else a ClipDataset (a prepared `train/` folder, or the dataset root, whose `train/` is then used).
    `teacher` (footage caches only) adds each sample's teacher flow from its true middle frame."""
    path = Path(path)
    if is_footage_cache(path):
        if crop[0] != crop[1]:
            raise InputError(f"footage caches take square crops, got {tuple(crop)}")
        return FootageDataset(path, crop[0], augment, preset, hard_crops, hard_prob, teacher)
    if teacher:
        raise InputError("the distillation loss needs a footage cache as data (its samples get teacher flow)")
    if path.suffix == ".npz":
        return FlowCache(path, crop, augment, preset, hard_fraction)
    if (path / "train").is_dir():
        path = path / "train"
    return ClipDataset(path, crop, span, targets, augment)


def sequence_triplets(folder, gap: int = 1, every: int = 1, limit: int = None) -> list:
    """Frame-skipped triplets from a frame sequence: (f[i], f[i+gap], f[i+2 gap]) for i = 0, every, ...

    returns [(name, I0, It, I1)] with frames (1,3,H,W) float RGB in [0,1]
    """
    files = image_files(folder)
    if len(files) < 2 * gap + 1:
        raise InputError(f"{folder}: {len(files)} frames are too few for gap {gap}")
    out = []
    for i in range(0, len(files) - 2 * gap, every):
        if limit is not None and len(out) >= limit:
            break
        f = [to_chw(read_rgb_u8(files[i + k * gap])).unsqueeze(0) for k in range(3)]
        out.append((f"{Path(folder).name}/{files[i].stem}", f[0], f[1], f[2]))
    return out
