"""Questions grouped by meaning: first questions whose embeddings are near count as one, so
answers to paraphrases rated apart can make a pair (pair strategy 3)."""

import sqlalchemy as sa
from sqlmodel import Session

from feedback.models import Message
from feedback.pairs import latest_votes
from feedback.similarity import Embed, embed_texts, group_by_similarity
from feedback.temp_tables import temporary_table


def group_prompts(session: Session, *, embed: Embed, threshold: float) -> sa.Table:
    """First questions with rated answers, grouped by meaning: a temporary table that maps a
    prompt key to its group's key (only keys that join another's group have a row).

    Each normalized question is embedded once. The most answered question of a group leads
    it (ties: the smaller key), so the groups do not depend on the order rows come back in.
    """
    questions = sorted(_rated_first_questions(session), key=lambda q: (-q.answers, q.prompt_key))
    leaders = group_by_similarity(embed_texts(embed, [q.text for q in questions]), threshold)
    return temporary_table(
        session,
        "tmp_prompt_group",
        [
            sa.Column("prompt_key", sa.String(32), primary_key=True),
            sa.Column("group_key", sa.String(32), nullable=False),
        ],
        [
            {"prompt_key": row.prompt_key, "group_key": questions[leader].prompt_key}
            for index, (row, leader) in enumerate(zip(questions, leaders, strict=True))
            if leader != index
        ],
    )


def _rated_first_questions(session: Session) -> list[sa.Row]:
    """Each normalized first question with rated answers: key, one wording, answers rated."""
    answer, prompt = sa.orm.aliased(Message), sa.orm.aliased(Message)
    votes = latest_votes()
    return session.execute(
        sa.select(
            prompt.prompt_key,
            sa.func.min(prompt.content).label("text"),
            sa.func.count(sa.distinct(answer.id)).label("answers"),
        )
        .select_from(votes)
        .join(answer, answer.id == votes.c.message_id)
        .join(prompt, prompt.id == answer.parent_id)
        .where(prompt.parent_id.is_(None), prompt.prompt_key.is_not(None))
        .group_by(prompt.prompt_key)
    ).all()
