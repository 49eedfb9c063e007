"""PyTorch fast path for `Recurrent`: the whole sequence in PyTorch's own RNN kernels.

On the PyTorch backend a `keras.ops.scan` recurrence is a Python loop: one round of
dispatch and autograd bookkeeping per step. `torch._VF.lstm` and `torch._VF.gru`, the
functions behind `torch.nn.LSTM` and `torch.nn.GRU`, run the same recurrence in C++ (on
the CPU, LSTM through oneDNN where PyTorch has it). `sequence` maps the cell's Keras
weights to PyTorch's layout (LSTM gates i, f, c, o are PyTorch's i, f, g, o; GRU's
z, r, n become r, z, n, and the cell's `recurrent_bias` is PyTorch's `b_hh`), and the
gradients reach the Keras variables through PyTorch's autograd.

Like Keras' `backend.lstm`, `sequence` raises `NotImplementedError` where it does not
apply, and the layer falls back to `keras.ops`: another backend, a device other than
the CPU, a dtype other than float32 (mixed precision included), `unroll`, or a mask
that is not right padding with at least one step per row. Right-padded rows run as a
packed sequence, so padded steps keep the state and output zeros, as in `run_steps`;
`reverse` runs each row's real steps from its last one. Set `ENABLED = False` to
compare with the fallback (`tests/layers/test_torch_recurrence.py`).
"""

import keras

from seq2seq.layers.gru_cell import GRUCell
from seq2seq.layers.lstm_cell import LSTMCell

ENABLED = True


def _weights(cell):
    """PyTorch's `[w_ih, w_hh, b_ih, b_hh]` for `cell`, as differentiable views."""
    import torch

    kernel, recurrent, bias = (
        keras.ops.convert_to_tensor(v) for v in (cell.kernel, cell.recurrent_kernel, cell.bias)
    )
    if isinstance(cell, LSTMCell):
        return [kernel.T, recurrent.T, bias, torch.zeros_like(bias)]

    def reorder(w):  # Keras z, r, n -> PyTorch r, z, n, along the last axis
        z, r, n = torch.chunk(w, 3, dim=-1)
        return torch.cat([r, z, n], dim=-1)

    recurrent_bias = keras.ops.convert_to_tensor(cell.recurrent_bias)
    return [reorder(kernel).T, reorder(recurrent).T, reorder(bias), reorder(recurrent_bias)]


def _lengths(mask, steps):
    """Row lengths (CPU int64) of a right-padding mask, or None for no padding at all.

    Raises `NotImplementedError` when the mask is not right padding or a row is empty.
    """
    import torch

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
    import torch

    steps = x.shape[1]
    t = torch.arange(steps)[None, :]
    lengths = lengths[:, None]
    index = torch.where(t < lengths, lengths - 1 - t, t).to(x.device)  # (batch, time)
    return torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))


def sequence(cell, inputs, initial_state, mask=None, reverse=False, unroll=False):
    """Runs `cell` over `inputs` with `torch._VF.lstm` or `torch._VF.gru`.

    Args:
        cell: The layer's `LSTMCell` or `GRUCell`, built.
        inputs: `(batch, time, features)` tensor, not projected.
        initial_state: List of `(batch, units)` tensors (`[h, c]` or `[h]`).
        mask: Optional boolean `(batch, time)` tensor; False marks padding.
        reverse: Process each row from its last real step to its first; outputs keep
            input order.
        unroll: The layer's `unroll`; the fast path declines it.

    Returns:
        `(final_states, outputs)` with outputs `(batch, time, units)`, zeros at padded
        steps, as `run_steps` returns them (but batch-major).

    Raises:
        NotImplementedError: Where the fast path does not apply.
    """
    if not ENABLED or unroll or keras.backend.backend() != "torch":
        raise NotImplementedError
    if not isinstance(cell, (LSTMCell, GRUCell)):
        raise NotImplementedError
    if cell.compute_dtype != "float32" or cell.state_dtype != "float32":
        raise NotImplementedError
    import torch

    inputs = torch.as_tensor(inputs)
    states = [torch.as_tensor(s) for s in initial_state]
    if inputs.device.type != "cpu" or any(t.dtype != torch.float32 for t in [inputs, *states]):
        raise NotImplementedError
    steps = inputs.shape[1]
    if not steps:
        raise NotImplementedError
    lengths = None if mask is None else _lengths(mask, steps)
    lstm = isinstance(cell, LSTMCell)
    run = torch._VF.lstm if lstm else torch._VF.gru
    hidden = tuple(s[None] for s in states) if lstm else states[0][None]
    options = (True, 1, 0.0, torch.is_grad_enabled(), False)  # bias, layers, dropout, train, bi

    if lengths is None:
        x = torch.flip(inputs, (1,)) if reverse else inputs
        outputs, *final = run(x, hidden, _weights(cell), *options, True)  # batch_first
        if reverse:
            outputs = torch.flip(outputs, (1,))
        return [s[0] for s in final], outputs

    from torch.nn.utils import rnn

    x = _reversed_rows(inputs, lengths) if reverse else inputs
    packed = rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    if lstm:
        hidden = tuple(h.index_select(1, packed.sorted_indices) for h in hidden)
    else:
        hidden = hidden.index_select(1, packed.sorted_indices)
    data, *final = run(packed.data, packed.batch_sizes, hidden, _weights(cell), *options)
    outputs, _ = rnn.pad_packed_sequence(
        packed._replace(data=data), batch_first=True, total_length=steps
    )
    if reverse:
        outputs = _reversed_rows(outputs, lengths)
    return [s[0].index_select(0, packed.unsorted_indices) for s in final], outputs
