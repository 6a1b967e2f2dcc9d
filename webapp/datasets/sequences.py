"""Word-rank sequences as keras.datasets.imdb/reuters `load_data` gives them, padded or bag-of-words, in NumPy.

Keras 3.15's loaders (keras/src/datasets/imdb.py, reuters.py) shuffle with
`np.random.RandomState(seed)`, prepend `start_char`, shift ranks by `index_from`, drop sequences not
shorter than `maxlen` (`remove_long_seq`), and replace ranks outside `skip_top <= w < num_words`
by `oov_char`. This module does the same steps on the arrays of the cached `.npz` (the raw `Data`
read by keras_cache.py), without importing Keras: the web process describes and shows these
datasets too. `pad` is `keras.utils.pad_sequences(x, maxlen)` with its defaults (pre-padding,
pre-truncating, value 0, int32) and `binary` is the Keras 2 `Tokenizer(num_words)
.sequences_to_matrix(x, mode="binary")` reuters_mlp.py uses (Keras 3 has no Tokenizer: a rank below
num_words sets its column to 1). tests/unit/test_sequence_data.py pins load_data and pad to Keras's
own functions.
"""

import numpy as np

IMDB, REUTERS = "imdb", "reuters"   # the two layouts: x_train/x_test of the npz, or one x split by test_split


def load_data(x_train, y_train, x_test, y_test, layout, opts):
    """Give (x_train, y_train, x_test, y_test): lists of int64 rank arrays and int64 labels, as Keras's load_data gives them.

    The x arrays are object arrays of rank sequences (lists or arrays). layout IMDB: the npz's splits,
    each shuffled by the same RandomState in turn. REUTERS: x_train, y_train are the npz's x, y
    (x_test is empty), shuffled, then split at int(n * (1 - test_split)). opts: the checked
    dataset_options (options.py); load_data's maxlen filter is opts["filter_maxlen"] (False or an int).
    """
    rng = np.random.RandomState(opts["seed"])
    parts = [(x_train, y_train), (x_test, y_test)] if layout == IMDB else [(x_train, y_train)]
    shuffled = []
    for x, y in parts:
        indices = np.arange(len(x))
        rng.shuffle(indices)
        shuffled.append(([_shift(x[i], opts) for i in indices], np.asarray(y)[indices]))
    if opts["filter_maxlen"]:
        shuffled = [_remove_long(opts["filter_maxlen"], x, y) for x, y in shuffled]
        if any(not x for x, _ in shuffled):
            raise ValueError(f"After filtering for sequences shorter than maxlen={opts['filter_maxlen']}, "
                             f"no sequence was kept. Increase filter_maxlen.")
    xs = [seq for x, _ in shuffled for seq in x]
    labels = np.concatenate([y for _, y in shuffled]).astype(np.int64)
    num_words = opts["num_words"] or max_rank(xs)
    xs = [_cut(seq, opts["skip_top"], num_words, opts["oov_char"]) for seq in xs]
    idx = len(shuffled[0][0]) if layout == IMDB else int(len(xs) * (1 - opts.get("test_split", 0.2)))
    return xs[:idx], labels[:idx], xs[idx:], labels[idx:]


def _shift(seq, opts):
    """Give one sequence with start_char in front and every rank shifted by index_from."""
    shifted = np.asarray(seq, dtype=np.int64) + opts["index_from"]
    return shifted if opts["start_char"] is None else np.concatenate([[opts["start_char"]], shifted])


def _remove_long(maxlen, x, y):
    """Give (x, y) without the sequences of maxlen or more ranks (keras.utils.python_utils.remove_long_seq)."""
    keep = [i for i, seq in enumerate(x) if len(seq) < maxlen]
    return [x[i] for i in keep], np.asarray(y)[keep]


def _cut(seq, skip_top, num_words, oov_char):
    """Give a sequence with ranks outside skip_top..num_words-1 made oov_char (or dropped when oov_char is None)."""
    inside = (seq >= skip_top) & (seq < num_words)
    return seq[inside] if oov_char is None else np.where(inside, seq, oov_char)


def pad(seqs, maxlen=None):
    """Give int32 (N, maxlen) as keras.utils.pad_sequences(seqs, maxlen) does: zeros in front, the end kept.

    maxlen None: the longest sequence's length.
    """
    lengths = [len(s) for s in seqs]
    width = max(lengths, default=0) if maxlen is None else maxlen
    out = np.zeros((len(seqs), width), dtype=np.int32)
    if width == 0:
        return out
    for row, seq in zip(out, seqs):
        kept = seq[-width:]
        if len(kept):
            row[width - len(kept):] = kept
    return out


def binary(seqs, num_words):
    """Give float32 (N, num_words): 1 where a rank below num_words occurs (Tokenizer.sequences_to_matrix, binary)."""
    out = np.zeros((len(seqs), num_words), dtype=np.float32)
    for row, seq in zip(out, seqs):
        ranks = np.asarray(seq, dtype=np.int64)
        row[ranks[(ranks >= 0) & (ranks < num_words)]] = 1.0
    return out


def max_rank(seqs):
    """Give the largest rank in the sequences (0 when there are none)."""
    return int(max((s.max() for s in seqs if len(s)), default=0))
