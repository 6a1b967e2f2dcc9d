"""A recurrent layer's states over time: a copy of an LSTM, GRU or SimpleRNN that returns every step.

The inside view shows each layer's output; an RNN that returns only its last step (imdb_lstm.py's
LSTM(128)) would be a bar strip of its final state. A copy of the layer with its weights and
`return_sequences=True`, fed by a sub-model from the model's inputs to the layer's input, gives its
output at every step (the last one is the layer's own), drawn as a time × units heat-map.
"""

RNN = ("LSTM", "GRU", "SimpleRNN")


def models(loaded):
    """Give {layer index: (a model from the inputs to the layer's input, a copy of it returning every step)} for RNNs that return only their last step.

    The copy has the layer's weights and config with return_sequences=True, so its last step is the
    layer's own output and the steps before it are its states over time (a mask from mask_zero is
    not passed: padding steps are shown too).
    """
    if loaded.steps is not None:
        return loaded.steps
    from ..modelspec.build import init_keras

    keras, found = init_keras(), {}
    for i, layer in enumerate(loaded.layers):
        if type(layer).__name__ not in RNN or layer.return_sequences or getattr(layer, "return_state", False):
            continue
        operation, node_index, _ = loaded.tensors[layer.name]._keras_history
        source = operation._inbound_nodes[node_index].input_tensors[0]
        copy = type(layer).from_config({**layer.get_config(), "return_sequences": True, "name": f"{layer.name}_steps"})
        copy.build(tuple(source.shape))
        copy.set_weights(layer.get_weights())
        found[i] = (keras.Model(loaded.model.inputs, source), copy)
    loaded.steps = found
    return found
