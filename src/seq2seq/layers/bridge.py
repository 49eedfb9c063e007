"""Maps the encoder's final states onto the decoder's initial states."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seq2seq")
class Bridge(keras.layers.Layer):
    """Initial decoder states from the encoder's final states, across depths and sizes.

    Decoder layer `i` (of `decoder_depth`) starts from encoder layer
    `max(0, encoder_depth - decoder_depth + i)`: the top layers face each other and a
    deeper decoder reuses the encoder's lowest layer. With `single_state=True` (the
    original library's vertical state threading) the decoder has one state, taken from
    the encoder's top layer. Each state passes through `Dense(units, tanh)` when
    `project=True` or when the encoder's state size differs from `units`; otherwise it
    is passed as it is.

    Args:
        units: Decoder state size.
        encoder_depth: Number of encoder layers.
        decoder_depth: Number of decoder layers.
        num_states: States per layer (2 for LSTM, 1 for GRU).
        encoder_dim: Encoder state size (after merging directions).
        project: Always project the states, as Bahdanau et al. initialise the decoder.
        single_state: Produce one layer of states (vertical state threading).
        **kwargs: Base layer keyword arguments.

    Call arguments:
        states: List over encoder layers of lists of `(batch, encoder_dim)` tensors.

    Returns:
        List over decoder layers (one if `single_state`) of lists of `(batch, units)`.

    Example:
    >>> import numpy as np
    >>> from seq2seq.layers import Bridge
    >>> bridge = Bridge(4, encoder_depth=1, decoder_depth=2, num_states=2, encoder_dim=8)
    >>> states = bridge([[np.zeros((3, 8)), np.zeros((3, 8))]])
    >>> len(states), tuple(states[1][0].shape)
    (2, (3, 4))
    """

    def __init__(
        self,
        units,
        encoder_depth,
        decoder_depth,
        num_states,
        encoder_dim,
        project=False,
        single_state=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.encoder_depth = encoder_depth
        self.decoder_depth = decoder_depth
        self.num_states = num_states
        self.encoder_dim = encoder_dim
        self.project = project
        self.single_state = single_state
        layers = 1 if single_state else decoder_depth
        self.sources = [max(0, encoder_depth - layers + i) for i in range(layers)]
        self.projections = None
        if project or encoder_dim != units:
            self.projections = [
                [
                    keras.layers.Dense(
                        units, activation="tanh", name=f"bridge_{i}_{j}", dtype=self.dtype_policy
                    )
                    for j in range(num_states)
                ]
                for i in range(layers)
            ]

    def build(self, input_shape=None):
        if self.projections is not None:
            for row in self.projections:
                for dense in row:
                    dense.build((None, self.encoder_dim))
        self.built = True

    def call(self, states):
        result = []
        for i, source in enumerate(self.sources):
            layer_states = states[source]
            if self.projections is not None:
                layer_states = [dense(s) for dense, s in zip(self.projections[i], layer_states)]
            # States in the variable dtype: float32 under a mixed policy, as the cells keep them.
            result.append([ops.cast(s, self.dtype_policy.variable_dtype) for s in layer_states])
        return result

    def get_config(self):
        config = {
            "units": self.units,
            "encoder_depth": self.encoder_depth,
            "decoder_depth": self.decoder_depth,
            "num_states": self.num_states,
            "encoder_dim": self.encoder_dim,
            "project": self.project,
            "single_state": self.single_state,
        }
        return {**super().get_config(), **config}
