"""Shared pytest setup: JAX by default, a fixed random seed and a fresh Keras session per test."""

import atexit
import os
import shutil
import tempfile

import pytest

# The tests' tensors are tiny: single-threaded XLA CPU kernels avoid thread-pool waits
# when the machine's few cores are busy. Set before JAX loads; a user's flags win.
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

# JAX's persistent compilation cache, fresh for each session and shared with the
# command-line runs the tests start as subprocesses: the tests build the same small
# models again and again, and a compiled step is reused instead of compiled anew
# (tests/cli/test_resume.py and test_task_pipelines.py: 255 s against 387 s). A user's
# own cache directory wins. Read by JAX when it loads, so set before Keras imports it.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="seq2seq-tests-jax-cache-")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

# `import seq2seq` must come before Keras so that JAX is the default backend.
import seq2seq  # noqa: F401

# isort: split
import keras

SEED = 1337

if keras.backend.backend() == "torch":
    import torch

    # The tests' tensors are tiny: one thread avoids thread-pool waits that make each
    # op ten times slower when the machine's few cores are busy.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _deterministic_keras():
    """Starts each test from a fresh Keras session (layer names) and seeds Python, NumPy
    and the backend. `free_memory=False` skips a full garbage collection per test."""
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(SEED)


@pytest.fixture
def keras_path(tmp_path):
    """A `.keras` file path under pytest's `tmp_path`, as a `str` (what every backend accepts)."""
    return os.fspath(tmp_path / "model.keras")


@pytest.fixture
def op_by_op():
    """On JAX, runs `keras.ops.scan` loops op by op instead of compiling them.

    Every eager call of a layer that holds a `keras.ops.scan` compiles its loop on JAX
    (about half a second on two cores), so tests that make dozens of small eager calls
    to check maths use this fixture. The compiled path is covered by the model tests,
    which `fit` and `predict` under `jit`. Other backends run eagerly anyway.
    """
    if keras.backend.backend() != "jax":
        yield
        return
    import jax

    with jax.disable_jit():
        yield
