"""Keras callbacks for seq2seq training.

>>> from seq2seq.callbacks import AveragedWeights, ScheduledSampling, ValidationExactMatch
"""

from seq2seq.callbacks.averaged_weights import AveragedWeights
from seq2seq.callbacks.scheduled_sampling import ScheduledSampling
from seq2seq.callbacks.validation_exact_match import ValidationExactMatch

__all__ = ["AveragedWeights", "ScheduledSampling", "ValidationExactMatch"]
