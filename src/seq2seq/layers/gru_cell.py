"""GRU cell whose input projection can be computed outside the recurrence."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seq2seq")
class GRUCell(keras.layers.Layer):
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

    def __init__(
        self,
        units,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(
                f"Invalid value for argument `units`. Expected a positive int. Received: units={units!r}"
            )
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.state_size = [units]
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, self.gates * self.units),
            initializer=self.kernel_initializer,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.gates * self.units),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
        )
        self.bias = self.add_weight(
            shape=(self.gates * self.units,), initializer="zeros", name="bias"
        )
        self.recurrent_bias = self.add_weight(
            shape=(self.gates * self.units,), initializer="zeros", name="recurrent_bias"
        )
        self.built = True

    def project(self, inputs):
        """Input projection `inputs @ kernel + bias`, for one step or a whole sequence."""
        return ops.matmul(inputs, self.kernel) + self.bias

    def step(self, projected, states):
        """One recurrence step from an already projected input."""
        (h,) = states
        x_z, x_r, x_n = ops.split(projected, 3, axis=-1)
        h_z, h_r, h_n = ops.split(
            ops.matmul(h, self.recurrent_kernel) + self.recurrent_bias, 3, axis=-1
        )
        z = ops.sigmoid(x_z + h_z)
        r = ops.sigmoid(x_r + h_r)
        n = ops.tanh(x_n + r * h_n)
        h = z * h + (1.0 - z) * n
        return h, [h]

    def call(self, inputs, states, training=False):
        return self.step(self.project(inputs), states)

    def get_config(self):
        config = {
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
        }
        return {**super().get_config(), **config}
