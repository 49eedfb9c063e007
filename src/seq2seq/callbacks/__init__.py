"""Keras callbacks for seq2seq training.

>>> from seq2seq.callbacks import ScheduledSampling
"""

from seq2seq.callbacks.scheduled_sampling import ScheduledSampling

__all__ = ["ScheduledSampling"]
