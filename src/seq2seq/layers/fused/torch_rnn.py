"""The fused recurrences on the PyTorch backend (see `seq2seq.layers.fused`).

On the PyTorch backend a `keras.ops.scan` recurrence is a Python loop: one round of
dispatch and autograd bookkeeping per step. `torch._VF.lstm` and `torch._VF.gru`, the
functions behind `torch.nn.LSTM` and `torch.nn.GRU`, run the same recurrence in C++ (on
the CPU, LSTM through oneDNN where PyTorch has it). `lstm` and `gru` map the cell's
Keras weights to PyTorch's layout (LSTM gates i, f, c, o are PyTorch's i, f, g, o; GRU's
z, r, n become r, z, n, and the cell's `recurrent_bias` is PyTorch's `b_hh`), and the
gradients reach the Keras variables through PyTorch's autograd.

They decline (`NotImplementedError`) inputs already projected (PyTorch's kernels
project the inputs themselves), a device other than the CPU, a dtype other than
float32 (mixed precision included), `unroll`, and a mask that is not right padding
with at least one step per row. Right-padded rows run as a packed sequence, so padded
steps keep the state and output zeros, as in `run_steps`; `go_backwards` runs each
row's real steps from its last one.

Under `torch.compile` (`compile(jit_compile=True)` on this backend), PyTorch's compiler
cannot lower the oneDNN layer that `torch._VF.lstm` runs on the CPU: `lstm` runs it
outside the graph (`torch.compiler.disable`), in eager mode between the compiled pieces.
There it declines an input repeated at every step (a view with no stride in time, as
SimpleSeq2Seq's decoder reads) of more than one feature: the kernel would multiply it at
every step, where the caller's compiled loop projects it once. `scan_deferring_kernels`
declines while it traces (the compiler fails on `_KernelGradients`' side channel), and it
compiles the `keras.ops` fallback instead.

`scan` is `keras.ops.scan`'s Python loop with each scanned tensor split once
(`torch.unbind`). Keras' loop indexes the tensor at every step, and the gradient of each
index is a zero-filled tensor of the whole sequence's size, added to the others: for the
decoders' loops over 20 steps, 20 such tensors of `(time, batch, 4 * units)` a training
step.
"""

import torch
from keras import tree
from torch.nn.utils import rnn


def runs_projected(recurrence, dtype) -> bool:
    """Whether `lstm` or `gru` (`recurrence`) runs projected inputs of `dtype`: never."""
    return False


def matmul(a, b):
    """`torch.matmul` itself, for two tensors of one floating dtype (declines others).

    The same product as `keras.ops.matmul`, without Keras' dtype handling around it,
    which costs about ten times a small product's own call, at every step of a loop.
    """
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        raise NotImplementedError
    if a.dtype != b.dtype or not a.dtype.is_floating_point:
        raise NotImplementedError
    return torch.matmul(a, b)


def step(recurrence, projected, states, recurrent_kernel, recurrent_bias=None):
    """The cell's step in PyTorch's own operations: float32 CPU tensors only.

    The same maths as `LSTMCell.step` (gates i, f, c, o) and `GRUCell.step` (z, r, n,
    the reset gate after the product); a Python loop calls it at every step, where the
    `keras.ops` version costs about ten times each small operation's own call.
    """
    projected, kernel, h, *rest = _floats(projected, recurrent_kernel, *states)
    if recurrence == "lstm":
        (c,) = rest
        i, f, g, o = torch.addmm(projected, h, kernel).chunk(4, dim=-1)
        c = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
        return [torch.sigmoid(o) * torch.tanh(c), c]
    if recurrence == "gru":
        (bias,) = _floats(recurrent_bias)
        x_z, x_r, x_n = projected.chunk(3, dim=-1)
        h_z, h_r, h_n = torch.addmm(bias, h, kernel).chunk(3, dim=-1)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(torch.addcmul(x_n, torch.sigmoid(x_r + h_r), h_n))
        return [z * h + (1.0 - z) * n]
    raise NotImplementedError


