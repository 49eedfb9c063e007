"""Encoder-decoder with state transfer and output feedback (Sutskever et al.; Cho et al.)."""

import keras

from seq2seq.models.base import Seq2SeqModel


@keras.saving.register_keras_serializable(package="seq2seq")
class Seq2Seq(Seq2SeqModel):
    """Encoder whose final states start a decoder that feeds its outputs back.

    The stacked encoder's final states initialise the decoder (`broadcast_state`),
    bridged across different depths. The context `C = Dense(output_dim)(h_enc)` is the
    start value of step 0; every later step receives the previous step's output. With
    `peek=True` the encoder's last output is also an input of every decoder step (Cho
    et al. 2014). With `teacher_force=True` the model trains on `[x, y]` and step `t`
    receives `y[t-1]`; prediction and evaluation always run free on `x` alone.

    Args:
        output_dim: Size of each output vector (None in token mode).
        output_length: Number of output steps.
        batch_input_shape: `(batch_size, input_length, input_dim)`; wins over the others.
        input_shape: `(input_length, input_dim)`.
        batch_size: Fixed batch size (needed when `stateful=True`).
        input_dim: Input feature size.
        input_length: Input length, or None for variable lengths.
        hidden_dim: Hidden size (default `output_dim`).
        depth: Layers, an int or an `(encoder, decoder)` pair.
        broadcast_state: Start the decoder from the encoder's final states (else zeros).
            In token mode False needs `peek=True`: step 0 reads the start token, so the
            decoder would not see the encoder at all.
        unroll: Unroll the recurrent loops.
        stateful: Keep the encoder's states across batches until `reset_states()`.
        inner_broadcast_state: Thread one state vertically through the decoder stack at
            each step, as the original library did; False gives a standard stack.
        teacher_force: Train on `[x, y]` with the target shifted right (default: False
            for real values, True in token mode).
        peek: Feed the context vector into every decoder step.
        dropout: Dropout (training only) on the encoder layers' inputs, the embeddings
            included, between stacked layers and on the decoder's readout.
        cell, output_activation, scheduled_sampling, input_vocab_size,
            output_vocab_size, embedding_dim, logits: See `Seq2SeqModel`.
        **kwargs: Base model keyword arguments.

    Call arguments:
        inputs: `x` `(batch, input_length, input_dim)` or `[x, y]` when teacher forcing.
        training: Enables teacher forcing and dropout.

    Returns:
        `(batch, output_length, output_dim)`.

    Example:
    >>> from seq2seq.models import Seq2Seq
    >>> model = Seq2Seq(batch_input_shape=(16, 7, 5), hidden_dim=10, output_length=8,
    ...                 output_dim=20, depth=4, peek=True)
    >>> model.compile(loss="mse", optimizer="rmsprop")
    >>> model.decoder_depth
    4
    """

    def __init__(
        self,
        output_dim=None,
        output_length=None,
        batch_input_shape=None,
        input_shape=None,
        batch_size=None,
        input_dim=None,
        input_length=None,
        hidden_dim=None,
        depth=1,
        broadcast_state=True,
        unroll=False,
        stateful=False,
        inner_broadcast_state=True,
        teacher_force=None,
        peek=False,
        dropout=0.0,
        **kwargs,
    ):
        self.broadcast_state = bool(broadcast_state)
        self.inner_broadcast_state = bool(inner_broadcast_state)
        self.peek = bool(peek)
        super().__init__(
            output_dim=output_dim,
            output_length=output_length,
            batch_input_shape=batch_input_shape,
            input_shape=input_shape,
            batch_size=batch_size,
            input_dim=input_dim,
            input_length=input_length,
            hidden_dim=hidden_dim,
            depth=depth,
            unroll=unroll,
            stateful=stateful,
            teacher_force=teacher_force,
            dropout=dropout,
            **kwargs,
        )

    def _make_layers(self):
        if self.token_mode and not (self.broadcast_state or self.peek):
            # Step 0 reads the start token, not the context: nothing would reach the decoder.
            raise ValueError(
                "Invalid value for argument `broadcast_state`. Expected True, or `peek=True`, "
                "in token mode: without either the decoder never sees the encoder, so the "
                "outputs would not depend on the input. Received: broadcast_state=False"
            )
        self.encoder = self._make_encoder()
        self._make_feedback_layers(
            attention=False,
            broadcast_state=self.broadcast_state,
            single_state=self.inner_broadcast_state,
            peek=self.peek,
        )

    def get_config(self):
        config = {
            "broadcast_state": self.broadcast_state,
            "inner_broadcast_state": self.inner_broadcast_state,
            "peek": self.peek,
        }
        return {**super().get_config(), **config}
