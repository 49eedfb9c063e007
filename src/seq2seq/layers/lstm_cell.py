"""LSTM cell whose input projection can be computed outside the recurrence."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seq2seq")
class LSTMCell(keras.layers.Layer):
    """Standard LSTM cell (Hochreiter & Schmidhuber 1997, forget gate of Gers et al.).

    The gate order and weight layout follow `keras.layers.LSTMCell` (i, f, c, o in one
    fused kernel). The step is split in two so that callers can hoist the input
    projection of every time step into one matrix multiply:
    `project(x)` computes `x @ kernel + bias`, and `step(z, states)` adds the
    recurrent term and applies the gates.

    Args:
        units: Positive int, size of the hidden and cell states.
        kernel_initializer: Initializer for the input kernel.
        recurrent_initializer: Initializer for the recurrent kernel.
        unit_forget_bias: If True, the forget-gate bias starts at 1.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `(batch, input_dim)` tensor of one time step.
        states: List `[h, c]`, each `(batch, units)`.
        training: Unused; kept for the `keras.layers.RNN` cell protocol.

    Returns:
        `(h, [h, c])`.

    Example:
    >>> import numpy as np
    >>> from seq2seq.layers import LSTMCell
    >>> cell = LSTMCell(4)
    >>> cell.build((None, 3))
    >>> h, states = cell(np.zeros((2, 3)), [np.zeros((2, 4)), np.zeros((2, 4))])
    >>> tuple(h.shape)
    (2, 4)
    """

    gates = 4

    def __init__(
        self,
        units,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        unit_forget_bias=True,
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
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [units, units]
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
            shape=(self.gates * self.units,), initializer=self._bias_initializer, name="bias"
        )
        self.built = True

    def _bias_initializer(self, shape, dtype=None):
        if not self.unit_forget_bias:
            return ops.zeros(shape, dtype=dtype)
        units = self.units
        return ops.concatenate(
            [ops.zeros((units,), dtype), ops.ones((units,), dtype), ops.zeros((2 * units,), dtype)]
        )

    def project(self, inputs):
        """Input projection `inputs @ kernel + bias`, for one step or a whole sequence."""
        return ops.matmul(inputs, self.kernel) + self.bias

    def step(self, projected, states):
        """One recurrence step from an already projected input."""
        h, c = states
        z = projected + ops.matmul(h, self.recurrent_kernel)
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, [h, c]

    def call(self, inputs, states, training=False):
        return self.step(self.project(inputs), states)

    def get_config(self):
        config = {
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "unit_forget_bias": self.unit_forget_bias,
        }
        return {**super().get_config(), **config}
