"""README.md: a short user's guide that opens with the two commands and links only to what exists."""
import re

from conftest import REPO

README = REPO / "README.md"


def test_opens_with_the_two_commands_and_stays_short():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert [ln.split()[:2] for ln in first_block.strip().splitlines()] == [["make", "demo"], ["make", "test"]]
    assert text.index("make demo") < 200
    assert len(text) <= 12_000


def test_every_link_points_at_a_file_in_the_repository():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert len(local) >= 8
    missing = [link for link in local if not (REPO / link).exists()]
    assert not missing, missing


def test_the_make_targets_it_names_exist():
    makefile = (REPO / "Makefile").read_text()
    for target in ("demo", "test", "setup"):
        assert re.search(rf"^{target}:", makefile, re.M), target
