"""Throughput benchmarks for seq2seq (not part of the test suite).

Run ``python -m benchmarks.run --help`` from the repository root.
"""
