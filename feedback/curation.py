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
from feedback.prompt_groups import group_prompts
from feedback.similarity import Embed, embed_texts, group_by_similarity


def build_pairs(
    session: Session,
    *,
    since: datetime | None,
    policy: PairPolicy,
    rater_weights: sa.FromClause | None = None,
    max_rater_share: float = 1.0,
    keep_pii: Collection[str] = (),
    embed: Embed | None = None,
) -> list[PairCandidate]:
    """All pairs from feedback given after `since`, ready for the data gates.

    With `embed` (texts -> unit vectors), first questions that mean the same are one question
    (`policy.prompt_similarity`) and near-duplicate pairs are one pair
    (`policy.duplicate_similarity`); without it both go by normalized text.
    """
    prompt_groups = None
    if embed is not None:
        prompt_groups = group_prompts(session, embed=embed, threshold=policy.prompt_similarity)
    pairs = rated_pairs(
        session,
        since=since,
        policy=policy,
        rater_weights=rater_weights,
        prompt_groups=prompt_groups,
    )
    pairs += correction_pairs(
        session, since=since, rater_weights=rater_weights, min_trust=policy.min_trust
    )
    attach_provenance(session, pairs)
    scrubbed = cache(partial(scrub_pii, keep=tuple(keep_pii)))  # answers repeat a lot
    pairs = deduplicate(
        [scrub(pair, scrubbed) for pair in pairs],
        embed=embed,
        threshold=policy.duplicate_similarity,
    )
    return cap_rater_share(session, pairs, max_rater_share)


def scrub(pair: PairCandidate, scrub_text: Callable[[str], str]) -> PairCandidate:
    return replace(
        pair,
        chosen=scrub_text(pair.chosen),
        rejected=scrub_text(pair.rejected),
        prompt=[m | {"content": scrub_text(m["content"])} for m in pair.prompt],
    )


def deduplicate(
    pairs: list[PairCandidate],
    *,
    embed: Embed | None = None,
    threshold: float = PairPolicy.duplicate_similarity,
) -> list[PairCandidate]:
    """One pair per (prompt, chosen, rejected) after normalization: the strongest; corrections
    first, since a person wrote them. With `embed`, near duplicates too (`drop_near_duplicates`)."""
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
    unique = list(best.values())
    if embed is None:
        return unique
    return drop_near_duplicates(unique, embed=embed, threshold=threshold)


def _rank(pair: PairCandidate) -> tuple[bool, float]:
    return (pair.strategy == "correction", pair.weight)


def drop_near_duplicates(
    pairs: list[PairCandidate], *, embed: Embed, threshold: float
) -> list[PairCandidate]:
    """Of pairs whose every part (each prompt message, the chosen and the rejected answer) is
    within `threshold` cosine of a stronger pair's, only the stronger stays, as `deduplicate`
    keeps one of equal pairs. The rejected answer counts: the same good answer preferred over
    a rude one and over a vague one are two lessons, not one."""
    if len(pairs) < 2:
        return pairs
    # Strongest first, so that a group's leader is the pair that stays; texts break ties.
    ordered = sorted(sorted(pairs, key=_texts), key=_rank, reverse=True)
    by_shape: dict[tuple[str, ...], list[PairCandidate]] = defaultdict(list)
    for pair in ordered:  # only prompts of the same roles, turn by turn, can be alike
        by_shape[tuple(message["role"] for message in pair.prompt)].append(pair)
    texts = list({text: None for pair in pairs for text in _texts(pair)})
    vectors, row = embed_texts(embed, texts), {text: index for index, text in enumerate(texts)}
    kept: set[int] = set()
    for group in by_shape.values():
        parts = [[row[text] for text in _texts(pair)] for pair in group]
        leaders = group_by_similarity(vectors[parts], threshold)  # (pairs, parts, dim)
        kept |= {id(pair) for index, pair in enumerate(group) if leaders[index] == index}
    return [pair for pair in pairs if id(pair) in kept]


def _texts(pair: PairCandidate) -> tuple[str, ...]:
    return (*(message["content"] for message in pair.prompt), pair.chosen, pair.rejected)


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
