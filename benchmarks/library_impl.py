"""Adapter from the benchmark harness to the library's models (``seq2seq.models``).

* simple:    ``SimpleSeq2Seq(input_dim=32, input_length=T, hidden_dim=H, output_length=T,
             output_dim=32)``, ``compile(optimizer="adam", loss="mse")``, ``fit(x, y)``.
* seq2seq:   ``Seq2Seq(...same arguments...)`` (free-running feedback decoder), same compile.
* attention: ``AttentionSeq2Seq(input_vocab_size=40, output_vocab_size=40, embedding_dim=64,
             input_length=T, hidden_dim=H, output_length=T)``, ``compile(optimizer="adam")``
             with the model's default loss, ``fit([x, y], y)`` on token ids (teacher forcing).
* attention_real: ``AttentionSeq2Seq(input_dim=32, ..., output_dim=32, teacher_force=False)``
             (bidirectional concat encoder, tanh bridge, output layer reading ``[h; context]``,
             free-running feedback of real values), MSE, ``fit(x, y)``.
* every model takes ``cell="lstm"|"gru"`` and ``dtype="float32"|"mixed_bfloat16"`` (Keras'
  dtype policy: bfloat16 products, float32 weights, states and loss).
* generation: ``model.generate(x, strategy="greedy"|"beam", beam_width=5, max_length=T,
             batch_size=1024)``, the batch of the PyTorch reference.
* ``BENCH_DATA_PARALLEL=1`` (set by the harness for ``library_dp``): the model is built and
  trained under ``keras.distribution.DataParallel`` over all JAX devices.

If the library cannot be imported or built, :class:`LibraryUnavailable` is raised with the
reason, and the harness shows the row as "n/a".
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from benchmarks.common import (
    BATCH,
    BEAM_WIDTH,
    EMBEDDING,
    FEATURES,
    GEN_SEQUENCES,
    LENGTH,
    REPO_ROOT,
    TOKEN_MODELS,
    VOCAB,
    keras_fit_timing,
    keras_param_counts,
    synthetic_data,
)


class LibraryUnavailable(RuntimeError):
    """The library (or the model asked for) is not there yet."""


def _models():
    try:
        from seq2seq import models
    except ImportError:
        src = str(REPO_ROOT / "src")
        if src not in sys.path:
            sys.path.insert(0, src)
        for name in [m for m in sys.modules if m == "seq2seq" or m.startswith("seq2seq.")]:
            del sys.modules[name]
        try:
            from seq2seq import models
        except ImportError as exc:
            raise LibraryUnavailable(f"cannot import seq2seq.models: {exc}") from exc
    return models


CLASSES = {
    "simple": "SimpleSeq2Seq",
    "seq2seq": "Seq2Seq",
    "attention": "AttentionSeq2Seq",
    "attention_real": "AttentionSeq2Seq",
}


def build(
    model: str,
    hidden: int,
    length: int = LENGTH,
    cell: str = "lstm",
    precision: str = "float32",
):
    """Build and compile the library's model; raises :class:`LibraryUnavailable`."""
    models = _models()
    cls = getattr(models, CLASSES[model], None)
    if cls is None:
        raise LibraryUnavailable(f"seq2seq.models has no {CLASSES[model]}")
    common = {
        "input_length": length,
        "hidden_dim": hidden,
        "output_length": length,
        "cell": cell,
        "dtype": precision,
    }
    # BENCH_JIT_COMPILE=1 (the library_xla and library_compiled rows): XLA on TensorFlow and
    # torch.compile on PyTorch, where "auto" means neither.
    jit_compile = True if os.environ.get("BENCH_JIT_COMPILE") == "1" else "auto"
    if model in TOKEN_MODELS:
        net = cls(
            input_vocab_size=VOCAB, output_vocab_size=VOCAB, embedding_dim=EMBEDDING, **common
        )
        net.compile(optimizer="adam", jit_compile=jit_compile)
        return net
    if model == "attention_real":
        common["teacher_force"] = False
    net = cls(input_dim=FEATURES, output_dim=FEATURES, **common)
    net.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
    return net


def time_training(
    model: str,
    hidden: int,
    steps: int,
    warmup: int,
    batch: int = BATCH,
    length: int = LENGTH,
    cell: str = "lstm",
    precision: str = "float32",
) -> dict:
    import keras

    from seq2seq.commands.train import seed_everything

    seed_everything(0)  # keras.utils.set_random_seed would import TensorFlow
    if os.environ.get("BENCH_DATA_PARALLEL") == "1":
        if keras.backend.backend() != "jax":
            raise LibraryUnavailable("data parallelism on keras.distribution needs JAX")
        keras.distribution.set_distribution(keras.distribution.DataParallel())
    net = build(model, hidden, length, cell, precision)
    inputs, targets = synthetic_data(model, (warmup + steps) * batch, length)
    out = keras_fit_timing(net, inputs, targets, steps, warmup, batch)
    out.update(keras_param_counts(net))
    out["backend"] = keras.backend.backend()
    out["dtype_policy"] = net.dtype_policy.name
    if keras.distribution.distribution() is not None:
        out["data_parallel_devices"] = len(keras.distribution.list_devices())
    return out


def time_generation(
    hidden: int,
    strategy: str,
    n: int = GEN_SEQUENCES,
    length: int = LENGTH,
    beam_width: int = BEAM_WIDTH,
    batch: int = GEN_SEQUENCES,
    repeats: int = 1,
    cell: str = "lstm",
    precision: str = "float32",
) -> dict:
    """Times ``model.generate`` on ``n`` token sequences (untrained weights, one warm-up)."""
    import keras

    from seq2seq.commands.train import seed_everything

    seed_everything(0)  # keras.utils.set_random_seed would import TensorFlow
    net = build("attention", hidden, length, cell, precision)
    rng = np.random.default_rng(123)
    x = rng.integers(3, VOCAB, size=(n, length), dtype=np.int32)
    if not hasattr(net, "generate"):
        raise LibraryUnavailable("AttentionSeq2Seq has no generate()")
    # The same batch as the PyTorch reference (all 1,024 sequences at once by default).
    kwargs = {"strategy": strategy, "max_length": length, "batch_size": batch}
    if strategy == "beam":
        kwargs["beam_width"] = beam_width

    def run():
        return np.asarray(net.generate(x, **kwargs))

    run()  # warm-up (compilation)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    return {
        "elapsed_s": min(times),
        "elapsed_all_s": times,
        **keras_param_counts(net),
        "backend": keras.backend.backend(),
        "dtype_policy": net.dtype_policy.name,
        "output_shape": list(out.shape),
    }
