"""`prepare`: videos or frame folders cut into fixed-length clips, split by source video.

Layout (the reference's Adobe240fps layout): `<root>/<split>/<clip>/<frame>.png`, each clip folder
holding `clip_length` consecutive frames in sorted name order, and `<root>/manifest.json` naming
each clip's source video and split. Clips across a scene cut (`slomo.video.scenes`, the detector
the conversion uses) and nearly static clips are skipped.
"""
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from ..errors import InputError
from ..files import atomic_output, check_apart, write_failed
from ..video import scenes
from .frames import find_sources, iter_frames, motion_level, resize_to, source_name

SPLITS = ("train", "val", "test")
CLIP_BYTES = 4 << 30  # frames `prepare` holds in memory at once: one clip


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
            scene_threshold: float = scenes.DEFAULT_THRESHOLD, static_threshold: float = 1.0,
            overwrite: bool = False, progress: bool = True) -> PrepareResult:
    """Cut videos or frame sequences into fixed-length clips, split by source video.

    input:  a video file, a folder of videos, or a folder of frame folders (or one frame folder)
    output: new dataset folder: `<split>/<source>_<k>/<00..>.png` plus `manifest.json`
    clip_length: frames per clip (the reference uses 12 at 240 fps); stride: frames between clip
           starts (default clip_length, no overlap); size: (H,W) to resize to, None keeps the size
    split: train/val/test fractions over source videos (seeded); train_list/test_list: the
           reference's Adobe240fps list files; when given they decide the split instead
    scene_threshold: cut score (`slomo.video.scenes.cut_score`) above which consecutive frames
           count as a cut (clip skipped); 0 keeps every clip
    static_threshold: clips whose first and last frames differ by less than this mean grey level
           (0-255) are skipped as nearly static
    The input is never modified: an output that is, holds or lies inside the input (or a list file) is
    refused. The dataset is written to a hidden temporary folder and renamed; `overwrite` replaces only
    an earlier dataset of `prepare` (recognised by its manifest.json), never another folder or file.
    """
    from tqdm.auto import tqdm
    stride = clip_length if stride is None else stride
    _check_prepare(clip_length, stride, size, split, seed, scene_threshold, static_threshold)
    output = Path(output).expanduser()
    check_apart(output, [input, train_list, test_list], "output folder")
    _check_output_folder(output, overwrite)
    sources = find_sources(input)
    names = _unique_names(sources)
    assign = _assign_splits(names, split, seed, train_list, test_list)
    result = PrepareResult(output=output, clips={s: 0 for s in SPLITS}, sources=dict(assign),
                           skipped={"scene_cut": 0, "static": 0, "short": 0})
    manifest = {"clip_length": clip_length, "stride": stride, "size": list(size) if size else None,
                "seed": seed, "split": list(split), "sources": {}, "clips": {}}
    cutter = _ClipCutter(clip_length, stride, size, scene_threshold, static_threshold, result, manifest)
    with atomic_output(output, overwrite=_is_dataset if overwrite else _is_empty_folder, directory=True) as tmp:
        for src, name in tqdm(list(zip(sources, names)), desc="prepare", unit="video", disable=not progress):
            if name in assign:
                manifest["sources"][name] = {"path": str(src), "split": assign[name]}
                cutter.cut(src, name, tmp / assign[name])
        if sum(result.clips.values()) == 0:
            raise InputError(f"no clips of {clip_length} frames could be made from {input} "
                             f"(skipped: {result.skipped})")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return result


def _assign_splits(names: list, split, seed: int, train_list, test_list) -> dict:
    """{source name: split}: by the reference's list files when given (names on neither are left
    out), else a seeded split by the fractions."""
    if not (train_list or test_list):
        return split_sources(names, split, seed)
    train_names = read_list(train_list) if train_list else set()
    test_names = read_list(test_list) if test_list else set()
    return {n: "test" if Path(n).stem in test_names else "train" for n in names
            if not train_names or Path(n).stem in train_names or Path(n).stem in test_names}


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
        base = source_name(s)
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return names


@dataclass
class _ClipCutter:
    """Cuts each source into clips of `clip_length` frames, `stride` apart, counting in `result`
    and `manifest` what it writes and what it skips."""
    clip_length: int
    stride: int
    size: tuple
    scene_threshold: float
    static_threshold: float
    result: PrepareResult
    manifest: dict

    def cut(self, src, name: str, folder: Path) -> None:
        """Write the clips of `src` as `<folder>/<name>_<k>/`."""
        n = self.clip_length
        buf, thumbs, k, n_frames = [], [], 0, 0
        start = 0  # index of buf[0] in the source
        for frame in iter_frames(src):
            buf.append(resize_to(frame, self.size))
            thumbs.append(scenes.thumbnail(buf[-1]))
            n_frames += 1
            if n_frames == 1:
                _check_clip_bytes(n, *frame.shape[:2])
            if len(buf) < n:
                continue
            fault = self._fault(buf[:n], thumbs[:n])
            if fault:
                self.result.skipped[fault] += 1
            else:
                self._write(buf[:n], folder / f"{name}_{k:04d}", name, start)
                k += 1
            buf, thumbs = buf[self.stride:], thumbs[self.stride:]
            start += self.stride
        if n_frames < n:
            self.result.skipped["short"] += 1

    def _fault(self, clip: list, thumbs: list):
        """Why a clip is skipped ("scene_cut", "static"), or None."""
        if any(scenes.is_cut(a, b, self.scene_threshold) for a, b in zip(thumbs, thumbs[1:])):
            return "scene_cut"
        if motion_level(clip[0], clip[-1]) < self.static_threshold:
            return "static"
        return None

    def _write(self, clip: list, folder: Path, name: str, start: int) -> None:
        folder.mkdir(parents=True)
        for i, f in enumerate(clip):
            if not cv2.imwrite(str(folder / f"{i:02d}.png"), f[:, :, ::-1]):
                raise write_failed(folder / f"{i:02d}.png")
        split = folder.parent.name
        self.manifest["clips"][f"{split}/{folder.name}"] = {"source": name, "start": start}
        self.result.clips[split] += 1
