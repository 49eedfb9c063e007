"""A recurrent layer that projects the inputs of all time steps in one matrix multiply."""

import keras
from keras import ops

from seq2seq.layers import fused
from seq2seq.layers.cell_factory import make_cell


@keras.saving.register_keras_serializable(package="seq2seq")
class Recurrent(keras.layers.Layer):
    """Runs an `LSTMCell` or `GRUCell` over a sequence with `fused.scan` (`keras.ops.scan`).

    The input projection of every step is one matrix multiply ahead of the loop, so the
    loop body holds only the recurrent matrix multiply and the gates. Masked steps keep
    the previous state and output zeros, so the final state is the state after the last
    unmasked step whatever the padding. Where the backend has a fused recurrence for
    the cell (`seq2seq.layers.fused`: PyTorch's own LSTM/GRU kernels on the inputs, the
    JAX LSTM's custom VJP on the projected inputs) it runs instead of this loop.

    Args:
        units: Positive int, size of the hidden state.
        cell: `"lstm"` or `"gru"`.
        return_sequences: If True, return the output of every step, else the last.
        go_backwards: If True, process the sequence from its end; outputs stay aligned
            with the input positions.
        stateful: If True, the final states of a batch are the initial states of the
            next one, until `reset_states()`. Needs a fixed `batch_size`.
        batch_size: Batch size, required when `stateful=True`.
        unroll: If True, unroll the loop (faster for short sequences, more memory).
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `(batch, time, features)` tensor.
        mask: Optional boolean `(batch, time)` tensor; False marks padding.
        initial_state: Optional list of `(batch, units)` tensors.
        training: Unused.

    Returns:
        `(outputs, final_states)`: outputs `(batch, time, units)` or `(batch, units)`,
        final states a list of `(batch, units)` tensors (`[h, c]` or `[h]`).

    Example:
    >>> import numpy as np
    >>> from seq2seq.layers import Recurrent
    >>> layer = Recurrent(8, return_sequences=True)
    >>> outputs, states = layer(np.zeros((2, 5, 3), "float32"))
    >>> tuple(outputs.shape), len(states)
    ((2, 5, 8), 2)
    """

    def __init__(
        self,
        units,
        cell="lstm",
        return_sequences=False,
        go_backwards=False,
        stateful=False,
        batch_size=None,
        unroll=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if stateful and not batch_size:
            raise ValueError(
                "Invalid value for argument `batch_size`. Expected a fixed positive batch size "
                f"when `stateful=True`. Received: batch_size={batch_size!r}"
            )
        self.units = units
        self.cell_type = cell
        self.cell = make_cell(cell, units, name="cell", dtype=self.dtype_policy)
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.batch_size = batch_size
        self.unroll = unroll
        self.supports_masking = True

    def build(self, input_shape):
        self.cell.build(input_shape)
        if self.stateful:
            self.states = [
                self.add_weight(
                    shape=(self.batch_size, size),
                    initializer="zeros",
                    trainable=False,
                    name=f"state_{i}",
                )
                for i, size in enumerate(self.cell.state_size)
            ]
        self.built = True

    def reset_states(self):
        """Sets the carried states of a stateful layer back to zero."""
        if self.stateful:
            for state in self.states:
                state.assign(ops.zeros(state.shape, dtype=state.dtype))

    def get_initial_state(self, batch_size):
        return [
            ops.zeros((batch_size, size), dtype=self.cell.state_dtype)
            for size in self.cell.state_size
        ]

    def call(self, inputs, mask=None, initial_state=None, training=False):
        initial_state = self.starting_states(initial_state, ops.shape(inputs)[0])
        try:
            final_states, outputs = self.run_fused(inputs, initial_state, mask)
        except NotImplementedError:
            # Time-major before the projection: the (smaller) input is transposed, not
            # the (gates * units)-wide projection, forward and backward.
            projected = self.cell.project(ops.transpose(inputs, (1, 0, 2)))
            return self.recur(projected, mask=mask, initial_state=initial_state)
        return self.finish(final_states, outputs)

    def run_fused(self, inputs, initial_state, mask=None, length=None, projected=False):
        """The cell's fused recurrence (`seq2seq.layers.fused.run`) over `inputs`.

        Returns `(final_states, outputs)`, outputs in the layout of `inputs`; raises
        `NotImplementedError` where the backend declines.
        """
        return fused.run(
            self.cell.recurrence,
            inputs,
            initial_state,
            mask=mask,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
            length=length,
            **self.cell.fused_weights(projected),
        )

    def starting_states(self, initial_state, batch_size):
        """The given initial states, else the carried ones if stateful, else zeros."""
        if initial_state is not None:
            return initial_state
        if self.stateful:
            return [ops.convert_to_tensor(state) for state in self.states]
        return self.get_initial_state(batch_size)

    def repeat(self, vector, length, initial_state=None):
        """Runs the recurrence over `vector` fed at each of `length` steps.

        SimpleSeq2Seq's decoder reads the same vector at every step. Where the backend's
        fused recurrence takes projected inputs, the vector is projected once (`recur`
        with `length`); where it projects the inputs itself, it gets the vector repeated;
        else the step loop runs on the one projection.

        Args:
            vector: `(batch, features)` tensor.
            length: Number of steps.
            initial_state: Optional list of `(batch, units)` tensors.

        Returns:
            What `call` returns.
        """
        if not fused.runs_projected(self.cell.recurrence, self.cell.compute_dtype):
            batch = ops.shape(vector)[0]
            initial_state = self.starting_states(initial_state, batch)
            inputs = ops.broadcast_to(
                ops.expand_dims(vector, 1), (batch, length, ops.shape(vector)[-1])
            )
            try:
                return self.finish(*self.run_fused(inputs, initial_state))
            except NotImplementedError:
                pass  # one projection for every step below
        return self.recur(self.cell.project(vector), initial_state=initial_state, length=length)

    def recur(self, projected, mask=None, initial_state=None, length=None):
        """Runs the recurrence over inputs already projected by `self.cell.project`.

        Callers whose input is the same at every step (SimpleSeq2Seq's decoder) project
        it once and pass `length`, instead of one projection per step.

        Args:
            projected: Time-major `(time, batch, gates * units)` tensor, or
                `(batch, gates * units)`, the input of each of `length` steps.
            mask: Optional boolean `(batch, time)` tensor; False marks padding.
            initial_state: Optional list of `(batch, units)` tensors.
            length: Number of steps when `projected` holds one step; else None.

        Returns:
            What `call` returns.
        """
        batch_axis = 0 if length is not None else 1
        initial_state = self.starting_states(initial_state, ops.shape(projected)[batch_axis])
        try:
            final_states, outputs = self.run_fused(
                projected, initial_state, mask, length=length, projected=True
            )
        except NotImplementedError:
            if length is not None:
                projected = ops.broadcast_to(
                    ops.expand_dims(projected, 0), (length, *ops.shape(projected))
                )
            final_states, outputs = run_steps(
                self.cell.step, projected, list(initial_state), mask, self.go_backwards, self.unroll
            )
        if self.return_sequences:  # else `finish` returns the last state only
            outputs = ops.transpose(outputs, (1, 0, 2))
        return self.finish(final_states, outputs)

    def finish(self, final_states, outputs):
        """Stores a stateful layer's final states; returns what `call` returns.

        `outputs` is batch-major, `(batch, time, units)`, when `return_sequences`.
        """
        if self.stateful:
            for variable, value in zip(self.states, final_states):
                variable.assign(value)
        if self.return_sequences:
            return outputs, final_states
        return final_states[0], final_states

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def get_config(self):
        config = {
            "units": self.units,
            "cell": self.cell_type,
            "return_sequences": self.return_sequences,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "batch_size": self.batch_size,
            "unroll": self.unroll,
        }
        return {**super().get_config(), **config}


def run_steps(step, projected, initial_state, mask=None, reverse=False, unroll=False):
    """Scans `step(projected_t, states) -> (output, states)` over time-major inputs.

    The cell's output is its first state (`h`), so the scan stacks the states
    themselves (a constraint of Keras' TensorFlow scan, which `fused.scan` no longer
    uses there; kept: not stacking the cell state measured the same on TensorFlow).

    Args:
        step: The cell's step function.
        projected: `(time, batch, features)` projected inputs.
        initial_state: List of `(batch, units)` tensors.
        mask: Optional `(batch, time)` boolean mask; masked steps keep the state and
            output zeros.
        reverse: Scan from the last step to the first; outputs keep input order.
        unroll: Unroll the loop.

    Returns:
        `(final_states, outputs)` with outputs `(time, batch, units)`.
    """
    time_steps = projected.shape[0]
    unroll_arg = (time_steps or 1) if unroll is True else 1
    if mask is None:

        def body(states, z_t):
            _, states = step(z_t, states)
            return states, states

        final_states, stacked = fused.scan(
            body, initial_state, projected, reverse=reverse, unroll=unroll_arg
        )
        return final_states, stacked[0]

    mask_t = ops.expand_dims(
        ops.transpose(ops.cast(mask, projected.dtype), (1, 0)), -1
    )  # (time, batch, 1)

    # One scanned tensor, the mask as its last channel (Keras' TensorFlow scan failed on
    # several scanned tensors of unknown length; `fused.scan` there does not).
    features = projected.shape[-1]

    def masked_body(states, inputs):
        z_t, m_t = inputs[..., :features], inputs[..., features:]
        _, new_states = step(z_t, states)
        new_states = [m_t * new + (1.0 - m_t) * old for new, old in zip(new_states, states)]
        return new_states, new_states

    scanned = ops.concatenate([projected, mask_t], axis=-1)
    final_states, stacked = fused.scan(
        masked_body, initial_state, scanned, reverse=reverse, unroll=unroll_arg
    )
    return final_states, stacked[0] * mask_t
