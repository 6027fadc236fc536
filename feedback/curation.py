"""Curation: build the night's pairs, scrub PII, drop duplicates, cap any single rater's share."""

import uuid
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime
from functools import cache, partial

import sqlalchemy as sa
from sqlmodel import Session

from feedback.models import FeedbackEvent
from feedback.normalize import normalize_prompt
from feedback.pairs import (
    PairCandidate,
    PairPolicy,
    attach_provenance,
    correction_pairs,
    rated_pairs,
)
from feedback.pii import scrub_pii


def build_pairs(
    session: Session,
    *,
    since: datetime | None,
    policy: PairPolicy,
    rater_weights: sa.FromClause | None = None,
    max_rater_share: float = 1.0,
    keep_pii: Collection[str] = (),
) -> list[PairCandidate]:
    """All pairs from feedback given after `since`, ready for the data gates."""
    pairs = rated_pairs(session, since=since, policy=policy, rater_weights=rater_weights)
    pairs += correction_pairs(session, since=since)
    attach_provenance(session, pairs)
    scrubbed = cache(partial(scrub_pii, keep=tuple(keep_pii)))  # answers repeat a lot
    pairs = deduplicate([scrub(pair, scrubbed) for pair in pairs])
    return cap_rater_share(session, pairs, max_rater_share)


def scrub(pair: PairCandidate, scrub_text: Callable[[str], str]) -> PairCandidate:
    return replace(
        pair,
        chosen=scrub_text(pair.chosen),
        rejected=scrub_text(pair.rejected),
        prompt=[m | {"content": scrub_text(m["content"])} for m in pair.prompt],
    )


def deduplicate(pairs: list[PairCandidate]) -> list[PairCandidate]:
    """One pair per (prompt, chosen, rejected) after normalization: the strongest; corrections
    first, since a person wrote them."""
    best: dict[tuple, PairCandidate] = {}
    for pair in pairs:
        key = (
            tuple(normalize_prompt(m["content"]) for m in pair.prompt),
            normalize_prompt(pair.chosen),
            normalize_prompt(pair.rejected),
        )
        if key[1] == key[2]:
            continue  # the same answer twice teaches nothing
        held = best.get(key)
        if held is None or _rank(pair) > _rank(held):
            best[key] = pair
    return list(best.values())


def _rank(pair: PairCandidate) -> tuple[bool, float]:
    return (pair.strategy == "correction", pair.weight)


def cap_rater_share(
    session: Session, pairs: list[PairCandidate], max_share: float
) -> list[PairCandidate]:
    """Drop the weakest pairs of any rater whose votes stand behind more than `max_share` of
    the set, so that no single rater steers the night's training."""
    if max_share >= 1.0 or not pairs:
        return pairs
    ids = {feedback_id for pair in pairs for feedback_id in pair.feedback_ids}
    rows = session.execute(
        sa.select(FeedbackEvent.id, FeedbackEvent.user_pseudonym).where(
            FeedbackEvent.id.in_([uuid.UUID(i) for i in ids])
        )
    )
    raters = {str(event_id): rater for event_id, rater in rows}
    by_rater: dict[str, list[PairCandidate]] = defaultdict(list)
    for pair in pairs:
        for rater in {raters.get(i) for i in pair.feedback_ids} - {None}:
            by_rater[rater].append(pair)
    limit = max(1, int(max_share * len(pairs)))
    dropped: set[int] = set()
    for supported in by_rater.values():
        if len(supported) > limit:
            supported.sort(key=lambda pair: pair.weight, reverse=True)
            dropped |= {id(pair) for pair in supported[limit:]}
    return [pair for pair in pairs if id(pair) not in dropped]
