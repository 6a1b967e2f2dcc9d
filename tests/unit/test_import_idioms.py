"""Pasted scripts' data, real idioms and fine-tuning recipes, imported without running them (python_dataset.py, python_backbone.py)."""

import pytest

from webapp.modelspec import pretrained
from webapp.modelspec.importers.imports import import_source
from webapp.modelspec.validate import SpecError

HEAD = "import keras\nfrom keras import layers\n"
FIT = "model.compile('adam', 'binary_crossentropy')\nmodel.fit(x, y, epochs=1)\n"
SEQ = "model = keras.Sequential([layers.Embedding(100, 8), layers.GlobalAveragePooling1D(), layers.Dense(1)])\n"


def imported(body, head=HEAD):
    return import_source("python", head + body)


def notes(answer, field):
    return [n for n in answer["notes"] if n.get("field") == field]


def refused(body, head=HEAD):
    with pytest.raises(SpecError) as info:
        imported(body, head)
    return info.value.errors[0].message


def test_imdb_options_come_through_constants_and_old_names():
    out = imported("from tensorflow.keras.datasets import imdb\nfrom keras.preprocessing import sequence\n"
                   "max_features = 20000\nmaxlen = 80\n"
                   "(x_train, y_train), (x_test, y_test) = imdb.load_data(nb_words=max_features, skip_top=5, "
                   "maxlen=400, seed=7, start_char=1, oov_char=2, index_from=3)\n"
                   "x_train = sequence.pad_sequences(x_train, maxlen=maxlen)\n" + SEQ + FIT)
    assert out["dataset"] == {"id": "imdb", "options": {"num_words": 20000, "skip_top": 5, "filter_maxlen": 400,
                                                        "seed": 7, "start_char": 1, "oov_char": 2, "index_from": 3,
                                                        "maxlen": 80}}
    [words] = notes(out, "dataset.options.num_words")
    assert (words["line"], words["was"], words["now"]) == (7, "nb_words=20000", "num_words=20000")
    [cut] = notes(out, "dataset.options.filter_maxlen")
    assert cut["now"] == "filter_maxlen=400" and "drops" in cut["why"]
    assert notes(out, "dataset.options.maxlen")[0]["line"] == 8


@pytest.mark.parametrize("pad", ["keras.utils.pad_sequences", "keras.preprocessing.sequence.pad_sequences",
                                 "pad_sequences"])
def test_each_pad_sequences_gives_maxlen_and_what_it_does_not_carry_is_warned(pad):
    head = HEAD + "from keras.utils import pad_sequences\nfrom keras.datasets import reuters\n"
    out = imported("(a, b), (c, d) = reuters.load_data(num_words=500, test_split=0.3)\n"
                   f"a = {pad}(a, maxlen=30, padding='post')\n" + SEQ + FIT, head)
    assert out["dataset"] == {"id": "reuters", "options": {"num_words": 500, "maxlen": 30}}
    assert any("test_split = 0.3 is not a dataset option" in w for w in out["warnings"])
    assert any("padding = 'post' is not carried" in w for w in out["warnings"])


def test_a_bag_of_words_other_than_binary_is_warned_and_read_as_binary():
    out = imported("from keras.datasets import reuters\nfrom keras.preprocessing.text import Tokenizer\n"
                   "(a, b), (c, d) = reuters.load_data(num_words=300)\nt = Tokenizer(num_words=200)\n"
                   "a = t.sequences_to_matrix(a, mode='tfidf')\n" + SEQ + FIT)
    assert out["dataset"]["options"] == {"num_words": 300, "mode": "binary"}
    assert any("mode = 'tfidf' is not carried" in w for w in out["warnings"])
    assert any("num_words = 200 differs from load_data's (300)" in w for w in out["warnings"])


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_image_datasets_are_selected_by_id(name):
    out = imported(f"import tensorflow as tf\n(x, y), (u, v) = tf.keras.datasets.{name}.load_data()\n" + SEQ + FIT)
    assert out["dataset"] == {"id": name, "options": {}}


def test_no_dataset_is_null_and_keras_json_has_none():
    assert imported(SEQ + FIT)["dataset"] is None
    json_model = '{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"units": 2}}]}}'
    assert import_source("keras_json", json_model)["dataset"] is None


