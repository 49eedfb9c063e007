"""Sequence-to-sequence learning on Keras 3, for token and real-valued sequences.

`import seq2seq` selects the JAX backend when neither `KERAS_BACKEND` nor a Keras
config file chooses one, then exposes the models:

>>> from seq2seq import SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq

Nothing else in the process changes. The `seq2seq` command also keeps freed memory
in the heap (glibc's allocator settings); a program calls that itself, early:

>>> import seq2seq.allocator
>>> seq2seq.allocator.keep_heap()  # doctest: +SKIP
True
"""

__version__ = "0.1.0"

from seq2seq.backend import choose_default_backend  # noqa: E402

choose_default_backend()

# The loss and the learning-rate schedule that `seq2seq train` saves in its model files:
# registered here, so that `import seq2seq` is all that loading one compiled needs.
import seq2seq.losses  # noqa: E402, F401
import seq2seq.training.resizable_cosine_decay  # noqa: E402, F401
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, Seq2SeqModel, SimpleSeq2Seq  # noqa: E402

__all__ = ["AttentionSeq2Seq", "Seq2Seq", "Seq2SeqModel", "SimpleSeq2Seq", "__version__"]
