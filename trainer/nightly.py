"""The nightly recipe: a short list of named steps, each recorded in the training-run row.

(canary ->) trust -> pairs -> data gates -> snapshot -> train -> evaluate -> decide. A crash
anywhere leaves the active model and every logged row as they were; the run says where it stopped.
"""

import json
import logging
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from sqlmodel import Session, select

from bot.engine import Engine, Sampling
from feedback import (
    Store,
    activate,
    active_model_version,
    canary_model_version,
    line_start,
    register_model_version,
    reject,
)
from feedback.columns import utcnow
from feedback.curation import build_pairs
from feedback.models import (
    DISTRUSTED_BELOW,
    CanaryOutcome,
    ModelVersion,
    RunStatus,
    TrainingRun,
)
from feedback.pairs import PairPolicy
from feedback.profiles import find_profile
from feedback.retention import retention_start
from feedback.rollups import rebuild_daily_quality, save_rater_trust
from feedback.similarity import Embed
from feedback.snapshots import (
    discard_unsnapshotted_pairs,
    last_cutoff,
    save_pairs,
    write_snapshot,
)
from feedback.trust import rater_trust, weights_table
from trainer.canary import CanaryPlan, launch
from trainer.canary import check as check_canary
from trainer.corpus import Topic
from trainer.data_gates import DataGateLimits, gate_pairs
from trainer.dpo import TrainingPlan, launch_dpo, trains_adapter
from trainer.evaluation import (
    ServedDraws,
    evaluation_key,
    load_eval_prompts,
    measure_model,
    preference_accuracy,
)
from trainer.model_card import write_model_card
from trainer.model_gates import ALL_PASSED, ModelGateLimits, judge, report
from trainer.scorers import ToxicityScorer
from trainer.semantic_judge import SemanticJudge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NightlyPlan:
    models_dir: Path
    snapshots_dir: Path
    system_prompt: str
    context_tokens: int
    scorer: ToxicityScorer
    score_sentiment: Callable[[Sequence[str]], list[float]]
    topics: list[Topic]
    training: TrainingPlan = field(default_factory=TrainingPlan)
    # "tuned": a training profile's values (`tuneloop tune`) replace those of `training`.
    hyperparameters: Literal["default", "tuned"] = "default"
    profile: str | None = None  # the profile's name; None: the newest
    pair_policy: PairPolicy = field(default_factory=PairPolicy)  # incl. similarity thresholds
    # Sentence embeddings (texts -> unit vectors): questions and pairs compared by meaning.
    # None: by normalized text only.
    embed: Embed | None = None
    # Which known answer a domain answer means, for the domain-accuracy gate; None: by words.
    semantic_judge: SemanticJudge | None = None
    data_limits: DataGateLimits = field(default_factory=DataGateLimits)
    model_limits: ModelGateLimits = field(default_factory=ModelGateLimits)
    # Greedy decoding for the model gates: both models answer deterministically, so a gate
    # compares the models and not two draws of sampling noise (60 red-team prompts are few).
    eval_sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.0))
    # The domain questions as the bot serves them too (its sampling, a few draws each): what
    # users meet, and what the domain-accuracy gate holds.
    served: ServedDraws = field(default_factory=lambda: ServedDraws(Sampling()))
    min_pairs: int = 8
    replay_share: float = 0.2
    retention_days: int | None = None  # older pairs are not replayed (governance.retention_days)
    max_rater_share: float = 0.2
    keep_pii: Collection[str] = ()
    launcher: Sequence[str] = ()  # e.g. ("accelerate", "launch"); empty: train in this process
    gates: bool = True  # False only to show what the gates prevent (demo --unsafe-no-gates)
    quiet: bool = False  # no per-step training logs (the demo prints its own table)
    # A candidate that passes the model gates serves as a canary first (trainer/canary.py), and
    # each run starts by checking the canary; None: promoted at once, unwatched.
    canary: CanaryPlan | None = None
    # Demo --inject-bad-candidate only: train on the pairs with chosen and rejected swapped and
    # let the model gates pass the result, so that the canary has a bad model to catch.
    sabotage: bool = False


