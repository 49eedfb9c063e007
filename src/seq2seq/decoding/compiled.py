"""Compiled generation functions, cached per model: `jax.jit` on JAX, `tf.function` on
TensorFlow, plain calls on PyTorch.

The only backend-specific code of `seq2seq.decoding`. A generation function
`fn(x, seed) -> dict of tensors` reads the model's variables; on JAX it is
compiled as a pure function of the variable values, and on TensorFlow the graph reads
the variables themselves, so a cached function keeps working after the weights change
(training, `load_weights`). PyTorch, and `compiled=False`, call `fn` as it is (the
generic fallback); all give the same results (tests/decoding/test_compiled.py). No path
changes any variable.

On a CPU JAX compiles generation without XLA's YNNPACK fusions (`compiler_options`):
they made the attention model's generation slower (1,024 sequences, hidden 256, without
them: on AVX2 beam 5 1.6-1.8x and greedy GRU 1.3x faster, greedy LSTM level; on AVX-512
beam 5 1.1-1.3x and greedy 1.1-1.3x faster, greedy GRU level; docs/benchmarks.md),
while training keeps them (it is faster with them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any

import keras

GenerateFn = Callable[[Any, Any], dict]
_CACHE_ATTRIBUTE = "_seq2seq_generate_cache"


def cached_function(
    model: keras.Model,
    key: Hashable,
    build: Callable[[], GenerateFn],
    compiled: bool = True,
    xla: bool = True,
) -> GenerateFn:
    """Returns the generation function for `key`, built and compiled on first use.

    Args:
        model: The model whose variables the function reads.
        key: Hashable description of everything `build` depends on except the
            input shapes (JAX compiles once per input shape by itself).
        build: Makes the plain function `fn(x, seed)`.
        compiled: False returns the plain function (the generic fallback).
        xla: On TensorFlow, compile with XLA (`jit_compile=True`); False for functions
            that draw random numbers, which XLA draws differently from TensorFlow's own
            kernels for the same seed (the graph then matches the generic path).

    Returns:
        A function `fn(x, seed)` returning a dict of backend tensors.
    """
    if not compiled:
        return _generic(build())
    cache = model.__dict__.get(_CACHE_ATTRIBUTE)
    if cache is None:
        cache = {}
        # Bypass Keras' attribute tracking: the cache is not part of the model's state.
        object.__setattr__(model, _CACHE_ATTRIBUTE, cache)
    if key not in cache:
        cache[key] = _compile(model, build(), xla)
    return cache[key]


def _compile(model: keras.Model, fn: GenerateFn, xla: bool) -> GenerateFn:
    if keras.config.backend() == "jax":
        return _jax_compile(model, fn)
    if keras.config.backend() == "tensorflow":
        return _tf_compile(fn, xla)
    return _generic(fn)


def _generic(fn: GenerateFn) -> GenerateFn:
    def call(x, seed):
        # Generation changes no variable (a stateful encoder keeps its carried states).
        with keras.StatelessScope():
            return fn(x, seed)

    return call


def _jax_compile(model: keras.Model, fn: GenerateFn) -> GenerateFn:
    import jax

    def stateless(trainable, non_trainable, x, seed):
        mapping = list(zip(model.trainable_variables, trainable)) + list(
            zip(model.non_trainable_variables, non_trainable)
        )
        with keras.StatelessScope(state_mapping=mapping):
            return fn(x, seed)

    jitted = jax.jit(stateless, compiler_options=compiler_options())

    def call(x, seed):
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        return jitted(trainable, non_trainable, x, seed)

    return call


_NO_YNN_FUSIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


def compiler_options() -> dict | None:
    """XLA's options for JAX's generation functions: without YNNPACK fusions on a CPU
    (see above), else None (XLA's defaults)."""
    from seq2seq import hardware

    if hardware.accelerated() or not _option_known():
        return None
    return dict(_NO_YNN_FUSIONS)


@functools.lru_cache(maxsize=1)
def _option_known() -> bool:
    """Whether this jaxlib's XLA has the option (experimental: a later one may not)."""
    import jax

    try:
        jax.jit(lambda: 0, compiler_options=_NO_YNN_FUSIONS).lower().compile()
    except jax.errors.JaxRuntimeError:
        return False
    return True


def _tf_compile(fn: GenerateFn, xla: bool) -> GenerateFn:
    import tensorflow as tf

    # One graph per input shape (the batches of a call share one); the loops are
    # already Keras ops (`while_loop`), so AutoGraph has nothing to convert.
    return tf.function(_generic(fn), autograph=False, jit_compile=xla)
