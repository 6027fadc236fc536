"""How one model version does with real users over a stretch of time: the counts that the
canary comparison and the watch after a promotion read. Raters the last nightly run
distrusted (`DISTRUSTED_BELOW`: trolls rewarding toxic answers) are not counted: otherwise
they could roll back a model for being less rude."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session

from feedback.models import (
    DISTRUSTED_BELOW,
    FeedbackEvent,
    FeedbackKind,
    Message,
    RaterTrustRecord,
    Role,
)
from feedback.pairs import vote_recency

# VADER's own convention: a compound score at or below -0.05 is a negative text.
NEGATIVE_SENTIMENT = -0.05


@dataclass(frozen=True)
class VersionCounts:
    """Answers a version wrote from `since` on, and what users did with them."""

    answers: int = 0  # shown to users
    withheld: int = 0  # written, then withheld by the serving guard
    thumbs: int = 0  # rated answers: each rater's latest thumb on each answer
    ups: int = 0
    regenerated: int = 0  # answers the user asked to have regenerated
    replies: int = 0  # user messages answering them, with a sentiment
    negative_replies: int = 0

    @property
    def written(self) -> int:
        """Answers written: shown or withheld."""
        return self.answers + self.withheld


def version_counts(
    session: Session, *, version_id: int, since: datetime, until: datetime | None = None
) -> VersionCounts:
    """The counts of answers by `version_id` written in [since, until) (until: now)."""
    window = _answers_of(Message, version_id=version_id, since=since, until=until)
    shown = Message.guard_flags.is_(None)
    answers, withheld = session.execute(
        sa.select(_count_where(shown), _count_where(sa.not_(shown))).where(*window)
    ).one()
    thumbs, ups = _thumbs(session, [*window, shown])
    regenerated = session.execute(
        sa.select(sa.func.count(sa.distinct(FeedbackEvent.message_id)))
        .join(Message, Message.id == FeedbackEvent.message_id)
        .where(*window, FeedbackEvent.kind == FeedbackKind.regenerate, _trusted())
    ).scalar_one()
    answer = aliased(Message)
    replies, negative = session.execute(
        sa.select(sa.func.count(), _count_where(Message.sentiment <= NEGATIVE_SENTIMENT))
        .select_from(answer)
        .join(Message, Message.parent_id == answer.id)
        .where(
            *_answers_of(answer, version_id=version_id, since=since, until=until),
            Message.role == Role.user,
            Message.sentiment.is_not(None),
        )
    ).one()
    return VersionCounts(
        answers=answers or 0,
        withheld=withheld or 0,
        thumbs=thumbs or 0,
        ups=ups or 0,
        regenerated=regenerated,
        replies=replies,
        negative_replies=negative or 0,
    )


def _answers_of(message, *, version_id: int, since: datetime, until: datetime | None) -> list:
    """The conditions that pick the version's answers in the window (on `message`, which may
    be an alias of Message)."""
    window = [
        message.role == Role.assistant,
        message.model_version_id == version_id,
        message.created_at >= since,
    ]
    if until is not None:
        window.append(message.created_at < until)
    return window


def _thumbs(session: Session, window: list) -> tuple[int | None, int | None]:
    """Rated answers and thumbs up: each rater's latest thumb on each answer counts once."""
    ranked = (
        sa.select(FeedbackEvent.value, vote_recency().label("recency"))
        .join(Message, Message.id == FeedbackEvent.message_id)
        .where(*window, FeedbackEvent.kind == FeedbackKind.thumbs, _trusted())
        .subquery("ranked")
    )
    return session.execute(
        sa.select(sa.func.count(), _count_where(ranked.c.value == 1)).where(ranked.c.recency == 1)
    ).one()


def _trusted() -> sa.ColumnElement[bool]:
    """The feedback event is not by a rater the last nightly run distrusted."""
    distrusted = sa.select(RaterTrustRecord.user_pseudonym).where(
        RaterTrustRecord.weight < DISTRUSTED_BELOW
    )
    return FeedbackEvent.user_pseudonym.not_in(distrusted)


def _count_where(condition) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((condition, 1), else_=0))
