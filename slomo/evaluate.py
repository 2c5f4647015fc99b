"""Evaluation: PSNR, SSIM and IE of any interpolation method on a data set of known middles.

    ds = load_dataset("data/ucf101_small")          # layout detected from the files
    res = evaluate("flow", ds)                       # or a SuperSloMo model, or any `.interpolate` object
    print(res.table()); res.save("flow.csv")

One function serves the CLI, the notebooks and training's validation.
"""
import csv
import heapq
import io
import json
import math
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from . import metrics
from .errors import InputError
from .files import atomic_output, check_apart, check_replaceable
from .methods import get_method, method_name

LAYOUTS = ("auto", "triplets", "middlebury", "vimeo", "frames")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".webp")
# (first, middle, last) file stems of a triplet folder: UCF101-DVF, its AdaCoF copy, and Vimeo90K's
TRIPLET_NAMES = (("frame_00", "frame_01_gt", "frame_02"), ("frame0", "frame1", "frame2"), ("im1", "im2", "im3"))
MIDDLEBURY_DIRS = (("input", "gt"), ("other-data", "other-gt-interp"))
PNG_TAG = b"Software\0slomo evaluate"  # a tEXt chunk in the worst-case grids: what --overwrite may replace


@dataclass
class Sample:
    """Two input frames and the ground truth at times t between them: image files (loaded lazily)
    or (1,3,H,W) float RGB tensors in [0,1]."""
    name: str
    first: object  # Path or tensor
    last: object
    targets: list  # [(t, Path or tensor)], t in (0,1)


@dataclass
class Dataset:
    name: str
    layout: str
    samples: list = field(default_factory=list)

    def __len__(self):
        return len(self.samples)

    def __repr__(self):
        return f"Dataset({self.name!r}, layout={self.layout!r}, {len(self.samples)} samples)"

    @classmethod
    def from_triplets(cls, triplets, name: str = "triplets") -> "Dataset":
        """In-memory triplets [(name, I0, It, I1)], frames (1,3,H,W) float RGB in [0,1], truth at t=0.5
        (the form `slomo.data.sequence_triplets` returns)."""
        return cls(name, "memory", [Sample(str(n), I0, I1, [(0.5, It)]) for n, I0, It, I1 in triplets])


