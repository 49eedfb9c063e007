"""The decoder's loops that are plain recurrences, run as fused ones (`seq2seq.layers.fused`).

Two of `Decoder`'s loops are an ordinary stacked LSTM or GRU in disguise:

- teacher forcing without attention: every layer's input at step `t` is known before
  the loop (the fed-back targets, a peeked context that is the same at every step, the
  layer below's outputs), so each layer is one fused recurrence over the whole sequence;
- free running with real values fed back through a linear output layer (one LSTM):
  the fed-back value folds into the recurrent kernel (`linear_feedback`).

Each backend takes either the inputs already projected (`fused.runs_projected`: JAX's
native loops) or the inputs themselves with the kernel (PyTorch's `nn.LSTM` kernels);
these functions build whichever the backend takes and raise `NotImplementedError`
where it takes neither, so that the decoder runs its step loop.
"""

from keras import ops

from seq2seq.layers import fused


def _run(cell, inputs, state, projected=None, extra=None):
    """One layer over a whole sequence: `(batch, time, units)` outputs.

    `inputs` is `(batch, time, features)`; `projected`, if given, is its projection
    `cell.project(...)` time-major, for backends that take projected inputs. `extra`, a
    `((batch, features'), (features', gates * units))` pair, is one more input that is
    the same at every step and its kernel rows (a peeked context).
    """
    if fused.runs_projected(cell.recurrence, cell.compute_dtype):
        if projected is None:
            projected = cell.project(ops.transpose(inputs, (1, 0, 2)))
        if extra is not None:
            context, kernel = extra
            product = fused.matmul(ops.cast(context, kernel.dtype), kernel, cell.state_dtype)
            projected = ops.cast(projected, cell.state_dtype) + product
        _, outputs = fused.run(
            cell.recurrence, projected, state, **cell.fused_weights(projected=True)
        )
        return ops.transpose(outputs, (1, 0, 2))  # (batch, time, units)
    if extra is not None:
        context = ops.expand_dims(ops.cast(extra[0], inputs.dtype), 1)
        context = ops.broadcast_to(
            context, (ops.shape(inputs)[0], ops.shape(inputs)[1], ops.shape(context)[-1])
        )
        inputs = ops.concatenate([inputs, context], axis=-1)  # the kernel's row order
    _, outputs = fused.run(cell.recurrence, inputs, state, **cell.fused_weights())
    return outputs


def teacher_readouts(decoder, teacher, projected, initial_states, bundle, masks):
    """The teacher-forced loop without attention, one fused recurrence per layer.

    Args:
        decoder: The `Decoder`.
        teacher: `(out_len, batch, feature_dim)` fed-back targets.
        projected: Their first-layer projection, `decoder.project_features(teacher)`.
        initial_states: List over layers of lists of `(batch, units)` tensors.
        bundle: The prepared bundle (`decoder.prepare`).
        masks: Dropout masks between layers (`decoder.dropout_masks`) or None.

    Returns:
        `(batch, out_len, units)` readouts: the top layer's outputs.

    Raises:
        NotImplementedError: With attention, with one state threaded through the stack
            (`inner_broadcast_state`), or where the backend declines.
    """
    if decoder.attention or (decoder.depth > 1 and decoder.inner_broadcast_state):
        raise NotImplementedError
    cells = decoder.cells
    extra = (bundle["context"], bundle["context_kernel"]) if decoder.peek else None
    outputs = _run(
        cells[0],
        ops.transpose(teacher, (1, 0, 2)),
        initial_states[0],
        projected=projected,
        extra=extra,
    )
    for k, cell in enumerate(cells[1:], start=1):
        inputs = outputs * ops.expand_dims(masks[k - 1], 1) if masks is not None else outputs
        outputs = _run(cell, inputs, initial_states[k])
    return outputs


def linear_feedback(decoder, bundle, initial_states, length, start):
    """Free running with a linear output layer fed back, as one fused LSTM.

    With `y_t = h_t W_o + b_o` fed back, step `t > 0` receives
    `y_{t-1} W_f + b = h_{t-1} (W_o W_f) + (b_o W_f + b)`: the recurrent kernel
    becomes `K + W_o W_f` and the input a constant (plus a peeked context's product), so
    the loop holds one matrix multiply per step and the outputs are one matrix multiply
    after it. Step 0 reads the start value as usual.

    Returns:
        `(batch, length, output_dim)` outputs.

    Raises:
        NotImplementedError: Where the backend declines.
    """
    cell = decoder.cells[0]
    kernel = ops.convert_to_tensor(cell.kernel)
    feature_kernel = kernel[: decoder.feature_dim]
    out_kernel = ops.convert_to_tensor(decoder.output_layer.kernel)
    out_bias = ops.convert_to_tensor(decoder.output_layer.bias)
    recurrent = ops.convert_to_tensor(cell.recurrent_kernel) + ops.matmul(
        out_kernel, feature_kernel
    )
    bias = ops.matmul(ops.expand_dims(out_bias, 0), feature_kernel)[0] + cell.bias
    # The loop runs in the variables' dtype: the context's kernel rows from the variable,
    # not the bundle's copy in the compute dtype.
    context_kernel = kernel[decoder.feature_dim :]
    context = 0.0
    if decoder.peek:
        context = ops.matmul(ops.cast(bundle["context"], kernel.dtype), context_kernel)
    first = decoder.project_features(start) + context
    batch = ops.shape(first)[0]
    unroll = decoder.unroll is True
    h, state = cell.step(first, initial_states[0])
    if fused.runs_projected("lstm", cell.compute_dtype):
        constant = ops.broadcast_to(bias + context, ops.shape(first))
        _, hs = fused.lstm(constant, state, recurrent, unroll=unroll, length=length - 1)
        hs = ops.transpose(hs, (1, 0, 2))  # (batch, length - 1, units)
    else:
        # The constant as an input the backend projects itself: the peeked context with
        # its kernel rows, or one zero feature.
        if decoder.peek:
            inputs, input_kernel = bundle["context"], context_kernel
        else:
            inputs = ops.zeros((batch, 1), dtype=first.dtype)
            input_kernel = ops.zeros((1, ops.shape(recurrent)[-1]), dtype=recurrent.dtype)
        inputs = ops.broadcast_to(
            ops.expand_dims(inputs, 1), (batch, length - 1, ops.shape(inputs)[-1])
        )
        _, hs = fused.lstm(inputs, state, recurrent, kernel=input_kernel, bias=bias, unroll=unroll)
    hs = ops.concatenate([ops.expand_dims(h, 1), hs], axis=1)  # (batch, length, units)
    return fused.dense(decoder.output_layer, hs, decoder.state_dtype)
