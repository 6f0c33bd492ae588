"""Thread count from what the process may really use: affinity and the cgroup v1/v2 CPU quota,
fed here as files in a temporary folder laid out like /sys/fs/cgroup and /proc/self/cgroup."""
import os
import subprocess
import sys
import time

import pytest
import torch

from slmlab import runtime


def _cgroup(tmp_path, self_line: str, files: dict) -> dict:
    root = tmp_path / "cgroup"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    root.mkdir(exist_ok=True)
    (tmp_path / "self").write_text(self_line + "\n")
    return {"root": root, "self_cgroup": tmp_path / "self"}


@pytest.fixture
def eight_cpus(monkeypatch):
    """A machine whose process may run on 8 CPUs, whatever this one has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_v2_quota_of_one_cpu_gives_one_thread(tmp_path, eight_cpus):
    where = _cgroup(tmp_path, "0::/", {"cpu.max": "100000 100000\n"})
    assert runtime.cgroup_cpu_limit(**where) == 1.0
    assert runtime.usable_cpus(**where) == 1


def test_v2_quota_on_an_ancestor_applies_and_the_smallest_wins(tmp_path, eight_cpus):
    where = _cgroup(tmp_path, "0::/user.slice/pod/kernel", {
        "cpu.max": "max 100000\n",
        "user.slice/cpu.max": "300000 100000\n",
        "user.slice/pod/cpu.max": "250000 100000\n",
        "user.slice/pod/kernel/cpu.max": "max 100000\n"})
    assert runtime.cgroup_cpu_limit(**where) == 2.5
    assert runtime.usable_cpus(**where) == 2  # rounded down: a third thread would be throttled


def test_v2_no_quota_leaves_the_affinity(tmp_path, eight_cpus):
    where = _cgroup(tmp_path, "0::/", {"cpu.max": "max 100000\n"})
    assert runtime.cgroup_cpu_limit(**where) is None
    assert runtime.usable_cpus(**where) == 8


def test_v1_quota_with_a_host_path_not_mounted_in_the_container(tmp_path, eight_cpus):
    where = _cgroup(tmp_path, "4:cpu,cpuacct:/docker/0123abcd", {
        "cpu,cpuacct/cpu.cfs_quota_us": "150000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"})
    assert runtime.cgroup_cpu_limit(**where) == 1.5
    assert runtime.usable_cpus(**where) == 1


def test_v1_unlimited_and_half_a_cpu(tmp_path, eight_cpus):
    where = _cgroup(tmp_path, "3:cpu:/", {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"})
    assert runtime.cgroup_cpu_limit(**where) is None
    (where["root"] / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    assert runtime.cgroup_cpu_limit(**where) == 0.5
    assert runtime.usable_cpus(**where) == 1  # never below one


def test_missing_or_malformed_files_mean_no_limit(tmp_path, eight_cpus):
    assert runtime.cgroup_cpu_limit(tmp_path, tmp_path / "absent") is None
    where = _cgroup(tmp_path, "0::/", {"cpu.max": "lots\n"})
    assert runtime.cgroup_cpu_limit(**where) is None
    assert runtime.usable_cpus(**where) == 8


def test_affinity_is_a_cap_too(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    where = _cgroup(tmp_path, "0::/", {"cpu.max": "400000 100000\n"})
    assert runtime.usable_cpus(**where) == 1


def test_without_sched_getaffinity_cpu_count_is_used(tmp_path, monkeypatch):
    """macOS and Windows have no os.sched_getaffinity."""
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert runtime.usable_cpus(tmp_path, tmp_path / "absent") == 6


def test_fit_threads_sets_torch_and_honours_caps(tmp_path, eight_cpus, restore_threads, monkeypatch):
    where = _cgroup(tmp_path, "0::/", {"cpu.max": "300000 100000\n"})
    assert runtime.fit_threads(share=False, **where) == 3
    assert torch.get_num_threads() == 3
    assert runtime.fit_threads(1, share=False, **where) == 1 and torch.get_num_threads() == 1
    assert runtime.fit_threads(16, share=False, **where) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert runtime.fit_threads(share=False, **where) == 2
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="at_most"):
            runtime.fit_threads(bad, **where)
    with pytest.raises(ValueError, match="share"):
        runtime.fit_threads(share="no", **where)


def test_fit_threads_leaves_the_cpus_a_neighbour_keeps_busy(tmp_path, eight_cpus, restore_threads, monkeypatch):
    where = _cgroup(tmp_path, "0::/", {"cpu.max": "max 100000\n"})
    for idle, want in ((8.0, 8), (7.9, 8), (6.6, 7), (1.2, 1), (0.1, 1)):
        monkeypatch.setattr(runtime, "idle_cpus", lambda interval=0.5, v=idle: v)
        assert runtime.fit_threads(**where) == want, idle
        assert torch.get_num_threads() == want
    assert runtime.fit_threads(share=False, **where) == 8
    monkeypatch.setattr(runtime, "idle_cpus", lambda interval=0.5: pytest.fail("one thread: nothing to share"))
    assert runtime.fit_threads(1, **where) == 1


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs two CPUs and CPU affinity")
def test_idle_cpus_sees_a_busy_neighbour():
    mine = sorted(os.sched_getaffinity(0))
    quiet = runtime.idle_cpus(0.3)
    assert 0 <= quiet <= len(mine) + 0.01
    spin = subprocess.Popen([sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{mine[0]}}})\nwhile True: pass"])
    try:
        time.sleep(0.5)
        busy = runtime.idle_cpus(1.0)
    finally:
        spin.kill()
        spin.wait()
    assert busy <= len(mine) - 0.6, (quiet, busy)  # the spinning child holds one CPU


def test_a_training_run_gives_the_same_weights_with_one_thread_or_two():
    """The thread count fit_threads picks may change with the load; the numbers must not."""
    code = ("import hashlib, sys, torch\n"
            "from slmlab import load_model, problems\n"
            "from slmlab.training import TrainConfig, pretrain\n"
            "torch.set_num_threads(int(sys.argv[1]))\n"
            "model, tok = load_model()\n"
            "texts = list(problems.make_problems(64, 0, 'train')['text'])\n"
            "cfg = TrainConfig(steps=3, batch_size=4, block_size=128, warmup_steps=1, progress=False)\n"
            "m = pretrain(model, tok, texts, cfg)['model']\n"
            "h = hashlib.sha256(b''.join(p.detach().numpy().tobytes() for p in m.parameters()))\n"
            "print(h.hexdigest())\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    digests = [subprocess.run([sys.executable, "-c", code, str(n)], env=env, capture_output=True, text=True,
                              timeout=300, check=True).stdout.split()[-1] for n in (1, 2)]
    assert digests[0] == digests[1]


def test_import_and_fit_threads_without_sched_getaffinity():
    """`import slmlab` must work where the OS has no affinity call (macOS, Windows)."""
    code = ("import os; del os.sched_getaffinity\n"
            "import slmlab; n = slmlab.fit_threads(); assert n >= 1, n; print(n)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_import_slmlab_makes_openmp_wait_passively_unless_told_otherwise():
    import os
    import subprocess
    import sys
    probe = ("import slmlab, os, torch; print(os.environ['OMP_WAIT_POLICY'], "
             "'OMP_WAIT_POLICY' in torch.__config__.parallel_info() or 'ok')")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", probe], env=dict(env, OMP_WAIT_POLICY="ACTIVE"),
                         capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "ACTIVE"
