"""The catalog's layers: every Keras 3 layer a spec may name, with Keras's own argument names and defaults.

Pure data: no Keras import. `input_rank` is the rank per sample a layer needs; `build.py` checks it
before Keras sees the layer, so the message can say which axes are missing. Image augmentation and
preprocessing layers live in `augmentation.py`.
"""

from . import augmentation, pretrained
from .entries import (CENTER, EPSILON_LAYER, GO_BACKWARDS, IMG, RECURRENT, RECURRENT_ACTIVATION,
                      RECURRENT_DROPOUT, RETURN_SEQUENCES, SCALE, SEQ, USE_BIAS, VOL, DROPOUT, Entry,
                      Param, activation, conv, ints, number, pool, rate, recurrent, units, window)


def _rank(rank, hint):
    return {"input_rank": rank, "input_hint": hint}


_CORE = [
    Entry("Dense", (units(), activation(), USE_BIAS),
          "Densely connected layer: output = activation(dot(input, kernel) + bias).", category="Core"),
    Entry("Activation", (activation("relu", required=True),),
          "Applies an activation function to its input.", category="Core"),
    Entry("Embedding", (
        Param("input_dim", "int", 256, required=True, min=1, max=10_000_000,
              help="Size of the vocabulary: largest integer index + 1."),
        Param("output_dim", "int", 32, required=True, min=1, max=100_000,
              help="Dimension of the dense embedding."),
        Param("mask_zero", "bool", False, help="Treat 0 as padding to be masked."),
    ), "Turns non-negative integers (indexes) into dense vectors of fixed size.", category="Core"),
    Entry("Masking", (number("mask_value", 0.0, help_text="Timesteps whose features all equal this are skipped."),),
          "Masks timesteps whose every feature equals mask_value, for the layers after it.",
          category="Core"),
]

_CONVOLUTION = [
    Entry("Conv1D", conv(1), "1-D convolution over a sequence (timesteps, features).",
          **_rank(2, SEQ), category="Convolution"),
    Entry("Conv2D", conv(2), "2-D convolution over images (height, width, channels).",
          **_rank(3, IMG), category="Convolution"),
    Entry("Conv3D", conv(3), "3-D convolution over volumes (depth, height, width, channels).",
          **_rank(4, VOL), category="Convolution"),
    Entry("Conv2DTranspose", window(2), "Transposed 2-D convolution (sometimes called deconvolution): "
          "grows an image.", **_rank(3, IMG), category="Convolution"),
    Entry("SeparableConv2D", window(2, depth_multiplier=True),
          "Depthwise 2-D convolution, then a pointwise (1x1) one that mixes the channels.",
          **_rank(3, IMG), category="Convolution"),
    Entry("DepthwiseConv2D", window(2, filters=False, depth_multiplier=True),
          "2-D convolution applied to each channel separately.", **_rank(3, IMG), category="Convolution"),
]

_POOLING = [
    Entry("MaxPooling1D", pool(1), "Max pooling over a sequence.", **_rank(2, SEQ), category="Pooling"),
    Entry("AveragePooling1D", pool(1), "Average pooling over a sequence.", **_rank(2, SEQ), category="Pooling"),
    Entry("MaxPooling2D", pool(2), "Max pooling over images: the largest value in each window.",
          **_rank(3, IMG), category="Pooling"),
    Entry("AveragePooling2D", pool(2), "Average pooling over images.", **_rank(3, IMG), category="Pooling"),
    Entry("MaxPooling3D", pool(3), "Max pooling over volumes.", **_rank(4, VOL), category="Pooling"),
    Entry("AveragePooling3D", pool(3), "Average pooling over volumes.", **_rank(4, VOL), category="Pooling"),
    Entry("GlobalAveragePooling1D", (), "Averages over the time axis: (timesteps, features) -> (features,).",
          **_rank(2, SEQ), category="Pooling"),
    Entry("GlobalMaxPooling1D", (), "Max over the time axis: (timesteps, features) -> (features,).",
          **_rank(2, SEQ), category="Pooling"),
    Entry("GlobalAveragePooling2D", (), "Averages over height and width: (h, w, c) -> (c,).",
          **_rank(3, IMG), category="Pooling"),
    Entry("GlobalMaxPooling2D", (), "Max over height and width: (h, w, c) -> (c,).",
          **_rank(3, IMG), category="Pooling"),
]

