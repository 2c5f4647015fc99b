"""slomo.bundled finds the shipped files; data/ holds the teaching data the notebooks and tests use."""
import importlib
import shutil
import sys

import pytest
from conftest import REPO

from slomo.bundled import bundled_dir
from slomo.evaluate import load_dataset
from slomo.video import probe

DATA = REPO / "data"
LIMIT_MB = 15


def test_in_a_checkout_the_folders_beside_the_package():
    assert bundled_dir("checkpoints") == REPO / "checkpoints"
    assert bundled_dir("data") == DATA
    with pytest.raises(ValueError, match="unknown kind"):
        bundled_dir("weights")


def test_an_installed_package_uses_its_own_copy(tmp_path, monkeypatch):
    """The same module inside another package folder that carries `_bundle/`, as a wheel installs it."""
    pkg = tmp_path / "site" / "fakeslomo"
    (pkg / "_bundle" / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    shutil.copy(REPO / "slomo" / "bundled.py", pkg / "bundled.py")
    (tmp_path / "site" / "checkpoints").mkdir()  # a decoy beside the package: never used when _bundle exists
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    module = importlib.import_module("fakeslomo.bundled")
    try:
        assert module.bundled_dir("data") == pkg / "_bundle" / "data"
        assert module.bundled_dir("checkpoints") == tmp_path / "site" / "checkpoints"  # no _bundle copy of it
    finally:
        sys.modules.pop("fakeslomo.bundled", None)
        sys.modules.pop("fakeslomo", None)


def test_bundled_data_stays_small():
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert total <= LIMIT_MB * 1e6, f"data/ holds {total / 1e6:.1f} MB; the limit is {LIMIT_MB} MB"


def test_every_kind_of_bundled_data_loads():
    ucf = load_dataset(DATA / "triplets" / "ucf101")
    assert len(ucf) == 21 and ucf.layout == "triplets"
    dev = {gap: load_dataset(DATA / "triplets" / "dev" / gap) for gap in ("gap1", "gap2")}
    assert len(dev["gap1"]) == len(dev["gap2"]) == 12 and len(load_dataset(DATA / "triplets" / "dev")) == 24
    x8 = load_dataset(DATA / "frames" / "basketball", layout="frames", scale=8)
    assert len(x8) == 4 and all(len(s.targets) == 7 for s in x8.samples)
    clips = {p.name: probe(p) for p in sorted((DATA / "videos").glob("*.mp4"))}
    assert set(clips) == {"dog.mp4", "cups.mp4", "blocks.mp4", "coffee.mp4"}
    assert clips["dog.mp4"].frames == 75 and (clips["dog.mp4"].width, clips["dog.mp4"].height) == (640, 360)
    assert probe(DATA / "pancake-flip.mkv").audio_codec


def test_the_readme_names_every_bundled_item_and_its_source():
    readme = (DATA / "README.md").read_text()
    for item in ["pancake-flip.mkv", "videos/dog.mp4", "cups.mp4", "blocks.mp4", "coffee.mp4", "triplets/ucf101",
                 "triplets/dev/gap1", "triplets/dev/gap2", "frames/basketball"]:
        assert item in readme, item
    assert readme.count("licence") >= 1 and "JPEG quality" in readme


def test_training_recipes_validate_on_bundled_triplets():
    from slomo.train import load_config
    for name in ("dis-quarter.toml", "dis-quarter-hard.toml", "unet-quarter.toml"):
        cfg = load_config(REPO / "configs" / name)
        assert (REPO / cfg.val).resolve().is_relative_to(DATA), (name, cfg.val)
        assert len(load_dataset(REPO / cfg.val)) >= 20
