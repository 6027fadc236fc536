"""Builds a tuning study from settings: the pairs to tune on, the search space, the fixed knobs."""

from pathlib import Path

from sqlmodel import Session

from feedback.models import ModelVersion
from feedback.snapshots import latest_snapshot, load_rows, still_usable
from trainer.corpus import corpus_pairs, load_topics
from trainer.data_gates import gate_rows
from trainer.folds import sample_pairs
from trainer.tuning import TuningPlan
from tuneloop.scoring import data_gate_limits, toxicity_scorer
from tuneloop.settings import Settings
from tuneloop.training import training_plan

SYNTHETIC = "synthetic"
SAMPLE_SEED = 0  # the same sample on every run: a resumed study goes on with the same pairs


class NoSnapshot(LookupError):
    """There is no dataset snapshot to tune on yet."""


def tuning_pairs(
    session: Session, settings: Settings, *, synthetic: bool
) -> tuple[str, list[dict]]:
    """(what the pairs are, the pairs): the latest snapshot's (kept by the data gates when it
    was made), or the demo corpus's own through the same gates; at most tuning.max_pairs."""
    if synthetic:
        scorer = toxicity_scorer(settings)
        rows, _ = gate_rows(
            corpus_pairs(load_topics()), scorer=scorer, limits=data_gate_limits(scorer)
        )
        dataset = SYNTHETIC
    else:
        snapshot = latest_snapshot(session)
        if snapshot is None:
            raise NoSnapshot(
                "No dataset snapshot to tune on yet: the nightly job makes one from feedback "
                "(`tuneloop nightly --now`). To try tuning before any feedback exists, use "
                "--synthetic (the demo corpus's own pairs)."
            )
        rows = still_usable(session, load_rows(Path(snapshot.path)))
        dataset = str(snapshot.id)
    return dataset, sample_pairs(rows, max_pairs=settings.tuning.max_pairs, seed=SAMPLE_SEED)


def tuning_plan(settings: Settings, base: ModelVersion, *, sampler: str | None) -> TuningPlan:
    tuning = settings.tuning
    return TuningPlan(
        space=tuning,
        training=training_plan(settings),
        base_path=base.path,
        base_adapter=base.adapter_path,
        system_prompt=settings.bot.system_prompt,
        context_tokens=settings.bot.context_tokens,
        folds=tuning.folds,
        sampler=sampler or tuning.sampler,
        grid_points=tuning.grid_points,
        startup_trials=tuning.startup_trials,
        heartbeat_seconds=tuning.heartbeat_seconds,
    )
