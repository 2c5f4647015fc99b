"""Files that ship with slomo: the checkpoints (`checkpoints/`) and the teaching data (`data/`).

In a checkout they are the folders beside the `slomo/` package. An installed package (`pip install .`,
`pip install git+URL`) carries copies as package data in `slomo/_bundle/` (`pyproject.toml` maps the
checkout's root to that folder). Both are found from the imported package through `importlib.resources`,
so nothing depends on the working directory.
"""
from importlib import resources
from pathlib import Path

KINDS = ("checkpoints", "data")


def bundled_dir(kind: str) -> Path:
    """The folder of shipped `checkpoints` or bundled `data` (it may be missing in a partial checkout)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    package = Path(str(resources.files(__package__)))
    installed = package / "_bundle" / kind
    return installed if installed.is_dir() else package.parent / kind
