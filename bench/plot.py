"""Draw bench/results/bench.png from the newest record of each results file.

    python bench/plot.py
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def newest(name):
    path = common.RESULTS / f"{name}.json"
    return json.loads(path.read_text())[-1] if path.is_file() else None


def newest_speed_runs(n=8):
    """The newest n CPU records of bench/convert_speed.py (GPU runs are drawn apart)."""
    path = common.RESULTS / "convert_speed.json"
    if not path.is_file():
        return None
    return [r for r in json.loads(path.read_text()) if r.get("device", "cpu") == "cpu"][-n:]


def newest_cases():
    """The newest result of each memory case, across records."""
    path = common.RESULTS / "memory.json"
    if not path.is_file():
        return None
    cases = {}
    for record in json.loads(path.read_text()):
        cases.update(record["cases"])
    return {"cases": cases}


def fullest(name):
    """The newest of the records with the most cases (a full matrix run, not a re-run of a few cases)."""
    path = common.RESULTS / f"{name}.json"
    if not path.is_file():
        return None
    records = [r for r in json.loads(path.read_text()) if r.get("device", "cpu") == "cpu"]
    return max(reversed(records), key=lambda r: len(r["cases"]))


def main():
    runs, abl, mem, matrix = newest_speed_runs(), newest("ablation"), newest_cases(), fullest("matrix")
    cuda = newest("cuda_speed")
    fig, axes = plt.subplots(1, 5, figsize=(28, 5.2))
    cpu = ((runs or [None])[-1] or abl or {}).get("machine", {}).get("cpu", "?")
    fig.suptitle(f"slomo on {cpu}, 2 cores, no GPU (numbers noisy; see bench/README.md)"
                 + (f"; last panel: {cuda['gpu']}" if cuda else ""), fontsize=11)

    ax = axes[0]
    if runs:
        labels = [f"{r['frames_in']} fr, {r['threads']} thr" for r in runs]
        ratios = [r["speedup"]["wall_s"] for r in runs]
        ax.bar(range(len(runs)), ratios, color=["tab:blue" if r["threads"] == "default" else "tab:gray" for r in runs])
        ax.axhline(2.0, color="red", ls="--", label="target 2x")
        for i, v in enumerate(ratios):
            ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(runs)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("reference-style wall / slomo convert wall")
        r = runs[-1]
        ax.set_title(f"convert speed-up, {r['width']}x{r['height']} x{r['scale']}\n(newest {len(runs)} runs, "
                     "whole processes)", fontsize=10)
        ax.legend(fontsize=8)

    ax = axes[1]
    if abl:
        rows = abl["rows"]
        ax.barh([r["variant"] for r in rows][::-1], [r["cpu_s_per_pair"] for r in rows][::-1], color="tab:green")
        for i, r in enumerate(rows[::-1]):
            ax.text(r["cpu_s_per_pair"], i, f" x{r['speedup_vs_reference']:.2f}", va="center", fontsize=8)
        ax.set_xlabel("CPU seconds per frame pair (1 thread)")
        ax.set_title(f"what each idea buys ({abl['width']}x{abl['height']}, x{abl['scale']})", fontsize=10)
        ax.tick_params(axis="y", labelsize=7)

    ax = axes[2]
    if mem:
        cases = mem["cases"]
        names = list(cases)
        ax.bar(names, [cases[n]["peak_rss_mb"] / 1024 for n in names], color="tab:purple")
        targets = {"1080p_x8": 4, "4k_x2": 12}
        for i, n in enumerate(names):
            if n in targets:
                ax.hlines(targets[n], i - 0.4, i + 0.4, colors="red", linestyles="--")
        ax.set_ylabel("peak RSS, GiB (red: target)")
        ax.set_title("memory of whole `slomo convert` processes", fontsize=10)
    ax = axes[3]
    if matrix:
        rows = [(n, r) for n, r in matrix["cases"].items() if not r["options"]]
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r["slomo"]["frames_per_s"] for _, r in rows], 0.4, label="slomo convert")
        ax.bar([x + 0.2 for x in xs], [r.get("reference", {}).get("frames_per_s", 0) for _, r in rows], 0.4,
               label="reference-style loop")
        ax.set_xticks(list(xs), [n for n, _ in rows], rotation=60, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("output frames / s, whole process (log)")
        ax.set_title(f"bench matrix: {matrix['cases'][rows[0][0]]['frames_in']} input frames,\n"
                     f"threads={matrix['threads']} (4K: slomo only)", fontsize=10)
        ax.legend()
    ax = axes[4]
    if cuda:
        names = ["reference-style fp32", "slomo fp32", "slomo bf16", "slomo fp16"]
        names = [n for n in names if n in cuda["timings"]]
        secs = [cuda["timings"][n]["median_s"] for n in names]
        ax.bar(range(len(names)), secs, color=["tab:gray"] + ["tab:blue"] * (len(names) - 1))
        ax.axhline(0.2, color="red", ls="--", label="target 0.2 s (H100-class GPU)")
        for i, v in enumerate(secs):
            ax.text(i, v, f"{v:.3f} s", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("seconds (median; GPU synchronised)")
        ax.set_title(f"{cuda['intermediate_frames']} frames of one {cuda['size']} pair on {cuda['gpu']},\n"
                     "full-size model (bench/cuda_speed.py)", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = common.RESULTS / "bench.png"
    fig.savefig(out, dpi=90)
    print("wrote", out)


if __name__ == "__main__":
    main()
