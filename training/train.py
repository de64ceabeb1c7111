"""The tutorial's entry script: fit LogisticRegression(C=1/reg) on MNIST, log its accuracy, save the model.

It runs on the compute, local or Azure ML, with the tutorial's arguments. `--data-folder` is the datastore's
mount point; the files are under its `mnist/` folder (the tutorial's layout), or directly in it when a single
folder is mounted. Metrics go through MLflow: locally to the workspace's MLflow run whose id the adapter puts
in MLFLOW_RUN_ID, inside an Azure ML run (with azureml-mlflow) to that run, where `run.get_metrics()` reads
them. It never imports Prefect.

It saves the tutorial's pickle only: the local registry builds the MLflow model that `mlflow models serve` uses
from it when it registers a version (workspaces/local/servable.py), once, rather than every run of a sweep.
"""

import argparse
import os
import time

import joblib
import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression
from utils import PARSED_DIR_VARIABLE, load_split

MODEL_FILE = os.path.join("outputs", "sklearn_mnist_model.pkl")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-folder", type=str, dest="data_folder", help="data folder mounting point")
    parser.add_argument("--regularization", type=float, dest="reg", default=0.01, help="regularization rate")
    return parser.parse_args()


def mnist_folder(data_folder):
    nested = os.path.join(data_folder, "mnist")
    return nested if os.path.exists(os.path.join(nested, "train-images.gz")) else data_folder


def main():
    args = parse_args()
    data_folder = mnist_folder(args.data_folder)
    print("Data folder:", data_folder)

    # pixels divided by 255: the model's input contract is 784 floats in 0..1; parsed once for a whole sweep,
    # kept where the local workspace says (unset on Azure ML: beside the data)
    parsed_dir = os.environ.get(PARSED_DIR_VARIABLE)
    X_train, y_train = load_split(data_folder, "train", parsed_dir=parsed_dir)
    X_test, y_test = load_split(data_folder, "test", parsed_dir=parsed_dir)
    print(X_train.shape, y_train.shape, X_test.shape, y_test.shape, sep="\n")

    with mlflow.start_run():
        print("Train a logistic regression model with regularization rate of", args.reg)
        clf = LogisticRegression(C=1.0 / args.reg, random_state=42)
        fit_started = time.process_time()
        clf.fit(X_train, y_train)
        fit_cpu_seconds = time.process_time() - fit_started  # all threads: what the fit itself cost

        print("Predict the test set")
        y_hat = clf.predict(X_test)
        acc = float(np.average(y_hat == y_test))
        print("Accuracy is", acc)

        mlflow.log_param("regularization rate", float(args.reg))
        mlflow.log_metric("regularization rate", float(args.reg))
        mlflow.log_metric("accuracy", acc)
        mlflow.log_metric("fit_cpu_seconds", round(fit_cpu_seconds, 2))

        # files saved in the "outputs" folder are uploaded with the run (Azure ML) or kept in its folder (local)
        os.makedirs("outputs", exist_ok=True)
        joblib.dump(value=clf, filename=MODEL_FILE)


if __name__ == "__main__":
    main()
