"""A checked spec written out for plain Keras: Keras JSON (`model.to_json()`) and a runnable `train.py`.

It may import the spec's root modules (`build` only for Keras JSON, which Keras itself writes), never Flask.
"""
