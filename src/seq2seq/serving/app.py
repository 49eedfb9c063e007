"""`create_app`: the FastAPI application of `seq2seq serve`.

`POST /predict` decodes texts (requests arriving together share one batch),
`GET /health` reports the model, its limits and the batch counts, `GET /` is
the web page and `/docs` and `/openapi.json` the OpenAPI description. Every
answer is JSON; a bad request gets a 4xx status with `{"detail": message}`.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from seq2seq import __version__
from seq2seq.serving.batcher import DynamicBatcher, QueueFull
from seq2seq.serving.errors import RequestError
from seq2seq.serving.predictor import TextPredictor

PAGE = "page.html"
logger = logging.getLogger("seq2seq.serve")


class PredictRequest(BaseModel):
    """The body of `POST /predict`."""

    model_config = ConfigDict(extra="forbid")
    inputs: list[StrictStr] = Field(description="The texts to decode.", examples=[["abc"]])
    beam: StrictInt | None = Field(
        None, description="Beam width; 1 decodes greedily (default: the server's)."
    )
    attention: StrictBool = Field(
        False, description="Also return each output's attention over its input."
    )


class Alignment(BaseModel):
    """Attention weights: one row per output token, one column per source token."""

    source: list[str]
    output: list[str]
    weights: list[list[float]]


class PredictResponse(BaseModel):
    """The answer of `POST /predict`: one output per input, in order."""

    outputs: list[str]
    beam: int
    attention: list[Alignment] | None = None


class ErrorResponse(BaseModel):
    """A refused request: what was wrong."""

    detail: str


def _error(status_code: int, message: str, headers: dict | None = None) -> JSONResponse:
    # Messages can quote user input; lone surrogates would not encode as UTF-8.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return JSONResponse({"detail": message}, status_code=status_code, headers=headers)


def _validation_message(error: RequestValidationError) -> tuple[int, str]:
    problems = []
    for problem in error.errors():
        if problem.get("type") == "json_invalid":
            return 400, f"The body is not valid JSON: {problem.get('ctx', {}).get('error', '')}"
        where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "body"
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return 422, "Invalid request. " + "; ".join(problems)


class _BodyLimit:
    """Answers 413 to a body over `max_bytes` before the application reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self.too_large(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self.too_large(scope, receive, send)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"The body is too large. Expected at most {self.max_bytes} bytes."
        await _error(413, message)(scope, receive, send)


def create_app(predictor: TextPredictor) -> FastAPI:
    """The application serving `predictor`: the API, the web page and the OpenAPI pages.

    Args:
        predictor: The `TextPredictor`; its `limits` set the batches and the queue.

    Returns:
        A FastAPI application; its lifespan starts and stops the batcher.

    Example:

    >>> import uvicorn
    >>> from seq2seq.serving.app import create_app
    >>> uvicorn.run(create_app(predictor), port=8000)  # doctest: +SKIP
    """
    limits = predictor.limits

    def run(key, texts):
        beam, attention = key
        return predictor.predict(texts, beam, attention)

    batcher = DynamicBatcher(
        run,
        max_batch=limits.max_batch,
        max_wait=limits.max_wait_ms / 1000,
        max_queue=limits.max_queue,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        async with batcher:
            yield

    app = FastAPI(
        title="seq2seq serve",
        version=__version__,
        description="Decode texts with a trained seq2seq model.",
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    app.state.predictor = predictor
    app.add_middleware(_BodyLimit, max_bytes=limits.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        kind = request.headers.get("content-type", "")
        if request.method == "POST" and "json" not in kind.lower():
            return _error(
                415,
                "Unsupported media type. Expected Content-Type: application/json. "
                f"Received: {kind or 'none'}",
            )
        return _error(*_validation_message(error))

    @app.exception_handler(RequestError)
    async def refused(request: Request, error: RequestError) -> JSONResponse:
        return _error(error.status_code, str(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        logger.exception("internal error on %s", request.url.path)
        return _error(500, f"Internal error ({type(error).__name__}); see the server log.")

    errors = {
        status: {"model": ErrorResponse, "description": text}
        for status, text in (
            (400, "The body is not JSON."),
            (415, "The body is not sent as application/json."),
            (413, "Too many inputs, or the body is too large."),
            (422, "A bad value: empty or too long input, unknown symbols, beam out of range."),
            (503, "The queue is full; try again shortly."),
        )
    }

    @app.post("/predict", response_model=PredictResponse, responses=errors)
    async def predict(request: PredictRequest) -> PredictResponse:
        """Decodes each input; with `attention`, also returns the attention weights."""
        beam = predictor.default_beam if request.beam is None else request.beam
        predictor.check(request.inputs, beam, request.attention)
        try:
            answers = await batcher.submit((beam, request.attention), request.inputs)
        except QueueFull as error:
            return _error(503, f"Service unavailable: {error}.", {"Retry-After": "1"})
        return PredictResponse(
            outputs=[answer["output"] for answer in answers],
            beam=beam,
            attention=[answer["alignment"] for answer in answers] if request.attention else None,
        )

    @app.get("/health")
    async def health() -> dict:
        """The model, the limits, and the requests and batches served so far."""
        return {
            "status": "ok",
            **predictor.describe(),
            "waiting": batcher.waiting,
            "requests": batcher.requests,
            "batches": batcher.batches,
        }

    page = importlib.resources.files("seq2seq.serving").joinpath(PAGE).read_text("utf-8")
    page = page.replace("__SETTINGS__", json.dumps(predictor.describe()))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    return app