def test_a_text_folder_is_a_dataset_to_upload_named_by_its_folder():
    out = imported("ds = keras.utils.text_dataset_from_directory('reviews/train', batch_size=8)\n" + SEQ + FIT)
    assert out["dataset"] == {"id": None, "options": {}, "folder": "reviews/train"}
    assert "upload the folder 'reviews/train'" in notes(out, "dataset")[0]["why"]


def test_a_loop_too_long_to_unroll_is_refused_naming_its_line_before_a_pass():
    message = refused("N = 10 ** 9\nmodel = keras.Sequential()\nfor _ in range(N):\n"
                      "    model.add(layers.Dense(4))\n" + FIT)
    assert message.startswith("Line 5: this loop builds the model in 1,000,000,000 passes")


def test_a_loop_that_does_not_touch_the_model_is_passed_over():
    out = imported("for i in range(10 ** 9):\n    print(i)\n" + SEQ + FIT)
    assert [layer["type"] for layer in out["model"]["layers"]] == ["Embedding", "GlobalAveragePooling1D", "Dense"]


def test_an_inference_wrapper_puts_its_catalog_layers_in_front_of_the_fitted_model():
    out = imported("model = keras.Sequential([layers.Flatten(), layers.Dense(10)])\n"
                   "model.compile('adam', 'sparse_categorical_crossentropy')\nmodel.fit(x, y, epochs=2)\n"
                   "inputs = keras.Input((8, 8, 1))\nouter = keras.Model(inputs, model(layers.Rescaling(1 / 255)(inputs)))\n")
    assert [layer["type"] for layer in out["model"]["layers"]] == ["Rescaling", "Flatten", "Dense"]
    assert out["fit"]["epochs"] == 2 and not any("another" in w for w in out["warnings"])
    [wrapper] = [n for n in out["notes"] if n["line"] == 7]
    assert wrapper["now"] == "Rescaling in front of the model" and "inference wrapper" in wrapper["why"]


def test_a_fitted_wrapper_trains_the_functional_model_it_wraps():
    out = imported("i = keras.Input((4,))\nmodel = keras.Model(i, layers.Dense(2)(layers.Dense(8)(i)))\n"
                   "model.compile('adam', 'mse')\nj = keras.Input((4,))\n"
                   "outer = keras.Model(j, model(layers.Rescaling(0.5)(j)))\n"
                   "outer.compile('sgd', 'mse')\nouter.fit(x, y, epochs=3)\n")
    layers_ = out["model"]["layers"]
    assert [(l["type"], l["inputs"]) for l in layers_] == [
        ("Rescaling", ["input"]), ("Dense", ["rescaling"]), ("Dense", ["dense"])]
    assert out["fit"]["epochs"] == 3 and out["compile"]["optimizer"]["type"] == "SGD"


def test_the_text_folder_fixtures_vectorizer_is_in_front_when_the_catalog_has_it():
    from webapp.modelspec import catalog
    from tests.unit.test_import_fixtures import imported as fixture
    out = fixture("keras3_text_folder")
    types = [layer["type"] for layer in out["model"]["layers"]]
    if "TextVectorization" in catalog.LAYERS:
        assert types[0] == "TextVectorization" and types[1] == "Embedding"
    else:
        assert types[0] == "Embedding" and any("TextVectorization in front of the model is not a layer the "
                                               "catalog has" in w for w in out["warnings"])


BASE = ("base = keras.applications.MobileNetV2(weights='imagenet', include_top=False, input_shape=(96, 96, 3), "
        "alpha=0.5)\n")
HEAD_ON = ("inputs = keras.Input((96, 96, 3))\nx = keras.applications.mobilenet_v2.preprocess_input(inputs)\n"
           "x = base(x, training=False)\nx = layers.GlobalAveragePooling2D()(x)\nmodel = keras.Model(inputs, "
           "layers.Dense(3, activation='softmax')(x))\n")
TRAIN = "model.compile('adam', 'sparse_categorical_crossentropy')\nmodel.fit(x, y, epochs=2)\n"


