"""`seq2seq serve`: an HTTP JSON API and a web page for a trained text model.

`TextPredictor` checks requests and decodes batches with `model.generate`,
`DynamicBatcher` groups concurrent requests into batches for one worker thread,
`seq2seq.serving.app.create_app` builds the FastAPI application (FastAPI and
uvicorn come with the `serve` extra: `pip install "keras-seq2seq[serve]"`),
`seq2seq.serving.background.BackgroundServer` runs it on a loopback port in a
thread and `seq2seq.serving.traffic.run_load` measures it (tests, benchmarks).
Names load lazily, so the command line's parser reads `ServingLimits` cheaply.
"""

import importlib

_LAZY = {
    "DynamicBatcher": "seq2seq.serving.batcher",
    "QueueFull": "seq2seq.serving.batcher",
    "RequestError": "seq2seq.serving.errors",
    "ServingLimits": "seq2seq.serving.limits",
    "TextPredictor": "seq2seq.serving.predictor",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
