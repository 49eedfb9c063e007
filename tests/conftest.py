"""Test setup: `import seq2seq` first, so that its backend choice holds before Keras loads."""

import seq2seq  # noqa: F401
