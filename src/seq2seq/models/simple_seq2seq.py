"""The seed's encoder-decoder: encoder vector repeated as the decoder's input at every step."""

import keras
from keras import ops

from seq2seq.layers import fused
from seq2seq.layers.recurrent import Recurrent
from seq2seq.models.base import Seq2SeqModel


@keras.saving.register_keras_serializable(package="seq2seq")
class SimpleSeq2Seq(Seq2SeqModel):
    """Encoder RNN → Dense(relu) → repeat → decoder RNN → time-distributed Dense.

    This is the seed's hand-built model: a stacked encoder returns its last output,
    `Dense(hidden_dim, relu)` transforms it, the vector is repeated `output_length`
    times as the input of a stacked decoder that starts from zero states, and a
    `Dense(output_dim, output_activation)` maps every decoder step to an output. There
    is no state transfer and no output feedback (see `Seq2Seq` for those).

    Args:
        output_dim: Size of each output vector (None in token mode).
        output_length: Number of output steps.
        hidden_dim: Hidden size (default `output_dim`).
        input_shape: `(input_length, input_dim)`.
        batch_size: Fixed batch size (needed when `stateful=True`).
        batch_input_shape: `(batch_size, input_length, input_dim)`; wins over the others.
        input_dim: Input feature size.
        input_length: Input length, or None for variable lengths.
        depth: Layers, an int or an `(encoder, decoder)` pair.
        dropout: Dropout (training only) on the encoder layers' inputs, the embeddings
            included, between stacked layers and before the output layer.
        unroll: Unroll the recurrent loops.
        stateful: Keep states across batches until `reset_states()`.
        cell: `"lstm"` or `"gru"`.
        output_activation: Activation of the output layer.
        input_vocab_size, output_vocab_size, embedding_dim, logits: Token mode (see
            `Seq2SeqModel`).
        **kwargs: Base model keyword arguments.

    Call arguments:
        inputs: `(batch, input_length, input_dim)` floats (or `(batch, time)` ids).
        training: Enables dropout.

    Returns:
        `(batch, output_length, output_dim)`.

    Example:
    >>> from seq2seq.models import SimpleSeq2Seq
    >>> model = SimpleSeq2Seq(input_dim=5, hidden_dim=10, output_length=8, output_dim=8)
    >>> model.compile(loss="mse", optimizer="rmsprop")
    >>> model.output_length
    8
    """

    uses_feedback = False

    def __init__(
        self,
        output_dim=None,
        output_length=None,
        hidden_dim=None,
        input_shape=None,
        batch_size=None,
        batch_input_shape=None,
        input_dim=None,
        input_length=None,
        depth=1,
        dropout=0.0,
        unroll=False,
        stateful=False,
        **kwargs,
    ):
        super().__init__(
            output_dim=output_dim,
            output_length=output_length,
            hidden_dim=hidden_dim,
            input_shape=input_shape,
            batch_size=batch_size,
            batch_input_shape=batch_input_shape,
            input_dim=input_dim,
            input_length=input_length,
            depth=depth,
            dropout=dropout,
            unroll=unroll,
            stateful=stateful,
            **kwargs,
        )

    def _make_layers(self):
        policy = self.dtype_policy
        self.encoder = self._make_encoder()
        self.bottleneck = keras.layers.Dense(
            self.hidden_dim, activation="relu", name="bottleneck", dtype=policy
        )
        self.decoder_layers = [
            Recurrent(
                self.hidden_dim,
                cell=self.cell,
                return_sequences=True,
                stateful=self.stateful,
                batch_size=self.batch_size,
                unroll=self.unroll,
                name=f"decoder_{i}",
                dtype=policy,
            )
            for i in range(self.decoder_depth)
        ]
        seed = None if self.seed is None else self.seed + 1
        self.dropout_layer = (
            keras.layers.Dropout(self.dropout, seed=seed, dtype=policy) if self.dropout else None
        )
        activation = None if self.token_mode else self.output_activation
        self.output_layer = keras.layers.Dense(
            self.output_dim, activation=activation, name="output", dtype=policy
        )

    def _build_layers(self, input_shape):
        self.encoder.build(input_shape)
        self.bottleneck.build((None, self.hidden_dim))
        for layer in self.decoder_layers:
            layer.build((input_shape[0], self.output_length, self.hidden_dim))
        self.output_layer.build((None, self.output_length, self.hidden_dim))

    def _forward(self, x, targets, training, sample_mask):
        encoded = self.encoder(x, training=training)
        vector = self.bottleneck(encoded["last"])
        # The first decoder layer sees the same vector at every step.
        sequence, _ = self.decoder_layers[0].repeat(vector, self.output_length)
        for layer in self.decoder_layers[1:]:
            if self.dropout_layer is not None:
                sequence = self.dropout_layer(sequence, training=training)
            sequence, _ = layer(sequence)
        if self.dropout_layer is not None:
            sequence = self.dropout_layer(sequence, training=training)
        # The output layer's product as the decoders' (`fused.dense`): not rounded to
        # bfloat16 under mixed_bfloat16.
        outputs = fused.dense(self.output_layer, sequence, self.dtype_policy.variable_dtype)
        return {"outputs": outputs, "attention": None}

    # Generation contract (see `Seq2SeqModel`) ------------------------------------------

    @property
    def max_generation_length(self):
        """`output_length`: the decoder runs a fixed number of steps."""
        return self.output_length

    def generation_cache(self, x):
        """`{"states": [], "constants": {"logits": (batch, output_length, vocab)}, "shared": {}}`."""
        self._check_token_generation("generation_cache")
        logits = self._forward(x, None, False, None)["outputs"]
        return {"states": [], "constants": {"logits": logits}, "shared": {}}

    def generation_step(self, previous_ids, cache, index):
        """The precomputed logits of step `index`; `previous_ids` are not read."""
        return ops.take(cache["constants"]["logits"], index, axis=1), cache, None

    def generation_outputs(self, x, length):
        """The first `length` (at most `output_length`) steps of the model's outputs."""
        result = self._forward(x, None, False, None)
        return {"outputs": result["outputs"][:, :length], "attention": None}
