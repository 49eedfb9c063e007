"""GRU cell whose input projection can be computed outside the recurrence."""

import keras
from keras import ops

from seq2seq.layers import fused
from seq2seq.layers.projected_cell import ProjectedCell


@keras.saving.register_keras_serializable(package="seq2seq")
class GRUCell(ProjectedCell):
    """GRU cell (Cho et al. 2014) with the reset gate applied after the matrix multiply.

    This is the `reset_after=True` variant used by `keras.layers.GRUCell` and cuDNN:
    `n = tanh(x W_n + b_n + r * (h U_n + b'_n))`, `h' = z * h + (1 - z) * n`. Because the
    reset gate multiplies the recurrent term only, the input projection of every step
    can be computed ahead of the recurrence by `project(x)`.

    Args:
        units: Positive int, size of the hidden state.
        kernel_initializer: Initializer for the input kernel.
        recurrent_initializer: Initializer for the recurrent kernel.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `(batch, input_dim)` tensor of one time step.
        states: List `[h]` with `h` of shape `(batch, units)`.
        training: Unused; kept for the `keras.layers.RNN` cell protocol.

    Returns:
        `(h, [h])`.

    Example:
    >>> import numpy as np
    >>> from seq2seq.layers import GRUCell
    >>> cell = GRUCell(4)
    >>> cell.build((None, 3))
    >>> h, states = cell(np.zeros((2, 3)), [np.zeros((2, 4))])
    >>> tuple(h.shape)
    (2, 4)
    """

    gates = 3
    recurrence = "gru"

    def build(self, input_shape):
        super().build(input_shape)
        self.recurrent_bias = self.add_weight(
            shape=(self.gates * self.units,), initializer="zeros", name="recurrent_bias"
        )

    def fused_weights(self, projected=False):
        weights = super().fused_weights(projected)
        return {**weights, "recurrent_bias": ops.cast(self.recurrent_bias, self.state_dtype)}

    def step(self, projected, states):
        """One recurrence step from an already projected input."""
        try:  # the backend's own operations, where a loop runs this at every step
            (h,) = fused.step("gru", projected, states, self.recurrent_kernel, self.recurrent_bias)
            return h, [h]
        except NotImplementedError:
            pass
        (h,) = states
        x_z, x_r, x_n = ops.split(ops.cast(projected, self.state_dtype), 3, axis=-1)
        recurrent = self.recurrent_product(h) + ops.cast(self.recurrent_bias, self.state_dtype)
        h_z, h_r, h_n = ops.split(recurrent, 3, axis=-1)
        z = ops.sigmoid(x_z + h_z)
        r = ops.sigmoid(x_r + h_r)
        n = ops.tanh(x_n + r * h_n)
        h = z * h + (1.0 - z) * n
        return h, [h]
