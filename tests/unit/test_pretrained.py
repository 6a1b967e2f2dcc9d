"""The backbone table (webapp/modelspec/pretrained.py) pinned against Keras's own applications."""

import inspect

import keras
import pytest
from keras.src.utils import file_utils

from webapp.modelspec import pretrained

REQUIRED = {"MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0",
            "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetV2B0", "ResNet50V2",
            "DenseNet121", "Xception", "InceptionV3", "ConvNeXtTiny"}


def test_table_covers_the_issue_and_names_real_functions():
    assert REQUIRED <= set(pretrained.BACKBONES)
    for b in pretrained.TABLE:
        fn = getattr(keras.applications, b.type)
        sig = inspect.signature(fn).parameters
        for arg, (default, _) in b.args.items():
            assert sig[arg].default == default, (b.type, arg)   # Keras's own default
        assert b.scaling in pretrained.SCALINGS and b.min_size <= b.default_size
        assert hasattr(getattr(keras.applications, b.module), "preprocess_input")


# Cheap to build (under a second or two each here); the table's figures for the rest were measured
# the same way when the table was written (weights=None, include_top=False, the default size).
CHEAP = ["MobileNet", "MobileNetV2", "MobileNetV3Small", "EfficientNetB0", "Xception"]


@pytest.mark.parametrize("kind", CHEAP)
def test_params_layers_and_features_match_keras(kind):
    b = pretrained.BACKBONES[kind]
    model = getattr(keras.applications, kind)(weights=None, include_top=False,
                                              input_shape=(b.default_size, b.default_size, 3))
    assert (model.count_params(), len(model.layers), model.output_shape[-1]) == (b.params, b.layers, b.features)


class Asked(Exception):
    """Raised by the recording get_file: Keras has asked for this file name."""


@pytest.mark.parametrize("kind,args,size", [
    ("MobileNet", {"alpha": 0.25}, 128),
    ("MobileNetV2", {"alpha": 0.35}, 96),
    ("MobileNetV3Small", {"minimalistic": True}, 224),
    ("MobileNetV3Small", {"alpha": 0.75}, 224),
    ("EfficientNetB0", {}, 224),
    ("ConvNeXtTiny", {}, 64),
])
def test_weights_file_is_the_name_keras_asks_its_cache_for(kind, args, size, monkeypatch):
    # The applications call keras.src.utils.file_utils.get_file(fname, origin, cache_subdir="models");
    # record the name instead of downloading (this pins both the name and that call).
    def asked(fname, origin=None, cache_subdir="datasets", **_):
        assert cache_subdir == "models" and origin.endswith(fname)
        raise Asked(fname)

    monkeypatch.setattr(file_utils, "get_file", asked)
    with pytest.raises(Asked) as got:
        getattr(keras.applications, kind)(weights="imagenet", include_top=False,
                                          input_shape=(size, size, 3), **args)
    assert str(got.value) == pretrained.weights_file(kind, args, size)


def test_static_file_names_appear_in_keras_source():
    import keras.src.applications as apps
    for kind in ("DenseNet121", "Xception", "InceptionV3", "ResNet50V2", "ResNet50", "EfficientNetV2B0",
                 "MobileNetV3Large", "EfficientNetB3"):
        b = pretrained.BACKBONES[kind]
        source = inspect.getsource(getattr(apps, b.module))
        name = pretrained.weights_file(kind)
        assert name in source or name.startswith(("resnet", "efficientnet", "weights_mobilenet_v3")), name
    assert pretrained.weights_file("ResNet50V2") == "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert pretrained.weights_file("EfficientNetV2B0") == "efficientnetv2-b0_notop.h5"
    assert pretrained.weights_file("MobileNetV3Large") == "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5"


def test_sizes_and_scaling():
    assert pretrained.check_size("MobileNetV2", 96, 96, imagenet=True) is None
    assert "96, 128, 160, 192, 224" in pretrained.check_size("MobileNetV2", 100, 100, imagenet=True)
    assert pretrained.check_size("MobileNetV2", 100, 100, imagenet=False) is None
    assert "at least 75" in pretrained.check_size("InceptionV3", 64, 64, imagenet=False)
    assert pretrained.weights_file("MobileNetV2", {"alpha": 0.35}, 100) is None
    assert pretrained.scaling("MobileNetV3Small") is None
    assert pretrained.scaling("MobileNetV3Small", {"include_preprocessing": False}) == "tf"
    assert pretrained.scaling("DenseNet121") == "torch" and pretrained.scaling("ResNet50") == "caffe"


def test_the_tests_weights_writer_gives_a_file_the_applications_own_weights_path_loads(tmp_path):
    # tests/keras_cache.py writes "imagenet" files for the integration tests; pin that Keras reads them.
    import numpy as np

    from tests.keras_cache import write_application_weights

    path, arrays = write_application_weights(tmp_path / "models", "MobileNetV2", {"alpha": 0.35}, 96)
    assert path.name == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    model = keras.applications.MobileNetV2(weights=str(path), include_top=False, input_shape=(96, 96, 3), alpha=0.35)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), arrays))
