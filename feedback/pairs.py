"""Pair building: turn ratings into chosen-over-rejected pairs, in a few set-based queries.

Policies (each tested): every vote is its own row and the latest per rater counts; ties make no
pair; when every answer to a context is rated bad no pair comes from them (only a correction
can); consent, operator exclusions and texts retention purged are filtered in the query that
selects feedback. An answer the serving guard withheld was never shown, so no user's vote on it
counts; the guard's own verdict does, as a down-vote (`guard_votes`). Given an embedding
function, first questions that mean the same share a context too.
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from feedback.models import (
    DISTRUSTED_BELOW,
    Conversation,
    FeedbackEvent,
    FeedbackKind,
    Message,
    OperatorReview,
    PairStrategy,
    ReviewAction,
)

RATING_KINDS = (FeedbackKind.thumbs, FeedbackKind.stars, FeedbackKind.regenerate)


@dataclass(frozen=True)
class PairPolicy:
    min_margin: float = field(default=0.25, metadata={"help": "Smaller score gaps are ties."})
    good_enough: float = field(default=0.5, metadata={"help": "A chosen answer scores above it."})
    max_pairs_per_context: int = field(default=8, metadata={"help": "Pairs per question, at most."})
    prompt_similarity: float = field(
        default=0.8,
        metadata={"help": "Cosine from which two first questions are one (with an embedding)."},
    )
    duplicate_similarity: float = field(
        default=0.95,
        metadata={"help": "Cosine from which two pairs are near duplicates (with an embedding)."},
    )
    guard_votes: bool = field(
        default=True,
        metadata={"help": "Answers the serving guard withheld count as down-voted."},
    )
    min_trust: float = field(
        default=DISTRUSTED_BELOW,
        metadata={
            "help": "Rater trust an answer's votes must add up to before it is paired (one "
            "trusted rater's vote does, a distrusted one's alone does not); a distrusted "
            "rater's corrections make no pair."
        },
    )


@dataclass
class PairCandidate:
    """A pair before gating: texts, provenance, and the strength of the preference."""

    strategy: PairStrategy
    context_id: uuid.UUID  # the user message the answers reply to
    chosen: str
    rejected: str
    weight: float
    chosen_message_id: uuid.UUID | None
    rejected_message_id: uuid.UUID
    feedback_ids: list[str] = field(default_factory=list)
    prompt: list[dict[str, str]] = field(default_factory=list)


def vote_score() -> sa.ColumnElement[float]:
    """One vote as a number in [0, 1]: thumbs down 0, up 1; stars 1..5 as 0..1; regenerate 0."""
    value = sa.cast(FeedbackEvent.value, sa.Float)
    return sa.case(
        (FeedbackEvent.kind == FeedbackKind.thumbs, (value + 1) / 2),
        (FeedbackEvent.kind == FeedbackKind.stars, (value - 1) / 4),
        else_=0.0,
    )


def _excluded_messages() -> sa.Select:
    return sa.select(OperatorReview.message_id).where(
        OperatorReview.action == ReviewAction.exclude, OperatorReview.feedback_id.is_(None)
    )


def _excluded_events() -> sa.Select:
    return sa.select(OperatorReview.feedback_id).where(
        OperatorReview.action == ReviewAction.exclude, OperatorReview.feedback_id.is_not(None)
    )


def vote_recency() -> sa.ColumnElement[int]:
    """1 for a rater's latest vote on an answer, 2 for the one before, and so on."""
    return sa.func.row_number().over(
        partition_by=(FeedbackEvent.message_id, FeedbackEvent.user_pseudonym),
        order_by=(FeedbackEvent.created_at.desc(), FeedbackEvent.id.desc()),
    )


def latest_votes() -> sa.Subquery:
    """Each rater's latest rating of each answer, from consenting conversations only."""
    ranked = (
        sa.select(
            FeedbackEvent.id.label("feedback_id"),
            FeedbackEvent.message_id,
            FeedbackEvent.user_pseudonym,
            FeedbackEvent.created_at,
            vote_score().label("score"),
            vote_recency().label("recency"),
        )
        .join(Message, Message.id == FeedbackEvent.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.training_consent.is_(True),
            FeedbackEvent.kind.in_(RATING_KINDS),
            Message.guard_flags.is_(None),  # a withheld answer was never shown: nothing to rate
            Message.purged_at.is_(None),  # retention took its text
            FeedbackEvent.id.not_in(_excluded_events()),
            FeedbackEvent.message_id.not_in(_excluded_messages()),
        )
        .subquery("ranked")
    )
    return sa.select(ranked).where(ranked.c.recency == 1).subquery("latest")


# Who cast the serving guard's votes, in place of a user's pseudonym (no rater weight applies).
GUARD_RATER = "serving-guard"


