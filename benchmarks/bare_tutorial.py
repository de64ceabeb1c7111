"""The tutorial's computation as one plain script, no Prefect: what the flow is measured against.

Loads MNIST with the tutorial's `load_data` (scaled by 255.0, so float64, as in the notebook), fits the local
model `LogisticRegression()`, then `LogisticRegression(C=1/reg, random_state=42)` for each rate, one after
the other, as a user without the flow would. Prints one JSON line: each fit's accuracy, seconds and CPU seconds.

    python benchmarks/bare_tutorial.py --data-folder ../shared/data/mnist --regularization 0.8 --regularization 0.4
"""

import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
from sklearn.linear_model import LogisticRegression


def load_data(filename, label=False):
    """The tutorial's utils.load_data, as published."""
    with gzip.open(filename) as gz:
        struct.unpack("I", gz.read(4))
        n_items = struct.unpack(">I", gz.read(4))
        if not label:
            n_rows = struct.unpack(">I", gz.read(4))[0]
            n_cols = struct.unpack(">I", gz.read(4))[0]
            res = np.frombuffer(gz.read(n_items[0] * n_rows * n_cols), dtype=np.uint8)
            res = res.reshape(n_items[0], n_rows * n_cols)
        else:
            res = np.frombuffer(gz.read(n_items[0]), dtype=np.uint8)
            res = res.reshape(n_items[0], 1)
    return res


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-folder", required=True)
    parser.add_argument("--regularization", type=float, action="append", required=True)
    args = parser.parse_args()
    path = lambda name: os.path.join(args.data_folder, name)  # noqa: E731
    X_train = load_data(path("train-images-idx3-ubyte.gz"), False) / 255.0
    X_test = load_data(path("t10k-images-idx3-ubyte.gz"), False) / 255.0
    y_train = load_data(path("train-labels-idx1-ubyte.gz"), True).reshape(-1)
    y_test = load_data(path("t10k-labels-idx1-ubyte.gz"), True).reshape(-1)
    fits = []
    models = [("baseline", LogisticRegression())]
    models += [(f"reg-{reg:g}", LogisticRegression(C=1.0 / reg, random_state=42)) for reg in args.regularization]
    for name, clf in models:
        started, cpu_started = time.perf_counter(), time.process_time()
        clf.fit(X_train, y_train)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        accuracy = float(np.average(clf.predict(X_test) == y_test))
        fits.append({"model": name, "accuracy": accuracy, "fit_seconds": seconds, "cpu_seconds": cpu_seconds})
    print(json.dumps({"fits": fits}))


if __name__ == "__main__":
    main()