# ---- reading --------------------------------------------------------------------------------------
def load_image(path) -> torch.Tensor:
    """An image file as a (1,3,H,W) float RGB tensor in [0,1]."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"cannot read image {path}")
    return torch.from_numpy(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)).permute(2, 0, 1).unsqueeze(0).float() / 255


def _frame(x) -> torch.Tensor:  # a path or a (1,3,H,W) / (3,H,W) tensor -> (1,3,H,W) float, CPU
    if isinstance(x, torch.Tensor):
        return (x if x.dim() == 4 else x.unsqueeze(0)).detach().float().cpu()
    return load_image(x)


def _label(x) -> str:
    return x.name if isinstance(x, Path) else "a frame"


def _images(folder: Path) -> list:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: _natural_key(p.name))


def _natural_key(s: str):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)]


def _subdirs(folder: Path) -> list:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: _natural_key(p.name))


# ---- layouts ---------------------------------------------------------------------------------------
def _triplet_files(folder: Path):
    """(first, middle, last) image files when `folder` holds a triplet (any image suffix), else None."""
    for names in TRIPLET_NAMES:
        files = [next((folder / f"{n}{e}" for e in IMAGE_SUFFIXES if (folder / f"{n}{e}").is_file()), None)
                 for n in names]
        if all(files):
            return files
    return None


def _triplet_folders(root: Path) -> list:
    """root and every folder below it, in natural order, that holds a triplet."""
    found, todo = [], [root]
    while todo:
        d = todo.pop(0)
        if _triplet_files(d):
            found.append(d)
        todo[:0] = _subdirs(d)  # depth first, in order
    return found


def _load_triplets(root: Path) -> list:
    samples = []
    for d in _triplet_folders(root):
        first, middle, last = _triplet_files(d)
        samples.append(Sample(d.relative_to(root).as_posix() if d != root else d.name, first, last, [(0.5, middle)]))
    return samples


def _load_middlebury(root: Path) -> list:
    for inp, gt in MIDDLEBURY_DIRS:
        if (root / inp).is_dir() and (root / gt).is_dir():
            break
    else:
        raise InputError(f"{root}: a Middlebury set needs input/<seq>/frame10.png, frame11.png and gt/<seq>/frame10i11.png")
    samples = []
    for d in _subdirs(root / gt):
        a, b, m = root / inp / d.name / "frame10.png", root / inp / d.name / "frame11.png", d / "frame10i11.png"
        if a.is_file() and b.is_file() and m.is_file():
            samples.append(Sample(d.name, a, b, [(0.5, m)]))
    return samples


def _load_vimeo(root: Path) -> list:
    listing = root / "tri_testlist.txt"
    samples = []
    for line in listing.read_text().splitlines():
        rel = line.strip()
        if not rel:
            continue
        d = root / "sequences" / rel
        missing = [n for n in ("im1.png", "im2.png", "im3.png") if not (d / n).is_file()]
        if missing:
            raise InputError(f"{listing}: entry {rel!r} has no {d / missing[0]}")
        samples.append(Sample(rel, d / "im1.png", d / "im3.png", [(0.5, d / "im2.png")]))
    return samples


def _load_frames(root: Path, scale: int) -> list:
    """Frame skipping: frames i and i+scale are the inputs, the scale-1 frames between are the truth."""
    folders = [root] if _images(root) else [d for d in _subdirs(root) if _images(d)]
    samples = []
    for d in folders:
        frames = _images(d)
        prefix = "" if d == root else f"{d.name}/"
        for i in range(0, len(frames) - scale, scale):
            targets = [(k / scale, frames[i + k]) for k in range(1, scale)]
            samples.append(Sample(f"{prefix}{frames[i].stem}", frames[i], frames[i + scale], targets))
    return samples


def detect_layout(root: Path) -> str:
    """Which layout a folder holds, from its files (InputError when none fits)."""
    if (root / "tri_testlist.txt").is_file():
        return "vimeo"
    if any((root / a).is_dir() and (root / b).is_dir() for a, b in MIDDLEBURY_DIRS):
        return "middlebury"
    subdirs = _subdirs(root)
    if _triplet_folders(root):
        return "triplets"
    if _images(root) or any(_images(d) for d in subdirs):
        return "frames"
    if not any(root.iterdir()):
        raise InputError(f"{root}: the folder is empty")
    raise InputError(f"{root}: no known data set layout found (expected UCF101 triplets, Middlebury input/ + gt/, "
                     f"Vimeo90K tri_testlist.txt, or a folder of frames)")


def load_dataset(path, layout: str = "auto", scale: int = 2, limit: int = None) -> Dataset:
    """Find the samples of a data set on disk.

    layout: auto | triplets (folders at any depth holding UCF101-DVF `frame_00, frame_01_gt, frame_02`,
            `frame0, frame1, frame2` or Vimeo90K `im1, im2, im3` images, any image suffix) | middlebury (`input/<seq>/frame10.png, frame11.png`,
            `gt/<seq>/frame10i11.png`) | vimeo (`tri_testlist.txt`, `sequences/<a>/<b>/im1-3.png`) |
            frames (a folder of frames, or of folders of frames; inputs `scale` frames apart, the
            frames between them are the truth: scale 2, 4, 8 for x2/x4/x8 protocols)
    limit:  keep only the first `limit` samples
    """
    root = Path(path)
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise InputError(f"data set folder not found: {root}")
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 2:
        raise InputError(f"--scale must be a whole number >= 2, got {scale!r}")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InputError(f"--limit must be a whole number >= 1, got {limit!r}")
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "triplets":
        samples = _load_triplets(root)
    elif layout == "middlebury":
        samples = _load_middlebury(root)
    elif layout == "vimeo":
        if not (root / "tri_testlist.txt").is_file():
            raise InputError(f"{root}: a Vimeo90K set needs tri_testlist.txt")
        samples = _load_vimeo(root)
    else:
        samples = _load_frames(root, scale)
    if not samples:
        raise InputError(f"{root}: no {layout} samples found" + (" (the folder is empty)" if not any(root.iterdir()) else ""))
    if limit is not None:
        samples = samples[:limit]
    return Dataset(root.name, layout, samples)


# ---- results ---------------------------------------------------------------------------------------
COLUMNS = ("sample", "t", "psnr", "ssim", "ie")


@dataclass
class EvalResult:
    """Per-(sample, t) rows and their means. `worst` holds images of the lowest-PSNR rows."""
    method: str
    dataset: str
    rows: list  # [{"sample", "t", "psnr", "ssim", "ie"}]
    means: dict  # {"psnr", "ssim", "ie"}
    worst: list = field(default_factory=list, repr=False)  # [(psnr, name, t, I0, pred, gt, I1)] uint8 HWC

    def table(self) -> str:
        """Rows and their mean as text; models with a visibility map get a `sep` column (the mean row
        averages it over the samples that have occlusion labels)."""
        sep = "separation" in self.means
        lines = [f"{'sample':<28} {'t':>6} {'PSNR':>7} {'SSIM':>7} {'IE':>7}" + (f" {'sep':>7}" if sep else "")]
        for r in self.rows:
            lines.append(f"{r['sample'][:28]:<28} {r['t']:6.3f} {r['psnr']:7.2f} {r['ssim']:7.4f} {r['ie']:7.2f}"
                         + (f" {r['separation']:7.3f}" if sep else ""))
        m = self.means
        lines.append(f"{'mean (' + str(len(self.rows)) + ')':<28} {'':>6} {m['psnr']:7.2f} {m['ssim']:7.4f} {m['ie']:7.2f}"
                     + (f" {m['separation']:7.3f}" if sep else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"method": self.method, "dataset": self.dataset, "means": self.means, "rows": self.rows}

    def save(self, path, overwrite: bool = True) -> Path:
        """Write CSV (rows, then a `mean` row) or JSON, chosen by the suffix; atomically.
        overwrite: replace an earlier results file of `evaluate` (never any other file)."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            text = json.dumps(self.to_dict(), indent=1)
        elif path.suffix.lower() == ".csv":
            buf = io.StringIO()
            cols = COLUMNS + (("separation",) if "separation" in self.means else ())
            w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
            w.writeheader()
            w.writerows(self.rows)
            w.writerow({"sample": "mean", "t": "", **self.means})
            text = buf.getvalue()
        else:
            raise InputError(f"results file must end in .csv or .json, got {path.name}")
        _atomic_write(path, text.encode(), overwrite)
        return path

    def save_worst_grid(self, path, overwrite: bool = True) -> Path:
        """A PNG grid, one row per worst case: first input, prediction, truth, |error| x4, last input.
        overwrite: replace an earlier grid of `evaluate` (never any other file)."""
        if not self.worst:
            raise InputError("no worst cases kept: pass worst=K to evaluate()")
        rows = []
        for p, name, t, I0, pred, gt, I1 in sorted(self.worst, key=lambda w: w[0]):
            err = np.clip(np.abs(pred.astype(np.int16) - gt.astype(np.int16)) * 4, 0, 255).astype(np.uint8)
            row = np.concatenate([I0, pred, gt, err, I1], axis=1)
            bar = np.full((18, row.shape[1], 3), 255, np.uint8)
            cv2.putText(bar, f"{name} t={t:.3f} PSNR {p:.2f} dB | I0 | prediction | truth | error x4 | I1",
                        (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
            rows.append(np.concatenate([bar, row], axis=0))
        width = max(r.shape[1] for r in rows)
        grid = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
        ok, png = cv2.imencode(".png", cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        if not ok:
            raise InputError(f"could not encode the grid for {path}")
        _atomic_write(Path(path), _tag_png(png.tobytes()), overwrite)
        return Path(path)


def _tag_png(png: bytes) -> bytes:
    """The PNG with a tEXt chunk naming `slomo evaluate`, after its header chunk (8 + 25 bytes)."""
    chunk = struct.pack(">I", len(PNG_TAG)) + b"tEXt" + PNG_TAG
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + PNG_TAG) & 0xFFFFFFFF)
    return png[:33] + chunk + png[33:]


def is_result(path) -> bool:
    """True for a file that `evaluate` wrote: a results table (CSV or JSON) or a worst-case grid."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
        if path.suffix.lower() == ".json":
            d = json.loads(path.read_text())
            return isinstance(d, dict) and {"method", "dataset", "means", "rows"} <= set(d)
    except (OSError, ValueError):
        return False
    return head.startswith(b"sample,t,psnr,ssim,ie") or (head.startswith(b"\x89PNG") and PNG_TAG in head)


def check_outputs(paths, data, overwrite: bool) -> None:
    """InputError, before any work, for an output inside the data set or one `evaluate` may not replace."""
    for p in paths:
        if p is not None:
            check_apart(p, [data])
            check_replaceable(p, overwrite, is_result, "slomo evaluate")


def _atomic_write(path: Path, data: bytes, overwrite: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    check_replaceable(path, overwrite, is_result, "slomo evaluate")
    with atomic_output(path, overwrite=is_result if overwrite else False) as tmp:
        tmp.write_bytes(data)


def _u8(x: torch.Tensor) -> np.ndarray:  # (3,H,W) float [0,1] -> (H,W,3) uint8
    return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


# ---- the evaluation --------------------------------------------------------------------------------
def evaluate(method, dataset, *, checkpoint=None, device=None, worst: int = 0, progress: bool = False,
             quantize: bool = True, precision: str = None) -> EvalResult:
    """PSNR (dB), SSIM and IE of `method` on every (sample, t) of `dataset`, and their means.

    method:  an object with `.interpolate(I0, I1, t) -> (B,T,3,H,W)` (a SuperSloMo model, a baseline)
             or a name from `slomo.methods.METHODS` (superslomo loads `checkpoint` with `slomo.load`)
    dataset: a Dataset from `load_dataset`, a folder (layout detected), or in-memory triplets
             [(name, I0, It, I1)] (see `Dataset.from_triplets`)
    worst:   keep images of the `worst` lowest-PSNR rows for `EvalResult.save_worst_grid`
    quantize: round predictions to 8 bits first, as a saved frame would be (the usual protocol)
    precision: passed to `method.interpolate` when given (e.g. "fp32")
    """
    if isinstance(worst, bool) or not isinstance(worst, int) or worst < 0:
        raise InputError(f"--worst must be a whole number >= 0, got {worst!r}")
    if isinstance(dataset, (list, tuple)):
        dataset = Dataset.from_triplets(dataset)
    elif not isinstance(dataset, Dataset):
        dataset = load_dataset(dataset)
    kw = {} if precision is None else {"precision": precision}
    model = get_method(method, checkpoint, device)
    dev = getattr(model, "device", None)
    dev = dev if isinstance(dev, torch.device) else torch.device("cpu")
    rows, kept = [], []
    from .model import SuperSloMo
    has_visibility = isinstance(model, SuperSloMo)  # the model's own visibility map is scored too
    samples = dataset.samples
    if progress:
        from tqdm import tqdm
        samples = tqdm(samples, desc=f"evaluate {method_name(method)}", unit="sample")
    for s in samples:
        I0, I1 = _frame(s.first), _frame(s.last)
        gts = [_frame(p) for _, p in s.targets]
        for p, x in [(s.last, I1)] + [(p, g) for (_, p), g in zip(s.targets, gts)]:
            if x.shape != I0.shape:
                raise InputError(f"sample {s.name}: {_label(p)} is {x.shape[3]}x{x.shape[2]} but "
                                 f"{_label(s.first)} is {I0.shape[3]}x{I0.shape[2]}; frames must be the same size")
        if min(I0.shape[-2:]) < 11:
            raise InputError(f"sample {s.name}: frames of {I0.shape[3]}x{I0.shape[2]} are too small for SSIM (11x11 at least)")
        ts = [t for t, _ in s.targets]
        sep = None
        with torch.no_grad():
            if has_visibility:
                pred, aux = model.interpolate(I0.to(dev), I1.to(dev), ts, return_aux=True, **kw)
                sep = metrics.visibility_separation(aux["Vt0"][0].cpu(), aux["g0_refined"][0].float().cpu(),
                                                    aux["g1_refined"][0].float().cpu(), torch.cat(gts))
                pred = pred[0].float().cpu().clamp(0, 1)  # (T,3,H,W)
            else:
                pred = model.interpolate(I0.to(dev), I1.to(dev), ts, **kw)[0].float().cpu().clamp(0, 1)
        if quantize:
            pred = torch.round(pred * 255) / 255
        gt = torch.cat(gts)  # (T,3,H,W)
        values = {"psnr": metrics.psnr(pred, gt), "ssim": metrics.ssim(pred, gt),
                  "ie": metrics.interpolation_error(pred, gt)}
        for k, t in enumerate(ts):
            row = {"sample": s.name, "t": round(float(t), 6)}
            row.update({m: float(v[k]) for m, v in values.items()})
            if sep is not None:
                row["separation"] = float(sep[k])
            rows.append(row)
            if worst > 0:
                item = (-row["psnr"], len(rows), s.name, t, I0[0], pred[k], gt[k], I1[0])
                (heapq.heappush if len(kept) < worst else heapq.heappushpop)(kept, item)
    means = {m: float(np.mean([r[m] for r in rows])) if rows else math.nan for m in ("psnr", "ssim", "ie")}
    if has_visibility:  # triplets without pixels of both kinds (NaN) do not count
        seps = [r["separation"] for r in rows if not math.isnan(r["separation"])]
        means["separation"] = float(np.mean(seps)) if seps else math.nan
    worst_imgs = [(-n, name, t, _u8(a), _u8(p), _u8(g), _u8(b)) for n, _, name, t, a, p, g, b in kept]
    return EvalResult(method_name(method), dataset.name, rows, means, worst_imgs)
