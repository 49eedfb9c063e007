import platform
import resource
import sys
import threading

import numpy as np
import pytest

from seq2seq import allocator


def test_enabled_by_default():
    assert allocator.keep_heap_enabled({}) is True


def test_zero_turns_it_off():
    assert allocator.keep_heap_enabled({"SEQ2SEQ_KEEP_HEAP": "0"}) is False
    assert allocator.keep_heap({"SEQ2SEQ_KEEP_HEAP": "0"}) is False


@pytest.mark.parametrize("raw", ["yes", "2", ""])
def test_bad_values_name_the_variable(raw):
    with pytest.raises(ValueError, match=r"SEQ2SEQ_KEEP_HEAP.*Received: '" + raw + "'"):
        allocator.keep_heap_enabled({"SEQ2SEQ_KEEP_HEAP": raw})


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc only",
)
def test_freed_blocks_are_reused_without_new_page_faults():
    """Large blocks freed by any thread come back without faulting in fresh pages."""
    assert allocator.keep_heap({}) is True
    size = 100 * 1024 * 1024 // 8  # 100 MiB blocks, far above glibc's mmap threshold

    def work():
        for _ in range(5):
            np.ones(size).sum()

    work()  # the heap grows once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    work()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # glibc's defaults map every block afresh: about 4,000 faults for these ten blocks
    # on the project's machine (more without transparent huge pages).
    assert faults < 200


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="glibc only",
)
def test_environment_variables_give_the_same_reuse_to_other_programs():
    """What the benchmarks give native PyTorch: the settings without importing seq2seq."""
    import os
    import subprocess

    program = (
        "import resource, threading, numpy as np\n"
        "size = 100 * 1024 * 1024 // 8\n"
        "def work():\n"
        "    for _ in range(5): np.ones(size).sum()\n"
        "work()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "t = threading.Thread(target=work); t.start(); t.join(); work()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    env = {**os.environ, **allocator.glibc_environment()}
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert int(out.stdout) < 200
