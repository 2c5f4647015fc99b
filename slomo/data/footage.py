"""Training footage at scale: whole decoded frames and their DIS flow, computed once per frame pair,
and a dataset that draws random crops, t values, flips and time reversal from them.

Layout of a footage cache folder (`build_footage_cache`):
- `footage.json`: the `FootageSpec` and, per source, its name, frame count, size and pairs;
- `<source>/frames.npy`: (N,H,W,3) uint8 RGB, the decoded (and at most `max_side`) frames;
- `<source>/flows.npy`: (P,C,H,W) float16 DIS flow of each pair (a, b) in pixels: F01 (0:2),
  F10 (2:4) and, with `mirror`, the flow of the left-right mirrored pair in its own coordinates
  (4:8), as the checkpoint's mirror-image ensemble computes it at inference.
Each source folder is written to a temporary folder and renamed (`slomo.files.atomic_output`), so
a killed build resumes where it stopped, and a finished folder is never half-written.
"""
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import DIS_PRESET_NAMES
from ..errors import InputError
from ..files import atomic_output
from ..flow import dis_flow
from ..occlusion import teacher_flow
from ..synthesis import intermediate_flows
from ..warp import backward_warp
from .frames import downscaled_frames, source_name, to_chw

MANIFEST = "footage.json"
FORMAT_VERSION = 1
DISAGREE = 20 / 255  # grey levels at which two warps count as disagreeing (the visibility labels)