def attention(query, keys, memory, mask, query_kernel, score_vector):
    """`BahdanauAttention`'s step in PyTorch's own operations: float32 CPU tensors only."""
    query, keys, memory, kernel, vector = _floats(query, keys, memory, query_kernel, score_vector)
    energy = torch.tanh(keys + torch.matmul(query, kernel).unsqueeze(1))
    scores = torch.matmul(energy, vector)  # (batch, in_len)
    if mask is not None:
        scores = torch.where(torch.as_tensor(mask).to(torch.bool), scores, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


def _floats(*values):
    """`values` as float32 CPU tensors (a Keras variable as its tensor), or
    `NotImplementedError` for anything else (bfloat16 under a mixed policy, NumPy)."""
    tensors = [getattr(v, "value", v) for v in values]
    for t in tensors:
        if not isinstance(t, torch.Tensor) or t.dtype != torch.float32 or t.device.type != "cpu":
            raise NotImplementedError
    return tensors


def recomputed(function):
    """Declines: PyTorch's loop is a Python loop, which recomputing would only slow."""
    raise NotImplementedError


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
    weights = (kernel, recurrent_kernel, bias)
    inputs, states, lengths = _accepted(inputs, initial_state, weights, mask, unroll, length)
    if torch.compiler.is_compiling() and inputs.stride(1) == 0 and inputs.shape[-1] > 1:
        # Compiled, SimpleSeq2Seq trained 0.93x hand-written PyTorch with its decoder's
        # repeated input on the kernel and 1.09x on the loop (medians of five rounds);
        # Seq2Seq's one zero feature costs nothing to multiply, and the kernel is ahead
        # (docs/benchmarks.md).
        raise NotImplementedError
    return _eager_lstm(inputs, states, kernel, recurrent_kernel, bias, lengths, go_backwards)


@torch.compiler.disable
def _eager_lstm(inputs, states, kernel, recurrent_kernel, bias, lengths, go_backwards):
    """`torch._VF.lstm` over `inputs`, outside `torch.compile`'s graph when it traces.

    PyTorch's compiler cannot lower the oneDNN layer that `torch._VF.lstm` runs on the
    CPU; the compiled step calls this in eager mode, between its compiled pieces.
    """
    weights = [_rows(kernel), _rows(recurrent_kernel), bias, torch.zeros_like(bias)]
    hidden = tuple(s[None] for s in states)
    return _sequence(torch._VF.lstm, inputs, hidden, weights, lengths, go_backwards)


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
    weights = (kernel, recurrent_kernel, bias, recurrent_bias)
    inputs, states, lengths = _accepted(inputs, initial_state, weights, mask, unroll, length)

    weights = [
        _rows(kernel, (1, 0, 2)),
        _rows(recurrent_kernel, (1, 0, 2)),
        _reordered(bias, (1, 0, 2)),
        _reordered(recurrent_bias, (1, 0, 2)),
    ]
    return _sequence(torch._VF.gru, inputs, states[0][None], weights, lengths, go_backwards)


def _reordered(w, order):
    """`w`'s gate blocks along its last axis in `order` (Keras' GRU z, r, n -> r, z, n)."""
    blocks = torch.chunk(w, len(order), dim=-1)
    return torch.cat([blocks[i] for i in order], dim=-1)


def _rows(kernel, order=None):
    """A Keras kernel `(inputs, gates)` in PyTorch's layout: `(gates, inputs)`, contiguous,
    its gate blocks in `order` (None: as they are).

    Contiguous, not a transposed view: PyTorch's recurrence multiplies by the weight's
    transpose, and for a transposed view its backward takes each step's weight gradient as
    `h^T dz` rather than `(dz^T h)^T`, about 2.5 times slower a step at `(64, 256)` by
    `(64, 768)` (docs/benchmarks.md).
    """
    if order is None:
        return kernel.T.contiguous()
    blocks = torch.chunk(kernel, len(order), dim=-1)
    return torch.cat([blocks[i].T for i in order])


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`keras.ops.scan`'s semantics (as `jax.lax.scan`'s), each of `xs` unbound once.

    `unroll` is accepted and ignored: the loop runs in Python either way.
    """
    xs_flat = [] if xs is None else [torch.as_tensor(x) for x in tree.flatten(xs)]
    steps = int(length) if not xs_flat else xs_flat[0].shape[0]
    slices = [torch.unbind(x) for x in xs_flat]
    carry, ys = init, []
    for i in reversed(range(steps)) if reverse else range(steps):
        x_t = tree.pack_sequence_as(xs, [s[i] for s in slices]) if xs_flat else None
        carry, y = f(carry, x_t)
        ys.append(y)
    if reverse:
        ys.reverse()
    if all(y is None for y in ys):  # no outputs, as `jax.lax.scan` returns them
        return carry, None
    return carry, tree.map_structure(lambda *y: torch.stack(y), *ys)


def scan_deferring_kernels(body, init, xs, kernels, unroll=1):
    """`scan` whose steps multiply by the kernels detached; each kernel's gradient is
    one product after the loop, `A_k^T d_xs`, through `_KernelGradients` on `xs`.

    Float32 kernels only.
    """
    kernels = tuple(torch.as_tensor(k) for k in kernels)
    if torch.compiler.is_compiling() or any(k.dtype != torch.float32 for k in kernels):
        raise NotImplementedError
    detached = tuple(k.detach() for k in kernels)
    operands = []  # each step's left operands, read by the backward pass
    tracked = _KernelGradients.apply(operands, torch.as_tensor(xs), *kernels)

    def step(carry, x_t):
        carry, y, step_operands = body(detached, carry, x_t)
        operands.append(tuple(a.detach() for a in step_operands))
        return carry, y

    return scan(step, init, tracked)


class _KernelGradients(torch.autograd.Function):
    """The identity on a loop's `xs`, whose backward also gives the loop's kernels their
    gradients: `sum_t a_{k,t}^T d_xs_t` for kernel `k`, from the left operands `a` that
    the loop appends to `operands` after this call (the steps multiply by the kernels
    detached, so no step accumulates a kernel gradient of its own)."""

    @staticmethod
    def forward(ctx, operands, xs, *kernels):
        ctx.operands = operands
        return xs.view_as(xs)

    @staticmethod
    def backward(ctx, d_xs):
        rows = d_xs.reshape(-1, d_xs.shape[-1])
        stacked = [torch.stack(step) for step in zip(*ctx.operands)]
        d_kernels = [a.reshape(-1, a.shape[-1]).T @ rows for a in stacked]
        return (None, d_xs, *d_kernels)


def _accepted(inputs, initial_state, weights, mask, unroll, length):
    """`(inputs, states, lengths)` as tensors, the rows' lengths None without padding.

    Raises `NotImplementedError` where `lstm` and `gru` decline.
    """
    if weights[0] is None or length is not None or unroll:
        raise NotImplementedError
    inputs = torch.as_tensor(inputs)
    states = [torch.as_tensor(s) for s in initial_state]
    tensors = [inputs, *states, *(torch.as_tensor(w) for w in weights)]
    if inputs.device.type != "cpu" or any(t.dtype != torch.float32 for t in tensors):
        raise NotImplementedError
    steps = inputs.shape[1]
    if not steps:
        raise NotImplementedError
    lengths = None if mask is None else _lengths(mask, steps)
    return inputs, states, lengths


def _lengths(mask, steps):
    """Row lengths (CPU int64) of a right-padding mask, or None for no padding at all.

    Raises `NotImplementedError` when the mask is not right padding or a row is empty.
    """
    mask = torch.as_tensor(mask).to(torch.bool)
    lengths = mask.sum(dim=1)
    prefix = torch.arange(steps, device=mask.device)[None, :] < lengths[:, None]
    if not bool(torch.equal(prefix, mask)) or bool((lengths == 0).any()):
        raise NotImplementedError
    lengths = lengths.cpu()
    if bool((lengths == steps).all()):
        return None
    return lengths


def _reversed_rows(x, lengths):
    """Each row's first `lengths[b]` steps in reverse order, padding kept in place.

    Its own inverse. `x` is `(batch, time, features)`.
    """
    steps = x.shape[1]
    t = torch.arange(steps)[None, :]
    lengths = lengths[:, None]
    index = torch.where(t < lengths, lengths - 1 - t, t).to(x.device)  # (batch, time)
    return torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))


def _sequence(run, inputs, hidden, weights, lengths, reverse):
    """Runs `torch._VF.lstm` or `gru` (`run`) over batch-major `inputs`.

    `hidden` is `(h, c)` (LSTM) or `h` (GRU), each `(1, batch, units)`. Returns
    `(final_states, outputs)` with outputs `(batch, time, units)`, zeros at padded steps.
    """
    pair = isinstance(hidden, tuple)
    options = (True, 1, 0.0, torch.is_grad_enabled(), False)  # bias, layers, dropout, train, bi
    if lengths is None:
        x = torch.flip(inputs, (1,)) if reverse else inputs
        outputs, *final = run(x, hidden, weights, *options, True)  # batch_first
        if reverse:
            outputs = torch.flip(outputs, (1,))
        return [s[0] for s in final], outputs

    steps = inputs.shape[1]
    x = _reversed_rows(inputs, lengths) if reverse else inputs
    packed = rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    if pair:
        hidden = tuple(h.index_select(1, packed.sorted_indices) for h in hidden)
    else:
        hidden = hidden.index_select(1, packed.sorted_indices)
    data, *final = run(packed.data, packed.batch_sizes, hidden, weights, *options)
    outputs, _ = rnn.pad_packed_sequence(
        packed._replace(data=data), batch_first=True, total_length=steps
    )
    if reverse:
        outputs = _reversed_rows(outputs, lengths)
    return [s[0].index_select(0, packed.unsorted_indices) for s in final], outputs
