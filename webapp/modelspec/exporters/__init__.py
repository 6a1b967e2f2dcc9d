"""A checked spec written out for plain Keras: Keras JSON (`model.to_json()`), a runnable `train.py`, and a sweep's `sweep.py`.

It may import the spec's root modules (`build` only for Keras JSON, which Keras itself writes), never Flask.
"""
