"""Where weights come from, and `load`, the one way to get a model: the shipped checkpoint, the
reference's pretrained `SuperSloMo.ckpt` (downloaded once), any checkpoint file, or a model with
nothing learned.

    model = slomo.load()                  # checkpoints/slomo-dis.pt
    model = slomo.load("reference")       # the paper's weights
    model = slomo.load("run/best.pt", "cpu")

The reference repository's README links its pretrained weights as a Google Drive file. Drive
answers a large file's download with an HTML page ("can't scan this file for viruses") whose form
must be submitted to get the bytes; `download_drive_file` follows that page with the standard
library only, so it can be tested against a local server (`url=`). gdown handles the same page,
but it hard-wires Drive's host names (it cannot be pointed at a test server) and would add four
dependencies for one file.
"""
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path

import torch

from . import runtime
from .checkpoint import check_state_dict, default_checkpoint, read_checkpoint
from .config import ModelConfig
from .errors import CheckpointError
from .files import atomic_output
from .model import SuperSloMo

REFERENCE_DRIVE_ID = "1IvobLDbRiBgZr3ryCRrWL8xDbMZ-KnpF"
REFERENCE_NAME = "SuperSloMo.ckpt"
REFERENCE_WIDTH = 1.0  # the reference U-Nets: 32 ... 512 channels
DRIVE_URL = "https://drive.google.com/uc?export=download&id={id}"
CHUNK = 1 << 20


def cache_dir() -> Path:
    """Where downloads are kept: $SLOMO_CACHE, else ~/.cache/slomo."""
    return Path(os.environ.get("SLOMO_CACHE") or Path.home() / ".cache" / "slomo")


class _DriveWarningPage(HTMLParser):
    """Collects the confirmation form (action and hidden inputs) or a `/uc?...confirm=` link."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self.link, self._in_form = None, {}, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("id") == "download-form" or "download" in (a.get("action") or "")):
            self.action, self._in_form = a.get("action") or "", True
        elif tag == "input" and self._in_form and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "a" and self.link is None and "confirm=" in (a.get("href") or ""):
            self.link = a["href"]

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False

    def next_url(self, base: str):
        if self.action is not None:
            parts = urllib.parse.urlsplit(urllib.parse.urljoin(base, self.action))
            query = dict(urllib.parse.parse_qsl(parts.query))
            query.update(self.fields)
            return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        if self.link is not None:
            return urllib.parse.urljoin(base, self.link)
        return None


def download_drive_file(file_id: str, dest, *, url: str = None, timeout: float = 30,
                        progress: bool = True) -> Path:
    """Download a public Google Drive file to `dest`, through Drive's large-file confirmation.

    url: the first URL to ask (default Drive's `uc?export=download&id=...`; tests pass a local one)
    Writes to a temporary file beside `dest`, renamed when complete. Raises OSError (incl.
    urllib.error.URLError) or CheckpointError when Drive does not hand out the file.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dest, overwrite=True) as tmp:
        _fetch_drive_file(file_id, tmp, url, timeout, progress, dest.name)
    return dest


def _fetch_drive_file(file_id: str, path: Path, url: str, timeout: float, progress: bool, name: str) -> None:
    """Write a public Google Drive file to `path`, following Drive's confirmation pages (`name`: its
    name in the progress bar and messages)."""
    from tqdm.auto import tqdm
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    opener.addheaders = [("User-Agent", "slomo (python urllib)")]
    current = url or DRIVE_URL.format(id=file_id)
    for _ in range(4):  # the file, or a warning page pointing at it
        with opener.open(current, timeout=timeout) as res:
            ctype = res.headers.get("Content-Type", "")
            if ctype.startswith("text/html"):
                page = _DriveWarningPage()
                page.feed(res.read(2 << 20).decode("utf-8", errors="replace"))
                nxt = page.next_url(res.geturl())
                if nxt is None:
                    raise CheckpointError("Google Drive answered with a page but no download "
                                          "(quota exceeded or file not shared)")
                current = nxt
                continue
            total = int(res.headers.get("Content-Length") or 0) or None
            with open(path, "wb") as f, tqdm(total=total, unit="B", unit_scale=True,
                                             desc=name, disable=not progress) as bar:
                while chunk := res.read(CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))
            got = path.stat().st_size
            if total is not None and got != total:
                raise CheckpointError(f"download of {name} stopped at {got} of {total} bytes")
            return
    raise CheckpointError("Google Drive kept answering with confirmation pages")


