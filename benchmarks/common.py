"""Shared harness: FLOP counting, matmul peak, subprocess runs, medians, interleaving.

FLOP convention (documented here once, used for every "MFU" figure)
--------------------------------------------------------------------
Only matrix multiplies are counted; a ``(m x k) @ (k x n)`` product costs ``2*m*k*n``.
Elementwise work (gate nonlinearities, softmax, tanh of the attention energies, losses,
optimizer updates) and embedding look-ups are not counted.  A training step costs
``3 x`` the forward count (forward + the two backward products: input gradient and
weight gradient), the usual convention; strictly, the first layer's input gradient is not
needed, so this slightly over-counts.  With batch ``B``, input length ``Ti``, output
length ``To``, feature size ``F``, hidden ``H``, vocabulary ``V``, embedding ``E`` and
``G`` gates (4 for LSTM, 3 for GRU), an RNN layer with input size ``D`` over ``T`` steps
costs ``2*B*T*(D+H)*G*H`` (input and recurrent projections).

* simple:   RNN(F->H, Ti) + Dense(H->H) + RNN(H->H, To) + To x Dense(H->F)
            (the decoder's input projection of the repeated vector is counted at every step,
            as every implementation computes it).
* seq2seq:  RNN(F->H, Ti) + Dense(H->F) [context] + To x (cell(F->H) + Dense(H->F)).
* attention: 2 x RNN(E->H, Ti) [bidirectional] + Dense(2H->H, Ti steps) [keys]
            + 2 x Dense(2H->H) [initial h, c; one for GRU]
            + To x ( Dense(H->H) [query] + Ti x Dense(H->1) [v] + Ti x 2H [context sum]
                     + cell(E+2H -> H) + Dense(3H->V) ).
* attention_real: as attention with F for E and for V (the fed-back output), plus
            Dense(2H->F) [start value]; nothing is embedded.

MFU = (train FLOPs per step x steps / seconds) / peak, where the peak is the best
2048x2048 matrix multiply rate measured in the same run in the row's precision: float32
(numpy and torch, all cores) for float32 rows, bfloat16 (torch, all cores) for
mixed_bfloat16 rows (``benchmarks/machine.py``).
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Benchmark settings from the issue.
BATCH = 64
LENGTH = 20
FEATURES = 32
VOCAB = 40
EMBEDDING = 64
GEN_SEQUENCES = 1024
BEAM_WIDTH = 5

MODELS = ("simple", "seq2seq", "attention", "attention_real")
TOKEN_MODELS = ("attention",)
BACKENDS = ("jax", "tensorflow", "torch")
CELLS = ("lstm", "gru")
PRECISIONS = ("float32", "mixed_bfloat16")


# --------------------------------------------------------------------------- FLOPs


def _mm(m: int, k: int, n: int) -> int:
    return 2 * m * k * n


def rnn_flops(batch: int, steps: int, d_in: int, hidden: int, cell: str = "lstm") -> int:
    gates = 4 if cell == "lstm" else 3
    return steps * _mm(batch, d_in + hidden, gates * hidden)


def forward_flops(
    model: str,
    hidden: int,
    batch: int = BATCH,
    length_in: int = LENGTH,
    length_out: int | None = None,
    features: int = FEATURES,
    vocab: int = VOCAB,
    embedding: int = EMBEDDING,
    cell: str = "lstm",
) -> int:
    """Matrix-multiply FLOPs of one forward pass over a batch (see module docstring)."""
    b, ti, h = batch, length_in, hidden
    to = length_in if length_out is None else length_out
    if model == "simple":
        return (
            rnn_flops(b, ti, features, h, cell)
            + _mm(b, h, h)
            + rnn_flops(b, to, h, h, cell)
            + to * _mm(b, h, features)
        )
    if model == "seq2seq":
        return (
            rnn_flops(b, ti, features, h, cell)
            + _mm(b, h, features)
            + rnn_flops(b, to, features, h, cell)
            + to * _mm(b, h, features)
        )
    if model in ("attention", "attention_real"):
        real = model == "attention_real"
        feed, out = (features, features) if real else (embedding, vocab)
        n_init = 2 if cell == "lstm" else 1
        encoder = 2 * rnn_flops(b, ti, feed, h, cell)
        keys = ti * _mm(b, 2 * h, h)
        init = n_init * _mm(b, 2 * h, h) + (_mm(b, 2 * h, features) if real else 0)
        per_step = (
            _mm(b, h, h)
            + ti * _mm(b, h, 1)
            + _mm(b, ti, 2 * h)
            + rnn_flops(b, 1, feed + 2 * h, h, cell)
            + _mm(b, 3 * h, out)
        )
        return encoder + keys + init + to * per_step
    raise ValueError(f"unknown model {model!r}")


def train_flops(model: str, hidden: int, **kw) -> int:
    """FLOPs of one training step: 3 x forward."""
    return 3 * forward_flops(model, hidden, **kw)


def default_steps(
    model: str,
    hidden: int,
    length: int = LENGTH,
    target_s: float = 2.0,
    assumed_gflops: float = 60.0,
    lo: int = 5,
    hi: int = 60,
) -> int:
    """Timed steps for a configuration: about ``target_s`` seconds at ``assumed_gflops``.

    Depends only on the configuration, never on the implementation, so every
    implementation runs the same number of steps for the same row.
    """
    f = train_flops(model, hidden, length_in=length, length_out=length)
    n = int(round(target_s * assumed_gflops * 1e9 / f))
    return max(lo, min(hi, n))


# --------------------------------------------------------------------------- memory


def keras_param_counts(model) -> dict:
    """Trainable and total parameter counts of a Keras model.

    The harness compares *trainable* counts with PyTorch (the library keeps a
    non-trainable scalar, ``sampling_probability``, that ``count_params()`` includes).
    """
    import numpy as np

    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return {"params": trainable, "params_total": int(model.count_params())}


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return None


def _cpu_times():
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]), idle


def cpu_busy_fraction(interval: float = 0.5) -> float | None:
    """Fraction of all cores busy over ``interval`` seconds (Linux ``/proc/stat``).

    Sampled while the harness itself is idle between measurements, so it measures
    competing processes.
    """
    try:
        t0, i0 = _cpu_times()
        time.sleep(interval)
        t1, i1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    total = t1 - t0
    return None if total <= 0 else 1.0 - (i1 - i0) / total


def wait_until_idle(max_wait_s: float, threshold: float = 0.2, log=None) -> float | None:
    """Wait (up to ``max_wait_s``) until other processes use < ``threshold`` of the CPU.

    Returns the last busy fraction seen.
    """
    busy = cpu_busy_fraction()
    deadline = time.perf_counter() + max_wait_s
    warned = False
    while busy is not None and busy >= threshold and time.perf_counter() < deadline:
        if log and not warned:
            log(f"  machine busy ({100 * busy:.0f}% CPU used by other processes); waiting...")
            warned = True
        time.sleep(2.0)
        busy = cpu_busy_fraction()
    return busy


def self_maxrss_mb() -> float:
    """Peak resident set size of this process so far (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- subprocesses


def run_subprocess(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 600.0
) -> dict:
    """Run ``python -m benchmarks.run_one ARGS`` in its own process.

    Returns the JSON dict the child printed last, with ``peak_rss_mb`` taken from the
    child's own ``rusage`` (``os.wait4``), ``wall_s`` and on failure ``ok: False`` and an
    ``error`` string.
    """
    full_env = dict(os.environ)
    full_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    full_env["PYTHONUNBUFFERED"] = "1"
    if env:
        full_env.update(env)
    cmd = [sys.executable, "-m", "benchmarks.run_one", *args]
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=full_env, stdout=out_f, stderr=err_f, start_new_session=True
        )
        status, usage, timed_out = None, None, False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.perf_counter() - t0 > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out_f.seek(0)
        err_f.seek(0)
        stdout = out_f.read().decode(errors="replace")
        stderr = err_f.read().decode(errors="replace")
    result = None
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                result = json.loads(line)
                break
            except ValueError:
                continue
    if result is None:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        if timed_out:
            tail = f"timed out after {timeout:.0f}s"
        result = {"ok": False, "error": f"exit {proc.returncode}: {tail}"[:300]}
    result["peak_rss_mb"] = usage.ru_maxrss / 1024.0
    result["wall_s"] = wall
    return result


