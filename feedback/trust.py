"""Rater trust: raters who reward toxic answers or vote against everyone else lose weight.

This is the defence against users who coordinate to teach the bot bad behaviour. The
toxicity scorer comes in as a plain function (scorers live in trainer/).
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from feedback.models import Message
from feedback.pairs import latest_votes
from feedback.temp_tables import temporary_table

MIN_WEIGHT = 0.05
# An honest customer almost never up-votes a toxic answer: in a measured demo with 30% trolls
# none of the 72 honest raters did, while 20-46% of each troll's up-votes went to toxic answers
# (the rest to wrong ones). Weight falls with the 4th power of that share: a rater with a fifth
# of their up-votes on toxic answers keeps 0.41 of it, and is distrusted.
TOXIC_REWARD_EXPONENT = 4


@dataclass(frozen=True)
class RaterTrust:
    user_pseudonym: str
    votes: int
    disagreement: float | None  # mean distance to the other raters' mean, where there are others
    toxic_reward_share: float  # share of this rater's positive votes that went to toxic answers
    weight: float

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.disagreement is not None and self.disagreement > 0.5:
            found.append(f"votes against the consensus (distance {self.disagreement:.2f})")
        if self.toxic_reward_share > 0.2:
            found.append(f"rewards toxic answers ({self.toxic_reward_share:.0%} of up-votes)")
        return found


def rater_trust(
    session: Session,
    *,
    score_toxicity: Callable[[Sequence[str]], Sequence[float]],
    toxicity_threshold: float,
) -> dict[str, RaterTrust]:
    votes = latest_votes()
    per_message = (
        sa.select(
            votes.c.message_id,
            sa.func.sum(votes.c.score).label("total"),
            sa.func.count().label("raters"),
        )
        .group_by(votes.c.message_id)
        .subquery("per_message")
    )
    others_mean = (per_message.c.total - votes.c.score) / (per_message.c.raters - 1)
    agreement = session.execute(
        sa.select(
            votes.c.user_pseudonym,
            sa.func.count().label("votes"),
            sa.func.avg(
                sa.case((per_message.c.raters > 1, sa.func.abs(votes.c.score - others_mean)))
            ).label("disagreement"),
        )
        .join(per_message, per_message.c.message_id == votes.c.message_id)
        .group_by(votes.c.user_pseudonym)
    ).all()

    rewarded = session.execute(
        sa.select(votes.c.user_pseudonym, votes.c.message_id, Message.content)
        .join(Message, Message.id == votes.c.message_id)
        .where(votes.c.score > 0.5)
    ).all()
    contents = sorted({content for _, _, content in rewarded})  # answers repeat: score each once
    toxic_contents = {
        content
        for content, score in zip(contents, score_toxicity(contents), strict=True)
        if score > toxicity_threshold
    }
    toxic = {message_id for _, message_id, content in rewarded if content in toxic_contents}
    up_votes, toxic_up_votes = defaultdict(int), defaultdict(int)
    for rater, message_id, _ in rewarded:
        up_votes[rater] += 1
        toxic_up_votes[rater] += message_id in toxic

    trust = {}
    for rater, count, disagreement in agreement:
        toxic_share = toxic_up_votes[rater] / up_votes[rater] if up_votes[rater] else 0.0
        agreeing = 1.0 if disagreement is None else 1.0 - float(disagreement)
        weight = max(MIN_WEIGHT, agreeing * (1.0 - toxic_share) ** TOXIC_REWARD_EXPONENT)
        trust[rater] = RaterTrust(
            user_pseudonym=rater,
            votes=count,
            disagreement=None if disagreement is None else float(disagreement),
            toxic_reward_share=toxic_share,
            weight=weight,
        )
    return trust


def weights_table(session: Session, trust: dict[str, RaterTrust]) -> sa.Table:
    """The weights as a temporary table, so that pair building can join them in SQL."""
    return temporary_table(
        session,
        "tmp_rater_weight",
        [
            sa.Column("user_pseudonym", sa.String(64), primary_key=True),
            sa.Column("weight", sa.Float, nullable=False),
        ],
        [{"user_pseudonym": r.user_pseudonym, "weight": r.weight} for r in trust.values()],
    )
