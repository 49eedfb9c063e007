"""Encoder-decoder with Bahdanau attention over a bidirectional encoder."""

import keras
from keras import ops

from seq2seq.models.base import Seq2SeqModel


@keras.saving.register_keras_serializable(package="seq2seq")
class AttentionSeq2Seq(Seq2SeqModel):
    """Bidirectional encoder, Bahdanau attention, output feedback (Bahdanau et al. 2015).

    The encoder is bidirectional by default (directions merged by `merge_mode`). The
    decoder starts from `tanh(Dense(...))` of the encoder's final states. At each step
    the attention scores `v^T tanh(W_h H_j + W_s s_{t-1})` depend on the previous
    decoder state, so the weights change from step to step; the context and the
    previous output feed the first recurrent layer, `depth` stacks further layers above
    it, and the output layer reads `[h_t; context_t]`. Padded input positions get zero
    attention. `predict_attention(x)` gives the weights `(batch, output_length,
    input_length)` in one call.

    Args:
        output_dim: Size of each output vector (None in token mode).
        output_length: Number of output steps.
        batch_input_shape: `(batch_size, input_length, input_dim)`; wins over the others.
        batch_size: Fixed batch size (needed when `stateful=True`).
        input_shape: `(input_length, input_dim)`.
        input_length: Input length, or None for variable lengths.
        input_dim: Input feature size.
        hidden_dim: Hidden size (default `output_dim`).
        depth: Layers, an int or an `(encoder, decoder)` pair.
        bidirectional: Bidirectional encoder.
        unroll: Unroll the recurrent loops.
        stateful: Keep the encoder's states across batches until `reset_states()`.
        dropout: Dropout (training only) on the encoder layers' inputs, the embeddings
            included, between stacked layers and on the decoder's readout.
        merge_mode: How the encoder's directions combine: `"concat"`, `"sum"`, `"ave"`,
            `"mul"`.
        teacher_force: Train on `[x, y]` with the target shifted right (default: False
            for real values, True in token mode).
        cell, output_activation, scheduled_sampling, input_vocab_size,
            output_vocab_size, embedding_dim, logits: See `Seq2SeqModel`.
        **kwargs: Base model keyword arguments.

    Call arguments:
        inputs: `x` or `[x, y]` when teacher forcing.
        training: Enables teacher forcing and dropout.

    Returns:
        `(batch, output_length, output_dim)`.

    Example:
    >>> import numpy as np
    >>> from seq2seq.models import AttentionSeq2Seq
    >>> model = AttentionSeq2Seq(input_dim=5, input_length=7, hidden_dim=10,
    ...                          output_length=8, output_dim=20, depth=4)
    >>> model.predict_attention(np.zeros((2, 7, 5), "float32")).shape
    (2, 8, 7)
    """

    has_attention = True

    def __init__(
        self,
        output_dim=None,
        output_length=None,
        batch_input_shape=None,
        batch_size=None,
        input_shape=None,
        input_length=None,
        input_dim=None,
        hidden_dim=None,
        depth=1,
        bidirectional=True,
        unroll=False,
        stateful=False,
        dropout=0.0,
        merge_mode="concat",
        teacher_force=None,
        **kwargs,
    ):
        self.bidirectional = bool(bidirectional)
        self.merge_mode = merge_mode
        super().__init__(
            output_dim=output_dim,
            output_length=output_length,
            batch_input_shape=batch_input_shape,
            batch_size=batch_size,
            input_shape=input_shape,
            input_length=input_length,
            input_dim=input_dim,
            hidden_dim=hidden_dim,
            depth=depth,
            unroll=unroll,
            stateful=stateful,
            dropout=dropout,
            teacher_force=teacher_force,
            **kwargs,
        )

    def _make_layers(self):
        self.encoder = self._make_encoder(
            bidirectional=self.bidirectional, merge_mode=self.merge_mode
        )
        self._make_feedback_layers(attention=True, project_states=True)

    def predict_attention(self, x, batch_size=32):
        """Attention weights of free-running decoding: `(batch, output_length, input_length)`."""
        x = x[0] if isinstance(x, (list, tuple)) else x
        x = ops.convert_to_numpy(x)
        self.check_data(x)
        batches = []
        for start in range(0, len(x), batch_size):
            chunk = ops.convert_to_tensor(x[start : start + batch_size])
            result = self._forward(chunk, None, False, None)
            batches.append(ops.convert_to_numpy(result["attention"]))
        return ops.convert_to_numpy(ops.concatenate(batches, axis=0)) if batches else None

    def get_config(self):
        config = {"bidirectional": self.bidirectional, "merge_mode": self.merge_mode}
        return {**super().get_config(), **config}
