"""Stacked, optionally bidirectional recurrent encoder for real values or token ids."""

import keras
from keras import ops

from seq2seq.conventions import PAD_ID
from seq2seq.layers import fused
from seq2seq.layers.recurrent import Recurrent

MERGE_MODES = ("concat", "sum", "ave", "mul")


def merge(forward, backward, mode):
    """Combines a forward and a backward tensor the way `keras.layers.Bidirectional` does."""
    if mode == "concat":
        return ops.concatenate([forward, backward], axis=-1)
    if mode == "sum":
        return forward + backward
    if mode == "ave":
        return (forward + backward) / 2.0
    return forward * backward


@keras.saving.register_keras_serializable(package="seq2seq")
class Encoder(keras.layers.Layer):
    """Encodes a sequence into per-step outputs and the final states of every layer.

    In token mode (`input_vocab_size` given) the ids are embedded first and id 0 is
    padding: padded steps are masked, so they change neither the final states nor the
    outputs at real positions. Dropout is applied between stacked layers.

    Args:
        units: Positive int, hidden size of each direction.
        depth: Number of stacked recurrent layers.
        cell: `"lstm"` or `"gru"`.
        bidirectional: Run a backward layer beside each forward one.
        merge_mode: How directions combine: `"concat"`, `"sum"`, `"ave"` or `"mul"`.
        dropout: Dropout rate on each layer's input sequence (the embeddings included).
        seed: Seed of the dropout masks (a run resumed from a checkpoint draws the same ones).
        input_vocab_size: If set, inputs are integer ids in `[0, input_vocab_size)`.
        embedding_dim: Size of the input embedding in token mode.
        stateful: Carry the states across batches (needs `batch_size`).
        batch_size: Fixed batch size for stateful layers.
        unroll: Unroll the recurrent loops.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        inputs: `(batch, time, features)` floats, or `(batch, time)` ids in token mode.
        mask: Optional `(batch, time)` boolean mask for real-valued inputs.
        training: Enables dropout.

    Returns:
        A dict with `outputs` `(batch, time, output_dim)`, `states` (a list over layers
        of lists of `(batch, state_dim)` tensors, directions merged), `last` (the top
        layer's final output) and `mask` (`(batch, time)` or None).

    Example:
    >>> import numpy as np
    >>> from seq2seq.layers import Encoder
    >>> encoder = Encoder(8, depth=2, bidirectional=True)
    >>> encoded = encoder(np.zeros((2, 5, 3), "float32"))
    >>> tuple(encoded["outputs"].shape)
    (2, 5, 16)
    """

    def __init__(
        self,
        units,
        depth=1,
        cell="lstm",
        bidirectional=False,
        merge_mode="concat",
        dropout=0.0,
        seed=None,
        input_vocab_size=None,
        embedding_dim=None,
        stateful=False,
        batch_size=None,
        unroll=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Invalid value for argument `merge_mode`. Expected one of {MERGE_MODES}. "
                f"Received: merge_mode={merge_mode!r}"
            )
        self.units = units
        self.depth = depth
        self.cell = cell
        self.bidirectional = bidirectional
        self.merge_mode = merge_mode
        self.dropout = dropout
        self.seed = seed
        self.input_vocab_size = input_vocab_size
        self.embedding_dim = embedding_dim
        self.stateful = stateful
        self.batch_size = batch_size
        self.unroll = unroll
        self.embedding = (
            keras.layers.Embedding(
                input_vocab_size,
                embedding_dim,
                mask_zero=True,
                name="embedding",
                dtype=self.dtype_policy,
            )
            if input_vocab_size
            else None
        )
        common = dict(
            cell=cell,
            return_sequences=True,
            stateful=stateful,
            batch_size=batch_size,
            unroll=unroll,
            dtype=self.dtype_policy,
        )
        self.forward_layers = [
            Recurrent(units, name=f"forward_{i}", **common) for i in range(depth)
        ]
        self.backward_layers = (
            [
                Recurrent(units, go_backwards=True, name=f"backward_{i}", **common)
                for i in range(depth)
            ]
            if bidirectional
            else []
        )
        self.dropout_layer = (
            keras.layers.Dropout(dropout, seed=seed, dtype=self.dtype_policy) if dropout else None
        )
        self.supports_masking = True

    @property
    def output_dim(self):
        """Feature size of the outputs and of the merged states."""
        return 2 * self.units if self.bidirectional and self.merge_mode == "concat" else self.units

    def build(self, input_shape):
        if self.embedding is not None:
            self.embedding.build(input_shape)
            feature_dim = self.embedding_dim
        else:
            feature_dim = input_shape[-1]
        for i in range(self.depth):
            shape = (input_shape[0], input_shape[1], feature_dim if i == 0 else self.output_dim)
            self.forward_layers[i].build(shape)
            if self.bidirectional:
                self.backward_layers[i].build(shape)
        self.built = True

    def reset_states(self):
        """Zeros the carried states of stateful layers."""
        for layer in self.forward_layers + self.backward_layers:
            layer.reset_states()

    def projects_by_lookup(self, inputs, training=False):
        """Whether the first layer reads its input projections from a per-token table.

        `embed(id) @ kernel + bias` depends on the id only, so outside training, when
        the vocabulary is smaller than the number of tokens in the batch, the first
        layer's projections are a table `cell.project(embeddings)` of one row per
        token, gathered per step: the same values without the `(batch * time)`-row
        matrix multiply (generation encodes 1,024 sequences at once). Training keeps
        the product, whose gradient is cheaper than the gather's. So does a cell whose
        fused recurrence takes unprojected inputs only (`fused.runs_projected` false:
        JAX's GRU on oneDNN, which would decline projected ones for Keras' generic
        loop: 1,024 sequences' greedy generation 0.44 s against 0.57 s; docs/benchmarks.md).
        """
        if self.embedding is None or training:
            return False
        cell = self.forward_layers[0].cell
        if not fused.runs_projected(cell.recurrence, cell.compute_dtype):
            return False
        batch, time = inputs.shape[0], inputs.shape[1]
        return batch is not None and time is not None and self.input_vocab_size <= batch * time

    def call(self, inputs, mask=None, training=False):
        table_ids = None
        if self.embedding is not None:
            mask = ops.not_equal(inputs, PAD_ID)  # the embedding's `mask_zero` too
            if self.projects_by_lookup(inputs, training):
                table_ids = ops.transpose(inputs, (1, 0))  # time-major, as `recur` takes
                sequence = None
            else:
                sequence = self.embedding(inputs)
        else:
            sequence = inputs

        def run(layer, sequence):
            if sequence is None:
                table = layer.cell.project(self.embedding.embeddings)
                return layer.recur(ops.take(table, table_ids, axis=0), mask=mask)
            return layer(sequence, mask=mask)

        states = []
        for i in range(self.depth):
            if self.dropout_layer is not None and sequence is not None:
                sequence = self.dropout_layer(sequence, training=training)
            outputs, layer_states = run(self.forward_layers[i], sequence)
            if self.bidirectional:
                backward, backward_states = run(self.backward_layers[i], sequence)
                outputs = merge(outputs, backward, self.merge_mode)
                layer_states = [
                    merge(f, b, self.merge_mode) for f, b in zip(layer_states, backward_states)
                ]
            states.append(layer_states)
            sequence = outputs
        return {"outputs": sequence, "states": states, "last": states[-1][0], "mask": mask}

    def get_config(self):
        config = {
            "units": self.units,
            "depth": self.depth,
            "cell": self.cell,
            "bidirectional": self.bidirectional,
            "merge_mode": self.merge_mode,
            "dropout": self.dropout,
            "seed": self.seed,
            "input_vocab_size": self.input_vocab_size,
            "embedding_dim": self.embedding_dim,
            "stateful": self.stateful,
            "batch_size": self.batch_size,
            "unroll": self.unroll,
        }
        return {**super().get_config(), **config}
