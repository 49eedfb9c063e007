import inspect
import os
import platform
import subprocess
import sys

import pytest

from seq2seq import allocator, cli


def test_enabled_by_default():
    assert allocator.keep_heap_enabled({}) is True


def test_zero_turns_it_off():
    assert allocator.keep_heap_enabled({"SEQ2SEQ_KEEP_HEAP": "0"}) is False
    assert allocator.keep_heap({"SEQ2SEQ_KEEP_HEAP": "0"}) is False


@pytest.mark.parametrize("raw", ["yes", "2", ""])
def test_bad_values_name_the_variable(raw):
    with pytest.raises(ValueError, match=r"SEQ2SEQ_KEEP_HEAP.*Received: '" + raw + "'"):
        allocator.keep_heap_enabled({"SEQ2SEQ_KEEP_HEAP": raw})


glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc only",
)


def count_reuse_faults():
    """Minor page faults while ten 100 MiB blocks are allocated and freed, five of them on
    a new thread, after the heap grew once. Self-contained: it also runs in a subprocess."""
    import resource
    import threading

    import numpy as np

    size = 100 * 1024 * 1024 // 8  # far above glibc's mmap threshold

    def work():
        for _ in range(5):
            np.ones(size).sum()

    work()  # the heap grows once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    work()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def faults_in_fresh_process(setup="", env=None):
    """`count_reuse_faults()` in a new Python process, after the statements `setup`.

    A fresh process, because the settings apply to arenas made after them: the test
    process already has the arenas of its other tests' threads."""
    program = f"{inspect.getsource(count_reuse_faults)}\n{setup}\nprint(count_reuse_faults())\n"
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout)


@glibc_only
def test_freed_blocks_are_reused_without_new_page_faults():
    """Large blocks freed by any thread come back without faulting in fresh pages."""
    # As the command calls it: after the command's imports (Keras and its backend).
    setup = "import seq2seq.cli\nassert seq2seq.allocator.keep_heap({}) is True\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    # glibc's defaults map every block afresh: 516 faults for these ten blocks on the
    # project's machine, where NumPy asks for huge pages (256,000 with 4 KiB pages).
    assert faults_in_fresh_process(env=env) > 400
    assert faults_in_fresh_process(setup, env=env) < 200


@glibc_only
def test_environment_variables_give_the_same_reuse_to_other_programs():
    """What the benchmarks give native PyTorch: the settings without importing seq2seq."""
    assert faults_in_fresh_process(env={**os.environ, **allocator.glibc_environment()}) < 200


def large_block_in_heap():
    """Whether a 100 MiB `malloc` lies in the process heap (`[heap]` of /proc/self/maps)
    rather than in a mapping of its own, as glibc's defaults place it. Self-contained:
    it runs in a subprocess."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    address = libc.malloc(100 * 1024 * 1024)
    try:
        with open("/proc/self/maps") as maps:
            heaps = [line.split()[0] for line in maps if line.rstrip().endswith("[heap]")]
        bounds = [[int(end, 16) for end in heap.split("-")] for heap in heaps]
        return any(start <= address < end for start, end in bounds)
    finally:
        libc.free(address)


@glibc_only
def test_import_leaves_the_allocator_alone():
    """`import seq2seq` in a fresh process keeps glibc's defaults; `keep_heap()` is the
    explicit call that changes them (the check sees the difference)."""
    program = inspect.getsource(large_block_in_heap) + (
        "\nimport seq2seq\n"
        "print(large_block_in_heap())\n"
        "import seq2seq.allocator\n"
        "print(seq2seq.allocator.keep_heap())\n"
        "print(large_block_in_heap())\n"
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MALLOC_", "GLIBC_TUNABLES", "SEQ2SEQ_KEEP_HEAP"))
    }
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True", "True"]


def test_the_command_line_keeps_the_heap(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli, "keep_heap", lambda: calls.append(1))
    assert cli.main(["tasks"]) == 0
    assert calls == [1]


def test_the_command_line_reports_a_bad_setting_on_one_line(monkeypatch, capsys):
    monkeypatch.setenv("SEQ2SEQ_KEEP_HEAP", "yes")
    assert cli.main(["tasks"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SEQ2SEQ_KEEP_HEAP" in err and "Traceback" not in err
