"""The dataset registry: the built-in digits, keras.datasets when cached, and uploads (folder archives or .npz).

A dataset is described by a dict (the contract's fields) and loaded as a `Data`. No Flask here:
trainer processes load their data through the same registry. Listing never reads arrays (it only
looks for files), so it stays instant; sizes and class counts of built-in and Keras datasets are
filled in once they have been loaded, an upload's are computed once and kept in its database row.
"""

import collections
import re
import secrets
import threading
import zipfile
from pathlib import Path

import numpy as np
from sqlalchemy import select

from . import keras_cache, npz, pixels, sequences, stored, texts
from . import options as dataset_options
from .data import BUILTIN, Data, DatasetError, channels_last, describe, label_stats, stats
from ..db.store import Dataset, Run

PROVENANCE = ("format", "archive", "options", "notes", "facts", "decoded_bytes")


class InUse(DatasetError):
    """An upload that cannot be deleted now: it is being built, or runs use it; str() says which."""


class Registry:
    """Every dataset this instance knows, by id; loaded arrays kept in memory up to `cache_mb`."""

    def __init__(self, data_dir, store=None, cache_mb=512, max_dataset_mb=None):
        """Keep uploads in data_dir/datasets/ and their rows in `store`.

        max_dataset_mb: dataset_options whose decoded arrays would pass it are refused (KD_MAX_DATASET_MB).
        """
        self.data_dir = Path(data_dir)
        self.max_dataset_bytes = None if max_dataset_mb is None else max_dataset_mb * 2**20
        self.store = store
        self.upload_dir = stored.upload_dir(data_dir)
        self.cache_bytes = cache_mb * 2**20
        self._cache = collections.OrderedDict()          # id or (id, options) -> Data, least recently used first
        self._stats = {}                                  # id -> stats() of a loaded built-in or Keras dataset
        self._pixels = {}                                 # id -> pixels.compute() of a dataset
        self._broken = {}                                 # id -> (file signature, message) of an unreadable cache
        self._lock = threading.Lock()
        self._loading = collections.defaultdict(threading.Lock)

    def list(self):
        """Give the description of every dataset: built-in, then keras.datasets, then uploads (oldest first)."""
        rows = self.store.datasets() if self.store else []
        return ([self._builtin(i) for i in BUILTIN] + [self._keras(i) for i in keras_cache.KERAS]
                + [self._upload(row) for row in rows])

    def info(self, ds_id, options=None):
        """Give one dataset's description, or None when there is no such dataset.

        options: a spec's dataset_options; the description's input_shape (and vocabulary_size) is then
        for them, and "options" gives them checked, defaults filled in. SpecError names a bad option.
        """
        info = self._info(ds_id)
        if info is None or options is None or not info["available"]:
            return info
        opts = dataset_options.check(info, options, self.max_dataset_bytes)
        out = {**info, "input_shape": dataset_options.input_shape(info, opts), "options": opts}
        if dataset_options.schema(info) is not None:
            out["vocabulary_size"] = dataset_options.vocabulary_size(info, opts)
        return out

    def _info(self, ds_id):
        """Give one dataset's description for its default options, or None."""
        if ds_id in BUILTIN:
            return self._builtin(ds_id)
        if ds_id in keras_cache.KERAS:
            return self._keras(ds_id)
        row = self._row(ds_id)
        return self._upload(row) if row else None

    def ids(self):
        """Give the ids a spec may name."""
        return [d["id"] for d in self.list()]

    def details(self, ds_id):
        """Give info() plus `samples` {split: [indexes per class]}, loading the arrays once if needed."""
        info = self.info(ds_id)
        if info is None or not info["available"]:
            return info
        row = self._row(ds_id) if info["source"] == "upload" else None
        if row is None and ds_id not in self._stats:
            try:
                self._raw(ds_id)
            except DatasetError:
                return self.info(ds_id)   # now unavailable, with the reason
            info = self.info(ds_id)
        known = row.meta if row else self._stats[ds_id]
        return {**info, "samples": known["samples"], **({"texts": known["texts"]} if "texts" in known else {})}

    def load(self, ds_id, options=None):
        """Give the dataset's arrays with its dataset_options applied (kept in memory per options); DatasetError says why not.

        options None: an image dataset's arrays as stored; another kind's with its default options.
        SpecError names an option the dataset does not take.
        """
        raw = self._raw(ds_id)
        if options is None and raw.kind == "image":
            return raw
        info = self._info(ds_id)
        if dataset_options.schema(info) is None:
            dataset_options.check(info, options)   # raises unless empty
            return raw
        opts = dataset_options.check(info, options, self.max_dataset_bytes)

        def applied():
            try:
                return dataset_options.apply(raw, info, opts)
            except ValueError as exc:   # e.g. load_data's maxlen filter kept nothing
                raise DatasetError(f"{ds_id} with dataset_options {dataset_options.canonical(opts)}: {exc}") from None
        return self._cached((ds_id, dataset_options.canonical(opts)), applied)

    def _raw(self, ds_id):
        """Give the dataset's arrays as read, before any dataset_options (kept in memory)."""
        return self._cached(ds_id, lambda: self._read(ds_id))

    def _cached(self, key, read):
        """Give the Data kept under `key`, or read() it once (one reader per key at a time) and keep it."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            loading = self._loading[key]
        with loading:   # one load per dataset at a time; whoever waited finds it cached
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            data = read()
            self._keep(key, data)
        return data

    def add(self, name, stream, max_bytes, owner_id=None, max_dataset_bytes=None):
        """Store an .npz read in this process as a new dataset (the CLI and tests; the web uses a builder)."""
        name = npz.check_name(name)
        arrays = npz.read(stream, max_bytes, max_dataset_bytes)
        ds_id = self.begin(name, owner_id, {"format": "npz"})
        try:
            return self.finish(ds_id, arrays, arrays["class_names"], arrays["pixel_max"])
        except BaseException:
            self.remove(ds_id)
            raise

    def begin(self, name, owner_id, meta, ds_id=None):
        """Give the id (`ds_id`, or a new one) of a new upload whose row says `building` until it is built or failed."""
        name = npz.check_name(name)
        ds_id = ds_id or self.new_id(name)
        with self.store.session() as s:
            s.add(Dataset(id=ds_id, name=name, owner_id=owner_id, meta={**meta, "state": "building"}))
        return ds_id

    def finish(self, ds_id, arrays, class_names, pixel_max, extra=None):
        """Save built arrays as the dataset's file (and its pixel statistics), then mark its row ready."""
        self.record(ds_id, stored.save(self.upload_dir, ds_id, arrays, class_names, pixel_max, extra))
        return self.info(ds_id)

    def building(self):
        """Give (id, format) of every upload whose row says building: one query (Builds.start_up)."""
        with self.store.session() as s:
            return [tuple(row) for row in s.execute(select(Dataset.id, Dataset.meta["format"].as_string())
                                                    .where(Dataset.meta["state"].as_string() == "building"))]

    def build_order(self, ds_id):
        """Give what a builder needs to build an upload ({format, limits, options}), or None unless it is building."""
        row = self._row(ds_id)
        if row is None or row.meta.get("state") != "building":
            return None
        return {k: row.meta.get(k) for k in ("format", "limits", "options", "archive")}

    def record(self, ds_id, fields):
        """Write what a builder reports into an upload's row (stored.save, stored.failed, progress).

        A failed build leaves none of its files: they are deleted before the row says so. The
        build's lock file goes once its row has ended (Builds.start_up reads it until then).
        """
        if fields.get("state") == "failed":
            stored.unlink(self.upload_dir, ds_id)
        self.update(ds_id, fields)
        if "state" in fields:
            stored.lock_path(self.upload_dir, ds_id).unlink(missing_ok=True)

    def update(self, ds_id, changes):
        """Merge `changes` into an upload's meta (its state, progress, error, provenance)."""
        with self.store.session() as s:
            row = s.get(Dataset, ds_id)
            if row is not None:
                row.meta = {**row.meta, **changes}

    def fail(self, ds_id, message):
        """Mark an upload failed with `message`, leaving none of its files behind."""
        self.record(ds_id, stored.failed(message))

    def remove(self, ds_id):
        """Delete an upload's files and row (an .npz refused while the uploader waits leaves no trace)."""
        stored.unlink(self.upload_dir, ds_id)
        with self.store.session() as s:
            row = s.get(Dataset, ds_id)
            if row is not None:
                s.delete(row)
        stored.lock_path(self.upload_dir, ds_id).unlink(missing_ok=True)

    def delete(self, ds_id):
        """Delete an upload (its row, arrays and statistics) and give its name; InUse while it is built or used.

        DatasetError when there is no such upload: built-in and Keras datasets are never deleted.
        """
        with self.store.session() as s:
            row = s.get(Dataset, ds_id)
            if row is None:
                raise DatasetError(f"There is no uploaded dataset {ds_id!r}; built-in and Keras datasets are not "
                                   f"deleted.")
            if row.meta.get("state") == "building":
                raise InUse(f"The dataset {row.name!r} is being built; delete it once it is ready or failed.")
            runs = s.execute(select(Run.id, Run.name).where(Run.dataset == ds_id).order_by(Run.id)).all()
            if runs:
                named = ", ".join(f"{name!r} (#{run_id})" for run_id, name in runs[:3])
                raise InUse(f"{len(runs)} run(s) use the dataset {row.name!r}: {named}{' …' if len(runs) > 3 else ''}. "
                            f"Delete those runs first, then the dataset.")
            name = row.name
            s.delete(row)
        stored.unlink(self.upload_dir, ds_id)
        with self._lock:
            for cache in (self._cache, self._pixels, self._stats, self._broken):
                cache.pop(ds_id, None)
            for key in [k for k in self._cache if isinstance(k, tuple) and k[0] == ds_id]:
                self._cache.pop(key)
        return name

    def incoming(self, ds_id, kind):
        """Give where an upload's file waits for its builder (`kind`: zip, tar or npz)."""
        return stored.incoming(self.upload_dir, ds_id, kind)

    def pixels_path(self, ds_id):
        """Give where an upload's pixel statistics (mean image per class, histogram) are kept."""
        return stored.pixels_path(self.upload_dir, ds_id)

    def pixel_stats(self, ds_id):
        """Give a dataset's pixel statistics (pixels.compute), from its file or computed once from its arrays."""
        if ds_id in self._pixels:
            return self._pixels[ds_id]
        path = self.pixels_path(ds_id)
        info = self.info(ds_id)
        if info and info["source"] == "upload" and path.is_file():
            out = pixels.load(path)
        elif info and info.get("kind", "image") != "image":
            raise DatasetError(f"{ds_id} is a {info['kind']} dataset: it has no pixel statistics.")
        else:
            out = pixels.compute(self.load(ds_id), len(self.info(ds_id)["class_names"]))
        self._pixels[ds_id] = out
        return out

    def _keep(self, ds_id, data):
        """Cache the arrays, dropping the least recently used past the budget (the newest always stays)."""
        with self._lock:
            self._cache[ds_id] = data
            self._cache.move_to_end(ds_id)
            while len(self._cache) > 1 and sum(d.nbytes for d in self._cache.values()) > self.cache_bytes:
                self._cache.popitem(last=False)

    def _read(self, ds_id):
        """Give freshly read arrays of any dataset."""
        if ds_id in BUILTIN:
            data = self._read_builtin(ds_id)
            self._stats[ds_id] = stats(data, BUILTIN[ds_id]["num_classes"])
            return data
        if ds_id in keras_cache.KERAS:
            return self._read_keras(ds_id)
        return self._read_upload(ds_id)

    def _read_builtin(self, ds_id):
        """Give a built-in dataset's arrays: from data_dir/builtin/ID.npz, which the first process to load it wrote.

        The digits' loader imports scikit-learn (~1.4 CPU s), which a trainer process that reads the
        file never does; the file is ours (written below), and read without pickles all the same.
        """
        entry, path = BUILTIN[ds_id], self.data_dir / "builtin" / f"{ds_id}.npz"
        try:
            with np.load(path, allow_pickle=False) as f:
                return Data(f["x_train"], f["y_train"], f["x_test"], f["y_test"], list(entry["class_names"]),
                            float(entry["pixel_max"]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass
        data = entry["loader"]()
        tmp = path.with_name(f".{ds_id}-{secrets.token_hex(4)}.npz")
        try:   # written whole, then renamed: a process reading it meanwhile finds no file, never half of one
            path.parent.mkdir(exist_ok=True)
            with open(tmp, "wb") as f:
                np.savez(f, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
            tmp.replace(path)
        except OSError:   # a read-only data dir: the loader, every time
            tmp.unlink(missing_ok=True)
        return data

    def _read_keras(self, ds_id):
        """Give a keras.datasets dataset from Keras's cache (never downloaded here)."""
        message = self._keras_problem(ds_id)
        if message:
            raise DatasetError(message)
        try:
            if ds_id in keras_cache.SEQUENCES:
                return self._read_keras_sequences(ds_id)
            x_train, y_train, x_test, y_test = keras_cache.read(ds_id)
        except keras_cache.CacheError as exc:
            self._broken[ds_id] = (keras_cache.signature(ds_id), str(exc))
            raise DatasetError(str(exc)) from None
        entry = keras_cache.KERAS[ds_id]
        data = Data(channels_last(x_train), y_train.reshape(-1).astype(np.int64), channels_last(x_test),
                    y_test.reshape(-1).astype(np.int64), list(entry["class_names"]), 255.0)
        self._stats[ds_id] = stats(data, entry["num_classes"])
        return data

    def _read_keras_sequences(self, ds_id):
        """Give imdb or reuters as its npz holds it (object arrays of rank arrays), and note its default split's statistics."""
        arrays, index = keras_cache.read_sequences(ds_id), keras_cache.read_word_index(ds_id)
        entry = keras_cache.KERAS[ds_id]
        if ds_id == "imdb":
            layout, x = sequences.IMDB, (arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"])
        else:
            layout, x = sequences.REUTERS, (arrays["x"], arrays["y"], np.empty(0, object), np.empty(0, np.int64))
        raw = Data(*x, list(entry["class_names"]), 1.0, kind="sequence", meta={"layout": layout, "word_index": index})
        # The default options' split, unpadded: padding every review to the longest would cost far more.
        x_train, y_train, x_test, y_test = sequences.load_data(*x, layout, dataset_options.check(self._keras(ds_id), {}))
        shown = label_stats(y_train, y_test, entry["num_classes"])
        meta = {"word_index": index, "index_from": 3, "start_char": 1, "oov_char": 2}   # load_data's defaults
        texts = {split: [[_text(x, i, meta) for i in per_class] for per_class in shown["samples"][split]]
                 for split, x in (("train", x_train), ("test", x_test))}
        self._stats[ds_id] = {**shown, "texts": texts,
                              "vocabulary_size": max(sequences.max_rank(x_train), sequences.max_rank(x_test)) + 1,
                              "max_length": max(map(len, x_train + x_test), default=0)}
        return raw

    def _read_upload(self, ds_id):
        """Give an uploaded dataset's arrays from its file in the data dir."""
        row = self._row(ds_id)
        if row is None:
            raise DatasetError(f"There is no dataset {ds_id!r}.")
        path, kind = self._path(ds_id), row.meta.get("kind") or "image"
        try:
            if kind == "text":   # a UTF-8 blob and offsets (texts.py), made into str arrays
                x_train, y_train, x_test, y_test = texts.load(path)
            else:
                with np.load(path, allow_pickle=False) as f:
                    x_train, y_train, x_test, y_test = (f[k] for k in npz.REQUIRED)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise DatasetError(f"The file of dataset {ds_id} ({path}) could not be read: {exc}") from None
        return Data(x_train, y_train, x_test, y_test, list(row.meta["class_names"]), float(row.meta["pixel_max"]),
                    kind)

    def _builtin(self, ds_id):
        """Give a built-in dataset's description."""
        return describe(ds_id, {**BUILTIN[ds_id], **self._stats.get(ds_id, {})})

    def _keras(self, ds_id):
        """Give a Keras dataset's description: available when its cached files are there and readable."""
        message = self._keras_problem(ds_id)
        entry = {"pixel_max": 255.0, **keras_cache.KERAS[ds_id], "source": "keras", **self._stats.get(ds_id, {})}
        return describe(ds_id, with_options(entry), available=message is None, message=message)

    def _keras_problem(self, ds_id):
        """Give why a Keras dataset cannot be loaded (missing or unreadable files), or None."""
        message = keras_cache.missing_message(ds_id)
        broken = self._broken.get(ds_id)
        if message is None and broken and broken[0] == keras_cache.signature(ds_id):
            return broken[1]
        return message

    def _upload(self, row):
        """Give an uploaded dataset's description from its database row."""
        state = row.meta.get("state", "ready")
        present = state == "ready" and self._path(row.id).is_file()
        message = {"building": "This dataset is being built from its upload.",
                   "failed": row.meta.get("error")}.get(state)
        if state == "ready" and not present:
            message = f"The file of this dataset is missing: {self._path(row.id)}."
        out = describe(row.id, with_options({**row.meta, "name": row.name, "source": "upload"}), present, message)
        out.update({"created_at": row.created_at.isoformat(), "owner_id": row.owner_id, "state": state,
                    "error": row.meta.get("error"), "progress": row.meta.get("progress"),
                    "provenance": {k: row.meta.get(k) for k in PROVENANCE}})
        return out

    def _row(self, ds_id):
        """Give the database row of an uploaded dataset, or None."""
        if self.store is None or ds_id in BUILTIN or ds_id in keras_cache.KERAS:
            return None
        with self.store.session() as s:
            return s.get(Dataset, ds_id)

    def _path(self, ds_id):
        """Give where an uploaded dataset's arrays are stored."""
        return stored.arrays_path(self.upload_dir, ds_id)

    def new_id(self, name):
        """Give an unused id for an upload named `name`: a slug of it and a short random suffix."""
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-") or "dataset"
        while True:
            ds_id = f"{slug}-{secrets.token_hex(3)}"
            if self._row(ds_id) is None:
                return ds_id


def with_options(entry):
    """Give a description's entry with its dataset_options table (name, kind, default, bounds) when it takes options."""
    name = entry.get("options_schema")
    return {**entry, "dataset_options": dataset_options.params_json(name)} if name in dataset_options.SCHEMAS else entry


def _text(x, index, meta, words=60):
    """Give the first `words` words of sequence x[index] decoded as Data.text does (the dataset page's samples)."""
    one = np.empty(1, dtype=object)
    one[0] = x[index][:words]
    return Data(one, np.zeros(1, np.int64), one, np.zeros(1, np.int64), [], 1.0, kind="sequence",
                meta=meta).text("train", 0) + (" …" if len(x[index]) > words else "")
