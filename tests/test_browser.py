"""Super-SloMo.ipynb in a real browser: JupyterLab (headless, 127.0.0.1) driven through Debian's
chromium by the pip `playwright` package. A 50 MB clip, made here, is uploaded the way the notebook
recommends for big files (the file browser's upload, which JupyterLab sends in chunks); Run All must then
convert that clip without an error, the widgets must render, and moving the t slider must change the
explorer's picture. Screenshots go to outputs/.

CI installs chromium with tests/browser/ensure_chromium.sh (never `playwright install`).
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from test_notebooks import inject
from slomo.ffmpeg_binary import ffmpeg_exe

REPO = Path(__file__).resolve().parent.parent
UPLOAD_MB = 50
CHROMIUM = "/usr/lib/chromium/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# JupyterLab settings that keep the page quiet: no news or update checks
SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False}}


def make_big_clip(path: Path, mb: float = UPLOAD_MB) -> Path:
    """A real-footage H.264 clip of at least `mb` MB: the bundled dog clip looped 12 times (30 s), 320x180
    with film grain, lossless (the grain keeps it from compressing): about 60 MB."""
    dog = REPO / "data" / "videos" / "dog.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", "11", "-i", str(dog),
                    "-vf", "scale=320:180,noise=alls=12:allf=t", "-c:v", "libx264", "-qp", "0", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    assert path.stat().st_size >= mb * 2**20, f"{path.name}: {path.stat().st_size / 2**20:.1f} MB, want {mb} MB"
    return path


def wait_for_file(path: Path, size: int, timeout: float = 180):
    """Until `path` holds `size` bytes (JupyterLab writes a chunked upload chunk by chunk)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.is_file() and path.stat().st_size == size:
            return
        time.sleep(0.5)
    got = path.stat().st_size if path.is_file() else None
    raise TimeoutError(f"upload of {path.name} incomplete after {timeout} s: {got} of {size} bytes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc, timeout: float = 90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer at {url}")


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a folder with Super-SloMo.ipynb (fast mode injected) on 127.0.0.1."""
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: run tests/browser/ensure_chromium.sh first")
        pytest.skip(f"{CHROMIUM} is missing (tests/browser/ensure_chromium.sh installs it)")
    pytest.importorskip("playwright")
    root = tmp_path / "lab"
    root.mkdir()
    nb = nbformat.read(REPO / "notebooks" / "Super-SloMo.ipynb", as_version=4)
    nbformat.write(inject(nb, {"fast": True, "output_dir": str(tmp_path / "out")}), str(root / "Super-SloMo.ipynb"))
    settings = tmp_path / "settings"
    for name, value in SETTINGS.items():
        f = settings / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jcfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "jrt"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
           f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI runs as root
    log = open(tmp_path / "jupyter.log", "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
        yield f"http://127.0.0.1:{port}/lab/tree/Super-SloMo.ipynb?token={token}", tmp_path, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_a_big_upload_through_the_file_browser_is_converted_and_the_explorer_responds(lab):
    from playwright.sync_api import sync_playwright
    url, tmp_path, root = lab
    clip = make_big_clip(tmp_path / "my big clip.mp4")
    size = clip.stat().st_size
    shots = REPO / "outputs"
    shots.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1500, "height": 1000})
        page = browser.pages[0] if browser.pages else browser.new_page()
        try:
            page.goto(url)
            # the kernel is up when the status bar reads "Python 3 (ipykernel) | Idle"
            page.get_by_text("| Idle").first.wait_for(timeout=120_000)
            # the notebook's advice for big files: the file browser's upload button (chunked upload)
            with page.expect_file_chooser() as chooser:
                page.locator(".jp-FileBrowser-toolbar [data-command='filebrowser:upload'], "
                             ".jp-FileBrowser-toolbar [title='Upload Files']").first.click()
            chooser.value.set_files(str(clip))
            # JupyterLab asks before uploading a file over 15 MB, then sends it in 1 MB chunks
            page.locator(".jp-Dialog", has_text="Large file size warning").wait_for(timeout=60_000)
            page.locator(".jp-Dialog-button", has_text="Upload").click()
            wait_for_file(root / clip.name, size)
            page.locator(".jp-DirListing-item", has_text=clip.name).first.wait_for(timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            explorer = page.locator(".slomo-explorer")
            explorer.wait_for(timeout=240_000)
            image = explorer.locator("img")
            page.wait_for_function(
                "() => { const i = document.querySelector('.slomo-explorer img');"
                " return i && i.src && i.complete && i.naturalWidth > 0; }", timeout=60_000)
            page.get_by_text("| Idle").first.wait_for(timeout=120_000)

            tracebacks = page.locator(".jp-OutputArea-output", has_text="Traceback")
            assert tracebacks.count() == 0, tracebacks.first.inner_text()[:2000]
            assert page.get_by_text(f"{clip.name} (the newest upload)").count() == 1
            converted = tmp_path / "out" / f"{clip.stem}-first1s-x4.mp4"
            assert converted.is_file(), sorted(p.name for p in (tmp_path / "out").iterdir())
            assert (root / clip.name).stat().st_size == size and clip.read_bytes() == (root / clip.name).read_bytes()
            assert page.locator(".widget-upload").count() == 1
            assert page.locator("video").count() == 2
            assert page.locator("figcaption a[download]").count() == 2  # links to the input and output files
            assert explorer.locator(".widget-toggle-button").count() == 5

            explorer.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "browser-super-slomo.png"))
            before = image.get_attribute("src")
            status_before = explorer.locator(".widget-html").last.inner_text()
            t_slider = explorer.locator(".widget-slider").nth(1)
            t_slider.locator(".noUi-handle").focus()
            page.keyboard.press("ArrowRight")  # one step: t 0.50 -> 0.55
            page.wait_for_function(
                "(old) => { const i = document.querySelector('.slomo-explorer img'); return i && i.src !== old; }",
                arg=before, timeout=60_000)
            page.wait_for_function(
                "() => !document.querySelector('.slomo-explorer').innerText.includes('computing')", timeout=60_000)
            status_after = explorer.locator(".widget-html").last.inner_text()
            assert status_after != status_before and "t = 0.55" in status_after, (status_before, status_after)
            explorer.screenshot(path=str(shots / "browser-explorer.png"))

            before = image.get_attribute("src")
            explorer.locator(".widget-toggle-button", has_text="flows").click()
            page.wait_for_function(
                "(old) => { const i = document.querySelector('.slomo-explorer img'); return i && i.src !== old; }",
                arg=before, timeout=60_000)
            page.wait_for_function(
                "() => document.querySelector('.slomo-explorer').innerText.includes(', flows:')", timeout=60_000)
            explorer.screenshot(path=str(shots / "browser-explorer-flows.png"))
        finally:
            browser.close()
