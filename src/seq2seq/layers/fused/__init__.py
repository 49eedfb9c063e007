"""Fused recurrences: a whole sequence in one backend function, or a decline.

As Keras' `backend.lstm` and `backend.gru`: each function here runs the active
backend's implementation, picked once at import, which raises `NotImplementedError`
where it has none or where it does not apply (a dtype, a mask, `unroll`...). The caller
then runs its generic `keras.ops` loop, which computes the same numbers. A cell names
its recurrence (`LSTMCell.recurrence == "lstm"`) and gives its weights
(`fused_weights`); layers call `run` with them and never look at the backend.

The implementations, each a module that can be read on its own:

- `jax_rnn` (JAX): float32 LSTM over inputs already projected, through `jax_lstm`'s
  custom VJP (native loops on the CPU); GRU, bfloat16 LSTM and float32 LSTM from 256
  units over inputs not projected, masked or not, on oneDNN (`jax_onednn`, where
  `seq2seq.native.onednn` loads); the decoders' loops (teacher-forced and free-running)
  with their kernels' gradients after them (`scan_deferring_kernels`); bfloat16
  products on oneDNN (`matmul`) and the attention's energy recomputed in the backward
  pass (`recomputed`).
- `torch_rnn` (PyTorch): LSTM and GRU in `torch._VF.lstm` and `torch._VF.gru`, over
  inputs not yet projected; `scan` splits each scanned tensor once (its gradient one
  stack, not a zero-filled tensor per step); the decoders' loops with their kernels'
  gradients after them (`scan_deferring_kernels`, float32); `matmul` is `torch.matmul`
  without Keras' dtype handling around it; `recomputed` declines; `step` and
  `attention`, a cell's and the attention's step in float32, run in PyTorch's own
  operations.
- `tf_rnn` (TensorFlow): in training, float32 LSTM and GRU over inputs not projected
  and not masked on oneDNN (`tf_onednn`, the same kernels as JAX's, through a NumPy
  function); other float32 LSTMs, projected inputs or not, in its own loop with its
  backward loop written out and the recurrent kernel's gradient after it; `matmul`
  in a loop's step, whose backward multiplies by the kernel's transpose taken once
  before the loop; `scan` is a loop XLA can differentiate, so a TensorFlow model can
  train XLA-compiled (`compile(jit_compile=True)`).
- JAX and TensorFlow decline `step` and `attention`: their loops are traced once.
- NumPy: none, every call declines and `scan` is `keras.ops.scan`.

Set `ENABLED = False` to decline everything: the tests compare both paths that way.
"""

import importlib

import keras

ENABLED = True

_MODULES = {"jax": "jax_rnn", "tensorflow": "tf_rnn", "torch": "torch_rnn"}
_module = _MODULES.get(keras.backend.backend())
_backend = importlib.import_module(f"{__name__}.{_module}") if _module else None


def _implementation():
    """The backend's module, or `NotImplementedError` where there is none (or all is off)."""
    if not ENABLED or _backend is None:
        raise NotImplementedError
    return _backend


def lstm(
    inputs,
    initial_state,
    recurrent_kernel,
    kernel=None,
    bias=None,
    mask=None,
    go_backwards=False,
    unroll=False,
    length=None,
):
    """Runs an LSTM (`LSTMCell`'s maths) over a whole sequence in one fused call.

    Args:
        inputs: With `kernel`, the layer's `(batch, time, features)` inputs. Without,
            the inputs already projected (`x @ kernel + bias`): time-major
            `(time, batch, 4 * units)`, or `(batch, 4 * units)`, the input of each of
            `length` steps.
        initial_state: `[h, c]`, each `(batch, units)`.
        recurrent_kernel: `(units, 4 * units)`, in the dtype the step multiplies in.
        kernel: `(features, 4 * units)`, or None for projected inputs.
        bias: `(4 * units,)`, or None for projected inputs.
        mask: Optional boolean `(batch, time)`; False marks padding. A padded step keeps
            the state and outputs zeros.
        go_backwards: Process from the last step; outputs keep input order.
        unroll: Unroll the loop.
        length: Number of steps when `inputs` is one step's projected input.

    Returns:
        `(final_states, outputs)`: `[h, c]`, and `(batch, time, units)` outputs for
        `inputs` not projected, time-major `(time, batch, units)` for projected ones.

    Raises:
        NotImplementedError: Where the backend has no fused LSTM for these arguments.
    """
    return _implementation().lstm(
        inputs,
        initial_state,
        recurrent_kernel,
        kernel=kernel,
        bias=bias,
        mask=mask,
        go_backwards=go_backwards,
        unroll=unroll,
        length=length,
    )