def guard_votes() -> sa.Select:
    """The serving guard's verdict on each answer it withheld, as a vote shaped like
    `latest_votes`' rows: a thumbs down (score 0). An answer that users rated well in the same
    context (often the one the guard regenerated in its place) is then chosen over the withheld
    one, so the model itself learns what the guard had to catch."""
    return (
        sa.select(
            sa.cast(sa.null(), FeedbackEvent.id.type).label("feedback_id"),
            Message.id.label("message_id"),
            sa.literal(GUARD_RATER).label("user_pseudonym"),
            Message.created_at,
            sa.literal(0.0).label("score"),
            sa.literal(1).label("recency"),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.training_consent.is_(True),
            Message.guard_flags.is_not(None),
            Message.purged_at.is_(None),
            Message.id.not_in(_excluded_messages()),
        )
    )


def scored_answers(
    rater_weights: sa.FromClause | None = None,
    prompt_groups: sa.FromClause | None = None,
    *,
    with_guard_votes: bool = False,
) -> sa.Subquery:
    """Every rated answer with its (trust-weighted) mean score, the rater trust behind it (the
    sum of its voters' weights) and its context key.

    Answers share a context when they reply to the same user message (regenerations) or, for
    a conversation's first question, to the same normalized question (same prompt elsewhere),
    or to one that `prompt_groups` (see `feedback.prompt_groups`) puts in the same group.
    `with_guard_votes`: the answers the serving guard withheld too (`guard_votes`).
    """
    votes = latest_votes()
    if with_guard_votes:
        votes = sa.union_all(sa.select(votes), guard_votes()).subquery("votes")
    weight = sa.literal(1.0)
    query = sa.select(votes)
    if rater_weights is not None:
        query = query.outerjoin(
            rater_weights, rater_weights.c.user_pseudonym == votes.c.user_pseudonym
        )
        weight = sa.func.coalesce(rater_weights.c.weight, 1.0)
    weighted = query.add_columns(weight.label("weight")).subquery("weighted")
    prompt = sa.orm.aliased(Message, name="prompt")
    first_question = prompt.prompt_key
    if prompt_groups is not None:
        first_question = sa.func.coalesce(prompt_groups.c.group_key, prompt.prompt_key)
    context = sa.case(
        (prompt.parent_id.is_(None), first_question),
        else_=sa.cast(prompt.id, sa.String),
    )
    query = (
        sa.select(
            weighted.c.message_id,
            Message.parent_id.label("context_id"),
            context.label("context_key"),
            (
                sa.func.sum(weighted.c.score * weighted.c.weight)
                / sa.func.nullif(sa.func.sum(weighted.c.weight), 0)
            ).label("score"),
            sa.func.max(weighted.c.created_at).label("last_feedback_at"),
            sa.func.sum(weighted.c.weight).label("trust"),
        )
        .join(Message, Message.id == weighted.c.message_id)
        .join(prompt, prompt.id == Message.parent_id)
    )
    if prompt_groups is not None:
        query = query.outerjoin(prompt_groups, prompt_groups.c.prompt_key == prompt.prompt_key)
    return query.group_by(weighted.c.message_id, Message.parent_id, context).subquery("scored")


def rated_pairs(
    session: Session,
    *,
    since: datetime | None,
    policy: PairPolicy,
    rater_weights: sa.FromClause | None = None,
    prompt_groups: sa.FromClause | None = None,
) -> list[PairCandidate]:
    """Answers to one context rated apart: the better one chosen, weight = the score gap.

    A popular question can have thousands of rated answers, so the i-th best answer of a
    context is paired with its i-th worst (newest first among equals), for i up to
    `max_pairs_per_context`: the strongest gaps first. One query ranks every context's
    answers; only the ranked ends (a bounded number of rows per context) leave the database.
    An answer whose votes add up to less than `policy.min_trust` (with `rater_weights`: only
    distrusted raters voted on it) is left out: a weighted mean cannot discount a lone voter.
    """
    scored = scored_answers(rater_weights, prompt_groups, with_guard_votes=policy.guard_votes)
    newest_first = scored.c.last_feedback_at.desc()
    ranked = (
        sa.select(
            scored,
            sa.func.row_number()
            .over(partition_by=scored.c.context_key, order_by=(scored.c.score.desc(), newest_first))
            .label("best_rank"),
            sa.func.row_number()
            .over(partition_by=scored.c.context_key, order_by=(scored.c.score.asc(), newest_first))
            .label("worst_rank"),
        )
        .where(scored.c.trust >= policy.min_trust)
        .subquery("ranked")
    )
    ends = session.execute(
        sa.select(ranked, Message.content)
        .join(Message, Message.id == ranked.c.message_id)
        .where(
            sa.or_(
                ranked.c.best_rank <= policy.max_pairs_per_context,
                ranked.c.worst_rank <= policy.max_pairs_per_context,
            )
        )
    ).all()
    best, worst = defaultdict(dict), defaultdict(dict)
    for row in ends:
        best[row.context_key][row.best_rank] = row
        worst[row.context_key][row.worst_rank] = row
    pairs = []
    for context, ranks in best.items():
        for rank, chosen in ranks.items():
            rejected = worst[context].get(rank)
            if rejected is None or rejected.message_id == chosen.message_id:
                continue
            gap = chosen.score - rejected.score
            fresh = since is None or max(chosen.last_feedback_at, rejected.last_feedback_at) > since
            if chosen.score > policy.good_enough and gap >= policy.min_margin and fresh:
                pairs.append(_rated_pair(chosen, rejected, gap))
    return pairs


