"""Export of a model's whole inference (encoder and decoding loop) to ONNX or a SavedModel.

>>> from seq2seq.export import export_generation  # doctest: +SKIP
"""

from seq2seq.export.exporter import FORMATS, export_generation

__all__ = ["FORMATS", "export_generation"]
