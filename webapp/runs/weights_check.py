"""Check an uploaded weights file by loading it into its backbone's architecture, in a process of its own.

Run as `python -m webapp.runs.weights_check MODEL ARGS_JSON PATH` by uploaded_weights.py: the web
process never holds a big model. It prints one JSON line: {"ok": true, "params": N} or {"ok":
false, "message": Keras's reason, which names the layer that does not fit}.
"""

import json
import sys


def check(model, args, path):
    """Give the answer for one file: load it into keras.applications.MODEL(weights=None, include_top=False)."""
    from ..modelspec import build, pretrained

    keras = build.init_keras()
    b = pretrained.BACKBONES[model]
    size = b.weight_sizes[-1] if b.weight_sizes else b.default_size
    net = getattr(keras.applications, model)(weights=None, include_top=False, input_shape=(size, size, 3),
                                             **{k: v for k, v in args.items() if k in b.args})
    try:
        net.load_weights(path)
    except Exception as exc:   # Keras says which layer or variable does not fit
        return {"ok": False, "message": build.keras_message(exc)}
    return {"ok": True, "params": int(net.count_params())}


def main(argv):
    """Print check()'s answer for the command line's MODEL, ARGS_JSON and PATH."""
    model, args, path = argv[1], json.loads(argv[2]), argv[3]
    print(json.dumps(check(model, args, path)), flush=True)


if __name__ == "__main__":
    main(sys.argv)
