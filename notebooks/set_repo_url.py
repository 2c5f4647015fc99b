"""Write the repository's URL (`[project.urls] Repository` in pyproject.toml) into every notebook's
first cell, as its `REPO_URL = "..."` line: the address a notebook on its own installs slomo from.

    python notebooks/set_repo_url.py            # after changing the URL in pyproject.toml
    python notebooks/set_repo_url.py --check    # exit 1 when a notebook disagrees (the tests run this)
"""
import argparse
import json
import re
import sys
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
LINE = re.compile(r'^REPO_URL = "[^"\n]*"', re.M)


def repo_url(pyproject: Path = HERE.parent / "pyproject.toml") -> str:
    return tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"]


def first_code_cell(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def notebook_url(path: Path):
    """The REPO_URL of a notebook's first code cell, or None when it has none."""
    source = "".join(first_code_cell(json.loads(path.read_text()))["source"])
    m = re.search(r'^REPO_URL = "([^"\n]*)"', source, re.M)
    return m.group(1) if m else None


def set_url(path: Path, url: str) -> bool:
    """Rewrite the REPO_URL line of `path`'s first code cell; True when the file changed."""
    text = path.read_text()
    nb = json.loads(text)
    cell = first_code_cell(nb)
    source = "".join(cell["source"])
    if not LINE.search(source):
        raise SystemExit(f"{path.name}: its first code cell has no REPO_URL line")
    new = LINE.sub(f'REPO_URL = "{url}"', source, count=1)
    if new == source:
        return False
    cell["source"] = new.splitlines(keepends=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report notebooks that disagree")
    args = ap.parse_args(argv)
    url = repo_url()
    notebooks = sorted(HERE.glob("*.ipynb"))
    if args.check:
        wrong = [p.name for p in notebooks if notebook_url(p) != url]
        for name in wrong:
            print(f"{name}: REPO_URL is not {url} (run python notebooks/set_repo_url.py)")
        return 1 if wrong else 0
    for p in notebooks:
        print(f"{p.name}: {'updated' if set_url(p, url) else 'already'} {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
