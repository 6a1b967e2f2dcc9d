"""What a model is, as data: the catalog (the allow-list), a spec's fields and their check, the
graph of a branching model, the build into Keras, remembered shape checks; importers and exporters.

The heart of the product and the bottom of the house: it imports no other room and no Flask, and
Keras only in `build.py`. Everything that trains, predicts or serves asks it.
"""
