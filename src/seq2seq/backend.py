"""Backend choice made before Keras is imported."""

import json
import os

# What Keras writes to keras.json on its first import when nobody chose a backend.
KERAS_WRITTEN_DEFAULT = {
    "floatx": "float32",
    "epsilon": 1e-07,
    "backend": "tensorflow",
    "image_data_format": "channels_last",
}


def configured_backend(keras_home: str | None = None) -> str | None:
    """The backend a user chose in `keras.json`, or None.

    Keras writes `keras.json` with `"backend": "tensorflow"` the first time it is
    imported, whether or not anyone chose TensorFlow; a file with exactly that
    content is therefore not a choice.
    """
    keras_home = keras_home or os.environ.get(
        "KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")
    )
    try:
        with open(os.path.join(keras_home, "keras.json"), encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or config == KERAS_WRITTEN_DEFAULT:
        return None
    return config.get("backend")


def choose_default_backend() -> str:
    """Select JAX when neither `KERAS_BACKEND` nor a Keras config file names a backend.

    Plain Keras falls back to TensorFlow, which fails to import where TensorFlow is
    not installed; this library installs JAX by default, so JAX is the better default.
    Call it before Keras is imported (`import seq2seq` does).

    Returns:
        The backend name that Keras will use.
    """
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    backend = configured_backend() or "jax"
    os.environ["KERAS_BACKEND"] = backend
    return backend
