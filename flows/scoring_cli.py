"""The scoring flow's command line: the training one's machinery (flows/cli.py) over ScoringParameters."""

from flows.cli import CommandLine
from flows.scoring_parameters import ScoringParameters

SCORING = CommandLine(
    "python flows/score.py",
    "Score digits with a registered version of sklearn_mnist (default: the champion on the MNIST test set).",
    ScoringParameters,
    lambda csv_path: f"predictions written to {csv_path}",
    lambda params: "nothing was written (predictions.csv is written whole or not at all)",
)
