"""Unattended safety after promotion: a candidate serves as a canary beside the active model
until the live numbers decide, and a promoted version is watched against the previous one's
baseline for a while. Every check is a `canary_decision` row; a decision is acted on at once
and posted to the operators' webhook."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, select

from feedback import (
    activate,
    active_model_version,
    canary_model_version,
    reject,
    revert,
    start_canary,
)
from feedback.columns import utcnow
from feedback.live_counts import VersionCounts, version_counts
from feedback.models import (
    CanaryDecision,
    CanaryOutcome,
    CanaryPhase,
    ModelStatus,
    ModelVersion,
)
from trainer.canary_rule import METHOD, Comparison, Policy, Verdict, judge
from trainer.canary_stats import Tally
from trainer.canary_webhook import post_decision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanaryPlan:
    policy: Policy = field(default_factory=Policy)
    share: float = 0.1  # of new conversations; 0: a passing candidate is promoted at once
    watch: timedelta = timedelta(hours=24)  # after a promotion; 0: no watch
    expire: timedelta = timedelta(hours=72)  # an undecided canary is rolled back after this
    webhook_url: str | None = None


def launch(
    session: Session, candidate: ModelVersion, *, plan: CanaryPlan, trigger: str
) -> CanaryDecision:
    """Put a candidate that passed the model gates in service: as the canary, or (share 0)
    as the active model at once, under watch. A canary still under comparison is superseded:
    rolled back, with that reason (the nightly job waits for it instead; the demo's injected
    candidate does not)."""
    active = active_model_version(session)
    baseline_id = active.id if active else None
    if plan.share > 0 and active is not None:
        if (running := canary_model_version(session)) is not None:
            reject(session, running.id)
            superseded = Verdict(CanaryOutcome.rollback, f"superseded by {candidate.name}", {})
            _announce(session, plan, superseded, running, baseline_id, trigger)
        start_canary(session, candidate.id)
        verdict = Verdict(
            CanaryOutcome.start, f"serves {plan.share:.0%} of new conversations as the canary", {}
        )
    else:
        activate(session, candidate.id)
        verdict = Verdict(CanaryOutcome.promote, "promoted at once (no canary traffic)", {})
    return _announce(session, plan, verdict, candidate, baseline_id, trigger)


def _announce(
    session: Session,
    plan: CanaryPlan,
    verdict: Verdict,
    version: ModelVersion,
    baseline_id: int | None,
    trigger: str,
) -> CanaryDecision:
    """Record a decision taken outside a check, and post it."""
    decision = _record(
        session,
        verdict,
        version=version,
        baseline_id=baseline_id,
        phase=CanaryPhase.canary,
        trigger=trigger,
    )
    _notify(session, plan, decision)
    return decision


def check(
    session: Session, plan: CanaryPlan, *, trigger: str, now: datetime | None = None
) -> CanaryDecision | None:
    """Decide on the canary, or on a promoted version still under watch, and act on the
    decision; None when there is nothing to watch."""
    now = now or utcnow()
    canary, active = _in_service(session)
    if canary is not None and active is not None:
        decision = _check_canary(session, canary, active, plan, trigger=trigger, now=now)
    elif active is not None and (promotion := _watched_promotion(session, active, plan)):
        decision = _check_watch(session, active, promotion, plan, trigger=trigger, now=now)
    else:
        return None
    if decision.outcome != CanaryOutcome.wait:
        _notify(session, plan, decision)
    return decision


def _check_canary(
    session: Session,
    canary: ModelVersion,
    active: ModelVersion,
    plan: CanaryPlan,
    *,
    trigger: str,
    now: datetime,
) -> CanaryDecision:
    started = _latest(session, canary.id, CanaryOutcome.start)
    since = started.created_at if started else canary.created_at
    verdict = judge(
        compare(
            version_counts(session, version_id=canary.id, since=since),
            version_counts(session, version_id=active.id, since=since),
        ),
        plan.policy,
    )
    if verdict.outcome == CanaryOutcome.wait and now - since >= plan.expire:
        verdict = Verdict(
            CanaryOutcome.rollback,
            f"expired after {_hours(plan.expire)} without a decision ({verdict.reason})",
            verdict.numbers,
        )
    decision = _record(
        session,
        verdict,
        version=canary,
        baseline_id=active.id,
        phase=CanaryPhase.canary,
        trigger=trigger,
        commit=False,
    )
    if verdict.outcome == CanaryOutcome.promote:
        activate(session, canary.id)
        log.warning("canary %s promoted: %s", canary.name, verdict.reason)
    elif verdict.outcome == CanaryOutcome.rollback:
        reject(session, canary.id)
        log.warning("canary %s rolled back: %s", canary.name, verdict.reason)
    else:
        session.commit()
    return decision


def _check_watch(
    session: Session,
    active: ModelVersion,
    promotion: CanaryDecision,
    plan: CanaryPlan,
    *,
    trigger: str,
    now: datetime,
) -> CanaryDecision:
    """The promoted version since its promotion against the previous version's numbers over
    the same length of time before it."""
    promoted_at, previous = promotion.created_at, promotion.baseline_version_id
    verdict = judge(
        compare(
            version_counts(session, version_id=active.id, since=promoted_at),
            version_counts(
                session, version_id=previous, since=promoted_at - plan.watch, until=promoted_at
            ),
        ),
        plan.policy,
        watch=True,
    )
    if verdict.outcome == CanaryOutcome.wait and now - promoted_at >= plan.watch:
        reason = f"kept: no significant drop in the {_hours(plan.watch)} watch ({verdict.reason})"
        verdict = Verdict(CanaryOutcome.keep, reason, verdict.numbers)
    decision = _record(
        session,
        verdict,
        version=active,
        baseline_id=previous,
        phase=CanaryPhase.watch,
        trigger=trigger,
        commit=False,
    )
    if verdict.outcome == CanaryOutcome.rollback:
        restored = revert(session, active.id, to=previous)
        log.warning("%s rolled back to %s: %s", active.name, restored.name, verdict.reason)
    else:
        session.commit()
    return decision


def compare(canary: VersionCounts, baseline: VersionCounts) -> Comparison:
    """The rule's tallies from two versions' counts."""

    def tally(hits: str, n: str) -> Tally:
        return Tally(
            getattr(canary, hits), getattr(canary, n), getattr(baseline, hits), getattr(baseline, n)
        )

    return {
        "thumbs_up": tally("ups", "thumbs"),
        "regenerated": tally("regenerated", "answers"),
        "guard_flagged": tally("withheld", "written"),
        "negative_replies": tally("negative_replies", "replies"),
    }


def _in_service(session: Session) -> tuple[ModelVersion | None, ModelVersion | None]:
    """The canary and the active version, read again under row locks (PostgreSQL): checks in
    several replicas decide one at a time, and a later one sees what an earlier one did."""
    in_service = []
    for version, status in (
        (canary_model_version(session), ModelStatus.canary),
        (active_model_version(session), ModelStatus.active),
    ):
        if version is not None:
            version = session.exec(
                select(ModelVersion)
                .where(ModelVersion.id == version.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
        in_service.append(version if version is not None and version.status == status else None)
    return in_service[0], in_service[1]


def _watched_promotion(
    session: Session, active: ModelVersion, plan: CanaryPlan
) -> CanaryDecision | None:
    """The automatic promotion of the active version, while its watch is on: from the
    promotion until a keep or rollback decision (or the operator changed the model)."""
    latest = session.exec(
        select(CanaryDecision)
        .where(CanaryDecision.version_id == active.id)
        .order_by(CanaryDecision.id.desc())
    ).first()
    if latest is None or plan.watch <= timedelta(0) or latest.outcome not in _WATCHING:
        return None
    promotion = _latest(session, active.id, CanaryOutcome.promote)
    if promotion is None or promotion.baseline_version_id is None:
        return None
    previous = session.get(ModelVersion, promotion.baseline_version_id)
    return promotion if previous is not None and previous.status == ModelStatus.retired else None


_WATCHING = {CanaryOutcome.promote, CanaryOutcome.wait}


def _latest(session: Session, version_id: int, outcome: CanaryOutcome) -> CanaryDecision | None:
    return session.exec(
        select(CanaryDecision)
        .where(CanaryDecision.version_id == version_id, CanaryDecision.outcome == outcome)
        .order_by(CanaryDecision.id.desc())
    ).first()


def _record(
    session: Session,
    verdict: Verdict,
    *,
    version: ModelVersion,
    baseline_id: int | None,
    phase: CanaryPhase,
    trigger: str,
    commit: bool = True,
) -> CanaryDecision:
    decision = CanaryDecision(
        version_id=version.id,
        baseline_version_id=baseline_id,
        phase=phase,
        outcome=verdict.outcome,
        method=METHOD,
        reason=verdict.reason,
        numbers=verdict.numbers,
        trigger=trigger,
    )
    session.add(decision)
    if commit:
        session.commit()
    return decision


def _notify(session: Session, plan: CanaryPlan, decision: CanaryDecision) -> None:
    """Post a decision that changes what is in service to the webhook, when there is one."""
    if plan.webhook_url is None:
        return

    def name(version_id: int | None) -> str | None:
        version = session.get(ModelVersion, version_id) if version_id else None
        return version.name if version else None

    names = {"version": name(decision.version_id), "baseline": name(decision.baseline_version_id)}
    post_decision(plan.webhook_url, decision, names=names)


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:g} h"
