"""Colab and Binder launch what pyproject.toml describes: the repository URL is written once (in
pyproject.toml) and every link and install line agrees with it; Binder and conda install the version
ranges pyproject.toml allows."""
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from slmlab.runner import find_notebooks

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPO = PROJECT["urls"]["Repository"]
OWNER_NAME = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", REPO).group(1)
RANGES = {Requirement(r).name: Requirement(r).specifier for r in PROJECT["dependencies"]}


def _pip_lines(env_file: Path) -> list[str]:
    deps = yaml.safe_load(env_file.read_text())["dependencies"]
    return [line for d in deps if isinstance(d, dict) for line in d.get("pip", [])]


@pytest.mark.parametrize("env_file", ["binder/environment.yml", "environment.yml"])
def test_environment_installs_the_ranges_pyproject_allows(env_file):
    path = ROOT / env_file
    reqs = [Requirement(line) for line in _pip_lines(path) if not line.startswith("-")]
    assert reqs, f"{env_file} installs nothing with pip"
    for req in reqs:
        assert req.name in RANGES, f"{env_file} pins {req.name}, which pyproject.toml does not list"
        assert req.specifier == RANGES[req.name], f"{env_file}: {req} but pyproject.toml says {RANGES[req.name]}"
    python = next(d for d in yaml.safe_load(path.read_text())["dependencies"]
                  if isinstance(d, str) and d.startswith("python"))
    assert Requirement("python" + PROJECT["requires-python"]).specifier.contains(python.split("=")[-1] + ".0")


def test_binder_installs_this_repository_with_its_own_ranges():
    post = (ROOT / "binder" / "postBuild").read_text()
    assert re.search(r"pip install[^\n]* -e \.", post), "binder/postBuild installs the package (pyproject ranges)"


@pytest.mark.parametrize("path", find_notebooks(), ids=lambda p: p.stem)
def test_colab_cell_installs_from_the_repository_only_on_colab(path):
    cell = "".join(json.loads(path.read_text())["cells"][1]["source"])
    guard = cell.index('if "google.colab" in sys.modules:')
    install = cell.index(f'%pip install -q "slmlab @ git+{REPO}"')
    assert guard < install < cell.index("import slmlab"), "the install line sits under the Colab guard"


def test_readme_links_name_the_repository():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"https://(?:mybinder\.org/v2/gh|colab\.research\.google\.com/github)/([^/]+/[^/]+)/", readme)
    assert links and set(links) == {OWNER_NAME}, f"README links {set(links)} but pyproject.toml says {OWNER_NAME}"
    rows = re.findall(r"^\| \[[^\]]+\]\(notebooks/([0-9]{2}_\w+\.ipynb)\)(.*?) \|", readme, re.M)
    assert rows, "README's notebook table"
    for name, rest in rows:  # each notebook in the table has its Colab badge
        assert f"colab.research.google.com/github/{OWNER_NAME}/blob/main/notebooks/{name})" in rest, name