def gru(
    inputs,
    initial_state,
    recurrent_kernel,
    recurrent_bias,
    kernel=None,
    bias=None,
    mask=None,
    go_backwards=False,
    unroll=False,
    length=None,
):
    """Runs a GRU (`GRUCell`'s maths, reset after the product) in one fused call.

    Arguments and result as `lstm`'s, with `3 * units` gate columns, `initial_state`
    `[h]` and the cell's `recurrent_bias` `(3 * units,)`.

    Raises:
        NotImplementedError: Where the backend has no fused GRU for these arguments.
    """
    return _implementation().gru(
        inputs,
        initial_state,
        recurrent_kernel,
        recurrent_bias,
        kernel=kernel,
        bias=bias,
        mask=mask,
        go_backwards=go_backwards,
        unroll=unroll,
        length=length,
    )


def run(recurrence, inputs, initial_state, **kwargs):
    """Runs the fused recurrence a cell names (`cell.recurrence`), `lstm` or `gru`.

    `kwargs` are that function's; a cell without a fused recurrence (None) declines.
    """
    if recurrence == "lstm":
        return lstm(inputs, initial_state, **kwargs)
    if recurrence == "gru":
        return gru(inputs, initial_state, **kwargs)
    raise NotImplementedError


def step(recurrence, projected, states, recurrent_kernel, recurrent_bias=None):
    """One step of the cell a recurrence names (`"lstm"`, `"gru"`), from its input
    already projected: the new states, as `LSTMCell.step` and `GRUCell.step` compute them.

    For a loop that runs its step in Python (PyTorch's), where each `keras.ops` call
    costs several times a small operation's own time: the backend runs the step's
    operations itself. Backends whose loops are traced once decline.

    Args:
        recurrence: `"lstm"` or `"gru"`.
        projected: `(batch, gates * units)` projected input, `x @ kernel + bias`.
        states: `[h, c]` (LSTM) or `[h]` (GRU), each `(batch, units)`.
        recurrent_kernel: `(units, gates * units)`, a variable or a tensor.
        recurrent_bias: The GRU's `(3 * units,)` recurrent bias.

    Returns:
        `[h, c]` or `[h]`.

    Raises:
        NotImplementedError: Where the backend has no such step for these arguments.
    """
    return _implementation().step(recurrence, projected, states, recurrent_kernel, recurrent_bias)


def attention(query, keys, memory, mask, query_kernel, score_vector):
    """One step of `BahdanauAttention`, from its keys: `(context, weights)`.

    `softmax_j(v . tanh(keys_j + query @ W_s))` over the memory's positions, padding
    (`mask` False) at zero weight, and the weighted sum of `memory`. As `step`, for a
    loop that runs its step in Python; backends whose loops are traced once decline.

    Raises:
        NotImplementedError: Where the backend has no such step for these arguments.
    """
    return _implementation().attention(query, keys, memory, mask, query_kernel, score_vector)


def runs_projected(recurrence, dtype) -> bool:
    """Whether `recurrence` (`"lstm"`, `"gru"`) takes projected inputs of `dtype` here.

    Known before any array exists, for a caller that must choose its algorithm before
    it can make the call (`Decoder._linear_feedback` computes a first step ahead of the
    loop); others just call and catch `NotImplementedError`.
    """
    return ENABLED and _backend is not None and _backend.runs_projected(recurrence, dtype)


