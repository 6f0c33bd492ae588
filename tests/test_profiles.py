"""Per-notebook sizes: the API, the table's shape, and that every notebook reads it (and nothing else)."""
import ast
import json
import re
from pathlib import Path

import pytest

from slmlab import profiles
from slmlab.profiles import PROFILE_NAMES, SIZES, sizes

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _code(path: Path) -> str:
    """The notebook's code cells as Python: IPython magics and shell lines (``%pip``, ``!ls``) become ``pass``."""
    lines = "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code").split("\n")
    return "\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                     else line for line in lines)


def _parameters(path: Path) -> dict:
    """Names and literal defaults of the notebook's papermill ``parameters`` cell."""
    cell = next(c for c in _cells(path) if "parameters" in c.get("metadata", {}).get("tags", []))
    out = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:   # an expression, e.g. os.environ.get("SLMLAB_PROFILE", "default")
                out[node.targets[0].id] = ast.unparse(node.value)
    return out


def _sizes_calls(path: Path) -> list[ast.Call]:
    """Calls ``profiles.sizes("NN_name", ...)`` / ``sizes("NN_name", ...)`` in the notebook's code."""
    calls = []
    for node in ast.walk(ast.parse(_code(path))):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            if name == "sizes" and node.args and isinstance(node.args[0], ast.Constant):
                calls.append(node)
    return calls


# ---------------------------------------------------------------- the API
def test_sizes_reads_the_table_and_overrides_it():
    cfg = sizes("01_data_curation", "default")
    assert cfg.n_docs == SIZES["01_data_curation"]["default"]["n_docs"] == cfg["n_docs"]
    assert cfg.name == "default" and cfg.notebook == "01_data_curation"
    assert sizes("01_data_curation", "smoke", train_steps=7).train_steps == 7
    assert sizes("01_data_curation", "smoke", run_datatrove=True).run_datatrove is True
    # an int is accepted where a float is expected; a list where a tuple is, and returned as a tuple
    assert sizes("04_mode_collapse", "smoke", temperatures=[1, 2]).temperatures == (1, 2)


def test_none_overrides_are_ignored():
    assert dict(sizes("02_synthetic_data", "smoke", rounds=None, n_seeds=None)) == SIZES["02_synthetic_data"]["smoke"]


def test_sizes_is_read_only_and_does_not_share_the_table():
    cfg = sizes("02_synthetic_data", "smoke", rounds=9)
    with pytest.raises(TypeError):
        cfg["rounds"] = 1  # type: ignore[index]
    assert SIZES["02_synthetic_data"]["smoke"]["rounds"] != 9


# Bad overrides (wrong type, wrong sign, unknown names) are rows of tests/test_bad_input.py.


def test_unknown_size_attribute_names_the_known_ones():
    with pytest.raises(AttributeError, match="has no size 'n_layers'"):
        sizes("00_welcome_tiny_lm", "smoke").n_layers


# ---------------------------------------------------------------- the table
@pytest.mark.parametrize("notebook", sorted(SIZES))
def test_every_profile_of_a_notebook_has_the_same_fields(notebook):
    table = SIZES[notebook]
    assert set(table) == set(PROFILE_NAMES), f"{notebook}: profiles {sorted(table)}"
    fields = set(table["default"])
    for profile in PROFILE_NAMES:
        assert set(table[profile]) == fields, f"{notebook}/{profile}: {sorted(set(table[profile]) ^ fields)}"
        for key, value in table[profile].items():  # same kind of value everywhere, so overrides check alike
            assert type(value) is type(table["default"][key]), f"{notebook}/{profile}/{key}"


def test_every_notebook_with_sizes_exists():
    names = {p.stem for p in NOTEBOOKS}
    assert set(SIZES) <= names, sorted(set(SIZES) - names)


# ---------------------------------------------------------------- the notebooks
READERS = [p for p in NOTEBOOKS if _sizes_calls(p)]


def test_the_collection_reads_its_sizes_from_profiles():
    # the notebooks whose sizes this table holds today read them from it
    assert {"00_welcome_tiny_lm", "01_data_curation", "02_synthetic_data", "04_mode_collapse"} <= {p.stem for p in READERS}


@pytest.mark.parametrize("path", READERS, ids=lambda p: p.stem)
def test_parameters_reach_sizes(path):
    """Each sizes(...) call names this notebook; every keyword is a size and a parameter of the same name;
    every parameter that names a size is passed through (else its override would be silently ignored)."""
    table = SIZES[path.stem]["default"]
    params = _parameters(path)
    passed = set()
    for call in _sizes_calls(path):
        assert call.args[0].value == path.stem, f"{path.stem} reads the sizes of {call.args[0].value}"
        for kw in call.keywords:
            assert kw.arg in table, f"{path.stem}: {kw.arg} is not one of its sizes {sorted(table)}"
            assert isinstance(kw.value, ast.Name) and kw.value.id == kw.arg and kw.arg in params, \
                f"{path.stem}: {kw.arg}= must pass the parameter {kw.arg} through"
            passed.add(kw.arg)
    missing = (set(params) & set(table)) - passed
    assert not missing, f"{path.stem}: parameters {sorted(missing)} never reach profiles.sizes"
    for name in passed:
        assert params[name] is None, f"{path.stem}: parameter {name} must default to None (the profile decides)"


@pytest.mark.parametrize("path", READERS, ids=lambda p: p.stem)
def test_no_size_table_inside_a_notebook(path):
    code = _code(path)
    assert "get_profile" not in code, f"{path.stem} still reads runtime.get_profile"
    # a dict keyed by profile names, or a branch on the profile's name, is a size table in disguise
    assert not re.search(r"""\{\s*["']smoke["']\s*:""", code), f"{path.stem} carries a per-profile dict"
    assert not re.search(r"""(profile|cfg\.name)\s*[!=]=\s*["'](smoke|default|gpu)["']""", code), \
        f"{path.stem} branches on the profile's name"


def test_sizes_of_a_profile_never_mutate_module_state():
    before = json.dumps(SIZES, sort_keys=True, default=list)
    sizes("02_synthetic_data", "gpu", rounds=1, prompts_per_round=2)
    assert json.dumps(profiles.SIZES, sort_keys=True, default=list) == before
