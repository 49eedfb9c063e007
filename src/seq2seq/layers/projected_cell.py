"""Base class of the recurrent cells: fused gate kernels and a hoistable input projection."""

import keras
from keras import ops

from seq2seq.layers import fused


class ProjectedCell(keras.layers.Layer):
    """A recurrent cell whose step is split into an input projection and a recurrence.

    `project(x)` computes `x @ kernel + bias` (for one step or a whole sequence, so
    callers can hoist it out of the loop as one matrix multiply) and `step(z, states)`
    adds the recurrent term and applies the gates. Subclasses set `gates` and
    `state_size` and implement `step`; those with a fused recurrence over whole
    sequences (`seq2seq.layers.fused`) name it in `recurrence`.

    Args:
        units: Positive int, size of the hidden state.
        kernel_initializer: Initializer for the input kernel.
        recurrent_initializer: Initializer for the recurrent kernel.
        **kwargs: Base layer keyword arguments.
    """

    gates = 1
    num_states = 1
    recurrence = None  # the `seq2seq.layers.fused` function of this cell, by name

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
        self.state_size = [units] * self.num_states
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.gates * self.units),
            initializer=self.kernel_initializer,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.gates * self.units),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
        )
        self.bias = self.add_weight(
            shape=(self.gates * self.units,), initializer=self.bias_initializer, name="bias"
        )
        self.built = True

    def bias_initializer(self, shape, dtype=None):
        return ops.zeros(shape, dtype=dtype)

    @property
    def state_dtype(self):
        """The states' dtype: the policy's variable dtype (float32 under `mixed_bfloat16`).

        Under a mixed policy the matrix multiplies run in the compute dtype and
        the gates, the states and everything carried from step to step stay in
        float32, so a long recurrence does not accumulate bfloat16 rounding.
        """
        return self.dtype_policy.variable_dtype

    def project(self, inputs):
        """Input projection `inputs @ kernel + bias`, for one step or a whole sequence.

        The product runs in the compute dtype; the result is in `state_dtype`.
        """
        compute = self.compute_dtype
        product = fused.matmul(
            ops.cast(inputs, compute), ops.cast(self.kernel, compute), self.state_dtype
        )
        return product + ops.cast(self.bias, self.state_dtype)

    def recurrent_product(self, h, kernel=None):
        """`h @ kernel` (default the cell's recurrent kernel) in the compute dtype,
        returned in `state_dtype`."""
        compute = self.compute_dtype
        kernel = self.recurrent_kernel if kernel is None else kernel
        return fused.matmul(ops.cast(h, compute), ops.cast(kernel, compute), self.state_dtype)

    def fused_weights(self, projected=False):
        """The weights of the fused recurrence (`seq2seq.layers.fused`), by argument name.

        As the step uses them: the kernels in the compute dtype, the biases in
        `state_dtype`. With `projected`, the inputs are already projected: no `kernel`
        and `bias`.
        """
        compute = self.compute_dtype
        weights = {"recurrent_kernel": ops.cast(self.recurrent_kernel, compute)}
        if not projected:
            weights["kernel"] = ops.cast(self.kernel, compute)
            weights["bias"] = ops.cast(self.bias, self.state_dtype)
        return weights

    def step(self, projected, states):
        """One recurrence step from an already projected input: `(output, new_states)`."""
        raise NotImplementedError

    def call(self, inputs, states, training=False):
        return self.step(self.project(inputs), states)

    def get_config(self):
        config = {
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
        }
        return {**super().get_config(), **config}