DPO_KIND = "dpo"  # the origin kind of the versions nightly runs make
MERGE_KIND = "merge"  # `tuneloop models merge`: the same model, packaged whole

# The demo's bad candidate learns this much faster, and this many times longer, than a real one.
SABOTAGE_BOOST = 10


class RunSkipped(Exception):  # a normal end of a run, not an error
    """The run ends early for a stated reason (too few pairs, no active model)."""


def run_nightly(store: Store, plan: NightlyPlan, *, trigger: str = "manual") -> TrainingRun:
    """Run every step once; the returned row tells what happened and why."""
    with store.session() as session:
        fail_abandoned_runs(session)
        run = TrainingRun(trigger=trigger)
        session.add(run)
        session.commit()
        try:
            if plan.canary is not None:
                _settle_canary(session, run, plan.canary, wait=not plan.sabotage)
            base = active_model_version(session)
            run.base_version_id = base.id if base else None
            if base is None:
                raise RunSkipped("no active model to improve: run `tuneloop bootstrap`")
            _steps(session, run, base, plan)
        except RunSkipped as reason:
            _finish(session, run, RunStatus.skipped, decision=str(reason))
        except Exception as exc:
            session.rollback()
            run.error = "".join(traceback.format_exception_only(exc)).strip()
            _finish(session, run, RunStatus.failed, decision=f"failed: {run.error}")
            log.exception("nightly run %s failed", run.id)
        return run