_RESHAPING = [
    Entry("Flatten", (), "Flattens the input per sample: (h, w, c) -> (h*w*c,).", category="Reshaping"),
    Entry("Reshape", (
        Param("target_shape", "shape", [64], required=True,
              help="Shape per sample, without the batch axis; one entry may be -1."),
    ), "Reshapes the input per sample to target_shape.", category="Reshaping"),
    Entry("Permute", (
        Param("dims", "shape", [2, 1], required=True,
              help="The new order of the axes, counted from 1 (the batch axis is not counted)."),
    ), "Reorders the axes of each sample: Permute((2, 1)) swaps the first two.", category="Reshaping"),
    Entry("RepeatVector", (Param("n", "int", 3, required=True, min=1, max=100_000, help="Repetitions."),),
          "Repeats a vector n times: (features,) -> (n, features).", **_rank(1, "features"),
          category="Reshaping"),
    Entry("ZeroPadding1D", (
        ints("padding", [1, 1], 2, low=0, help_text="Zeros added at the start and end of the sequence."),
    ), "Adds zeros at the start and end of a sequence.", **_rank(2, SEQ), category="Reshaping"),
    Entry("ZeroPadding2D", (
        ints("padding", [1, 1], 2, low=0, help_text="Rows and columns of zeros added on each side."),
    ), "Adds rows and columns of zeros around an image.", **_rank(3, IMG), category="Reshaping"),
    Entry("Cropping1D", (
        ints("cropping", [1, 1], 2, low=0, help_text="Timesteps cut at the start and at the end."),
    ), "Cuts timesteps off the start and end of a sequence.", **_rank(2, SEQ), category="Reshaping"),
    Entry("Cropping2D", (
        ints("cropping", [0, 0], 2, low=0, help_text="Rows and columns cut on each side."),
    ), "Cuts rows and columns off each side of an image.", **_rank(3, IMG), category="Reshaping"),
    Entry("UpSampling1D", (ints("size", 2, 1, help_text="Repetitions of each timestep."),),
          "Repeats each timestep size times.", **_rank(2, SEQ), category="Reshaping"),
    Entry("UpSampling2D", (
        ints("size", [2, 2], 2, help_text="Upsampling factors for rows and columns."),
        Param("interpolation", "choice", "nearest",
              choices=("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5", "area")),
    ), "Repeats rows and columns of an image.", **_rank(3, IMG), category="Reshaping"),
]

_ACTIVATION_LAYERS = [
    Entry("ReLU", (
        Param("max_value", "float", None, nullable=True, min=0.0, max=1e6, help="Largest output (None: no cap)."),
        number("negative_slope", 0.0, low=0.0, high=1e6, help_text="Slope below the threshold."),
        number("threshold", 0.0, low=0.0, high=1e6, help_text="Values below it are damped."),
    ), "Rectified linear unit: max(x, 0), with an optional cap, slope and threshold.", category="Activation"),
    Entry("LeakyReLU", (number("negative_slope", 0.3, low=0.0, high=1e6, help_text="Slope for x < 0."),),
          "Leaky ReLU: x for x >= 0, negative_slope * x below.", category="Activation"),
    Entry("PReLU", (Param("shared_axes", "shape", None, nullable=True,
                          help="Axes (from 1) along which the learned slope is shared, e.g. [1, 2] for images."),),
          "Parametric ReLU: like LeakyReLU, with the slope learned per unit.", category="Activation"),
    Entry("ELU", (number("alpha", 1.0, low=0.0, high=1e6, help_text="Scale of the negative part."),),
          "Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) below.", category="Activation"),
    Entry("Softmax", (Param("axis", "int", -1, min=-8, max=8, help="The axis the softmax normalizes over."),),
          "Softmax over an axis: outputs that sum to 1.", category="Activation"),
]

