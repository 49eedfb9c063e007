"""Fixtures of the serving tests: a tiny attention model, shared by the session.

The server's code is backend-independent, so these tests run on one backend
only (`SERVING_BACKEND`) and skip with a reason on the others.
"""

import keras
import pytest
from serving_helpers import SERVING_BACKEND, tiny_model


def pytest_collection_modifyitems(config, items):
    if keras.backend.backend() == SERVING_BACKEND:
        return
    skip = pytest.mark.skip(
        reason=f"the server is backend-independent; its tests run on {SERVING_BACKEND} only"
    )
    for item in items:
        if "tests/serving/" in item.nodeid.replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def model():
    return tiny_model()
