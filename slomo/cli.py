"""`slomo` command line. Subcommands are thin: parse, call the library, report.

Each subcommand has an `_add_<name>(sub)` that declares its arguments and sets `func`.
"""
import argparse
import sys

from .errors import SlomoError


# ---- convert (video.py) -----------------------------------------------------------------------
def _add_convert(sub):
    p = sub.add_parser("convert", help="slow motion or frame-rate conversion of a video")
    p.set_defaults(func=None)


# ---- prepare / train (data.py, train.py) ------------------------------------------------------
def _add_prepare(sub):
    p = sub.add_parser("prepare", help="make a training dataset of fixed-length clips")
    p.set_defaults(func=None)


def _add_train(sub):
    p = sub.add_parser("train", help="train or fine-tune a Super SloMo model")
    p.set_defaults(func=None)


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