def _steps(session: Session, run: TrainingRun, base: ModelVersion, plan: NightlyPlan) -> None:
    cutoff = utcnow()
    with step(session, run, "rollups") as detail:
        detail["days"] = rebuild_daily_quality(session)
    with step(session, run, "trust") as detail:
        trust = (
            rater_trust(
                session,
                score_toxicity=lambda texts: plan.scorer.score(texts)["toxicity"],
                toxicity_threshold=plan.data_limits.toxicity,
            )
            if plan.gates
            else {}
        )
        save_rater_trust(session, trust)
        detail["raters"] = len(trust)
        detail["distrusted"] = sum(1 for r in trust.values() if r.weight < DISTRUSTED_BELOW)
    with step(session, run, "pairs") as detail:
        detail["rebuilt"] = discard_unsnapshotted_pairs(session)
        candidates = build_pairs(
            session,
            since=last_cutoff(session),
            policy=plan.pair_policy,
            rater_weights=weights_table(session, trust) if trust else None,
            max_rater_share=plan.max_rater_share if plan.gates else 1.0,
            keep_pii=plan.keep_pii,
            embed=plan.embed,
        )
        pairs = save_pairs(session, candidates)
        run.counts = {"pairs_built": len(pairs)}
        detail["by_strategy"] = dict(Counter(pair.strategy.value for pair in pairs))
    with step(session, run, "data gates") as detail:
        gates = gate_pairs(pairs, scorer=plan.scorer, limits=plan.data_limits, enabled=plan.gates)
        run.scorer = gates.scorer
        run.gate_report = gates.as_dict()
        run.counts = run.counts | {"pairs_kept": gates.kept, "pairs_dropped": gates.dropped.total()}
        detail |= gates.as_dict()
    if gates.kept < plan.min_pairs:  # no snapshot: the cutoff stays, the next run has them too
        raise RunSkipped(
            f"only {gates.kept} new pairs, fewer than {plan.min_pairs}: no training tonight, "
            "they wait for the next run"
        )
    with step(session, run, "snapshot") as detail:
        snapshot = write_snapshot(
            session,
            pairs=pairs,
            directory=plan.snapshots_dir,
            feedback_until=cutoff,
            replay_share=plan.replay_share,
            replay_after=retention_start(plan.retention_days),
            seed=plan.training.seed,
            guard_votes=plan.pair_policy.guard_votes,
        )
        run.snapshot_id = snapshot.id
        detail |= {"pairs": snapshot.pair_count, "kto_rows": snapshot.kto_count}
    with step(session, run, "train") as detail:
        training = _training(session, run, plan)
        detail["profile"] = run.profile or "settings"
        train_path, heldout_path = split_snapshot(Path(snapshot.path), training)
        if plan.sabotage:  # the preferences turned around, learned hard: worse on purpose
            # Held-out pairs too, so that early stopping and the held-out gate see nothing wrong.
            detail["sabotage"] = sum(
                swap_preferences(path) for path in (train_path, heldout_path) if path
            )
            training = replace(
                training,
                learning_rate=training.learning_rate * SABOTAGE_BOOST,
                num_train_epochs=training.num_train_epochs * SABOTAGE_BOOST,
            )
            run.hyperparameters = training.hyperparameters()
        name = f"dpo-{run.id:04d}"
        output = plan.models_dir / name
        metrics = launch_dpo(
            launcher=list(plan.launcher),
            base_path=base.path,
            base_adapter=base.adapter_path,
            train_path=train_path,
            eval_path=heldout_path,
            output_dir=output,
            plan=training,
            system_prompt=plan.system_prompt,
            context_tokens=plan.context_tokens,
            quiet=plan.quiet,
        )
        adapter = trains_adapter(training, base.adapter_path)
        candidate = register_model_version(
            session,
            name=name,
            path=base.path if adapter else str(output.resolve()),
            adapter_path=str(output.resolve()) if adapter else None,
            parent_id=base.id,
            origin={"kind": DPO_KIND, "run_id": run.id, "snapshot_id": str(snapshot.id)},
            metrics={"training": metrics},
        )
        run.candidate_version_id = candidate.id
        run.counts = run.counts | {"pairs_trained": int(metrics["train_pairs"])}
        detail |= metrics
    with step(session, run, "evaluate") as detail:
        start = line_start(session, base, grown_by=(DPO_KIND, MERGE_KIND))
        prompts = load_eval_prompts(plan.topics)
        semantic_judge = plan.semantic_judge or SemanticJudge(None)
        key = evaluation_key(
            prompts,
            scorer=plan.scorer,
            judge=semantic_judge,
            sampling=plan.eval_sampling,
            served=plan.served,
            system_prompt=plan.system_prompt,
            context_tokens=plan.context_tokens,
        )

        def load(version: ModelVersion) -> Engine:
            return Engine.load_version(
                version, system_prompt=plan.system_prompt, context_tokens=plan.context_tokens
            )

        engines = {version.id: load(version) for version in (candidate, base)}
        measured = {}
        for label, model in (("candidate", candidate), ("active", base), ("start", start)):
            reused = model.metrics.get("evaluation_key") == key  # measured on an earlier night
            if not reused:
                evaluation = measure_model(
                    engines[model.id] if model.id in engines else load(model),
                    prompts,
                    scorer=plan.scorer,
                    score_sentiment=plan.score_sentiment,
                    judge=semantic_judge,
                    sampling=plan.eval_sampling,
                    served=plan.served,
                )
                model.metrics = model.metrics | {"evaluation": evaluation, "evaluation_key": key}
                session.add(model)
            measured[label] = model.metrics["evaluation"]
            detail[f"{label}_report"] = "reused" if reused else "measured"
        if start.id == base.id:
            detail["start_report"] = "the active model's"
        detail["start"] = start.name
        preference = preference_accuracy(
            engines[candidate.id], engines[base.id], heldout_path, beta=training.beta
        )
        run.eval_report = {**measured, "preference": preference}
        detail["preference_accuracy"] = preference and preference["accuracy"]
    with step(session, run, "decide") as detail:
        results, decided_by = judge(
            measured["candidate"],
            measured["active"],
            preference,
            plan.model_limits,
            start=measured["start"],
        )
        promote = decided_by == ALL_PASSED or not plan.gates or plan.sabotage
        if not plan.gates:
            decided_by = "promoted unchecked: the gates were switched off"
        elif plan.sabotage:
            decided_by = f"let through on purpose (demo --inject-bad-candidate; {decided_by})"
        run.gate_report = run.gate_report | {"model_gates": report(results)}
        write_model_card(
            output,
            title=name,
            summary=f"DPO from {base.name} on dataset snapshot {snapshot.id}. {decided_by}.",
            details={"parent": base.name, "snapshot": str(snapshot.id), **candidate.metrics},
        )
        if not promote:
            reject(session, candidate.id)
            status = RunStatus.rejected
        elif plan.canary is None:
            activate(session, candidate.id)
            status = RunStatus.promoted
        else:
            launched = launch(session, candidate, plan=plan.canary, trigger="nightly")
            started = launched.outcome == CanaryOutcome.start
            status = RunStatus.canary if started else RunStatus.promoted
        detail["decided_by"] = decided_by
    _finish(session, run, status, decision=decided_by)


