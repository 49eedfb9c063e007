"""`seq2seq serve`: an HTTP JSON API and a web page for a trained text model.

One public class per module, imported from there (this package imports nothing, so
the command line's parser reads `ServingLimits` without loading Keras or FastAPI):

- `seq2seq.serving.limits.ServingLimits`: the sizes a server accepts and its batches.
- `seq2seq.serving.predictor.TextPredictor`: request checks, then batched decoding
  with `model.generate`.
- `seq2seq.serving.batcher.DynamicBatcher`: concurrent requests grouped into
  batches for one worker thread, behind a bounded queue.
- `seq2seq.serving.app.create_app`: the FastAPI application (FastAPI and uvicorn
  come with the `serve` extra: `pip install "keras-seq2seq[serve]"`).
- `seq2seq.serving.background.BackgroundServer` and `seq2seq.serving.traffic.run_load`:
  a server in a thread and a load generator, for tests and benchmarks.
"""
