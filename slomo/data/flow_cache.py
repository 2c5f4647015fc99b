"""The flow cache: crops of frame-skipped triplets with their DIS flow, computed once on the whole
frame (as at inference), for training the `dis` front end without recomputing flow every step.

    build_flow_cache(sources, "cache.npz", CacheSpec()) -> Path    # written atomically
    FlowCache("cache.npz", crop=(128, 128)).get(i, g) -> a training sample (`slomo.data.datasets`)
"""
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..files import atomic_output
from ..flow import dis_flow
from ..synthesis import synthesize
from .augmentation import augment, crop_box
from .frames import downscaled_frames, motion_level, source_name, to_chw


@dataclass
class CacheSpec:
    """How `build_flow_cache` samples crops. kinds: (frames a, m, b, probability) with t = (m-a)/(b-a)."""
    crop: int = 160
    per_source: int = 90
    crops_per_pair: int = 2
    max_side: int = 960
    max_frames: int = 300
    min_motion: float = 2.0
    kinds: tuple = ((0, 1, 2, 0.45), (0, 2, 4, 0.3), (0, 1, 4, 0.125), (0, 3, 4, 0.125))
    preset: str = "medium"
    seed: int = 0


def build_flow_cache(sources: list, output, spec: CacheSpec = CacheSpec(), progress: bool = True) -> Path:
    """Sample crops from frame-skipped triplets of each source and store them with DIS flow computed on
    the whole frame (frames larger than `max_side` are area-downscaled first). Written atomically (.npz).
    """
    from tqdm.auto import tqdm
    rng = np.random.default_rng(spec.seed)
    samples = {"images": [], "flows": [], "t": [], "sources": []}
    for src in tqdm(sources, desc="flow cache", unit="source", disable=not progress):
        frames = list(downscaled_frames(src, spec.max_side, spec.max_frames))
        for image, flow, t in _samples(frames, spec, rng):
            samples["images"].append(image)
            samples["flows"].append(flow)
            samples["t"].append(t)
            samples["sources"].append(source_name(src))
    if not samples["images"]:
        raise InputError("no moving crops found for the flow cache")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(output, overwrite=_is_flow_cache) as tmp, open(tmp, "wb") as f:
        np.savez(f, images=np.stack(samples["images"]), flows=np.stack(samples["flows"]),
                 t=np.array(samples["t"], np.float32), sources=np.array(samples["sources"]),
                 preset=np.array(spec.preset), spec=np.array(json.dumps(asdict(spec))))
    return output


def _samples(frames: list, spec: CacheSpec, rng):
    """(images (3,C,C,3) uint8 I0, It, I1; flows (4,C,C) float16 F01, F10; t) of one source's
    frames: up to `per_source` moving triplets of the spec's kinds, `crops_per_pair` crops each."""
    kinds = np.array([k[:3] for k in spec.kinds])
    probs = np.array([k[3] for k in spec.kinds], dtype=float)
    probs /= probs.sum()
    n, C = len(frames), spec.crop
    if n < kinds[:, 2].max() + 1 or min(frames[0].shape[:2]) < C:
        return
    made = 0
    for _ in range(spec.per_source * 3):
        if made >= spec.per_source:
            break
        a, m, b = kinds[rng.choice(len(kinds), p=probs)]
        i = int(rng.integers(0, n - b))
        I0, It, I1 = frames[i + a], frames[i + m], frames[i + b]
        if motion_level(I0, I1) < spec.min_motion:
            continue
        F01, F10 = dis_flow(to_chw(I0)[None], to_chw(I1)[None], spec.preset)
        H, W = I0.shape[:2]
        for _ in range(spec.crops_per_pair):
            y, x = int(rng.integers(0, H - C + 1)), int(rng.integers(0, W - C + 1))
            sl = (slice(y, y + C), slice(x, x + C))
            if motion_level(I0[sl], It[sl]) < spec.min_motion / 2:
                continue
            yield (np.stack([I0[sl], It[sl], I1[sl]]), torch.cat([F01, F10], 1)[0, :, y:y + C, x:x + C].half().numpy(),
                   (m - a) / (b - a))
        made += 1


def _is_flow_cache(path: Path) -> bool:
    """True for an `.npz` file that `build_flow_cache` wrote (what it may replace)."""
    try:
        with np.load(path) as d:
            return {"images", "flows", "t"} <= set(d.files)
    except (OSError, ValueError):
        return False


class FlowCache:
    """Crops with precomputed DIS flow (`build_flow_cache`), for training the `dis` front end
    without recomputing flow every step. The flow is computed on the whole frame, as at inference.
    hard_fraction < 1 keeps only that fraction of samples where plain DIS interpolation errs most
    (occlusions, large motion: where the network has something to learn).

    get(i, g) -> dict I0, I1 (3,h,w), It (1,3,h,w), t (1,), flows (4,h,w) = F01, F10 in pixels
    """

    def __init__(self, path, crop=(128, 128), augment: bool = True, preset: str = None,
                 hard_fraction: float = 1.0):
        path = Path(path)
        if not path.is_file():
            raise InputError(f"flow cache not found: {path}")
        with np.load(path) as d:
            self.images = torch.from_numpy(d["images"])  # (N,3,C,C,3) uint8: I0, It, I1
            self.flows = torch.from_numpy(d["flows"])  # (N,4,C,C) float16
            self.t = torch.from_numpy(d["t"])  # (N,)
            self.preset = str(d["preset"]) if "preset" in d else None
            self.sources = [str(s) for s in d["sources"]] if "sources" in d else []
        if preset is not None and self.preset is not None and preset != self.preset:
            raise InputError(f"flow cache {path} holds DIS '{self.preset}' flow, the model uses '{preset}'")
        size = self.images.shape[2]
        if crop[0] > size or crop[1] > size:
            raise InputError(f"crop {tuple(crop)} is larger than the cached {size}x{size} samples")
        self.crop, self.augment = tuple(crop), augment
        self.index = torch.arange(len(self.images))
        if hard_fraction < 1:
            err = self.flow_errors()
            keep = max(1, int(round(hard_fraction * len(err))))
            self.index = torch.argsort(err, descending=True)[:keep].sort().values

    @torch.no_grad()
    def flow_errors(self, chunk: int = 64) -> torch.Tensor:
        """(N,) mean absolute error of plain DIS flow interpolation on each cached sample."""
        errs = []
        for s in range(0, len(self.images), chunk):
            im = self.images[s:s + chunk].permute(0, 1, 4, 2, 3).float() / 255  # (n,3,3,C,C)
            fl = self.flows[s:s + chunk].float()
            out = synthesize(im[:, 0], im[:, 2], fl[:, :2], fl[:, 2:], self.t[s:s + chunk], padding_mode="border")
            errs.append((out["It"] - im[:, 1]).abs().flatten(1).mean(1))
        return torch.cat(errs)

    def __len__(self):
        return len(self.index)

    def get(self, i: int, g: torch.Generator) -> dict:
        i = int(self.index[i])
        C = self.images.shape[2]
        ys, xs = crop_box(C, C, self.crop, g)
        im = self.images[i, :, ys, xs].permute(0, 3, 1, 2).float() / 255
        fl = self.flows[i, :, ys, xs].float()
        I0, It, I1, t = im[0], im[1:2], im[2], self.t[i:i + 1].float()
        if self.augment:
            I0, I1, It, t, fl = augment(I0, I1, It, t, g, flows=fl)
        return {"I0": I0, "I1": I1, "It": It, "t": t, "flows": fl}
