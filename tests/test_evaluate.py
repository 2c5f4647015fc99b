"""Data set layouts, metrics tables and bad input for slomo.evaluate (small generated data sets)."""
import csv
import json

import cv2
import numpy as np
import pytest
import torch

from slomo import InputError, SuperSloMo
from slomo.cli import main
from slomo.evaluate import EvalResult, evaluate, load_dataset


def write(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def even_pair(seed, H=24, W=32):
    """Two frames with even grey levels and their exact mean (blending reproduces it exactly)."""
    r = np.random.default_rng(seed)
    a, b = r.integers(0, 128, (2, H, W, 3), dtype=np.uint8)
    return 2 * a, 2 * b, a + b


def make_triplets(root, n=3, names=("frame_00.png", "frame_01_gt.png", "frame_02.png")):
    for i in range(n):
        I0, I1, mid = even_pair(i)
        for name, img in zip(names, (I0, mid, I1)):
            write(root / f"{i:03d}" / name, img)
    return root


@pytest.mark.parametrize("names", [("frame_00.png", "frame_01_gt.png", "frame_02.png"),
                                   ("frame0.png", "frame1.png", "frame2.png")])
def test_triplets_both_namings_and_blend_is_exact_on_midpoints(tmp_path, names):
    ds = load_dataset(make_triplets(tmp_path / "tri", names=names))
    assert ds.layout == "triplets" and len(ds) == 3
    res = evaluate("blend", ds)
    assert [r["sample"] for r in res.rows] == ["000", "001", "002"]
    assert all(r["t"] == 0.5 for r in res.rows)
    assert res.means["ie"] == pytest.approx(0, abs=1e-6)
    assert res.means["ssim"] == pytest.approx(1, abs=1e-5)
    assert res.means["psnr"] > 90
    dup = evaluate("duplicate", ds)  # random frames: duplication is far off
    assert dup.means["psnr"] < 20 and dup.means["ie"] > 20


def test_middlebury_and_vimeo_layouts(tmp_path):
    mb = tmp_path / "mb"
    for seq in ("Beanbags", "Dimetrodon"):
        I0, I1, mid = even_pair(len(seq))
        write(mb / "input" / seq / "frame10.png", I0)
        write(mb / "input" / seq / "frame11.png", I1)
        write(mb / "gt" / seq / "frame10i11.png", mid)
    ds = load_dataset(mb)
    assert ds.layout == "middlebury" and [s.name for s in ds.samples] == ["Beanbags", "Dimetrodon"]

    vm = tmp_path / "vimeo"
    entries = ["00001/0001", "00002/0010"]
    for k, e in enumerate(entries):
        I0, I1, mid = even_pair(k)
        for name, img in zip(("im1.png", "im2.png", "im3.png"), (I0, mid, I1)):
            write(vm / "sequences" / e / name, img)
    (vm / "tri_testlist.txt").write_text("\n".join(entries) + "\n\n")
    ds = load_dataset(vm)
    assert ds.layout == "vimeo" and [s.name for s in ds.samples] == entries
    assert evaluate("blend", ds).means["ie"] == pytest.approx(0, abs=1e-6)
    # without its list, Vimeo's nested im1-3 folders are found as triplets at any depth
    (vm / "tri_testlist.txt").unlink()
    ds = load_dataset(vm / "sequences")
    assert ds.layout == "triplets" and [s.name for s in ds.samples] == entries


def test_triplets_any_image_suffix_and_the_folder_itself(tmp_path):
    I0, I1, mid = even_pair(0)
    for name, img in (("frame0.jpg", I0), ("frame1.png", mid), ("frame2.bmp", I1)):
        write(tmp_path / "one" / name, img)
    ds = load_dataset(tmp_path / "one")
    assert ds.layout == "triplets" and [s.name for s in ds.samples] == ["one"]
    assert [p.name for p in (ds.samples[0].first, ds.samples[0].targets[0][1], ds.samples[0].last)] == \
        ["frame0.jpg", "frame1.png", "frame2.bmp"]


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_frame_skipping_protocols(tmp_path, scale):
    # a brightness ramp: frame k has grey level 8k, so blending reproduces every middle frame exactly
    for k in range(17):
        write(tmp_path / "seq" / f"{k:05d}.png", np.full((16, 16, 3), 8 * k, np.uint8))
    ds = load_dataset(tmp_path / "seq", scale=scale)
    assert ds.layout == "frames" and len(ds) == 16 // scale
    assert [t for t, _ in ds.samples[0].targets] == [k / scale for k in range(1, scale)]
    res = evaluate("blend", ds)
    assert len(res.rows) == 16 // scale * (scale - 1)
    assert res.means["ie"] == pytest.approx(0, abs=1e-6)
    # frames in sub-folders (Adobe240 / GoPro style): one sequence per folder
    for d in ("a", "b"):
        for k in range(5):
            write(tmp_path / "multi" / d / f"{k}.png", np.full((16, 16, 3), 8 * k, np.uint8))
    assert [s.name for s in load_dataset(tmp_path / "multi", scale=4).samples] == ["a/0", "b/0"]


def test_model_object_csv_json_and_worst_grid(tmp_path):
    torch.manual_seed(0)
    model = SuperSloMo(width=0.125).eval()
    ds = load_dataset(make_triplets(tmp_path / "tri", n=3), limit=2)
    res = evaluate(model, ds, worst=1)
    assert isinstance(res, EvalResult) and res.method == "superslomo" and len(res.rows) == 2
    assert res.means["psnr"] == pytest.approx(np.mean([r["psnr"] for r in res.rows]))
    rows = list(csv.DictReader(open(res.save(tmp_path / "r.csv"))))
    assert [r["sample"] for r in rows] == ["000", "001", "mean"]
    assert float(rows[-1]["ie"]) == pytest.approx(res.means["ie"])
    data = json.loads(res.save(tmp_path / "r.json").read_text())
    assert data["means"] == pytest.approx(res.means) and len(data["rows"]) == 2
    worst = min(res.rows, key=lambda r: r["psnr"])
    assert res.worst[0][1] == worst["sample"]
    grid = cv2.imread(str(res.save_worst_grid(tmp_path / "worst.png")))
    assert grid.shape[1] == 5 * 32 and grid.shape[0] > 24
    with pytest.raises(InputError, match=".csv or .json"):
        res.save(tmp_path / "r.txt")


def test_bad_input_errors(tmp_path):
    with pytest.raises(InputError, match="unknown layout 'ucf'"):
        load_dataset(tmp_path, layout="ucf")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(InputError, match="not found"):
        load_dataset(tmp_path / "missing")
    tri = make_triplets(tmp_path / "tri", n=1)
    write(tri / "000" / "frame_02.png", np.zeros((20, 32, 3), np.uint8))
    with pytest.raises(InputError, match="same size"):
        evaluate("blend", tri)
    with pytest.raises(InputError, match="unknown method"):
        evaluate("magic", tri)


@pytest.mark.parametrize("args,msg", [(["--layout", "ucf"], "unknown layout"), ([], "same size"),
                                      (["--method", "blend", "--output", "x.txt"], ".csv or .json"),
                                      (["--method", "blend", "--mirror"], "--method flow only")])
def test_cli_one_line_errors(tmp_path, capsys, args, msg):
    tri = make_triplets(tmp_path / "tri", n=1)
    if msg == "same size":
        write(tri / "000" / "frame_02.png", np.zeros((20, 32, 3), np.uint8))
        args = ["--method", "blend"]
    assert main(["evaluate", str(tri), "-q"] + args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0] and "Traceback" not in err[0]


def test_cli_empty_folder_and_success(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", str(tmp_path / "empty")]) == 2
    assert "empty" in capsys.readouterr().err
    tri = make_triplets(tmp_path / "tri", n=2)
    assert main(["evaluate", str(tri), "-m", "flow", "-q", "-o", str(tmp_path / "out.json"),
                 "--worst", "1"]) == 0
    out = capsys.readouterr().out
    assert "mean (2)" in out and (tmp_path / "out.json").is_file() and (tmp_path / "out.worst.png").is_file()


def test_cli_flow_options_reach_the_baseline(tmp_path, capsys):
    import json

    from slomo.baselines import FlowInterp
    tri = make_triplets(tmp_path / "tri", n=2)
    assert main(["evaluate", str(tri), "-m", "flow", "--dis-preset", "fine", "--mirror", "-q",
                 "-o", str(tmp_path / "out.json")]) == 0
    got = json.loads((tmp_path / "out.json").read_text())["means"]
    want = evaluate(FlowInterp(preset="fine", flip_ensemble=True), tri).means
    assert got["psnr"] == pytest.approx(want["psnr"], abs=1e-6)


def test_in_memory_triplets_for_training_validation():
    I0, I1, mid = even_pair(5)
    t = [torch.from_numpy(x).permute(2, 0, 1).unsqueeze(0).float() / 255 for x in (I0, mid, I1)]
    res = evaluate("blend", [("a", t[0], t[1], t[2]), ("b", t[0], t[1], t[2])], precision="fp32")
    assert [r["sample"] for r in res.rows] == ["a", "b"] and res.means["ie"] == pytest.approx(0, abs=1e-6)
    with pytest.raises(InputError, match="same size"):
        evaluate("blend", [("c", t[0], t[1][..., :20, :], t[2])])
