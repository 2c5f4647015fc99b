"""Two small measurements: bf16 against fp32 for one network pass, and training-step throughput.

    python bench/precision_train.py [--repeats 3]

One thread, CPU time (process_time), smallest of `repeats`. Appends to bench/results/precision_train.json.
  precision: the full-size interpolation U-Net on one 320x192 item: fp32 (NNPACK, what inference
             uses), fp32 with PyTorch's default kernels, and bf16 autocast (channels_last)
  training:  one optimiser step (forward with 3 targets per sample, L1 loss, backward, Adam) on a
             batch of 2 random 128x128 crops, for the full-size model and the compact DIS model
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def best_cpu(f, repeats):
    f()
    best = float("inf")
    for _ in range(repeats):
        c = time.process_time()
        f()
        best = min(best, time.process_time() - c)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    from slomo import SuperSloMo
    from slomo.cpu.conv import Conv2d
    from slomo.runtime import cpu_has_bf16
    torch.manual_seed(0)
    net = SuperSloMo().interp.eval()
    x = torch.rand(1, 20, 192, 320)

    def set_nnpack(flag):
        for m in net.modules():
            if isinstance(m, Conv2d):
                m.nnpack = flag

    def fp32(flag):
        def run():
            set_nnpack(flag)
            with torch.no_grad():
                net(x)
        return run

    def bf16():
        set_nnpack(True)
        net.to(memory_format=torch.channels_last)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            net(x.contiguous(memory_format=torch.channels_last))
        net.to(memory_format=torch.contiguous_format)

    precision = {"fp32 NNPACK": best_cpu(fp32(True), args.repeats),
                 "fp32 default kernels": best_cpu(fp32(False), args.repeats),
                 "bf16 autocast, channels_last": best_cpu(bf16, 1)}
    print("precision (s per 320x192 pass):", {k: round(v, 3) for k, v in precision.items()}, flush=True)

    training = {}
    for name, kw in (("full-size reference model", {}),
                     ("compact DIS model (width 0.5)", {"width": 0.5, "flow": "dis", "padding": "border"})):
        torch.manual_seed(0)
        model = SuperSloMo(**kw).train()
        opt = torch.optim.Adam(model.parameters(), 1e-4)
        I0, I1 = torch.rand(2, 3, 128, 128), torch.rand(2, 3, 128, 128)
        target = torch.rand(2, 3, 3, 128, 128)
        t = torch.tensor([[0.25, 0.5, 0.75]] * 2)

        def step():
            out = model.forward(I0, I1, t, aux=False)["It"]
            loss = (out - target).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        s = best_cpu(step, args.repeats)
        training[name] = {"s_per_step": round(s, 3), "samples_per_s": round(2 / s, 3)}
        print("training", name, training[name], flush=True)
    record = {"command": common.command_line(), "machine": common.machine(), "cpu_has_bf16": cpu_has_bf16(),
              "load_after": common.load(), "precision_s_per_pass": {k: round(v, 3) for k, v in precision.items()},
              "training": training}
    print("wrote", common.save_result("precision_train", record))


if __name__ == "__main__":
    main()
