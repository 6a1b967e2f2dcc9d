"""What an export request may ask for (format, quantization), checked without Keras, and the names of an export's files."""

FORMATS = ("tf_saved_model", "litert", "onnx")
QUANTIZATIONS = ("none", "dynamic", "float16", "int8")
STATES = ("building", "ready", "failed")
# The model file inside the download (a .zip with it and labels.txt, whatever the format).
MODEL_FILE = {"tf_saved_model": "saved_model", "litert": "model.tflite", "onnx": "model.onnx"}
LABELS = "labels.txt"
README = "README.txt"
# Resizing interpolations the LiteRT interpreter has kernels for; the others become TensorFlow ops
# (FlexResizeBicubic, ScaleAndTranslate) it cannot run (measured: bicubic, area, lanczos3, lanczos5 fail).
LITERT_INTERPOLATIONS = ("bilinear", "nearest")
CALIBRATION_SIZE = 200     # training images int8 calibrates on (TFLite's guide: ~100-500 suffice)
LATENCY_SAMPLE = 100       # test images each runtime is timed on, one at a time


class ExportError(ValueError):
    """A request that cannot be exported: an HTTP status, the field it is about and a message naming what would be accepted."""

    def __init__(self, status, field, message, layer=None):
        super().__init__(message)
        self.status, self.field, self.message, self.layer = status, field, message, layer


def check(body):
    """Give (format, quantization) of a request body, or raise ExportError(422) naming the field."""
    if not isinstance(body, dict):
        raise ExportError(400, "body", 'Send a JSON object: {"format": "litert", "quantization": "int8"}.')
    unknown = sorted(set(body) - {"format", "quantization"})
    if unknown:
        raise ExportError(422, unknown[0], f"{unknown[0]}: not an export field; send format and quantization.")
    fmt = body.get("format")
    if fmt not in FORMATS:
        raise ExportError(422, "format", f"format: {fmt!r} is not an export format; one of {', '.join(FORMATS)}.")
    quantization = body.get("quantization", "none")
    if quantization not in QUANTIZATIONS:
        raise ExportError(422, "quantization", f"quantization: {quantization!r} is not known; one of "
                                               f"{', '.join(QUANTIZATIONS)} (all but none for litert only).")
    if fmt != "litert" and quantization != "none":
        raise ExportError(422, "quantization", f"quantization: {quantization!r} is for format litert only; "
                                               f"a {fmt} export is float32 (send quantization none, or leave it out).")
    return fmt, quantization


def check_model(spec, fmt):
    """Refuse (422 naming the layer) a run spec with a layer `fmt` is known not to run, before any worker is busy."""
    if fmt != "litert":
        return
    for index, layer in enumerate((spec or {}).get("model", {}).get("layers", [])):
        interpolation = layer.get("interpolation", "bilinear")
        if layer.get("type") == "Resizing" and interpolation not in LITERT_INTERPOLATIONS:
            raise ExportError(422, "format", f"Layer {index} (Resizing) uses interpolation {interpolation!r}, which the "
                                             f"LiteRT interpreter cannot run (it has {' and '.join(LITERT_INTERPOLATIONS)}); "
                                             "export as tf_saved_model or onnx, or train with bilinear.", layer=index)


def check_kind(kind):
    """Refuse (422 at `format`) a run on texts, sequences or series: the builds and checks here feed images."""
    if kind not in (None, "image"):
        raise ExportError(422, "format", f"Exports are built and verified for image runs; this run trains on a {kind} "
                                         "dataset. Download its model.keras (it loads in plain Keras) instead.")


def labels_text(class_names, num_classes):
    """Give labels.txt: one class name per line, in the order of the model's outputs."""
    names = list(class_names or [])
    names += [str(k) for k in range(len(names), num_classes)]
    return "".join(f"{name}\n" for name in names)


def readme_text(fmt, quantization, pixel_max, input_shape):
    """Give README.txt of a download: what the model takes and gives, and how to run it."""
    how = {"tf_saved_model": "model = tf.saved_model.load('saved_model'); model.serve(x)",
           "litert": "ai_edge_litert.interpreter.Interpreter('model.tflite') (or tf.lite.Interpreter)",
           "onnx": "onnxruntime.InferenceSession('model.onnx').run(None, {name: x})"}[fmt]
    return (f"A {fmt} export (quantization {quantization}) of a Keras model trained in the dashboard.\n"
            f"Input: float32 of shape (batch, {', '.join(map(str, input_shape))}), pixels scaled to [0, 1] "
            f"(the dataset's values divided by {pixel_max:g}).\n"
            f"Output: one score per class, in the order of {LABELS}; the predicted class is the argmax.\n"
            f"Run it: {how}\n")
