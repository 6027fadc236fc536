"""Model-gate metrics as `evaluate` modules shipped in the repo, loaded by path (no hub needed).

Each directory here holds `<name>/<name>.py`; the modules aggregate precomputed scores.
"""

from pathlib import Path

import evaluate

METRICS_DIR = Path(__file__).parent

# evaluate.load checks the module type against the class it finds, so each name carries its own.
MODULE_TYPES = {
    "preference_accuracy": "metric",
    "toxicity_rate": "measurement",
    "bias_gap": "measurement",
    "perplexity_from_nll": "metric",
    "distinct_n": "measurement",
    "domain_accuracy": "metric",
}


def load_metric(name: str) -> evaluate.EvaluationModule:
    """Load one of the repo's metric modules by name, from its directory here."""
    if name not in MODULE_TYPES:
        known = ", ".join(sorted(MODULE_TYPES))
        raise ValueError(f"unknown metric {name!r}; the known metrics are: {known}")
    return evaluate.load(str(METRICS_DIR / name), module_type=MODULE_TYPES[name])
