"""A trained model leaving the dashboard: exports (SavedModel, LiteRT, ONNX) built on the runs' executor and verified in their own runtimes.

It imports `db/`, `modelspec/`, `datasets/`, `predict/` and `runs/`; never Flask. Keras and
TensorFlow only in `convert.py` and `verify.py`, which run in an export's own process.
"""
