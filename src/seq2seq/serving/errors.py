"""`RequestError`: a request the server refuses, with its HTTP status and message."""

from __future__ import annotations


class RequestError(ValueError):
    """A bad request: answered with `status_code` and `{"detail": message}`.

    Args:
        message: One line saying what is wrong, what was expected and what was received.
        status_code: 413 for a request over a size limit, 422 for a bad value.

    Example:

    >>> from seq2seq.serving.errors import RequestError
    >>> RequestError("`inputs` is empty", status_code=422).status_code
    422
    """

    def __init__(self, message: str, status_code: int = 422):
        super().__init__(message)
        self.status_code = status_code