# --------------------------------------------------------------------------- scheduling


def interleaved(jobs: list, repeats: int, seed: int = 0):
    """Yield ``(repeat, job)``: every job once per repeat, in a fresh order each repeat.

    Jobs stay grouped by their ``group`` key (same model and size) so that
    implementations compared in one row run close together in time; both the order of
    the groups and the order inside each group are reshuffled for every repeat, so
    slow drift of the machine does not always favour the same implementation.
    """
    groups: dict = {}
    for job in jobs:
        groups.setdefault(job["group"], []).append(job)
    keys = list(groups)
    for r in range(repeats):
        rng = random.Random(seed + r)
        order = keys[:]
        if r:
            rng.shuffle(order)
        for key in order:
            members = groups[key][:]
            rng.shuffle(members)
            for job in members:
                yield r, job


def summarize(values: list[float]) -> dict:
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


# --------------------------------------------------------------------------- Keras timing


def keras_fit_timing(model, x, y, steps: int, warmup: int, batch: int = BATCH) -> dict:
    """Time ``steps`` training batches of ``model.fit`` after ``warmup`` batches.

    One ``fit`` call over ``(warmup + steps) * batch`` samples (``shuffle=False``, one
    epoch).  A callback waits for the last warm-up batch's loss (so asynchronous
    dispatch cannot hide work) and starts the clock, and stops it when the last timed
    batch's loss is there: the window holds exactly ``steps`` steps with Keras' per-batch
    Python overhead, as the PyTorch reference's window holds its loop, and not the
    once-per-``fit`` work after the last batch (end of epoch, state written back to the
    variables), which a real epoch spreads over thousands of steps.
    The callback is marked ``async_safe`` so that, as in a plain ``fit``, Keras keeps
    dispatching steps while batch-end hooks wait for results.
    """
    import keras

    state = {}

    class _Clock(keras.callbacks.Callback):
        # Runs where Keras runs its own batch-end hooks: asynchronously on JAX, as in a
        # plain `fit` call. A callback without this flag would make Keras wait for every
        # step before dispatching the next, a cost that users of `fit` do not pay.
        async_safe = True

        def on_train_batch_end(self, batch_index, logs=None):
            if batch_index in (warmup - 1, warmup + steps - 1):
                if logs and "loss" in logs:
                    float(logs["loss"])
                state["t0" if batch_index == warmup - 1 else "t1"] = time.perf_counter()

    hist = model.fit(
        x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[_Clock()]
    )
    elapsed = state.get("t1", time.perf_counter()) - state["t0"]
    loss = hist.history.get("loss", [float("nan")])[-1]
    return {"elapsed_s": elapsed, "final_loss": float(loss)}


def synthetic_data(model: str, n: int, length: int, seed: int = 0):
    """Random training data: token ids `[x, y], y` for attention, else float `x, y`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if model in TOKEN_MODELS:
        x = rng.integers(3, VOCAB, size=(n, length), dtype=np.int32)
        y = rng.integers(3, VOCAB, size=(n, length), dtype=np.int32)
        return [x, y], y
    x = rng.standard_normal((n, length, FEATURES), dtype=np.float32)
    y = rng.standard_normal((n, length, FEATURES), dtype=np.float32)
    return x, y