def _rated_pair(chosen, rejected, gap: float) -> PairCandidate:
    same_parent = chosen.context_id == rejected.context_id
    return PairCandidate(
        strategy=PairStrategy.regeneration if same_parent else PairStrategy.same_prompt,
        context_id=rejected.context_id,
        chosen=chosen.content,
        rejected=rejected.content,
        weight=float(gap),
        chosen_message_id=chosen.message_id,
        rejected_message_id=rejected.message_id,
    )


def correction_pairs(
    session: Session,
    *,
    since: datetime | None,
    rater_weights: sa.FromClause | None = None,
    min_trust: float = DISTRUSTED_BELOW,
) -> list[PairCandidate]:
    """A corrected answer (by its user or an operator) chosen over the original; with
    `rater_weights`, not a correction by a rater weighing less than `min_trust`."""
    original = sa.orm.aliased(Message)
    by_users = sa.select(
        FeedbackEvent.id.label("source_id"),
        FeedbackEvent.message_id,
        FeedbackEvent.text.label("corrected"),
        FeedbackEvent.created_at,
    ).where(
        FeedbackEvent.kind == FeedbackKind.correction,
        FeedbackEvent.id.not_in(_excluded_events()),
    )
    if rater_weights is not None:
        distrusted = sa.select(rater_weights.c.user_pseudonym).where(
            rater_weights.c.weight < min_trust
        )
        by_users = by_users.where(FeedbackEvent.user_pseudonym.not_in(distrusted))
    sources = [
        by_users,
        sa.select(
            OperatorReview.id,
            OperatorReview.message_id,
            OperatorReview.corrected_text,
            OperatorReview.created_at,
        ).where(OperatorReview.action == ReviewAction.correct),
    ]
    corrections = sa.union_all(*sources).subquery("corrections")
    query = (
        sa.select(corrections, original.content, original.parent_id)
        .join(original, original.id == corrections.c.message_id)
        .join(Conversation, Conversation.id == original.conversation_id)
        .where(
            Conversation.training_consent.is_(True),
            original.purged_at.is_(None),
            corrections.c.message_id.not_in(_excluded_messages()),
        )
    )
    if since is not None:
        query = query.where(corrections.c.created_at > since)
    return [
        PairCandidate(
            strategy=PairStrategy.correction,
            context_id=row.parent_id,
            chosen=row.corrected,
            rejected=row.content,
            weight=1.0,
            chosen_message_id=None,
            rejected_message_id=row.message_id,
            feedback_ids=[str(row.source_id)],
        )
        for row in session.execute(query)
        if row.corrected.strip() != row.content.strip()
    ]


def attach_provenance(session: Session, pairs: list[PairCandidate]) -> None:
    """Fill each pair's prompt (the conversation up to its context) and the feedback ids."""
    contexts = {pair.context_id for pair in pairs}
    answers = {pair.rejected_message_id for pair in pairs}
    answers |= {pair.chosen_message_id for pair in pairs if pair.chosen_message_id}
    threads = conversation_threads(session, contexts)
    votes = latest_votes()
    feedback: Mapping[uuid.UUID, list[str]] = defaultdict(list)
    rows = session.execute(
        sa.select(votes.c.message_id, votes.c.feedback_id).where(votes.c.message_id.in_(answers))
    )
    for message_id, feedback_id in rows:
        feedback[message_id].append(str(feedback_id))
    for pair in pairs:
        pair.prompt = threads[pair.context_id]
        pair.feedback_ids += feedback[pair.rejected_message_id]
        if pair.chosen_message_id:
            pair.feedback_ids += feedback[pair.chosen_message_id]


def conversation_threads(
    session: Session, contexts: set[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, str]]]:
    """The messages from each conversation's start down to each context message."""
    conversations = sa.select(Message.conversation_id).where(Message.id.in_(contexts))
    messages = {
        row.id: row
        for row in session.execute(
            sa.select(Message.id, Message.parent_id, Message.role, Message.content).where(
                Message.conversation_id.in_(conversations)
            )
        )
    }
    threads = {}
    for context in contexts:
        chain, cursor = [], messages.get(context)
        while cursor is not None:
            chain.append({"role": cursor.role.value, "content": cursor.content})
            cursor = messages.get(cursor.parent_id) if cursor.parent_id else None
        threads[context] = chain[::-1]
    return threads