_REGULARIZATION = [
    Entry("Dropout", (rate(),), "Randomly sets input units to 0 while training, against overfitting.",
          category="Regularization"),
    Entry("SpatialDropout1D", (rate("Fraction of the feature channels to drop."),),
          "Drops whole feature channels of a sequence instead of single units.", **_rank(2, SEQ),
          category="Regularization"),
    Entry("SpatialDropout2D", (rate("Fraction of the channels to drop."),),
          "Drops whole feature maps (channels) instead of single units.", **_rank(3, IMG),
          category="Regularization"),
    Entry("GaussianDropout", (rate("Drop probability, as in Dropout; noise stddev sqrt(rate / (1 - rate))."),),
          "Multiplies by 1-centered Gaussian noise while training.", category="Regularization"),
    Entry("AlphaDropout", (rate(),), "Dropout that keeps the mean and variance, for selu networks.",
          category="Regularization"),
    Entry("GaussianNoise", (number("stddev", 0.1, low=0.0, high=1e6, required=True,
                                   help_text="Standard deviation of the noise."),),
          "Adds zero-centered Gaussian noise while training.", category="Regularization"),
    Entry("ActivityRegularization", (
        number("l1", 0.0, low=0.0, high=1e6, help_text="L1 penalty on the activity."),
        number("l2", 0.0, low=0.0, high=1e6, help_text="L2 penalty on the activity."),
    ), "Adds a penalty on its input to the loss; passes the input on unchanged.", category="Regularization"),
]

_NORMALIZATION = [
    Entry("BatchNormalization", (
        Param("momentum", "float", 0.99, min=0.0, max=1.0, help="Momentum for the moving average."),
        EPSILON_LAYER, CENTER, SCALE,
    ), "Normalizes its inputs to mean 0 and standard deviation 1, per batch.", category="Normalization"),
    Entry("LayerNormalization", (EPSILON_LAYER, CENTER, SCALE),
          "Normalizes each sample over its last axis.", category="Normalization"),
    Entry("GroupNormalization", (
        Param("groups", "int", 32, min=1, max=100_000, help="Groups the channels are split into; "
              "it must divide the number of channels."),
        EPSILON_LAYER, CENTER, SCALE,
    ), "Normalizes each group of channels of each sample.", category="Normalization"),
    Entry("UnitNormalization", (), "Scales each sample to unit L2 norm over its last axis.",
          category="Normalization"),
]

_RECURRENT = [
    Entry("LSTM", recurrent("LSTM"), "Long Short-Term Memory layer (Hochreiter 1997).",
          **_rank(2, SEQ), category="Recurrent"),
    Entry("GRU", recurrent("GRU"), "Gated Recurrent Unit (Cho et al. 2014).", **_rank(2, SEQ),
          category="Recurrent"),
    Entry("SimpleRNN", recurrent("SimpleRNN"), "Fully-connected RNN: output fed back to input.",
          **_rank(2, SEQ), category="Recurrent"),
    Entry("ConvLSTM2D", window(2, act_default="tanh") + (
        RECURRENT_ACTIVATION, RETURN_SEQUENCES, DROPOUT, RECURRENT_DROPOUT, GO_BACKWARDS,
    ), "LSTM whose steps are 2-D convolutions, over a sequence of images.",
        **_rank(4, "timesteps, height, width, channels"), category="Recurrent"),
    Entry("Bidirectional", (
        Param("layer", "layer", {"type": "LSTM", "units": 32}, required=True, choices=RECURRENT,
              help="The recurrent layer (LSTM, GRU or SimpleRNN) run forwards and backwards."),
        Param("merge_mode", "choice", "concat", nullable=True, choices=("concat", "sum", "mul", "ave"),
              help="How the forward and backward outputs are combined."),
    ), "Runs a recurrent layer in both directions.", **_rank(2, SEQ), category="Recurrent"),
]

