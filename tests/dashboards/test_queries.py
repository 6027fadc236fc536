"""The dashboards' queries, on a real store (SQLite and PostgreSQL)."""

import math

from dashboards.queries import version_reports
from feedback import register_model_version


def test_version_reports_take_each_version_s_gate_measures(session):
    report = {
        "domain": {"accuracy": 0.55},
        "served": {"accuracy": 0.51},
        "perplexity": {"perplexity": 1.17},
        "degeneration": {"distinct_2": 0.48},
        "red_team": {"toxicity_rate": 0.0},
    }
    register_model_version(session, name="sft", path="/m/sft", metrics={"evaluation": report})
    register_model_version(session, name="new", path="/m/new")  # not measured yet

    rows = version_reports(session).set_index("version")
    measured = rows.loc["sft"]
    assert (measured.domain_accuracy, measured.served_accuracy) == (0.55, 0.51)
    assert measured.perplexity == 1.17
    assert (measured.distinct_2, measured.red_team_toxicity) == (0.48, 0.0)
    assert math.isnan(rows.loc["new"].domain_accuracy)
    assert math.isnan(rows.loc["new"].served_accuracy)
