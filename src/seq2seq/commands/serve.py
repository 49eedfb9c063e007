"""`seq2seq serve`: the HTTP API and web page of a saved text model."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING

from seq2seq.commands import inference
from seq2seq.commands.errors import CommandError

if TYPE_CHECKING:
    from seq2seq.serving.limits import ServingLimits
    from seq2seq.serving.predictor import TextPredictor


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port`, so that a busy port is one line, not a traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise CommandError(f"--host {host}: unknown address ({error.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise CommandError(f"cannot listen on {host}:{port} ({error.strerror or error})") from None
    return sock


def _predictor(
    model_path: str, limits: ServingLimits, beam: int | None, length_penalty: float | None
) -> TextPredictor:
    """Loads the model and decodes one input, so that a broken model fails before serving."""
    from seq2seq.serving.predictor import TextPredictor

    model = inference.load_model(model_path)
    if not inference.is_text_model(model):
        raise CommandError(f"{model_path}: serve needs a text model; this one reads real values")
    recorded = inference.recorded_settings(model_path)
    beam, length_penalty = inference.decoding_settings(recorded, beam, length_penalty)
    if beam > limits.max_beam:
        raise CommandError(f"--beam: expected at most {limits.max_beam}, received {beam}")
    predictor = TextPredictor(model, limits, default_beam=beam, length_penalty=length_penalty)
    predictor.predict(["".join(model.source_vocabulary.tokens[:1])], beam)
    return predictor


def serve(
    model_path: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    beam: int | None = None,
    length_penalty: float | None = None,
    max_batch: int = 64,
    max_wait_ms: float = 5.0,
    max_queue: int = 1024,
    max_inputs: int | None = None,
    max_input_length: int = 200,
) -> int:
    """Runs `seq2seq serve` until interrupted (Ctrl-C or SIGTERM).

    Returns:
        The exit status, 0.
    """
    try:
        import uvicorn

        from seq2seq.serving.app import create_app
    except ImportError as error:
        raise CommandError(
            f'needs the serve extra ({error.name} is missing): pip install "keras-seq2seq[serve]"'
        ) from None
    from seq2seq.serving.limits import ServingLimits

    if not 0 <= port <= 65535:
        raise CommandError(f"--port: expected 0 to 65535, received {port}")
    try:
        limits = ServingLimits(
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            max_queue=max_queue,
            max_inputs=max_inputs,
            max_input_length=max_input_length,
        )
    except ValueError as error:
        flag = re.sub(r"argument `(\w+)`", lambda m: "--" + m[1].replace("_", "-"), str(error))
        raise CommandError(flag.replace("`", "")) from None
    sock = _listen(host, port)  # a busy port fails before the model loads
    try:
        predictor = _predictor(model_path, limits, beam, length_penalty)
    except BaseException:
        sock.close()
        raise
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}"
    print(
        f"Serving {model_path} at {url}/ (API: POST {url}/predict, GET {url}/health, {url}/docs); "
        "Ctrl-C stops.",
        file=sys.stderr,
    )
    config = uvicorn.Config(create_app(predictor), log_level="warning")
    with _stop_quietly():
        uvicorn.Server(config).run(sockets=[sock])
    print("Stopped.", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _stop_quietly():
    """Ctrl-C and SIGTERM stop the server (uvicorn answers the requests in progress first)
    and `serve` returns 0: uvicorn raises the signal again once stopped, which a no-op
    handler takes instead of the interpreter's."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {number: signal.signal(number, _ignore) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)


def _ignore(number, frame) -> None:
    pass
