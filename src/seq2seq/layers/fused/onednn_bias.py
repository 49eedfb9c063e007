"""oneDNN's bias of a recurrence, from a cell's Keras biases (`jax_rnn`, `tf_rnn`)."""

from keras import ops


def gru_bias(bias, recurrent_bias):
    """oneDNN's linear-before-reset GRU bias `(4, units)` from the `(3 * units,)` input
    and recurrent biases (gates z, r, n): the update and reset gates' two biases summed,
    then the candidate's input and recurrent biases apart."""
    units = recurrent_bias.shape[0] // 3
    both = bias[: 2 * units] + recurrent_bias[: 2 * units]
    merged = ops.concatenate([both, bias[2 * units :], recurrent_bias[2 * units :]], axis=0)
    return ops.reshape(merged, (4, units))
