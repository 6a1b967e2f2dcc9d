"""The issue's seed MNIST script, pasted as is, trained through the dashboard on an MNIST-like upload.

The data: a 5,000-image sample of real MNIST when Keras's cache has it (~/.keras/datasets/mnist.npz);
otherwise MNIST-like digits made from scikit-learn's 8x8 digits, each drawn into a 20x20 box
centred in 28x28 (as MNIST's digits are), shifted by up to 2 pixels and lightly noised: 5,000
training images from the digits' training split, 1,000 test images from its test split only.

It imports tests/fixtures/keras_scripts/seed_mnist.py through `POST /api/models/import`, uploads
the .npz through `POST /api/datasets`, starts `POST /api/runs` with the imported model, compile, fit
and predict (4 epochs, batch 128, Adadelta at 1.0), and prints val_accuracy per epoch and the
gallery's images for the script's predict step. Flask test client, embedded executor, in process.

Usage: .venv/bin/python bench/seed_mnist.py [--epochs 4] [--train 5000] [--test 1000] [--shift 2] [--noise 12]
       [--keras-version keras3]   (to see what Keras 3's Adadelta default, 0.001, would give)
"""

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import signed_in  # noqa: E402
from webapp import create_app  # noqa: E402

SEED = ROOT / "tests" / "fixtures" / "keras_scripts" / "seed_mnist.py"


def digits_like_mnist(n_train, n_test, shift=2, noise=12.0, seed=0):
    """Give (x_train, y_train, x_test, y_test, what): scikit-learn digits drawn as 28x28 MNIST-like images."""
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(digits.images, digits.target, test_size=0.2, random_state=0,
                                              stratify=digits.target)
    rng = np.random.default_rng(seed)

    def draw(images, labels, n):
        picks = rng.integers(0, len(images), n)
        out = np.zeros((n, 28, 28), np.uint8)
        for k, i in enumerate(picks):
            box = Image.fromarray((images[i] * 255 / 16).astype(np.uint8)).resize((20, 20), Image.BILINEAR)
            dy, dx = rng.integers(-shift, shift + 1, 2)
            out[k, 4 + dy:24 + dy, 4 + dx:24 + dx] = np.asarray(box)
        return np.clip(out + rng.normal(0, noise, out.shape), 0, 255).astype(np.uint8), labels[picks].astype(np.uint8)

    x_train, y_train = draw(x_tr, y_tr, n_train)
    x_test, y_test = draw(x_te, y_te, n_test)
    return (x_train, y_train, x_test, y_test,
            f"MNIST-like digits (scikit-learn 8x8 digits drawn at 28x28, shifted up to {shift} px, noise {noise:g})")


def real_mnist(n_train, n_test, seed=0):
    """Give a sample of real MNIST from Keras's cache, or None when the cache has none."""
    path = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as f:
        rng = np.random.default_rng(seed)
        tr = rng.choice(len(f["x_train"]), n_train, replace=False)
        te = np.arange(n_test)   # the test split's first images, so indexes 10..19 are MNIST's own
        return f["x_train"][tr], f["y_train"][tr], f["x_test"][te], f["y_test"][te], f"real MNIST ({path})"


def upload(client, x_train, y_train, x_test, y_test):
    """Upload the arrays as an .npz through POST /api/datasets; give the dataset."""
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    buffer.seek(0)
    r = client.post("/api/datasets", data={"name": "mnist-like", "file": (buffer, "mnist_like.npz")},
                    content_type="multipart/form-data")
    return r.get_json()["dataset"]


def train(client, spec):
    """Start a run of the spec, wait until it ends, and give it."""
    r = client.post("/api/runs", json=spec)
    assert r.status_code == 201, r.get_json()
    run_id, started = r.get_json()["run"]["id"], time.monotonic()
    while True:
        run = client.get(f"/api/runs/{run_id}").get_json()["run"]
        if run["status"] in ("completed", "stopped", "failed", "interrupted"):
            break
        time.sleep(1)
    print(f"run {run_id}: {run['status']} in {time.monotonic() - started:.0f} s "
          f"(load average {os.getloadavg()[0]:.1f}) {run.get('error') or ''}")
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train", type=int, default=5000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--shift", type=int, default=2, help="MNIST-like digits: largest shift in pixels")
    parser.add_argument("--noise", type=float, default=12.0, help="MNIST-like digits: pixel noise (std, of 255)")
    parser.add_argument("--keras-version", default=None, help="read the script as this Keras (default: detected)")
    args = parser.parse_args()
    x_train, y_train, x_test, y_test, what = (real_mnist(args.train, args.test)
                                              or digits_like_mnist(args.train, args.test, args.shift, args.noise))
    client = signed_in(create_app({"KD_DATA_DIR": tempfile.mkdtemp(prefix="kd-seed-"), "KD_WARM_SPARE": "0",
                                   "TESTING": True}))
    answer = client.post("/api/models/import", json={"format": "python", "source": SEED.read_text(),
                                                     "keras_version": args.keras_version}).get_json()
    optimizer = answer["compile"]["optimizer"]
    print(f"imported: {len(answer['model']['layers'])} layers, {optimizer['type']} learning_rate "
          f"{optimizer['learning_rate']}, epochs {answer['fit']['epochs']}, batch {answer['fit']['batch_size']}, "
          f"checkpoint on {answer['fit']['callbacks']['checkpoint']['monitor']}, predict {answer['predict']}")
    dataset = upload(client, x_train, y_train, x_test, y_test)
    print(f"data: {what}; {len(x_train)} train, {len(x_test)} test images, {dataset['input_shape']}")
    spec = {"name": "seed", "dataset": dataset["id"], **{k: answer[k] for k in ("model", "compile", "fit", "predict")}}
    spec["fit"] = {**spec["fit"], "epochs": args.epochs}
    run = train(client, spec)
    for epoch, (acc, val) in enumerate(zip(run["history"]["accuracy"], run["history"]["val_accuracy"]), 1):
        print(f"  epoch {epoch}: accuracy {acc:.4f}  val_accuracy {val:.4f}")
    indexes = ",".join(map(str, answer["predict"]["indexes"]))
    page = client.get(f"/api/runs/{run['id']}/predictions?indexes={indexes}").get_json()
    print("gallery on the predict step's test images:")
    print("  index    " + " ".join(f"{item['index']:>3}" for item in page["items"]))
    print("  predicted" + " ".join(f"{item['predicted']:>3}" for item in page["items"]))
    print("  true     " + " ".join(f"{item['true']:>3}" for item in page["items"]))


if __name__ == "__main__":
    main()
