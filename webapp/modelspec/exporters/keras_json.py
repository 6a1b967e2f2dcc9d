"""A checked spec -> Keras JSON, written by Keras itself (`model.to_json()`), so Keras reads it back."""

from .. import build


def keras_json(spec, input_shape):
    """Give `model.to_json()` for the spec's model, compiled (so compile_config rides along) when it can be."""
    model = build.build_model(spec, input_shape)
    if spec.compile:
        model.compile(optimizer=build.make_optimizer(spec.compile["optimizer"]),
                      loss=spec.compile["loss"], metrics=list(spec.compile["metrics"]))
    return model.to_json(indent=2)
