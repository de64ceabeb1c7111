"""mnist-scoring: the tutorial's part 2 on the local workspace: score digits with a registered model.

    python flows/score.py                          # the champion on the workspace's MNIST test set
    python flows/score.py --model 3 --images digits/   # a folder of 28x28 PNGs (sub-folders 0-9: labelled)
    python flows/score.py --images t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz

The model is loaded through the registry, its files checked against their registered sha256; every input is
read and checked before anything is written; predictions.csv is written whole or not at all.
"""

import sys

if __name__ == "__main__":  # answer --help and bad input at once, before the heavy imports below
    from flows.cli import check_command_line
    from flows.scoring_cli import SCORING

    check_command_line(command=SCORING)


from prefect import flow
from prefect.runtime import deployment

from flows.scoring_parameters import ScoringParameters
from tasks.score import find_model, predict_digits, publish_scores, read_the_digits, write_predictions


@flow(name="mnist-scoring", validate_parameters=False)  # checked in the body, as mnist-training's are
def mnist_scoring(params: ScoringParameters) -> str:
    """Score digits with a version of sklearn_mnist; the path of predictions.csv."""
    params = ScoringParameters.from_flow(params, from_deployment=deployment.id is not None)

    version = find_model(params.workspace, params.model)
    digits = read_the_digits(params.workspace, params.images, params.labels)
    predictions = predict_digits(params.workspace, version, digits)
    csv_path = write_predictions(params.predictions_dir, digits, predictions)
    publish_scores(version, digits, predictions, csv_path)
    return str(csv_path)


if __name__ == "__main__":
    from flows.cli import main
    from flows.scoring_cli import SCORING

    sys.exit(main(mnist_scoring, command=SCORING))