@dataclass(frozen=True)
class FootageSpec:
    """How `build_footage_cache` turns sources into frame pairs with flow.

    preset:     DIS preset of the flow (the model's `dis_preset`)
    mirror:     also store the mirrored pair's own DIS flow (for checkpoints with `flip_ensemble`)
    gaps:       frame gaps b - a of the pairs; a pair of gap g gives t = k/g, k = 1 .. g-1
    stride:     frames between the starts of two pairs of one gap
    max_side:   frames larger than this are area-downscaled (even sizes) before anything else
    max_frames: at most this many frames of each source
    min_side:   sources whose frames are smaller than this (after downscaling) are skipped
    min_motion: pairs whose frames differ by less than this mean grey level (0-255) are skipped
    """
    preset: str = "fine"
    mirror: bool = True
    gaps: tuple = (2, 4)
    stride: int = 2
    max_side: int = 960
    max_frames: int = 300
    min_side: int = 256
    min_motion: float = 1.5

    def __post_init__(self):
        if self.preset not in DIS_PRESET_NAMES:
            raise InputError(f"preset must be one of {DIS_PRESET_NAMES}, got {self.preset!r}")
        if not isinstance(self.mirror, bool):
            raise InputError(f"mirror must be true or false, got {self.mirror!r}")
        gaps = tuple(self.gaps)
        if not gaps or any(not isinstance(g, int) or isinstance(g, bool) or g < 2 for g in gaps):
            raise InputError(f"gaps must be integers of at least 2, got {self.gaps!r}")
        object.__setattr__(self, "gaps", gaps)
        for name in ("stride", "max_side", "max_frames", "min_side"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(self.min_motion, (int, float)) or not 0 <= self.min_motion < 255:
            raise InputError(f"min_motion must be in [0, 255), got {self.min_motion!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gaps"] = list(self.gaps)
        return d


def source_frames(source, max_side: int, max_frames: int) -> np.ndarray:
    """(N,H,W,3) uint8 RGB: the first `max_frames` frames of a video file or an image folder,
    area-downscaled to at most `max_side` pixels (even sizes)."""
    frames = list(downscaled_frames(source, max_side, max_frames))
    if not frames:
        raise InputError(f"{source}: no frames could be decoded")
    return np.stack(frames)


def source_pairs(frames: np.ndarray, spec: FootageSpec) -> list:
    """[(a, b)] pairs of `frames` for the spec's gaps and stride, nearly static ones left out."""
    pairs = []
    for g in spec.gaps:
        for a in range(0, len(frames) - g, spec.stride):
            diff = np.abs(frames[a].astype(np.int16) - frames[a + g].astype(np.int16)).mean()
            if diff >= spec.min_motion:
                pairs.append((a, a + g))
    return pairs


def pair_flows(I0: np.ndarray, I1: np.ndarray, spec: FootageSpec) -> np.ndarray:
    """(C,H,W) float16 DIS flow of one pair of (H,W,3) uint8 frames: F01, F10 and, with
    `spec.mirror`, the mirrored pair's F01, F10 in mirrored coordinates."""
    a, b = to_chw(I0)[None], to_chw(I1)[None]
    out = list(dis_flow(a, b, spec.preset))
    if spec.mirror:
        out += list(dis_flow(a.flip(-1), b.flip(-1), spec.preset))
    return torch.cat(out, 1)[0].half().numpy()


def _build_source(source, folder: Path, spec: FootageSpec, progress: bool) -> dict:
    """Decode one source and store its frames and pair flows in `folder` (written atomically)."""
    from tqdm.auto import tqdm
    frames = source_frames(source, spec.max_side, spec.max_frames)
    N, H, W = frames.shape[:3]
    entry = {"name": folder.name, "path": str(source), "frames": int(N), "size": [int(H), int(W)], "pairs": []}
    if min(H, W) < spec.min_side:
        entry["skipped"] = f"frames of {W}x{H} are smaller than {spec.min_side}"
        return entry
    pairs = source_pairs(frames, spec)
    with atomic_output(folder, overwrite=True, directory=True) as tmp:
        np.save(tmp / "frames.npy", frames)
        C = 8 if spec.mirror else 4
        flows = np.lib.format.open_memmap(tmp / "flows.npy", mode="w+", dtype=np.float16,
                                          shape=(len(pairs), C, H, W))
        for k, (a, b) in enumerate(tqdm(pairs, desc=folder.name, unit="pair", disable=not progress, leave=False)):
            flows[k] = pair_flows(frames[a], frames[b], spec)
        flows.flush()
        del flows
        entry["pairs"] = [list(p) for p in pairs]
        (tmp / "source.json").write_text(json.dumps({"spec": spec.to_dict(), "entry": entry}))
    return entry


def build_footage_cache(sources, root, spec: FootageSpec = FootageSpec(), progress: bool = True) -> Path:
    """Decode each source once, compute the DIS flow of its pairs on whole frames, and store both in
    `root`. Sources already built with the same spec are kept (a killed build resumes)."""
    from tqdm.auto import tqdm
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = [source_name(s) for s in sources]
    if len(set(names)) != len(names):
        raise InputError(f"source names must be unique, got {names}")
    entries = []
    for stale in root.glob(".*"):  # temporary folders of a killed build (those `atomic_output` names too)
        if stale.is_dir() and stale.name.split(".")[1] in names:
            shutil.rmtree(stale, ignore_errors=True)
    for src, name in tqdm(list(zip(sources, names)), desc="footage", unit="source", disable=not progress):
        folder = root / name
        done = folder / "source.json"
        old = json.loads(done.read_text()) if done.is_file() else None
        if old is not None and old.get("spec") == spec.to_dict():
            entries.append(old["entry"])
            continue
        entries.append(_build_source(src, folder, spec, progress))
    manifest = {"format": "slomo-footage", "version": FORMAT_VERSION, "spec": spec.to_dict(), "sources": entries}
    with atomic_output(root / MANIFEST, overwrite=True) as tmp, open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    return root


def is_footage_cache(path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def warp_disagreement(I0, I1, flows, t) -> torch.Tensor:
    """Fraction of pixels where I0 and I1, warped to time t with the linear flows of eq. 4, differ by
    more than DISAGREE (max over channels): where one input must be trusted over the other.

    I0, I1: (3,H,W) float RGB in [0,1]; flows: (4,H,W) F01, F10 in pixels; t: float
    returns a 0-dim float tensor
    """
    tt = torch.tensor([float(t)]).view(1, 1, 1, 1)
    Ft0, Ft1 = intermediate_flows(flows[None, :2].float(), flows[None, 2:].float(), tt)
    g0 = backward_warp(I0[None], Ft0, "border")
    g1 = backward_warp(I1[None], Ft1, "border")
    return ((g0 - g1).abs().amax(1) > DISAGREE).float().mean()


class FootageDataset:
    """Random training samples from a footage cache: a pair (a, b), a middle frame m in between
    (t = (m - a)/(b - a)), a random crop, left-right and up-down flips and time reversal.

    With `hard_crops` > 1, `hard_prob` of the samples take, of that many random crops, the one where
    the two warps disagree most (occlusions and large motion: where visibility has something to learn).
    A left-right flip uses the mirrored pair's own DIS flow when the cache holds it.
    With `teacher`, each sample also gets the teacher flow of `flow_distillation_loss`: DIS flow from
    the (augmented) true middle frame to each input, and where its round trip comes back.
    get(i, g) -> dict I0, I1 (3,c,c), It (1,3,c,c) float RGB in [0,1], t (1,), flows (4,c,c) F01, F10;
    with `teacher` also teacher (1,4,c,c) pixels (Ft0, Ft1) and teacher_ok (1,2,c,c) bool
    """

    def __init__(self, root, crop: int = 256, augment: bool = True, preset: str = None,
                 hard_crops: int = 1, hard_prob: float = 0.5, teacher: bool = False):
        root = Path(root)
        if not is_footage_cache(root):
            raise InputError(f"not a footage cache (no {MANIFEST}): {root}")
        manifest = json.loads((root / MANIFEST).read_text())
        self.spec = FootageSpec(**{**manifest["spec"], "gaps": tuple(manifest["spec"]["gaps"])})
        if preset is not None and preset != self.spec.preset:
            raise InputError(f"footage cache {root} holds DIS '{self.spec.preset}' flow, the model uses '{preset}'")
        self.sources = [e for e in manifest["sources"] if e["pairs"] and min(e["size"]) >= crop]
        if not self.sources:
            raise InputError(f"footage cache {root} has no pairs with frames of at least {crop} px")
        self.frames = [np.load(root / e["name"] / "frames.npy", mmap_mode="r") for e in self.sources]
        self.flows = [np.load(root / e["name"] / "flows.npy", mmap_mode="r") for e in self.sources]
        self.items = [(s, p) for s, e in enumerate(self.sources) for p in range(len(e["pairs"]))]
        self.crop, self.augment = crop, augment
        self.hard_crops, self.hard_prob = hard_crops, hard_prob
        self.teacher = teacher

    def __len__(self):
        return len(self.items)

    def _coin(self, g, p=0.5) -> bool:
        return bool(torch.rand((), generator=g) < p)

    def _boxes(self, H, W, g, n):
        c = self.crop
        ys = torch.randint(0, H - c + 1, (n,), generator=g).tolist()
        xs = torch.randint(0, W - c + 1, (n,), generator=g).tolist()
        return list(zip(ys, xs))

    def _crop(self, s, p, a, m, b, box, mirrored):
        """Images (3 frames) and flow (4,c,c) of one crop; `mirrored` gives the left-right flip."""
        c, (y, x) = self.crop, box
        W = self.frames[s].shape[2]
        fr = self.frames[s]
        im = [torch.from_numpy(np.array(fr[k, y:y + c, x:x + c])).permute(2, 0, 1).float() / 255 for k in (a, m, b)]
        fl = self.flows[s][p]
        if mirrored:
            im = [i.flip(-1) for i in im]
            if fl.shape[0] == 8:
                flow = torch.from_numpy(np.array(fl[4:8, y:y + c, W - x - c:W - x])).float()
            else:
                flow = torch.from_numpy(np.array(fl[0:4, y:y + c, x:x + c])).float().flip(-1)
                flow = flow * torch.tensor([-1.0, 1.0, -1.0, 1.0]).view(4, 1, 1)
        else:
            flow = torch.from_numpy(np.array(fl[0:4, y:y + c, x:x + c])).float()
        return im, flow

    def get(self, i: int, g: torch.Generator) -> dict:
        s, p = self.items[i]
        a, b = self.sources[s]["pairs"][p]
        m = a + int(torch.randint(1, b - a, (1,), generator=g))
        t = (m - a) / (b - a)
        H, W = self.sources[s]["size"]
        mirrored = self.augment and self._coin(g)
        hard = self.hard_crops > 1 and self._coin(g, self.hard_prob)
        boxes = self._boxes(H, W, g, self.hard_crops if hard else 1)
        crops = [self._crop(s, p, a, m, b, box, mirrored) for box in boxes]
        if hard:
            scores = [float(warp_disagreement(im[0], im[2], fl, t)) for im, fl in crops]
            crops = [crops[int(np.argmax(scores))]]
        (I0, It, I1), flow = crops[0]
        It, tt = It[None], torch.tensor([t], dtype=torch.float32)
        if self.augment and self._coin(g):  # up-down flip
            I0, I1, It = I0.flip(-2), I1.flip(-2), It.flip(-2)
            flow = flow.flip(-2) * torch.tensor([1.0, -1.0, 1.0, -1.0]).view(4, 1, 1)
        if self.augment and self._coin(g):  # time reversal
            I0, I1, tt = I1, I0, 1 - tt
            flow = flow[[2, 3, 0, 1]]
        item = {"I0": I0, "I1": I1, "It": It, "t": tt, "flows": flow}
        if self.teacher:
            item["teacher"], item["teacher_ok"] = teacher_flow(I0[None], It, I1[None], self.spec.preset)
        return item

