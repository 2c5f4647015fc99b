"""`slomo` command line. Subcommands are thin: parse, call the library, report.

Each subcommand has an `_add_<name>(sub)` that declares its arguments and sets `func`.
"""
import argparse
import atexit
import os
import signal
import sys
import threading

from .errors import SlomoError, Terminated, os_error_line


# ---- convert (video/) ---------------------------------------------------------------------------
def _add_convert(sub):
    from .methods import METHODS
    from .runtime import PRECISIONS
    p = sub.add_parser("convert", help="slow motion or frame-rate conversion of a video",
                       description="Make a video slow motion (default: keep the frame rate, so it lasts "
                                   "SCALE times longer) or smoother (--fps), keeping its sound.")
    p.add_argument("input", help="video file (mp4, mkv, avi, ...)")
    p.add_argument("-o", "--output", help="output .mp4 (default: <input stem>-x<SCALE>.mp4 beside the input)")
    p.add_argument("--scale", "--sf", default="2", metavar="N",
                   help="frames per input interval: N-1 new frames between each pair (default 2)")
    p.add_argument("--fps", help="output frame rate, e.g. 60, 59.94 or 30000/1001 (default: the input's)")
    p.add_argument("--checkpoint", help="model weights (default: the shipped checkpoints/slomo-dis.pt; "
                                        "the reference SuperSloMo.ckpt works too)")
    p.add_argument("--method", default="superslomo", choices=METHODS,
                   help="interpolation method (default superslomo; the others are classical baselines)")
    p.add_argument("--batch-size", type=int, help="frame pairs per model pass (default: 1 on CPU, more on GPU)")
    p.add_argument("--workers", type=int, help="processes interpolating pairs side by side, one thread each "
                   "(default: one per core for the model on CPU up to 720p)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--fast", action="store_true", help="skip the shipped checkpoint's mirror-image second "
                   "pass: half the model passes, slightly lower quality (checkpoints/README.md)")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="compute precision (default auto: fp32 on CPUs without bf16)")
    p.add_argument("--no-audio", dest="audio", action="store_false", help="drop the sound")
    p.add_argument("--scene-threshold", type=float, default=None, metavar="X",
                   help="cut score (0..1) above which frames are duplicated instead of interpolated; "
                        "0 turns cut detection off (default 0.15)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier output of slomo convert")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or notes (warnings still show)")
    p.set_defaults(func=_run_convert)


def _run_convert(args) -> int:
    from .video import convert
    kw = {} if args.scene_threshold is None else {"scene_threshold": args.scene_threshold}
    result = convert(args.input, args.output, scale=args.scale, fps=args.fps, checkpoint=args.checkpoint,
                     method=args.method, batch_size=args.batch_size, workers=args.workers, device=args.device,
                     precision=args.precision, audio=args.audio, overwrite=args.overwrite, fast=args.fast,
                     progress=not args.quiet, **kw)
    if not args.quiet:
        print(f"wrote {result}")
    return 0


# ---- prepare / train (data/, train/) ----------------------------------------------------------
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
    p.add_argument("--overwrite", action="store_true", help="replace an earlier dataset of slomo prepare")
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
    p.add_argument("--fresh", action="store_true", help="start the run in the run folder over, replacing its files")
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
    from .config import DIS_PRESET_NAMES
    from .evaluate import LAYOUTS
    from .methods import METHODS
    p = sub.add_parser("evaluate", help="PSNR, SSIM and IE of a method on a data set")
    p.add_argument("data", help="data set folder (UCF101 triplets, Middlebury, Vimeo90K or frames)")
    p.add_argument("--method", "-m", default="superslomo", choices=METHODS)
    p.add_argument("--checkpoint", "-c", help="checkpoint for superslomo (default: the shipped one)")
    p.add_argument("--dis-preset", choices=DIS_PRESET_NAMES, help="DIS quality for --method flow (default medium)")
    p.add_argument("--mirror", action="store_true",
                   help="--method flow: also interpolate the mirrored pair and average (a second flow estimate)")
    p.add_argument("--layout", default="auto", help=f"one of {', '.join(LAYOUTS)} (default auto)")
    p.add_argument("--scale", type=int, default=2, help="frames layout: inputs this many frames apart (2, 4, 8)")
    p.add_argument("--limit", type=int, help="evaluate only the first N samples")
    p.add_argument("--output", "-o", help="write the rows and means to this .csv or .json file")
    p.add_argument("--worst", type=int, default=0, metavar="K", help="save a grid of the K worst cases")
    p.add_argument("--worst-grid", help="PNG for the worst cases (default: beside --output, or worst.png)")
    p.add_argument("--device", default="auto")
    p.add_argument("--overwrite", action="store_true", help="replace earlier results of slomo evaluate")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the means")
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args) -> int:
    from pathlib import Path

    from .evaluate import check_outputs, evaluate, load_dataset
    from .runtime import resolve_device
    try:
        device = resolve_device(args.device)
    except ValueError as e:
        raise SlomoError(str(e)) from e
    grid = None
    if args.worst > 0:
        grid = args.worst_grid or (str(Path(args.output).with_suffix(".worst.png")) if args.output else "worst.png")
    check_outputs([args.output, grid], args.data, args.overwrite)
    method = args.method
    if args.dis_preset or args.mirror:
        if method != "flow":
            raise SlomoError("--dis-preset and --mirror apply to --method flow only")
        from .baselines import FlowInterp
        method = FlowInterp(preset=args.dis_preset or "medium", flip_ensemble=args.mirror)
    ds = load_dataset(args.data, layout=args.layout, scale=args.scale, limit=args.limit)
    res = evaluate(method, ds, checkpoint=args.checkpoint, device=device, worst=args.worst,
                   progress=not args.quiet)
    lines = res.table().splitlines()
    print("\n".join(lines[-1:] if args.quiet else lines))
    if args.output:
        print(f"wrote {res.save(args.output, overwrite=args.overwrite)}")
    if grid:
        print(f"wrote {res.save_worst_grid(grid, overwrite=args.overwrite)}")
    return 0


# ---- entry point ------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (`slomo convert: error: ...`), without the usage text."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="slomo", description="Super SloMo frame interpolation")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_convert(sub)
    _add_prepare(sub)
    _add_train(sub)
    _add_evaluate(sub)
    return parser


def _terminated(*_):
    raise Terminated


def main(argv=None) -> int:
    """Run one subcommand. SIGTERM (`kill`) is handled like Ctrl-C: the command saves or removes its
    work; the exit status is 143 (130 for Ctrl-C, 2 for a mistake, which gets one line)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.func is None:
        parser.error(f"'{args.command}' is not available yet")
    main_thread = threading.current_thread() is threading.main_thread()  # where signals can be handled
    previous = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
    try:
        return int(args.func(args) or 0)
    except SlomoError as e:
        return _fail(args.command, str(e))
    except OSError as e:  # a permission, a missing folder, a full disk: the system's words, one line
        return _fail(args.command, os_error_line(e))
    except MemoryError:
        return _fail(args.command, "out of memory; try smaller frames or batches, or fewer workers")
    except Terminated:
        print(f"slomo {args.command}: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"slomo {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _fail(command: str, message: str) -> int:
    print(f"slomo {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def entry() -> None:
    """The `slomo` command: main(), then the atexit handlers, then exit without tearing the interpreter
    down object by object (torch's and NNPACK's state; docs/convert-internals.md has what that saves). Errors
    that escape main() still end with their traceback, as usual."""
    code = main()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
