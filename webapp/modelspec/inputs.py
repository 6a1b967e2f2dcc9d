"""What a model's first layers need of its dataset's input: an Embedding's input_dim covers the word ranks it is fed."""

from . import graph
from .fields import FieldError, SpecError


def check_vocabulary(spec, dataset):
    """Raise SpecError when an Embedding fed the dataset's ranks has an input_dim below its vocabulary_size.

    TensorFlow's gather refuses a rank ≥ input_dim on the CPU (the run would fail at its first batch)
    and gives zeros on a GPU; Keras's imdb_lstm.py uses Embedding(max_features, ...) with
    load_data(num_words=max_features).
    """
    vocabulary = dataset.get("vocabulary_size")
    if dataset.get("kind") != "sequence" or not vocabulary:
        return
    if graph.is_graph(spec.layers):
        fed = [i for i, layer in enumerate(spec.layers) if graph.INPUT in (layer.get("inputs") or [])]
    else:
        fed = [0] if spec.layers else []
    for index in fed:
        layer = spec.layers[index]
        if layer["type"] == "Embedding" and layer["input_dim"] < vocabulary:
            raise SpecError([FieldError(index, "input_dim", (
                f"Embedding input_dim {layer['input_dim']:,} is below the dataset's vocabulary_size {vocabulary:,} "
                f"(ranks 0..{vocabulary - 1:,}): set input_dim to {vocabulary:,}, or dataset_options.num_words to "
                f"{layer['input_dim']:,}."))])
