"""Batches of varying shapes handed to `fit` so that every backend accepts them."""

from __future__ import annotations

import keras


def fit_batches(batches: keras.utils.PyDataset):
    """`batches` as `fit` should get them: the `PyDataset` itself, or on TensorFlow a
    `tf.data.Dataset` of it whose every dimension but none is dynamic.

    Keras turns a `PyDataset` into a `tf.data.Dataset` whose signature it infers from
    the first two batches; batches padded to their own length (`LengthBuckets`,
    `StreamedBatches`) differ later on, which that signature would refuse. JAX and
    PyTorch take the batches as they come.
    """
    if keras.backend.backend() != "tensorflow":
        return batches
    import tensorflow as tf

    spec = tf.TensorSpec((None, None), tf.int32)

    def generate():
        for index in range(len(batches)):
            (x, y), labels = batches[index]
            yield (x.astype("int32"), y.astype("int32")), labels.astype("int32")

    dataset = tf.data.Dataset.from_generator(generate, output_signature=((spec, spec), spec))
    # A known length, so that Keras counts the steps of the epoch as with the `PyDataset`.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))
    return dataset.prefetch(tf.data.AUTOTUNE)
