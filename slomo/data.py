"""Training data: `prepare` (videos or frame folders -> fixed-length clips), the datasets that read
them, triplet folders for validation, and a cache of crops with precomputed DIS flow.

Layouts
- Prepared clips (the reference's Adobe240fps layout): `<root>/<split>/<clip>/<frame>.png`, each clip
  folder holding `clip_length` consecutive frames in sorted name order. `prepare` also writes
  `<root>/manifest.json` naming each clip's source video and split.
- Triplets (UCF101/DVF and Vimeo-90K style): `<root>/<id>/frame0,1,2.png` or `<root>/<id>/im1,2,3.png`,
  the middle frame being the ground truth at t = 0.5.
"""
import json
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from .errors import InputError
from .files import atomic_output, check_apart, write_failed

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTS = (".mp4", ".mkv", ".avi", ".mov", ".mpg", ".mpeg", ".webm", ".m4v", ".wmv", ".flv")
SPLITS = ("train", "val", "test")
CLIP_BYTES = 4 << 30  # frames `prepare` holds in memory at once: one clip


# ---- reading frames ----------------------------------------------------------------------------------
def read_image(path) -> np.ndarray:
    """(H,W,3) uint8 RGB from an image file; InputError when it cannot be read."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"cannot read image {path}")
    return np.ascontiguousarray(img[:, :, ::-1])


def image_files(folder) -> list:
    """Image files directly inside `folder`, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def iter_video(path):
    """Frames of a video file as (H,W,3) uint8 RGB; stops at the first undecodable frame."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"cannot open video {path}")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield np.ascontiguousarray(frame[:, :, ::-1])
    finally:
        cap.release()


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


def iter_frames(source):
    """(H,W,3) uint8 RGB frames of a video file or an image folder."""
    source = Path(source)
    if source.is_dir():
        for f in image_files(source):
            yield read_image(f)
    else:
        yield from iter_video(source)


def resize_to(frame: np.ndarray, size) -> np.ndarray:
    """Area-resize an (H,W,3) frame to size=(H,W) for dataset making (never used at inference)."""
    if size is None or tuple(frame.shape[:2]) == tuple(size):
        return frame
    return cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)


# ---- clip selection ------------------------------------------------------------------------------------
def is_scene_cut(a: np.ndarray, b: np.ndarray, threshold: float) -> bool:
    """True when the colour histograms of two (H,W,3) uint8 frames differ by more than `threshold`
    (half the L1 distance of normalised 8x8x8 histograms, 0 = same, 1 = disjoint)."""
    ha = cv2.calcHist([a], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3).ravel()
    hb = cv2.calcHist([b], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3).ravel()
    return 0.5 * float(np.abs(ha / ha.sum() - hb / hb.sum()).sum()) > threshold


def motion_level(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute grey-level difference of two (H,W,3) uint8 frames (0-255)."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def split_sources(names: list, fractions, seed: int) -> dict:
    """Seeded split of source names into train/val/test by the given fractions: {name: split}.
    Every split with a positive fraction gets at least one source when there are enough."""
    names = sorted(names)
    order = list(names)
    random.Random(seed).shuffle(order)
    n = len(order)
    counts = [int(round(f * n)) for f in fractions]
    for i in (1, 2):  # keep val/test non-empty when asked for and possible
        if fractions[i] > 0 and counts[i] == 0 and n >= 3:
            counts[i] = 1
    counts[0] = n - counts[1] - counts[2]
    out, k = {}, 0
    for split, c in zip(SPLITS, counts):
        for name in order[k:k + c]:
            out[name] = split
        k += c
    return out


def read_list(path) -> set:
    """Names in a reference train/test list file (one video per line, extension optional)."""
    lines = Path(path).read_text().split()
    return {Path(s).stem for s in lines if s.strip()}


@dataclass
class PrepareResult:
    """What `prepare` wrote."""
    output: Path
    clips: dict = field(default_factory=dict)  # split -> number of clips
    sources: dict = field(default_factory=dict)  # source name -> split
    skipped: dict = field(default_factory=dict)  # reason -> number of candidate clips skipped


def prepare(input, output, *, clip_length: int = 12, stride: int = None, size=None,
            split=(0.8, 0.1, 0.1), seed: int = 0, train_list=None, test_list=None,
            scene_threshold: float = 0.5, static_threshold: float = 1.0,
            overwrite: bool = False, progress: bool = True) -> PrepareResult:
    """Cut videos or frame sequences into fixed-length clips, split by source video.

    input:  a video file, a folder of videos, or a folder of frame folders (or one frame folder)
    output: new dataset folder: `<split>/<source>_<k>/<00..>.png` plus `manifest.json`
    clip_length: frames per clip (the reference uses 12 at 240 fps); stride: frames between clip
           starts (default clip_length, no overlap); size: (H,W) to resize to, None keeps the size
    split: train/val/test fractions over source videos (seeded); train_list/test_list: the
           reference's Adobe240fps list files; when given they decide the split instead
    scene_threshold: histogram distance above which consecutive frames count as a cut (clip skipped)
    static_threshold: clips whose first and last frames differ by less than this mean grey level
           (0-255) are skipped as nearly static
    The input is never modified: an output that is, holds or lies inside the input (or a list file) is
    refused. The dataset is written to a hidden temporary folder and renamed; `overwrite` replaces only
    an earlier dataset of `prepare` (recognised by its manifest.json), never another folder or file.
    """
    stride = clip_length if stride is None else stride
    _check_prepare(clip_length, stride, size, split, seed, scene_threshold, static_threshold)
    output = Path(output).expanduser()
    check_apart(output, [input, train_list, test_list], "output folder")
    _check_output_folder(output, overwrite)
    sources = find_sources(input)
    names = _unique_names(sources)
    if train_list or test_list:
        train_names = read_list(train_list) if train_list else set()
        test_names = read_list(test_list) if test_list else set()
        assign = {n: "test" if Path(n).stem in test_names else "train" for n in names
                  if not train_names or Path(n).stem in train_names or Path(n).stem in test_names}
    else:
        assign = split_sources(names, split, seed)
    from tqdm.auto import tqdm

    result = PrepareResult(output=output, clips={s: 0 for s in SPLITS}, sources=dict(assign),
                           skipped={"scene_cut": 0, "static": 0, "short": 0})
    manifest = {"clip_length": clip_length, "stride": stride, "size": list(size) if size else None,
                "seed": seed, "split": list(split), "sources": {}, "clips": {}}
    replaceable = _is_dataset if overwrite else _is_empty_folder
    with atomic_output(output, overwrite=replaceable, directory=True) as tmp:
        for src, name in tqdm(list(zip(sources, names)), desc="prepare", unit="video", disable=not progress):
            if name not in assign:
                continue
            manifest["sources"][name] = {"path": str(src), "split": assign[name]}
            _cut_source(src, name, assign[name], tmp, clip_length, stride, size,
                        scene_threshold, static_threshold, result, manifest)
        if sum(result.clips.values()) == 0:
            raise InputError(f"no clips of {clip_length} frames could be made from {input} "
                             f"(skipped: {result.skipped})")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return result


def _check_prepare(clip_length, stride, size, split, seed, scene_threshold, static_threshold) -> None:
    """InputError naming the first of `prepare`'s settings that cannot work."""
    def whole(v):
        return isinstance(v, int) and not isinstance(v, bool)
    if not whole(clip_length) or clip_length < 3:
        raise InputError(f"clip_length must be a whole number of at least 3, got {clip_length!r}")
    if not whole(stride) or stride < 1:
        raise InputError(f"stride must be a whole number of at least 1, got {stride!r}")
    if size is not None:
        if len(size) != 2 or not all(whole(v) and v >= 1 for v in size):
            raise InputError(f"size must be (height, width) in whole pixels, got {size!r}")
        _check_clip_bytes(clip_length, size[0], size[1])
    try:
        fractions = [float(f) for f in split]
    except (TypeError, ValueError):
        fractions = [math.nan]
    if len(fractions) != 3 or not all(0 <= f <= 1 for f in fractions) or not 0.99 < sum(fractions) < 1.01:
        raise InputError(f"split must be three fractions summing to 1, got {tuple(split)!r}")
    if not whole(seed):
        raise InputError(f"seed must be a whole number, got {seed!r}")
    for name, v in (("scene_threshold", scene_threshold), ("static_threshold", static_threshold)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise InputError(f"{name} must be a number >= 0, got {v!r}")


def _check_clip_bytes(clip_length: int, height: int, width: int) -> None:
    need = clip_length * height * width * 3
    if need > CLIP_BYTES:
        fit = CLIP_BYTES // (height * width * 3)
        raise InputError(f"a clip of {clip_length} frames of {width}x{height} needs {need / 2**30:.1f} GB of memory; "
                         f"at most {CLIP_BYTES >> 30} GB, i.e. {fit} frames of this size")


def _check_output_folder(output: Path, overwrite: bool) -> None:
    """InputError unless `output` can become a new dataset folder (with `overwrite`: or replace one)."""
    if output.exists() and not output.is_dir():
        raise InputError(f"the output {output} is a file, not a folder; choose another name")
    parent = next((p for p in output.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise InputError(f"cannot make the output folder {output}: {parent} is a file")
    if output.is_dir() and not _is_empty_folder(output):
        if not overwrite:
            raise InputError(f"the output {output} already exists; pass --overwrite to replace a dataset "
                             f"that slomo prepare wrote there")
        if not _is_dataset(output):
            raise InputError(f"{output} is not a dataset that slomo prepare wrote (no manifest.json of its "
                             f"own), and --overwrite replaces only those; choose another folder")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot make the folder {output.parent} ({e.strerror})") from None


def _is_empty_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def _is_dataset(path: Path) -> bool:
    """True for a folder that `prepare` wrote: its manifest.json has prepare's keys."""
    if _is_empty_folder(path):
        return True
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (not path.is_symlink() and isinstance(manifest, dict)
            and {"clip_length", "stride", "split", "sources", "clips"} <= set(manifest))


def _unique_names(sources) -> list:
    names, seen = [], {}
    for s in sources:
        base = s.stem if s.is_file() else s.name
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return names


def _cut_source(src, name, split, root, clip_length, stride, size, scene_threshold,
                static_threshold, result, manifest):
    buf, k, n_frames = [], 0, 0
    start = 0  # index of buf[0] in the source
    for frame in iter_frames(src):
        buf.append(resize_to(frame, size))
        n_frames += 1
        if n_frames == 1:
            _check_clip_bytes(clip_length, *frame.shape[:2])
        if len(buf) < clip_length:
            continue
        clip = buf[:clip_length]
        if any(is_scene_cut(a, b, scene_threshold) for a, b in zip(clip, clip[1:])):
            result.skipped["scene_cut"] += 1
        elif motion_level(clip[0], clip[-1]) < static_threshold:
            result.skipped["static"] += 1
        else:
            folder = root / split / f"{name}_{k:04d}"
            folder.mkdir(parents=True)
            for i, f in enumerate(clip):
                if not cv2.imwrite(str(folder / f"{i:02d}.png"), f[:, :, ::-1]):
                    raise write_failed(folder / f"{i:02d}.png")
            manifest["clips"][f"{split}/{folder.name}"] = {"source": name, "start": start}
            result.clips[split] += 1
            k += 1
        buf = buf[stride:]
        start += stride
    if n_frames < clip_length:
        result.skipped["short"] += 1


# ---- datasets --------------------------------------------------------------------------------------------
def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """(H,W,3) uint8 RGB -> (3,H,W) float RGB in [0,1]."""
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float() / 255


def _crop_box(H, W, crop, g):
    ch, cw = crop
    if H < ch or W < cw:
        raise InputError(f"frames of {H}x{W} are smaller than the crop {ch}x{cw}")
    y = int(torch.randint(0, H - ch + 1, (1,), generator=g))
    x = int(torch.randint(0, W - cw + 1, (1,), generator=g))
    return slice(y, y + ch), slice(x, x + cw)


def augment(I0, I1, It, t, g, flows=None, flip: bool = True, reverse: bool = True):
    """Random horizontal/vertical flips and temporal reversal, applied consistently.

    I0, I1: (3,H,W); It: (T,3,H,W); t: (T,) in (0,1); flows: optional (4,H,W) = F01 (0:2), F10 (2:4)
    returns the same tuple (I0, I1, It, t, flows)
    """
    def coin():
        return bool(torch.rand((), generator=g) < 0.5)
    if flip and coin():
        I0, I1, It = I0.flip(-1), I1.flip(-1), It.flip(-1)
        if flows is not None:
            flows = flows.flip(-1) * torch.tensor([-1.0, 1.0, -1.0, 1.0]).view(4, 1, 1)
    if flip and coin():
        I0, I1, It = I0.flip(-2), I1.flip(-2), It.flip(-2)
        if flows is not None:
            flows = flows.flip(-2) * torch.tensor([1.0, -1.0, 1.0, -1.0]).view(4, 1, 1)
    if reverse and coin():
        I0, I1, It, t = I1, I0, It.flip(0), (1 - t).flip(0)
        if flows is not None:
            flows = flows[[2, 3, 0, 1]]
    return I0, I1, It, t, flows


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
        frames = [read_image(files[j]) for j in idx]
        ys, xs = _crop_box(*frames[0].shape[:2], self.crop, g)
        frames = [to_tensor(f[ys, xs]) for f in frames]
        I0, I1, It = frames[0], frames[1], torch.stack(frames[2:])
        t = ks.float() / self.span
        if self.augment:
            I0, I1, It, t, _ = augment(I0, I1, It, t, g)
        return {"I0": I0, "I1": I1, "It": It, "t": t, "flows": None}


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
        from .synthesis import synthesize
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
        ys, xs = _crop_box(C, C, self.crop, g)
        im = self.images[i, :, ys, xs].permute(0, 3, 1, 2).float() / 255
        fl = self.flows[i, :, ys, xs].float()
        I0, It, I1, t = im[0], im[1:2], im[2], self.t[i:i + 1].float()
        if self.augment:
            I0, I1, It, t, fl = augment(I0, I1, It, t, g, flows=fl)
        return {"I0": I0, "I1": I1, "It": It, "t": t, "flows": fl}


def collate(items: list) -> dict:
    """Stack dataset items into a batch: I0, I1 (B,3,h,w), It (B,T,3,h,w), t (B,T), flows or None."""
    out = {k: torch.stack([it[k] for it in items]) for k in ("I0", "I1", "It", "t")}
    out["flows"] = torch.stack([it["flows"] for it in items]) if items[0]["flows"] is not None else None
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
                 preset: str = None, hard_fraction: float = 1.0, hard_crops: int = 1, hard_prob: float = 0.5):
    """A FlowCache for an `.npz` file, a FootageDataset for a footage cache folder (`slomo.footage`),
    else a ClipDataset (a prepared `train/` folder, or the dataset root, whose `train/` is then used)."""
    from .footage import FootageDataset, is_footage_cache
    path = Path(path)
    if is_footage_cache(path):
        if crop[0] != crop[1]:
            raise InputError(f"footage caches take square crops, got {tuple(crop)}")
        return FootageDataset(path, crop[0], augment, preset, hard_crops, hard_prob)
    if path.suffix == ".npz":
        return FlowCache(path, crop, augment, preset, hard_fraction)
    if (path / "train").is_dir():
        path = path / "train"
    return ClipDataset(path, crop, span, targets, augment)


# ---- frame-skipped triplets -------------------------------------------------------------------------------
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
        f = [to_tensor(read_image(files[i + k * gap])).unsqueeze(0) for k in range(3)]
        out.append((f"{Path(folder).name}/{files[i].stem}", f[0], f[1], f[2]))
    return out


# ---- flow cache ----------------------------------------------------------------------------------------------
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

    from .flow import dis_flow

    rng = np.random.default_rng(spec.seed)
    kinds = np.array([k[:3] for k in spec.kinds])
    probs = np.array([k[3] for k in spec.kinds], dtype=float)
    probs /= probs.sum()
    C = spec.crop
    images, flows, ts, names = [], [], [], []
    for src in tqdm(sources, desc="flow cache", unit="source", disable=not progress):
        frames = []
        for f in iter_frames(src):
            h, w = f.shape[:2]
            s = spec.max_side / max(h, w)
            if s < 1:
                f = resize_to(f, (int(round(h * s / 2)) * 2, int(round(w * s / 2)) * 2))
            frames.append(f)
            if len(frames) >= spec.max_frames:
                break
        n = len(frames)
        if n < kinds[:, 2].max() + 1 or min(frames[0].shape[:2]) < C:
            continue
        made = 0
        for _ in range(spec.per_source * 3):
            if made >= spec.per_source:
                break
            a, m, b = kinds[rng.choice(len(kinds), p=probs)]
            i = int(rng.integers(0, n - b))
            I0, It, I1 = frames[i + a], frames[i + m], frames[i + b]
            if motion_level(I0, I1) < spec.min_motion:
                continue
            F01, F10 = dis_flow(to_tensor(I0)[None], to_tensor(I1)[None], spec.preset)
            H, W = I0.shape[:2]
            for _ in range(spec.crops_per_pair):
                y, x = int(rng.integers(0, H - C + 1)), int(rng.integers(0, W - C + 1))
                sl = (slice(y, y + C), slice(x, x + C))
                if motion_level(I0[sl], It[sl]) < spec.min_motion / 2:
                    continue
                images.append(np.stack([I0[sl], It[sl], I1[sl]]))
                flows.append(torch.cat([F01, F10], 1)[0, :, y:y + C, x:x + C].half().numpy())
                ts.append((m - a) / (b - a))
                names.append(Path(src).stem if Path(src).is_file() else Path(src).name)
            made += 1
    if not images:
        raise InputError("no moving crops found for the flow cache")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(output, overwrite=_is_flow_cache) as tmp, open(tmp, "wb") as f:
        np.savez(f, images=np.stack(images), flows=np.stack(flows), t=np.array(ts, np.float32),
                 sources=np.array(names), preset=np.array(spec.preset), spec=np.array(json.dumps(asdict(spec))))
    return output


def _is_flow_cache(path: Path) -> bool:
    """True for an `.npz` file that `build_flow_cache` wrote (what it may replace)."""
    try:
        with np.load(path) as d:
            return {"images", "flows", "t"} <= set(d.files)
    except (OSError, ValueError):
        return False
