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
            except ValueError:   # an expression: kept as its source, so a test can name it
                out[node.targets[0].id] = ast.unparse(node.value)
    return out


def _sizes_calls_in(tree: ast.AST) -> list[ast.Call]:
    """Calls ``profiles.sizes("NN_name", ...)`` / ``sizes("NN_name", ...)`` in ``tree``."""
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
            if name == "sizes" and node.args and isinstance(node.args[0], ast.Constant):
                calls.append(node)
    return calls


def _sizes_calls(path: Path) -> list[ast.Call]:
    return _sizes_calls_in(ast.parse(_code(path)))


# ---------------------------------------------------------------- the API
def test_sizes_reads_the_table_and_overrides_it():
    cfg = sizes("01_data_curation", "default")
    assert cfg.n_docs == SIZES["01_data_curation"]["default"]["n_docs"] == cfg["n_docs"]
    assert cfg.profile == "default" and cfg.notebook == "01_data_curation"
    assert not hasattr(cfg, "name")  # it was the profile's name, read as the notebook's: renamed
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
# What a Sizes answers besides its sizes: a notebook may read these from its cfg without them being sizes.
SIZES_ATTRIBUTES = {"profile", "notebook", "get", "items", "keys", "values"}


def _size_reads(path: Path) -> set[str]:
    """Names read from the variable(s) a notebook assigns ``profiles.sizes(...)`` to: ``cfg.x``, ``cfg["x"]``."""
    tree = ast.parse(_code(path))
    calls = {id(c) for c in _sizes_calls_in(tree)}
    holders = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and id(node.value) in calls
               for t in node.targets if isinstance(t, ast.Name)}
    reads = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in holders:
            reads.add(node.attr)
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in holders
              and isinstance(node.slice, ast.Constant)):
            reads.add(node.slice.value)
    return reads


def test_the_collection_reads_its_sizes_from_profiles():
    # every notebook has sizes in the table and reads them from it
    assert {p.stem for p in NOTEBOOKS} == set(SIZES) == {p.stem for p in READERS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_size_is_read_by_its_notebook(path):
    """A size nobody reads is a knob that turns nothing; a read that is no size fails only when that line runs."""
    fields = set(SIZES[path.stem]["default"])
    reads = _size_reads(path)
    assert not fields - reads, f"{path.stem} never reads its sizes {sorted(fields - reads)}"
    assert not reads - fields - SIZES_ATTRIBUTES, f"{path.stem} reads {sorted(reads - fields - SIZES_ATTRIBUTES)}, " \
                                                   f"which are not its sizes {sorted(fields)}"


# One name per kind of size (the comment at the top of profiles.SIZES): a phase, where a notebook has two,
# comes first (`cpt_`, `design_a_`). RLP's batch counts positions and keeps RLPConfig's name.
CONVENTION = {"learning-rate grid": (re.compile(r"(^|_)lrs?(_|$)"), re.compile(r"([a-z]+_)?lr_grid")),
              "batch size": (re.compile(r"batch"), re.compile(r"([a-z]+_)?batch_size|batch_positions")),
              "optimizer steps": (re.compile(r"steps"), re.compile(r"([a-z]+_)?train_steps")),
              "training seeds": (re.compile(r"seeds"), re.compile(r"([a-z]+_)*n_seeds")),
              "generation cap": (re.compile(r"(^|_)cap$|max_tokens|new_tokens"), re.compile(r"([a-z]+_)?max_new_tokens"))}


@pytest.mark.parametrize("notebook", sorted(SIZES))
def test_size_names_follow_the_convention(notebook):
    for field in SIZES[notebook]["default"]:
        for kind, (about, name) in CONVENTION.items():
            if about.search(field):
                assert name.fullmatch(field), f"{notebook}: {field!r} is a {kind}; name it {name.pattern!r}"


@pytest.mark.parametrize("name", ["lrs", "loop_lrs", "lr_grid_rlp", "batch", "cpt_batch", "ft_steps", "cpt_steps",
                                  "gen_cap", "real_max_tokens", "mix_seeds", "n_seeds_a"])
def test_the_convention_refuses_the_old_names(name):
    assert any(about.search(name) and not pattern.fullmatch(name) for about, pattern in CONVENTION.values())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_profile_is_only_a_parameter(path):
    """The profile enters as a papermill parameter (the runner, the tests and `make nbval` inject it), never
    from the environment: one way in, so a notebook run by hand is at the profile its parameters cell says."""
    assert _parameters(path).get("profile") == "default", f"{path.stem}: parameters cell must say profile = \"default\""
    assert "SLMLAB_PROFILE" not in _code(path), f"{path.stem} reads SLMLAB_PROFILE"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_size_table_inside_a_notebook(path):
    code = _code(path)
    assert "get_profile" not in code, f"{path.stem} still reads runtime.get_profile"
    # a dict keyed by profile names, or a branch on the profile's name, is a size table in disguise
    assert not re.search(r"""\{\s*["']smoke["']\s*:""", code), f"{path.stem} carries a per-profile dict"
    assert not re.search(r"""(profile|cfg\.profile)\s*[!=]=\s*["'](smoke|default|gpu)["']""", code), \
        f"{path.stem} branches on the profile's name"


def test_sizes_of_a_profile_never_mutate_module_state():
    before = json.dumps(SIZES, sort_keys=True, default=list)
    sizes("02_synthetic_data", "gpu", rounds=1, prompts_per_round=2)
    assert json.dumps(profiles.SIZES, sort_keys=True, default=list) == before
