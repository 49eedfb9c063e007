"""Layers of the seq2seq models: cells, recurrent layer, encoder, bridge, attention, decoder."""

from seq2seq.layers.bahdanau_attention import BahdanauAttention
from seq2seq.layers.bridge import Bridge
from seq2seq.layers.decoder import Decoder
from seq2seq.layers.encoder import Encoder
from seq2seq.layers.gru_cell import GRUCell
from seq2seq.layers.lstm_cell import LSTMCell
from seq2seq.layers.recurrent import Recurrent

__all__ = ["BahdanauAttention", "Bridge", "Decoder", "Encoder", "GRUCell", "LSTMCell", "Recurrent"]