def test_a_backbone_is_one_layer_and_its_preprocess_input_is_dropped_with_a_note():
    out = imported(BASE + "base.trainable = False\n" + HEAD_ON + TRAIN)
    backbone = out["model"]["layers"][0]
    assert backbone == {"type": "MobileNetV2", "weights": "imagenet", "include_top": False, "pooling": None,
                        "trainable": False, "alpha": 0.5, "input_shape": [96, 96, 3],   # it picks the weights file
                        "name": "mobile_net_v2", "inputs": ["input"]}
    assert "fine_tune" not in out["fit"]
    assert any(n["line"] == 6 and n["now"] == "the backbone's own preprocessing" for n in out["notes"])


def test_the_top_layers_a_loop_unfreezes_are_the_continue_and_a_batchnorm_guard_is_noted():
    out = imported(BASE + "base.trainable = False\n" + HEAD_ON + TRAIN + "base.trainable = True\n"
                   "for layer in base.layers[:-30]:\n    layer.trainable = False\n"
                   "model.compile(keras.optimizers.Adam(1e-4), 'sparse_categorical_crossentropy')\n"
                   "model.fit(x, y, epochs=5, initial_epoch=2)\n")
    assert out["fit"]["fine_tune"] == {"epochs": 3, "unfreeze": 30, "learning_rate": 0.0001}
    assert out["fit"]["epochs"] == 2 and out["compile"]["optimizer"]["learning_rate"] == 0.001


def test_a_backbone_in_a_sequential_and_its_rescaling_dropped():
    out = imported("base = keras.applications.EfficientNetB0(include_top=False, weights=None, pooling='avg')\n"
                   "base.trainable = False\nmodel = keras.Sequential([layers.Rescaling(1 / 255), base, "
                   "layers.Dense(2)])\n" + TRAIN)
    assert [(l["type"], l.get("weights"), l.get("pooling")) for l in out["model"]["layers"]] == [
        ("EfficientNetB0", None, "avg"), ("Dense", None, None)]


def test_the_keras2_recipe_unfreezes_what_the_layer_table_counts_above_249():
    from tests.unit.test_import_fixtures import imported as fixture
    out = fixture("keras2_inceptionv3_finetune")
    assert out["fit"]["fine_tune"]["unfreeze"] == pretrained.BACKBONES["InceptionV3"].layers - 249
    assert out["model"]["layers"][0]["trainable"] is False


def test_a_backbone_with_its_top_or_a_wrong_argument_is_refused_at_its_line_and_field():
    message = refused("base = keras.applications.ResNet50V2(include_top=True)\n"
                      "model = keras.Sequential([base])\n" + TRAIN)
    assert message.startswith("Line 3: ResNet50V2(include_top=True) is the whole ImageNet classifier")
    with pytest.raises(SpecError) as info:
        imported(BASE.replace("alpha=0.5", "alpha=0.3") + HEAD_ON + TRAIN)
    assert (info.value.errors[0].layer, info.value.errors[0].field) == (0, "alpha")


def test_a_second_fit_that_unfreezes_nothing_is_warned_not_planned():
    out = imported(BASE + "base.trainable = False\n" + HEAD_ON + TRAIN + "model.fit(x, y, epochs=3)\n")
    assert "fine_tune" not in out["fit"]
    assert any("still frozen; it is not carried" in w for w in out["warnings"])


def test_the_tensorflow_tutorials_continue_counts_from_where_the_first_fit_stopped():
    out = imported(BASE + "base.trainable = False\n" + HEAD_ON.replace("x = keras.applications.mobilenet_v2."
                   "preprocess_input(inputs)\n", "x = inputs\n")
                   + "model.compile('adam', 'mse')\nhistory = model.fit(x, y, epochs=10)\nbase.trainable = True\nfine_tune_at = 100\n"
                   "for layer in base.layers[:fine_tune_at]:\n    layer.trainable = False\n"
                   "model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-5), loss='mse')\n"
                   "model.fit(x, y, epochs=10 + 10, initial_epoch=len(history.epoch))\n")
    total = pretrained.BACKBONES["MobileNetV2"].layers
    assert out["fit"]["fine_tune"] == {"epochs": 10, "unfreeze": total - 100, "learning_rate": 1e-5}
    assert any(n["now"] == "initial_epoch=10" for n in notes(out, "fit.fine_tune.epochs"))
    assert any("RMSprop) is not carried beyond its learning rate" in w for w in out["warnings"])
