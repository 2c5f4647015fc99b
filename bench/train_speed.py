"""Training-step throughput of `slomo.train.Trainer`, the real training step (batch, loss, backward, Adam).

    python bench/train_speed.py DATA [--device cuda] [--precision fp32 auto] [--loader-threads 0 -1]
                                     [--batch-size 8 --crop 352]

DATA is a prepared dataset (`slomo prepare`). The full-size model trains end to end (the paper's
recipe, without the perceptual term: no VGG16 weights offline). Each precision runs `--warmup` steps,
then `--steps` timed ones, for each `loader_threads` value (0: each batch is made inside its step;
-1: the Trainer's default, threads on a GPU). With 0, `data_s` is the time one batch takes to make.
Appends a record to bench/results/train_speed.json.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from slomo.train import TrainConfig, Trainer  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", nargs="+", default=["fp32", "auto"])
    p.add_argument("--loader-threads", nargs="+", type=int, default=[0, -1])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=int, default=352, help="the paper trains on 352x352 crops")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    results = {}
    for prec, loader in ((p, n) for p in args.precision for n in args.loader_threads):
        cfg = TrainConfig(loader_threads=loader, data=args.data, out=tempfile.mkdtemp(prefix="slomo-train-speed-"), device=args.device,
                          precision=prec, batch_size=args.batch_size, crop=args.crop,
                          weights={"reconstruction": 204.0, "warping": 102.0, "smoothness": 1.0},
                          steps=args.warmup + args.steps, progress=False)
        trainer = Trainer(cfg)
        cuda = trainer.device.type == "cuda"
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        if cuda:
            torch.backends.cudnn.benchmark = True  # fixed crop size
        for _ in range(args.warmup):
            trainer.step()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        steps, data = [], []
        for _ in range(args.steps):
            if trainer.prefetch is None:
                start = time.perf_counter()
                trainer.batch(trainer.step_no)  # the batch alone (step() makes it again)
                data.append(time.perf_counter() - start)
            sync()
            start = time.perf_counter()
            loss, _ = trainer.step()
            sync()
            steps.append(time.perf_counter() - start)
        s = statistics.median(steps)
        threads = 0 if trainer.prefetch is None else trainer.prefetch.threads
        key = f"{trainer.precision}, loader_threads {threads}"
        results[key] = {
            "s_per_step": round(s, 4), "samples_per_s": round(args.batch_size / s, 2),
            "data_s": round(statistics.median(data), 4) if data else None, "last_loss": round(loss, 4),
            "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None}
        trainer.close()
        print(key, trainer.device, results[key], flush=True)
    record = {"command": common.command_line(), "machine": common.machine(), "device": str(trainer.device),
              "model": "full-size (flow = unet), end to end", "batch_size": args.batch_size, "crop": args.crop,
              "steps": args.steps, "results": results}
    print("wrote", common.save_result("train_speed", record))


if __name__ == "__main__":
    main()