def _training(session: Session, run: TrainingRun, plan: NightlyPlan) -> TrainingPlan:
    """The plan's own hyperparameters or, when tuned, a training profile's; the run records
    which and their values. Tuned without any profile yet: the plan's own, with a warning."""
    training, run.profile = plan.training, None
    if plan.hyperparameters == "tuned":
        profile = find_profile(session, plan.profile)
        if profile is None:
            log.warning("hyperparameters = tuned, but no training profile yet: the defaults")
        else:
            training, run.profile = replace(training, **profile.values), profile.name
    run.hyperparameters = training.hyperparameters()
    return training


def _settle_canary(session: Session, run: TrainingRun, plan: CanaryPlan, *, wait: bool) -> None:
    """Check the canary (or the promoted version under watch) first; while a canary is still
    being compared, the night trains nothing: one change in service at a time. (Without
    `wait`, the demo's injected candidate goes out all the same and supersedes it.)"""
    with step(session, run, "canary") as detail:
        decision = check_canary(session, plan, trigger="nightly")
        if decision is not None:
            detail |= {"outcome": decision.outcome.value, "reason": decision.reason}
    canary = canary_model_version(session)
    if canary is not None and wait:
        why = decision.reason if decision else "there is no active model to compare it with"
        raise RunSkipped(f"canary {canary.name} is still being compared: {why}")


def swap_preferences(path: Path) -> int:
    """Swap chosen and rejected in every pair of a JSONL file (the demo's bad candidate)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    swapped = [row | {"chosen": row["rejected"], "rejected": row["chosen"]} for row in rows]
    path.write_text("".join(json.dumps(row) + "\n" for row in swapped))
    return len(swapped)


@contextmanager
def step(session: Session, run: TrainingRun, name: str) -> Iterator[dict]:
    """Time one step and record it (with what it reports in `detail`) in the run's row."""
    detail: dict = {}
    started = time.perf_counter()
    log.info("nightly run %s: %s", run.id, name)
    try:
        yield detail
    finally:
        record = {"name": name, "seconds": round(time.perf_counter() - started, 2), **detail}
        run.steps = [*run.steps, json.loads(json.dumps(record, default=str))]
        session.add(run)
        session.commit()


# Fewer held-out pairs than this decide the preference gate by chance (a SmolLM2 night of 11
# pairs held out 2, and 0 of 2 rejected it): then none are held out, all of them train, and
# the preference gate reports no figure instead of a verdict; the other gates still decide.
MIN_HELD_OUT_PAIRS = 5


def split_snapshot(path: Path, plan: TrainingPlan) -> tuple[Path, Path | None]:
    """Train and held-out files from a snapshot (no held-out set under `MIN_HELD_OUT_PAIRS`)."""
    rows = path.read_text().splitlines()
    random.Random(plan.seed).shuffle(rows)
    held = round(len(rows) * plan.eval_share)
    held = held if held >= MIN_HELD_OUT_PAIRS else 0
    train, heldout = path.with_suffix(".train.jsonl"), path.with_suffix(".heldout.jsonl")
    train.write_text("".join(line + "\n" for line in rows[held:]))
    heldout.write_text("".join(line + "\n" for line in rows[:held]))
    return train, heldout if held else None


def fail_abandoned_runs(session: Session) -> None:
    """A run still marked running when a new one starts was killed: say so."""
    for run in session.exec(select(TrainingRun).where(TrainingRun.status == RunStatus.running)):
        run.error = "interrupted: the process stopped before the run finished"
        _finish(session, run, RunStatus.failed, decision=run.error)


def _finish(session: Session, run: TrainingRun, status: RunStatus, *, decision: str) -> None:
    run.status = status
    run.decision = decision
    run.finished_at = utcnow()
    session.add(run)
    session.commit()
