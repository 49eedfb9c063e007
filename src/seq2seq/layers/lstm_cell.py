"""LSTM cell whose input projection can be computed outside the recurrence."""

import functools

import keras
import numpy as np
from keras import ops

from seq2seq.layers import fused
from seq2seq.layers.projected_cell import ProjectedCell


@functools.cache
def gate_scales(units):
    """Per-column constants of the gates' single sigmoid: `z`'s scale and `dz`'s factor.

    All four gates take one sigmoid over the whole `(batch, 4 * units)` pre-activation,
    the cell input as `tanh(x) = 2 sigmoid(2 x) - 1`, whose derivative is `4 s (1 - s)`:
    one elementwise kernel per step instead of one per gate. Built once per `units`
    (eager backends call `step` once per time step) and read-only, as it is shared.
    """
    scale = np.ones((4 * units,), "float32")
    scale[2 * units : 3 * units] = 2.0
    derivative = np.ones((4 * units,), "float32")
    derivative[2 * units : 3 * units] = 4.0
    scale.flags.writeable = False
    derivative.flags.writeable = False
    return scale, derivative


@keras.saving.register_keras_serializable(package="seq2seq")
class LSTMCell(ProjectedCell):
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
    num_states = 2
    recurrence = "lstm"

    def __init__(
        self,
        units,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        unit_forget_bias=True,
        **kwargs,
    ):
        self.unit_forget_bias = unit_forget_bias
        super().__init__(units, kernel_initializer, recurrent_initializer, **kwargs)

    def bias_initializer(self, shape, dtype=None):
        if not self.unit_forget_bias:
            return ops.zeros(shape, dtype=dtype)
        units = self.units
        return ops.concatenate(
            [ops.zeros((units,), dtype), ops.ones((units,), dtype), ops.zeros((2 * units,), dtype)]
        )

    def step(self, projected, states, recurrent_kernel=None):
        """One recurrence step from an already projected input.

        `recurrent_kernel` replaces the cell's own (same value) where a caller handles
        its gradient itself (`fused.scan_deferring_kernels`).
        """
        kernel = self.recurrent_kernel if recurrent_kernel is None else recurrent_kernel
        try:  # the backend's own operations, where a loop runs this at every step
            h, c = fused.step("lstm", projected, states, kernel)
            return h, [h, c]
        except NotImplementedError:
            pass
        h, c = states
        z = ops.cast(projected, self.state_dtype) + self.recurrent_product(h, kernel)
        scale = ops.cast(gate_scales(self.units)[0], z.dtype)
        i, f, g, o = ops.split(ops.sigmoid(z * scale), 4, axis=-1)
        c = f * c + i * (2.0 * g - 1.0)  # g = sigmoid(2 z_g): 2 g - 1 = tanh(z_g)
        h = o * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
