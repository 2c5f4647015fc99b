"""What the notebooks call: one setup line, the bundled data, the weights to use, and uploads.

The first cell of every notebook installs slomo when the kernel lacks it (from `REPO_URL` on a hosted
notebook, or the checkout it sits in) and then calls `setup()`. The rest works the same in a checkout,
after `pip install`, in JupyterLab and on Colab-like hosted notebooks (`google.colab.files` is used for
upload and download when it exists).
"""
import random
import re
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv")
UPLOADS = "uploads"  # the FileUpload widget saves here, beside the notebook
WIDGET_LIMIT_MB = 10  # larger files go through the file browser (a widget sends one message)
# files the notebooks write (outputs, previews, trimmed copies): never taken for an upload
_OUTPUT_NAME = re.compile(r"(-x\d+|\.preview|-first[\d.]+s)\.[A-Za-z0-9]+$")


@dataclass
class Notebook:
    """What `setup()` found: the device, the bundled folders, and whether this is Colab."""
    device: object  # torch.device
    data: Path
    checkpoints: Path
    colab: bool

    def data_path(self, *parts) -> Path:
        return self.data.joinpath(*parts)


def colab_files():
    """`google.colab.files` on Colab, else None."""
    try:
        from google.colab import files
    except ImportError:
        return None
    return files


def setup(device="auto", seed: int = 0) -> Notebook:
    """Pick the device (the GPU when there is one), seed torch, numpy and random, and say in one line
    what runs where. On Colab it also turns on Colab's widget manager for ipywidgets 8 (the explorer).
    This is all a notebook's first cell needs after the install step."""
    import numpy as np
    import torch

    import slomo
    from .bundled import bundled_dir
    from .runtime import resolve_device
    dev = resolve_device(device)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    data, checkpoints = bundled_dir("data"), bundled_dir("checkpoints")
    where = Path(slomo.__file__).resolve().parent
    threads = f", {torch.get_num_threads()} CPU threads" if dev.type == "cpu" else ""
    print(f"slomo {slomo.__version__} from {where} on {dev}{threads}; seed {seed}")
    colab = colab_files() is not None
    if colab:
        from google.colab import output
        output.enable_custom_widget_manager()
    return Notebook(device=dev, data=data, checkpoints=checkpoints, colab=colab)


def data_path(*parts) -> Path:
    """A file or folder of the bundled data (`data/` of the checkout or of the installed package)."""
    from .bundled import bundled_dir
    return bundled_dir("data").joinpath(*parts)


# ---- weights ------------------------------------------------------------------------------------------
def load(checkpoint="auto", device=None):
    """The model a notebook uses, with one line saying which weights and where they run.

    checkpoint: "auto" -> on a GPU the reference `SuperSloMo.ckpt` (the paper's model, all of it on the
                GPU; downloaded once, 151 MB), else or when that fails the shipped `slomo-dis.pt`;
                None or "shipped" -> `slomo-dis.pt`; "reference" -> the reference weights on any
                device (the shipped ones when they cannot be had); a path -> that checkpoint file.
    """
    from . import pretrained
    from .runtime import resolve_device
    dev = resolve_device(device)
    reason = None
    if checkpoint == "auto":
        checkpoint = "reference" if dev.type == "cuda" else "shipped"
        if checkpoint == "shipped":
            reason = "no GPU"
    if checkpoint == "reference":
        try:
            checkpoint = pretrained.download_reference()
        except Exception as e:  # offline, refused, truncated: all mean "use the shipped weights"
            checkpoint, reason = "shipped", f"the reference weights could not be downloaded: {_short(e)}"
    model = pretrained.get_model(None if checkpoint == "shipped" else checkpoint, dev)
    print(describe(model) + (f" ({reason})" if reason else ""))
    return model


def describe(model) -> str:
    """One line: which weights, and where each part of the model runs."""
    from .checkpoint import default_checkpoint
    path = getattr(model, "checkpoint_path", None)
    if path is None:
        name, kind = "no checkpoint", "DIS flow interpolation, untrained head"
    elif (getattr(model, "metadata", None) or {}).get("source_format") == "reference":
        name, kind = Path(path).name, "the paper's pretrained model"
    elif Path(path).resolve().parent == default_checkpoint().resolve().parent:
        name, kind = Path(path).name, "shipped with slomo"
    else:
        name, kind = Path(path).name, str(Path(path).parent)
    if model.config.flow == "dis":
        where = f"DIS optical flow on the CPU, interpolation network on {model.device}"
    else:
        where = f"flow and interpolation networks on {model.device}"
    return f"weights: {name} ({kind}): {where}"


def _short(e: Exception) -> str:
    text = " ".join(str(getattr(e, "reason", None) or e).split())
    return (text or type(e).__name__)[:120]


# ---- uploads and downloads ----------------------------------------------------------------------------
def uploaded_videos(folder=".") -> list:
    """Videos in `folder` and `folder/uploads`, newest first (files the notebooks write left out)."""
    folder = Path(folder)
    found = [p for d in (folder, folder / UPLOADS) if d.is_dir() for p in d.iterdir()
             if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")
             and not _OUTPUT_NAME.search(p.name)]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def find_video(video_path="", folder=".", default=None) -> Path:
    """The clip to convert: `video_path` when given, else the newest video uploaded into `folder`
    (so an upload survives Run All), else `default` (the bundled clip). Says which in one line."""
    if video_path:
        path = Path(video_path).expanduser()
        why = "video_path"
    else:
        found = uploaded_videos(folder)
        path = found[0] if found else Path(default or data_path("pancake-flip.mkv"))
        why = "the newest upload" if found else "the bundled clip; upload a video to use your own"
    from .errors import InputError
    if not path.is_file():
        raise InputError(f"video not found: {path}")
    print(f"input: {path} ({why})")
    return path


def upload(folder=".", ask: bool = True):
    """The upload step. On Colab: `google.colab.files.upload()` (asked only while nothing has been
    uploaded and `ask` is true: press "Cancel upload" to keep the bundled clip); returns None. In Jupyter:
    returns a `widgets.VideoUpload` to display: a note recommending the file browser for big files, and a
    FileUpload button for small ones."""
    folder = Path(folder)
    files = colab_files()
    if files is not None:
        if ask and not uploaded_videos(folder):
            print("Choose a video to upload, or press 'Cancel upload' to use the bundled clip. "
                  "(Files dropped on the Files panel on the left work too.)")
            try:
                files.upload()
            except Exception as e:  # cancelled or interrupted: keep going with what there is
                print(f"no upload ({_short(e)})")
        return None
    from .widgets import VideoUpload
    note = ("<b>Your own clip:</b> drag it onto the file browser on the left (or use its <i>Upload Files</i> "
            "button), into this notebook's folder: JupyterLab asks to confirm files over 15 MB, then uploads "
            "them in chunks. Then <i>Run All</i>: the newest video there is used. For files under about "
            f"{WIDGET_LIMIT_MB} MB the button below works too.")
    return VideoUpload(folder / UPLOADS, max_mb=WIDGET_LIMIT_MB, note=note)


def offer_download(path) -> None:
    """On Colab, start the browser download of `path`; elsewhere the link under the video does it."""
    files = colab_files()
    if files is not None:
        files.download(str(path))
    else:
        print(f"output: {Path(path).resolve()}")