def verify_reference(path, width: float = REFERENCE_WIDTH) -> ModelConfig:
    """Check that `path` is a reference-layout checkpoint (`state_dictFC`/`state_dictAT`) whose
    tensors have the reference shapes at `width`. Returns its ModelConfig; raises CheckpointError."""
    config, state, meta = read_checkpoint(path)
    if meta.get("source_format") != "reference":
        raise CheckpointError(f"{path}: not in the reference layout (no state_dictFC/state_dictAT)")
    if abs(config.width - width) > 1e-9:
        raise CheckpointError(f"{path}: U-Net width {config.width:g}, the reference has {width:g}")
    with torch.device("meta"):
        model = SuperSloMo(config)
    check_state_dict(model, state, path)
    return config


def download_reference(*, cache=None, url: str = None, timeout: float = 30, progress: bool = True,
                       width: float = REFERENCE_WIDTH) -> Path:
    """The reference's pretrained `SuperSloMo.ckpt` (about 151 MB), downloaded once and cached.

    A cached file is used when it verifies; a fresh download is verified before it enters the
    cache. Raises CheckpointError or OSError on any failure.
    """
    folder = Path(cache) if cache is not None else cache_dir()
    target = folder / REFERENCE_NAME
    if target.is_file():
        try:
            verify_reference(target, width)
            return target
        except CheckpointError:
            target.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_output(target, overwrite=True) as part:  # verified before it enters the cache
        _fetch_drive_file(REFERENCE_DRIVE_ID, part, url, timeout, progress, REFERENCE_NAME)
        verify_reference(part, width)
    return target


def reference_checkpoint(*, fallback=None, **kw):
    """`download_reference`, but never failing: on any problem it says so in ONE line (stderr) and
    returns `fallback` (default: the shipped checkpoint's path, or None when there is none)."""
    try:
        return download_reference(**kw)
    except Exception as e:  # offline, refused, truncated, not a checkpoint: all mean "fall back"
        if fallback is None:
            fallback = default_checkpoint() if default_checkpoint().is_file() else None
        reason = " ".join(str(e).split())[:160] or type(e).__name__
        if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError):
            reason = f"offline? {' '.join(str(e.reason).split())[:120]}"
        where = f"using {Path(fallback).name}" if fallback else "using the built-in fallback model"
        print(f"slomo: could not get the reference {REFERENCE_NAME} ({reason}); {where}", file=sys.stderr)
        return fallback


def untrained_model(device=None, **overrides) -> SuperSloMo:
    """A `dis` model whose interpolation network outputs zeros: no flow refinement and Vt0 = 0.5,
    so it equals classical DIS flow interpolation (`baselines.FlowInterp`). Quarter width: with a
    zero head, the width changes nothing but the speed. overrides: other ModelConfig fields."""
    config = {"flow": "dis", "padding": "border", "width": 0.25, **overrides}
    model = SuperSloMo(metadata={"note": "untrained: DIS flow + zero interpolation head"}, **config)
    torch.nn.init.zeros_(model.interp.conv3.weight)
    torch.nn.init.zeros_(model.interp.conv3.bias)
    return model.to(runtime.resolve_device(device)).eval()


def load(checkpoint=None, device=None, **overrides) -> SuperSloMo:
    """A Super SloMo model, ready for `interpolate`.

    checkpoint: None or "shipped": checkpoints/slomo-dis.pt
                "reference": the reference's pretrained `SuperSloMo.ckpt`, downloaded once and cached
                    (`download_reference`); when that fails, one line says why and the shipped weights
                    are used (the untrained model when none are shipped)
                "untrained": `untrained_model`
                anything else: a path to a checkpoint file (the reference's layout or slomo's)
    device:     "auto" or None (CUDA when present), "cpu", "cuda", ...
    overrides:  ModelConfig fields to change, e.g. flip_ensemble=False
    Raises CheckpointError (a missing, unreadable or mismatched checkpoint) or ValueError (device).
    """
    if checkpoint == "untrained":
        return untrained_model(device, **overrides)
    if checkpoint == "reference":
        checkpoint = reference_checkpoint()
        if checkpoint is None:  # already said why, in one line
            return untrained_model(device, **overrides)
    elif checkpoint in (None, "shipped"):
        checkpoint = default_checkpoint()
        if not checkpoint.is_file():
            raise CheckpointError(f"no checkpoint given and none shipped at {checkpoint}; give a checkpoint "
                                  "file, \"reference\" or \"untrained\"")
    return SuperSloMo.from_checkpoint(checkpoint, device, **overrides)


def load_model(checkpoint=None, device=None) -> SuperSloMo:
    """The former name of `load`, kept for old code."""
    return load(checkpoint, device)


def get_model(checkpoint=None, device=None, **kw) -> SuperSloMo:
    """The former notebook name of `load`, kept for old code; kw: `download_reference`'s options
    (cache, url, timeout, progress) for "reference"."""
    if checkpoint == "reference" and kw:
        checkpoint = reference_checkpoint(**kw) or "untrained"
    return load(checkpoint, device)
