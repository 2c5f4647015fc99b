"""`slomo.load`, and the reference-weights downloader against a local imitation of Google Drive."""
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

import slomo
from slomo import pretrained, write_reference_checkpoint
from slomo.errors import CheckpointError
from slomo.model import SuperSloMo

WIDTH = 0.125  # a small model in the reference layout; the real file is width 1.0

WARNING_PAGE = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>
<body><div class="uc-main"><p class="uc-warning-subcaption">Google Drive can't scan this file for viruses.</p>
<form id="download-form" action="{action}" method="get">
<input type="submit" id="uc-download-link" value="Download anyway"/>
<input type="hidden" name="id" value="{id}"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="0b7e-42"></form>
</div></body></html>"""


@pytest.fixture(scope="module")
def reference_bytes(tmp_path_factory):
    torch.manual_seed(0)
    model = SuperSloMo(width=WIDTH)
    path = tmp_path_factory.mktemp("ref") / "SuperSloMo.ckpt"
    write_reference_checkpoint(path, model.flow.state_dict(), model.interp.state_dict())
    return path.read_bytes(), model.state_dict()


def serve(behaviour):
    """Start a server on 127.0.0.1 whose GET handler is `behaviour(handler, path, query)`."""
    log = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            parts = urllib.parse.urlsplit(self.path)
            log.append(self.path)
            behaviour(self, parts.path, dict(urllib.parse.parse_qsl(parts.query)))

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", log


def send(handler, code, body: bytes, ctype: str, length: int = None, extra=()):
    handler.send_response(code)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    for k, v in extra:
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)


def drive_like(data: bytes):
    """The large-file flow: /uc answers a warning page; its form leads to /download?confirm=t."""
    def behaviour(h, path, q):
        if path == "/uc":
            host = f"http://127.0.0.1:{h.server.server_address[1]}"
            page = WARNING_PAGE.format(action=f"{host}/download", id=q.get("id", ""))
            send(h, 200, page.encode(), "text/html; charset=utf-8")
        elif path == "/download" and q.get("confirm") == "t" and q.get("uuid") and q.get("id"):
            send(h, 200, data, "application/octet-stream",
                 extra=[("Content-Disposition", 'attachment; filename="SuperSloMo.ckpt"')])
        else:
            send(h, 404, b"not found", "text/plain")
    return behaviour


@pytest.fixture
def no_shipped(monkeypatch, tmp_path):
    fake = tmp_path / "checkpoints" / "slomo-dis.pt"
    monkeypatch.setattr(pretrained, "default_checkpoint", lambda: fake)
    return fake


def test_follows_the_confirmation_page_verifies_and_caches(tmp_path, reference_bytes):
    data, state = reference_bytes
    server, base, log = serve(drive_like(data))
    try:
        url = f"{base}/uc?export=download&id={pretrained.REFERENCE_DRIVE_ID}"
        path = pretrained.download_reference(cache=tmp_path, url=url, width=WIDTH, progress=False)
        assert path == tmp_path / "SuperSloMo.ckpt" and path.read_bytes() == data
        assert [p.split("?")[0] for p in log] == ["/uc", "/download"]
        model = SuperSloMo.from_checkpoint(path)
        assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
        again = pretrained.download_reference(cache=tmp_path, url=url, width=WIDTH, progress=False)
        assert again == path and len(log) == 2  # served from the cache
        assert sorted(p.name for p in tmp_path.iterdir()) == ["SuperSloMo.ckpt"]
    finally:
        server.shutdown()


def failing(kind, data=b""):
    def behaviour(h, path, q):
        if kind == "500":
            send(h, 500, b"oops", "text/plain")
        elif kind == "quota":
            send(h, 200, b"<html><body><p class='uc-error-subcaption'>Too many users have viewed or "
                         b"downloaded this file recently.</p></body></html>", "text/html")
        elif kind == "truncated":
            send(h, 200, data[: len(data) // 2], "application/octet-stream", length=len(data))
        elif kind == "not a checkpoint":
            send(h, 200, b"PK\x03\x04 this is not torch", "application/octet-stream")
    return behaviour


@pytest.mark.parametrize("kind", ["500", "quota", "truncated", "not a checkpoint"])
def test_failures_fall_back_in_one_line_and_leave_no_file(tmp_path, reference_bytes, capsys, no_shipped, kind):
    server, base, _ = serve(failing(kind, reference_bytes[0]))
    cache = tmp_path / "cache"
    try:
        fallback = tmp_path / "shipped.pt"
        got = pretrained.reference_checkpoint(fallback=fallback, cache=cache, url=f"{base}/uc?id=x",
                                              width=WIDTH, progress=False, timeout=10)
        assert got == fallback
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "could not get the reference SuperSloMo.ckpt" in err
        assert "Traceback" not in err
        assert not cache.exists() or list(cache.iterdir()) == []
    finally:
        server.shutdown()


def test_offline_gives_the_untrained_model_when_nothing_is_shipped(tmp_path, capsys, no_shipped):
    server, base, _ = serve(failing("500"))
    server.shutdown()
    server.server_close()  # nothing listens there any more: connection refused
    model = pretrained.get_model("reference", cache=tmp_path, url=f"{base}/uc?id=x", progress=False, timeout=5)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "offline?" in err
    assert model.config.flow == "dis" and model.checkpoint_path is None


def test_wrong_shapes_are_refused(tmp_path):
    model = SuperSloMo(width=WIDTH)
    path = write_reference_checkpoint(tmp_path / "x.ckpt", model.flow.state_dict(), model.interp.state_dict())
    assert pretrained.verify_reference(path, width=WIDTH).width == WIDTH
    with pytest.raises(CheckpointError, match="width"):
        pretrained.verify_reference(path)  # the real file must have the reference widths
    sd = model.interp.state_dict()
    sd["conv3.weight"] = sd["conv3.weight"][:4]
    write_reference_checkpoint(path, model.flow.state_dict(), sd)
    with pytest.raises(CheckpointError, match="conv3.weight"):
        pretrained.verify_reference(path, width=WIDTH)


def test_untrained_model_equals_classical_flow_interpolation(rng):
    from slomo.baselines import FlowInterp
    I0 = torch.rand(1, 3, 64, 96, generator=rng)  # a multiple of 32: the model pads nothing
    I1 = torch.roll(I0, shifts=(1, 2), dims=(2, 3))
    model = pretrained.untrained_model("cpu")
    ours = model.interpolate(I0, I1, [0.25, 0.5])
    classical = FlowInterp(padding="border").interpolate(I0, I1, [0.25, 0.5])
    assert torch.allclose(ours, classical, atol=1e-4)


def test_load_takes_paths_the_shipped_name_and_untrained(tmp_path, no_shipped):
    model = SuperSloMo(width=WIDTH, flow="dis")
    path = model.save(tmp_path / "m.pt")
    assert slomo.load(str(path)).config.width == WIDTH
    with pytest.raises(CheckpointError, match="none shipped"):
        slomo.load()
    no_shipped.parent.mkdir(parents=True)
    model.save(no_shipped)
    assert slomo.load(None).checkpoint_path == str(no_shipped) == slomo.load("shipped").checkpoint_path
    untrained = slomo.load("untrained", "cpu")
    assert untrained.checkpoint_path is None and "untrained" in untrained.metadata["note"]
    assert slomo.load(str(path), flip_ensemble=True).config.flip_ensemble is True


def test_load_reference_offline_falls_back_in_one_line(tmp_path, capsys, monkeypatch, no_shipped):
    server, base, _ = serve(failing("500"))
    server.shutdown()
    server.server_close()  # connection refused
    monkeypatch.setattr(pretrained, "DRIVE_URL", base + "/uc?export=download&id={id}")
    monkeypatch.setenv("SLOMO_CACHE", str(tmp_path / "cache"))
    assert slomo.load("reference").checkpoint_path is None  # nothing shipped either: the untrained model
    no_shipped.parent.mkdir(parents=True)
    SuperSloMo(width=WIDTH, flow="dis").save(no_shipped)
    assert slomo.load("reference").checkpoint_path == str(no_shipped)
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and err.count("offline?") == 2


def test_the_former_loader_names_give_what_load_gives(tmp_path):
    path = SuperSloMo(width=WIDTH, flow="dis").save(tmp_path / "m.pt")
    for old in (slomo.load_model, pretrained.load_model, pretrained.get_model):
        model = old(str(path), "cpu")
        assert model.checkpoint_path == str(path) and model.config.width == WIDTH
