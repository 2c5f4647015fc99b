"""`slomo` command line. Subcommands are thin: parse, call the library, report.

Each subcommand has an `_add_<name>(sub)` that declares its arguments and sets `func`.
"""
import argparse
import os
import sys

from .errors import SlomoError


# ---- convert (video.py) -----------------------------------------------------------------------
def _add_convert(sub):
    p = sub.add_parser("convert", help="slow motion or frame-rate conversion of a video")
    p.set_defaults(func=None)


# ---- prepare / train (data.py, train.py) ------------------------------------------------------
def _add_prepare(sub):
    p = sub.add_parser("prepare", help="make a training dataset of fixed-length clips",
                       description="Cut videos or frame folders into fixed-length clips, split by source video.")
    p.add_argument("input", help="a video, a folder of videos, or a folder of frame folders")
    p.add_argument("output", help="new dataset folder (train/, val/, test/, manifest.json)")
    p.add_argument("--clip-length", type=int, default=12, help="frames per clip (default 12, as the reference)")
    p.add_argument("--stride", type=int, default=None, help="frames between clip starts (default: clip length)")
    p.add_argument("--size", default=None, help="resize frames to WxH, e.g. 640x360 (default: keep)")
    p.add_argument("--split", default="0.8,0.1,0.1", help="train,val,test fractions over source videos")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    p.add_argument("--train-list", default=None, help="the reference's Adobe240fps train list")
    p.add_argument("--test-list", default=None, help="the reference's Adobe240fps test list")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_prepare)


def _parse_size(text):
    from .errors import InputError
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size must look like 640x360, got {text!r}") from None
    if w < 1 or h < 1:
        raise InputError(f"--size must be positive, got {text!r}")
    return h, w


def _run_prepare(args) -> int:
    from .data import prepare
    from .errors import InputError
    try:
        split = tuple(float(v) for v in args.split.split(","))
    except ValueError:
        raise InputError(f"--split must be three numbers like 0.8,0.1,0.1, got {args.split!r}") from None
    res = prepare(args.input, args.output, clip_length=args.clip_length, stride=args.stride,
                  size=_parse_size(args.size) if args.size else None, split=split, seed=args.seed,
                  train_list=args.train_list, test_list=args.test_list, overwrite=args.overwrite,
                  progress=not args.quiet)
    clips = ", ".join(f"{k} {v}" for k, v in res.clips.items())
    skipped = ", ".join(f"{k} {v}" for k, v in res.skipped.items() if v) or "none"
    print(f"wrote {res.output}: clips {clips}; sources {len(res.sources)}; skipped {skipped}")
    return 0


def _add_train(sub):
    p = sub.add_parser("train", help="train or fine-tune a Super SloMo model",
                       description="Train from a config file plus key=value overrides; resumes a run "
                                   "folder that holds state.pt. Runs under torchrun for several processes.")
    p.add_argument("config", nargs="?", default=None, help="TOML or JSON config (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="overrides, e.g. steps=2000 model.width=0.5 weights.perceptual=0")
    p.add_argument("--fresh", action="store_true", help="ignore state.pt in the run folder (start over)")
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    from .train import load_config, train
    config, overrides = args.config, list(args.overrides)
    if config and "=" in config and not config.endswith((".toml", ".json")):
        config, overrides = None, [config] + overrides
    best = train(load_config(config, overrides), resume=not args.fresh)
    if os.environ.get("RANK", "0") == "0":
        print(f"best checkpoint: {best}")
    return 0


# ---- evaluate (evaluate.py) -------------------------------------------------------------------
def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="PSNR, SSIM and IE of a method on a data set")
    p.set_defaults(func=None)


# ---- entry point ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slomo", description="Super SloMo frame interpolation")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_convert(sub)
    _add_prepare(sub)
    _add_train(sub)
    _add_evaluate(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.func is None:
        parser.error(f"'{args.command}' is not available yet")
    try:
        return int(args.func(args) or 0)
    except SlomoError as e:
        print(f"slomo {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"slomo {args.command}: interrupted", file=sys.stderr)
        return 130
