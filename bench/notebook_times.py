"""Run notebooks top to bottom with their default parameters (as a user would) and print the time each
took. Values given as key=value are injected after the `parameters` cell.

    python bench/notebook_times.py [NAME.ipynb ...] [key=value ...]
"""
import ast
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from test_notebooks import execute, inject  # noqa: E402  (the test harness, reused)


def main(argv):
    names = [a for a in argv if a.endswith(".ipynb")] or sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    values = {}
    for a in argv:
        if "=" in a:
            k, v = a.split("=", 1)
            try:
                values[k] = ast.literal_eval(v)
            except (ValueError, SyntaxError):
                values[k] = v
    for name in names:
        path = REPO / "notebooks" / name
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as tmp:
            inject(nb, {"output_dir": str(Path(tmp) / "out"), **values})
            start = time.perf_counter()
            execute(nb, path.parent)
            print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
