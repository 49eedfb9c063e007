"""The web page in headless Chromium: it decodes its inputs and draws the outputs.

Chromium is the Debian package `chromium`; without it the tests skip, unless
`SEQ2SEQ_REQUIRE_BROWSER=1` (set by test.sh), where they fail.
"""

import html
import os
import shutil
import subprocess
import urllib.parse

import numpy as np
import pytest
from serving_helpers import expected_output

pytest.importorskip("fastapi")

from seq2seq.serving.app import create_app  # noqa: E402
from seq2seq.serving.background import BackgroundServer  # noqa: E402
from seq2seq.serving.limits import ServingLimits  # noqa: E402
from seq2seq.serving.predictor import TextPredictor  # noqa: E402

INPUTS = ["abc", "fedcba"]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",
]


def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("SEQ2SEQ_REQUIRE_BROWSER") == "1":
        pytest.fail("chromium is not installed, and SEQ2SEQ_REQUIRE_BROWSER=1 requires it")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def open_page(url, tmp_path, *flags):
    """Runs headless Chromium on `url` with a fresh profile; returns its standard output."""
    command = [chromium(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *flags, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def page_url(model):
    limits = ServingLimits(max_batch=8, max_input_length=12)
    with BackgroundServer(create_app(TextPredictor(model, limits))) as server:
        query = urllib.parse.urlencode([("input", text) for text in INPUTS] + [("attention", 1)])
        yield f"{server.url}/?{query}"


def test_the_page_shows_each_output_and_its_heatmap(model, page_url, tmp_path):
    dom = open_page(page_url, tmp_path, "--dump-dom")
    assert 'data-state="done"' in dom, dom[-2000:]
    for text in INPUTS:
        output = html.escape(expected_output(model, text)[0], quote=False)
        assert f'<div class="output">{output}</div>' in dom
    assert dom.count('class="heatmap"') == len(INPUTS)


def test_the_screenshot_shows_the_results(page_url, tmp_path):
    image = pytest.importorskip("matplotlib.image")
    path = tmp_path / "page.png"
    open_page(page_url, tmp_path, f"--screenshot={path}", "--window-size=900,700")
    pixels = image.imread(path)[..., :3]  # (700, 900, 3) in [0, 1]
    assert pixels.shape[:2] == (700, 900)
    # The heatmaps' blue cells: many pixels far bluer than they are red.
    blue = (pixels[..., 2] - pixels[..., 0]) > 0.15
    assert blue.sum() > 2000, blue.sum()
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # text, table and colours drawn
