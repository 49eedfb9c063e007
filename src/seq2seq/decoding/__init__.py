"""Generation from trained models: greedy, beam search and random sampling.

>>> from seq2seq.decoding import BeamSampler, GreedySampler, RandomSampler, Sampler, generate
"""

from seq2seq.decoding.beam import BeamSampler
from seq2seq.decoding.generation import STRATEGIES, check_max_length, generate, make_sampler
from seq2seq.decoding.greedy import GreedySampler
from seq2seq.decoding.random import RandomSampler
from seq2seq.decoding.sampler import Sampler

__all__ = [
    "STRATEGIES",
    "BeamSampler",
    "GreedySampler",
    "RandomSampler",
    "Sampler",
    "check_max_length",
    "generate",
    "make_sampler",
]
