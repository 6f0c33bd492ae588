"""Device, dtype, threads and seeding. (The sizes each profile gives a notebook live in
:mod:`slmlab.profiles`.)"""
from __future__ import annotations

import hashlib
import math
import os
import random
from pathlib import Path

import numpy as np
import torch

from . import _checks

__all__ = ["pick_device", "pick_dtype", "seed_everything", "derive_seed", "artifacts_dir", "runtime_versions",
           "cgroup_cpu_limit", "usable_cpus", "idle_cpus", "fit_threads"]


def pick_device(device: str | None = "auto") -> torch.device:
    """cuda if present, else cpu. Apple's mps only when asked for by name (it is not always faster
    for tiny models and some ops fall back)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str):
        raise ValueError(f"device={device!r} must be a string such as 'auto', 'cpu', 'cuda' or 'mps'")
    kind = device.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available; use device='auto' or 'cpu'")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device={device!r} was asked for but MPS is not available; use device='cpu'")
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={device!r} is not one of 'auto', 'cpu', 'cuda[:N]', 'mps'")
    return torch.device(device)


def pick_dtype(device: torch.device, dtype: str | None = "auto") -> torch.dtype:
    """Weights dtype: float32 on CPU (tiny models; autocast gives the bf16 speed-up), bfloat16 on a GPU
    that supports it, else float16."""
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype in (None, "auto"):
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in table:
        raise ValueError(f"dtype={dtype!r} must be 'auto' or one of {sorted(table)}")
    return table[dtype]


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (all devices) and return a torch Generator seeded the same way,
    for code that wants its own stream."""
    _checks.seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def derive_seed(seed: int, *names) -> int:
    """A seed for one named part of a run, derived from the run's ``seed``: ``derive_seed(seed, "cpt",
    arm, k)``. The same names give the same seed; different names give unrelated ones (a hash, not
    arithmetic such as ``seed + 1000`` that can collide with another part's seed). In [0, 2**31)."""
    _checks.seed(seed)
    for i, name in enumerate(names):
        if not isinstance(name, (str, int)) or isinstance(name, bool):
            raise TypeError(f"names[{i}]={name!r} must be a str or int naming the part the seed is for")
    key = "\x1f".join([str(seed), *(f"{type(n).__name__}:{n}" for n in names)]).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % 2**31