# A text dataset's model starts with it (validate.check_text_input); the trainer adapts it on the training texts.
TEXT_VECTORIZATION = Entry("TextVectorization", (
    Param("max_tokens", "int", None, nullable=True, min=3, max=10_000_000,
          help="Largest vocabulary, the padding and OOV tokens included (None: every word of the training texts)."),
    Param("standardize", "choice", "lower_and_strip_punctuation", nullable=True,
          choices=("lower_and_strip_punctuation", "lower", "strip_punctuation"),
          help="How each text is cleaned before it is split (None: as it is)."),
    Param("split", "choice", "whitespace", nullable=True, choices=("whitespace", "character"),
          help="How a text is cut into tokens (None: not at all)."),
    Param("ngrams", "int", None, nullable=True, min=1, max=5,
          help="Also count runs of up to this many tokens (None: single tokens)."),
    Param("output_mode", "choice", "int", choices=("int", "multi_hot", "count", "tf_idf"),
          help="int: a sequence of token indexes (for Embedding); the others: one vector per text."),
    Param("output_sequence_length", "int", None, nullable=True, min=1, max=100_000,
          help="int mode: pad or cut every sequence to this length (None: the longest of each batch)."),
), "Turns raw strings into token indexes; its vocabulary is adapted on the training texts when the run starts "
   "and saved inside model.keras, so the downloaded model predicts on raw strings.", category="Text")


def _merge(kind, doc, params=(), most=None):
    """Give a merge layer's entry: it takes two or more inputs (exactly two when `most` is 2)."""
    return Entry(kind, params, doc, category="Merge", extra={"min_inputs": 2, "max_inputs": most})


# Merge layers join two or more branches of a graph spec (their inputs are named with "inputs").
MERGE = [
    _merge("Add", "Adds its inputs, element by element (shapes must match): a residual connection."),
    _merge("Subtract", "Subtracts its second input from its first, element by element.", most=2),
    _merge("Multiply", "Multiplies its inputs, element by element."),
    _merge("Average", "Averages its inputs, element by element."),
    _merge("Maximum", "Keeps the largest of its inputs, element by element."),
    _merge("Minimum", "Keeps the smallest of its inputs, element by element."),
    _merge("Concatenate", "Joins its inputs along an axis (the others must match): an Inception-style "
           "or skip connection.", (Param("axis", "int", -1, min=-8, max=8,
                                        help="Axis to join along; -1 is the channels (last) axis."),)),
    _merge("Dot", "Dot product of its two inputs along the given axes.", (
        ints("axes", [-1, -1], 2, required=True, low=-8,
             help_text="Axis of each input to take the product along (one int for both)."),
        Param("normalize", "bool", False, help="L2-normalize the inputs first (cosine similarity)."),
    ), most=2),
]

_PLAIN = (_CORE + _CONVOLUTION + _POOLING + _RESHAPING + _ACTIVATION_LAYERS + _REGULARIZATION
          + _NORMALIZATION + _RECURRENT + augmentation.LAYERS)
WRAPPABLE = tuple(e.type for e in _PLAIN)
TIME_DISTRIBUTED = Entry("TimeDistributed", (
    Param("layer", "layer", {"type": "Dense", "units": 32}, required=True, choices=WRAPPABLE,
          help="The layer applied to every timestep (the first axis of each sample)."),
), "Applies a layer to every timestep of a sequence: (timesteps, ...) -> (timesteps, ...).",
    input_rank=None, input_hint="timesteps, ...", category="Wrappers")
ALL = _PLAIN + [TIME_DISTRIBUTED, TEXT_VECTORIZATION] + MERGE + pretrained.entries()
