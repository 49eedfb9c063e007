"""Backend choice made before Keras is imported."""

import json
import os


def choose_default_backend() -> str:
    """Select JAX when neither `KERAS_BACKEND` nor a Keras config file names a backend.

    Plain Keras falls back to TensorFlow, which fails to import where TensorFlow is
    not installed; this library installs JAX by default, so JAX is the better default.

    Returns:
        The backend name that Keras will use.
    """
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    config_path = os.path.join(keras_home, "keras.json")
    try:
        with open(config_path, encoding="utf-8") as handle:
            configured = json.load(handle).get("backend")
    except (OSError, ValueError):
        configured = None
    if configured:
        return configured
    os.environ["KERAS_BACKEND"] = "jax"
    return "jax"
