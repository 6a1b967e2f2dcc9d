"""A model someone already has, read into a spec without running any of it: pasted Python (Keras 1,
2, `tf.keras` or 3, read with `ast`), Keras JSON, and what older Keras called things.

`imports.import_source` is the way in; the answer lists every change from the source as a note.
It may import the spec's root modules (`catalog`, `fields`, `validate`, `graph`, `keras_names`), never Keras.
"""