def matmul(a, b, dtype):
    """`a @ b` as `dtype`: the product of a step's operands, already in the compute dtype.

    Where the backend has a faster product for these operands (JAX: bfloat16 ones on
    oneDNN where the CPU has it, else XLA's, accumulated in float32 and not rounded to
    bfloat16 before the cast), it runs there; otherwise `keras.ops.matmul` then a cast,
    the same numbers up to that rounding. Never declines: this is for the products
    inside a step, called on every backend.

    Args:
        a: `(..., k)`.
        b: `(k, n)`, `a`'s dtype.
        dtype: The result's dtype.
    """
    if ENABLED and _backend is not None:
        try:
            return keras.ops.cast(_backend.matmul(a, b), dtype)
        except NotImplementedError:
            pass
    return keras.ops.cast(keras.ops.matmul(a, b), dtype)


def dense(layer, inputs, dtype):
    """A `keras.layers.Dense` on `inputs` as `dtype`, its product through `matmul`.

    Under `mixed_bfloat16` the product takes bfloat16 operands (on oneDNN where the
    backend has it) and its result is not rounded to bfloat16: the output layers' logits,
    which a float32 softmax reads. A quantized or LoRA layer runs as it is, then is cast.

    Args:
        layer: A built `Dense` layer.
        inputs: `(..., layer's input dim)`.
        dtype: The result's dtype.
    """
    if layer.quantization_mode is not None or layer.lora_enabled:
        return keras.ops.cast(layer(inputs), dtype)
    compute = layer.compute_dtype
    kernel = keras.ops.cast(layer.kernel, compute)
    product = matmul(keras.ops.cast(inputs, compute), kernel, dtype)
    if layer.use_bias:
        product = product + keras.ops.cast(layer.bias, dtype)
    return layer.activation(product)


def recomputed(function):
    """`function`, whose intermediate values the backward pass computes again instead
    of keeping them (JAX: `jax.checkpoint`), or `function` itself where the backend does
    not do that.

    For a small function of a loop step whose intermediates are large (the attention's
    `(batch, in_len, units)` energy): a loop keeps them for every step, and writing and
    reading them back costs more than computing them again.
    """
    if ENABLED and _backend is not None:
        try:
            return _backend.recomputed(function)
        except NotImplementedError:
            pass
    return function


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`keras.ops.scan`, as the backend's own loop where it has one (TensorFlow: a loop
    that XLA can differentiate, `tf_rnn.scan`; PyTorch: `torch_rnn.scan`, a cheaper
    gradient); the same numbers either way.

    Never declines, and does not depend on `ENABLED`: a TensorFlow model compiled with
    XLA needs this loop to train at all (XLA cannot differentiate Keras' own). Arguments
    and result as `keras.ops.scan`'s.
    """
    own = getattr(_backend, "scan", None)
    if own is not None:
        return own(f, init, xs, length=length, reverse=reverse, unroll=unroll)
    return keras.ops.scan(f, init, xs, length=length, reverse=reverse, unroll=unroll)


def scan_deferring_kernels(body, init, xs, kernels, unroll=1):
    """`lax.scan`-like loop whose kernels get their gradient after the loop.

    For loops whose step adds `a_k @ kernels[k]` to the step's input `xs_t` (a gate
    pre-activation: the teacher-forced decoder's recurrent and context kernels). The
    cotangent of `xs_t` is then also that of every product, so each kernel's gradient
    is `A_k^T @ d_xs` over all steps at once, instead of a small matrix multiply and an
    accumulation inside every backward step. Everything else `body` uses (closed-over
    weights, the attention memory) is differentiated as usual.

    Args:
        body: `body(kernels, carry, x_t) -> (carry, y_t, operands)`, with `operands[k]`
            the left operand `a_k` of `kernels[k]` at this step.
        init: Initial carry.
        xs: `(time, batch, features)` inputs; `a_k @ kernels[k]` is added to `xs_t`.
        kernels: Tuple of `(in_k, features)` matrices.
        unroll: Scan unroll factor.

    Returns:
        `(final_carry, ys)` as `keras.ops.scan` returns them.

    Raises:
        NotImplementedError: Where the backend has no such loop (JAX: float32 or
            bfloat16 kernels; PyTorch: float32 kernels; TensorFlow and NumPy: none).
    """
    return _implementation().scan_deferring_kernels(body, init, xs, kernels, unroll)