def artifacts_dir() -> Path:
    """Where notebooks write files that later notebooks may reuse (``$SLMLAB_ARTIFACTS`` or ./runs)."""
    path = Path(os.environ.get("SLMLAB_ARTIFACTS", "runs"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def runtime_versions() -> dict:
    """Versions of the packages the notebooks use, for bug reports."""
    import importlib.metadata as md
    import platform
    names = ["slmlab", "torch", "transformers", "tokenizers", "datasets", "accelerate", "plotly", "ipywidgets"]
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = md.version(n)
        except md.PackageNotFoundError:
            out[n] = "not installed"
    out["device"] = str(pick_device("auto"))
    out["threads"] = torch.get_num_threads()
    return out


def _read_cpu_limit(folder: Path) -> float | None:
    """CPUs allowed by the quota files in one cgroup folder: v2 ``cpu.max`` ("max 100000" or
    "150000 100000") or v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1: unlimited)."""
    try:
        if (folder / "cpu.max").is_file():
            quota, period = ((folder / "cpu.max").read_text().split() + ["100000"])[:2]
            return None if quota == "max" else int(quota) / int(period)
        if (folder / "cpu.cfs_quota_us").is_file():
            quota = int((folder / "cpu.cfs_quota_us").read_text())
            period = int((folder / "cpu.cfs_period_us").read_text())
            return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):  # unreadable or malformed: treat as no limit rather than crash an import
        return None
    return None


def cgroup_cpu_limit(root="/sys/fs/cgroup", self_cgroup="/proc/self/cgroup") -> float | None:
    """CPUs per second the cgroup CPU quota gives this process (quota / period), or None when there is
    no quota or no cgroup (macOS, Windows). Binder pods, Docker ``--cpus`` and Kubernetes limits set it.

    The process's own cgroup (from ``self_cgroup``) and every folder above it up to ``root`` are read,
    because a quota on any ancestor applies too; the smallest wins. cgroup v2 keeps ``cpu.max`` under
    ``root``; v1 keeps ``cpu.cfs_*`` under ``root/cpu`` (or ``cpu,cpuacct``)."""
    root = _checks.path("root", root)
    try:
        lines = _checks.path("self_cgroup", self_cgroup).read_text().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        if controllers == "":                      # v2: "0::/path"
            bases = [root]
        elif "cpu" in controllers.split(","):      # v1: "4:cpu,cpuacct:/path"
            bases = [root / name for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu", controllers)]
        else:
            continue
        for base in dict.fromkeys(bases):
            if not base.is_dir():
                continue
            # inside a container the path may name a host folder that is not mounted: walk up to base
            folder = base / rel.strip("/")
            while True:
                limit = _read_cpu_limit(folder)
                if limit is not None:
                    limits.append(limit)
                if folder == base or base not in folder.parents:
                    break
                folder = folder.parent
    return min(limits) if limits else None


def usable_cpus(root="/sys/fs/cgroup", self_cgroup="/proc/self/cgroup") -> int:
    """CPUs this process may really use: those it may run on (``os.sched_getaffinity``; where the OS has
    no such call, as on macOS and Windows, ``os.cpu_count()``), capped by the cgroup CPU quota rounded
    down (a quota of 1.5 CPUs gives 1 thread: a second one would be throttled a third of the time),
    never below 1."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpu_limit(root, self_cgroup)
    if quota is not None:
        n = min(n, math.floor(quota))
    return max(1, n)


def idle_cpus(interval: float = 0.5) -> float:
    """How many of the CPUs this process may run on sat idle over the next ``interval`` seconds (this
    process sleeps meanwhile, so what it finds busy is other processes' work): about 2.0 on an idle
    2-core machine, about 1.0 beside one busy neighbour. Read from the kernel's per-CPU counters
    (``psutil.cpu_times``); where those cannot be read, every CPU counts as idle."""
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval <= 10:
        raise ValueError(f"interval={interval!r} must be a number of seconds in (0, 10]")
    import time

    import psutil
    mine = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        before = psutil.cpu_times(percpu=True)
        time.sleep(interval)
        after = psutil.cpu_times(percpu=True)
    except (OSError, RuntimeError, psutil.Error):
        return float(len(mine) if mine else (os.cpu_count() or 1))
    idle = 0.0
    for i, (a, b) in enumerate(zip(before, after)):
        if mine is not None and i not in mine:
            continue
        total = sum(b) - sum(a)
        if total > 0:
            idle += ((b.idle + getattr(b, "iowait", 0.0)) - (a.idle + getattr(a, "iowait", 0.0))) / total
    return idle


def fit_threads(at_most: int | None = None, *, share: bool = True, **where) -> int:
    """Set torch's CPU threads (and the BLAS/OpenMP pools numpy and scikit-learn use) to
    :func:`usable_cpus`, capped by ``at_most`` and by ``$OMP_NUM_THREADS`` when set; return the count.

    torch sizes its pool from the cores it can *see*; in a pod with a CPU quota of about one (Binder),
    that oversubscribes the quota and every parallel region is throttled. With ``share`` (the default)
    it also leaves alone the CPUs another process keeps busy when it is called (:func:`idle_cpus`,
    rounded, never fewer than one thread): two threads on a 2-core machine where a browser, a Jupyter
    server or a test run holds one core wait for each other at every parallel region, while one thread
    has a core to itself (``benchmarks/bench_threads.py`` measures both). The threads also wait for work
    passively (``OMP_WAIT_POLICY=PASSIVE``, set by ``import slmlab`` before torch loads). The count
    should change only the speed: a training run gives bit-identical weights with one thread or two
    (tests/test_threads.py). ``where`` passes ``root`` and ``self_cgroup`` to :func:`cgroup_cpu_limit`
    (tests point them at files of their own)."""
    if at_most is not None and (not isinstance(at_most, int) or isinstance(at_most, bool) or at_most < 1):
        raise ValueError(f"at_most={at_most!r} must be None or a positive int (a thread count)")
    if not isinstance(share, bool):
        raise ValueError(f"share={share!r} must be True or False")
    n = usable_cpus(**where)
    omp = os.environ.get("OMP_NUM_THREADS", "")
    caps = [c for c in (at_most, int(omp) if omp.isdigit() else None) if c]
    n = min([n, *caps])
    if share and n > 1:
        n = max(1, min(n, round(idle_cpus())))
    torch.set_num_threads(n)
    from threadpoolctl import threadpool_limits  # installed with scikit-learn
    threadpool_limits(limits=n)  # called as a function, the limit stays for the process
    return n
