"""Train the paper's own model (learned flow) end to end on a GPU, from a small packed set of frames.

    python checkpoints/gpu_train.py pack FOOTAGE .gpu/pack            # once, on any machine
    python checkpoints/gpu_train.py train .gpu/pack $OUT --minutes 8  # on the GPU machine

`pack` stores frame sequences of the training footage (the sources of `checkpoints/footage.py`,
area-downscaled to at most `--max-side` pixels) as JPEG files, with a size cap (default 48 MiB), so
the folder can travel with the working tree. `train` decodes them once into GPU memory and makes
every batch there (random pair, gap, middle frame, crop, flips and time reversal: no CPU loader),
trains `SuperSloMo(flow="unet")` with the reference's losses (perceptual only when VGG16 weights are
given) under bf16 autocast for a wall-clock budget, and writes the checkpoint to OUT in fp16, split
into parts of at most 15 MiB when larger (`join` puts them together again). Throughput (samples/s)
goes to OUT/train_log.json. The test suite runs both at tiny scale on the CPU.
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

PART_BYTES = 15 << 20


# ---- pack ---------------------------------------------------------------------------------------------
def pack(sources, out: Path, max_side: int, max_mib: float, quality: int = 90, per_source: int = 120) -> dict:
    """JPEG frame sequences `out/<source>/<k>.jpg` of each source (at most `per_source` frames each,
    sources taken in turn until `max_mib` is used), and `out/pack.json` listing them."""
    from slomo.data.footage import source_frames
    from slomo.data.frames import source_name
    out.mkdir(parents=True, exist_ok=True)
    budget, used, seqs = max_mib * (1 << 20), 0, {}
    for src in sources:
        name, kept = source_name(src), []
        for f in source_frames(src, max_side, per_source):
            ok, buf = cv2.imencode(".jpg", f[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok or used + sum(map(len, kept)) + len(buf) > budget:
                break
            kept.append(buf.tobytes())
        if len(kept) < 9:  # too short for a gap-8 pair: not worth its bytes
            continue
        (out / name).mkdir(exist_ok=True)
        for k, data in enumerate(kept):
            (out / name / f"{k:04d}.jpg").write_bytes(data)
        seqs[name], used = len(kept), used + sum(map(len, kept))
    meta = {"sequences": seqs, "bytes": used, "max_side": max_side, "quality": quality}
    (out / "pack.json").write_text(json.dumps(meta, indent=1))
    return meta


# ---- batches on the device ------------------------------------------------------------------------------
def load_pack(folder: Path, device) -> list:
    """[(N,3,H,W) uint8 tensor on `device`] per packed sequence, decoded once."""
    meta = json.loads((folder / "pack.json").read_text())
    seqs = []
    for name, n in meta["sequences"].items():
        frames = [cv2.imread(str(folder / name / f"{k:04d}.jpg"))[:, :, ::-1] for k in range(n)]
        seqs.append(torch.from_numpy(np.ascontiguousarray(np.stack(frames))).permute(0, 3, 1, 2).to(device))
    return seqs


def make_batch(seqs, batch: int, crop: int, gaps, g: torch.Generator) -> dict:
    """A batch drawn on the sequences' device: I0, I1 (B,3,c,c), It (B,1,3,c,c) float RGB in [0,1],
    t (B,1) float."""
    usable = [s for s in seqs if min(s.shape[-2:]) >= crop and len(s) > max(gaps)]
    weights = torch.tensor([float(len(s)) for s in usable])
    I0, I1, It, ts = [], [], [], []
    for _ in range(batch):
        s = usable[int(torch.multinomial(weights, 1, generator=g))]
        gap = gaps[int(torch.randint(len(gaps), (1,), generator=g))]
        a = int(torch.randint(len(s) - gap, (1,), generator=g))
        m = int(torch.randint(1, gap, (1,), generator=g))
        H, W = s.shape[-2:]
        y = int(torch.randint(H - crop + 1, (1,), generator=g))
        x = int(torch.randint(W - crop + 1, (1,), generator=g))
        f = s[[a, a + m, a + gap], :, y:y + crop, x:x + crop].float() / 255
        if torch.rand((), generator=g) < 0.5:
            f = f.flip(-1)
        if torch.rand((), generator=g) < 0.5:
            f = f.flip(-2)
        t = m / gap
        if torch.rand((), generator=g) < 0.5:
            f, t = f.flip(0), 1 - t
        I0.append(f[0])
        It.append(f[1:2])
        I1.append(f[2])
        ts.append(t)
    dev = seqs[0].device
    return {"I0": torch.stack(I0), "I1": torch.stack(I1), "It": torch.stack(It),
            "t": torch.tensor(ts, dtype=torch.float32, device=dev).view(-1, 1)}


# ---- training ---------------------------------------------------------------------------------------------
def train_step(model, opt, batch, weights, features, precision) -> tuple:
    """One optimisation step; returns (loss float, metrics dict)."""
    from slomo import metrics, runtime
    from slomo.losses import total_loss
    model.train()
    with runtime.autocast(model.device, precision):
        out = model(batch["I0"], batch["I1"], batch["t"])
    loss, terms = total_loss(out, batch["I0"], batch["I1"], batch["It"], weights, features, model.config.padding)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    with torch.no_grad():
        psnr = float(metrics.psnr(out["It"][:, 0].detach().clamp(0, 1), batch["It"][:, 0]).mean())
    return float(loss.detach()), {**terms, "psnr": psnr}


def save_parts(model, out: Path, name: str, **metadata) -> list:
    """The checkpoint in fp16 as `out/name`, or as `out/name.part0`, `.part1`, ... of at most
    PART_BYTES each when larger. Returns the files written."""
    path = out / name
    state = {k: v.detach().half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    from slomo.checkpoint import write_checkpoint
    write_checkpoint(path, model.config, state, **metadata)
    data = path.read_bytes()
    if len(data) <= PART_BYTES:
        return [path]
    parts = []
    for i in range(math.ceil(len(data) / PART_BYTES)):
        p = out / f"{name}.part{i}"
        p.write_bytes(data[i * PART_BYTES:(i + 1) * PART_BYTES])
        parts.append(p)
    path.unlink()
    return parts


def join(first_part: Path, dest: Path) -> Path:
    """Put `name.part0`, `name.part1`, ... back together as `dest`."""
    stem = str(first_part)[:-len(".part0")]
    parts = sorted(Path(first_part).parent.glob(Path(stem).name + ".part*"), key=lambda p: int(p.suffix[5:]))
    dest.write_bytes(b"".join(p.read_bytes() for p in parts))
    return dest


def run(args) -> dict:
    from slomo import ModelConfig, SuperSloMo, runtime
    from slomo.losses import REFERENCE_WEIGHTS, load_vgg16_conv4_3
    device = runtime.resolve_device(args.device)
    precision = runtime.resolve_precision(args.precision, device)
    torch.manual_seed(args.seed)
    seqs = load_pack(Path(args.pack), device)
    config = ModelConfig(width=args.width, flow="unet", padding="border", leaky_head=False)
    model = SuperSloMo(config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    features = load_vgg16_conv4_3(args.vgg or None, device) if args.vgg else None
    weights = dict(REFERENCE_WEIGHTS) if features is not None else {**REFERENCE_WEIGHTS, "perceptual": 0.0}
    g = torch.Generator().manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log, t0, step = [], time.time(), 0
    while time.time() - t0 < args.minutes * 60 and step < args.max_steps:
        batch = make_batch(seqs, args.batch, args.crop, (2, 4, 8), g)
        loss, m = train_step(model, opt, batch, weights, features, precision)
        step += 1
        if step % args.log_every == 0:
            if device.type == "cuda":
                torch.cuda.synchronize()
            log.append({"step": step, "seconds": time.time() - t0, "loss": loss, **m})
            print(json.dumps(log[-1]), flush=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.time() - t0
    summary = {"steps": step, "seconds": seconds, "samples_per_s": step * args.batch / seconds,
               "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "precision": precision, "width": args.width, "batch": args.batch, "crop": args.crop, "log": log}
    files = save_parts(model, out, "slomo-unet-gpu.pt", step=step, samples=step * args.batch,
                       train_seconds=seconds, device=summary["device"], precision=precision)
    summary["files"] = [p.name for p in files]
    (out / "train_log.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("footage", help="folder with videos/ and frames/ (the training footage)")
    p.add_argument("out")
    p.add_argument("--max-side", type=int, default=512)
    p.add_argument("--max-mib", type=float, default=48.0)
    t = sub.add_parser("train")
    t.add_argument("pack")
    t.add_argument("out")
    t.add_argument("--minutes", type=float, default=8.0)
    t.add_argument("--max-steps", type=int, default=10 ** 9)
    t.add_argument("--width", type=float, default=0.5)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--crop", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--precision", default="auto")
    t.add_argument("--device", default="auto")
    t.add_argument("--vgg", default="", help="torchvision VGG16 weights file for the perceptual loss")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--log-every", type=int, default=100)
    j = sub.add_parser("join")
    j.add_argument("first_part")
    j.add_argument("dest")
    args = ap.parse_args(argv)
    if args.cmd == "pack":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from footage import training_sources
        meta = pack(training_sources(Path(args.footage)), Path(args.out), args.max_side, args.max_mib)
        print(f"packed {sum(meta['sequences'].values())} frames of {len(meta['sequences'])} sequences, "
              f"{meta['bytes'] / 2 ** 20:.1f} MiB")
    elif args.cmd == "train":
        s = run(args)
        print(f"{s['steps']} steps in {s['seconds']:.0f} s, {s['samples_per_s']:.1f} samples/s on {s['device']} "
              f"({s['precision']}); wrote {', '.join(s['files'])}")
    else:
        print(join(Path(args.first_part), Path(args.dest)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
