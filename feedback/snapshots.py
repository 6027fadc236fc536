"""Dataset snapshots: the night's kept pairs (plus replayed older ones) frozen as TRL JSONL."""

import hashlib
import json
import random
import uuid
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from feedback.columns import new_id
from feedback.models import (
    Conversation,
    DatasetSnapshot,
    GateVerdict,
    Message,
    PreferencePair,
)
from feedback.pairs import PairCandidate, conversation_threads, scored_answers


def last_cutoff(session: Session) -> datetime | None:
    """Feedback up to here is in an earlier snapshot; the next one starts after it."""
    return session.exec(sa.select(sa.func.max(DatasetSnapshot.feedback_until))).one()[0]


def latest_snapshot(session: Session) -> DatasetSnapshot | None:
    """The newest dataset snapshot, if any."""
    query = select(DatasetSnapshot).order_by(col(DatasetSnapshot.created_at).desc())
    return session.exec(query).first()


def load_rows(path: Path) -> list[dict]:
    """The rows of a snapshot file (or a split of one)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def still_usable(session: Session, rows: list[dict]) -> list[dict]:
    """The rows of an older snapshot that may still train: their pair was neither erased nor
    purged, and its conversation did not withdraw consent since."""
    ids = [uuid.UUID(row["pair_id"]) for row in rows]
    usable = set(
        session.exec(
            select(PreferencePair.id)
            .join(Message, Message.id == PreferencePair.rejected_message_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(PreferencePair.id.in_(ids), Conversation.training_consent.is_(True))
        ).all()
    )
    return [row for row in rows if uuid.UUID(row["pair_id"]) in usable]


def discard_unsnapshotted_pairs(session: Session) -> int:
    """Delete the pairs that an earlier run built but never froze into a snapshot (it had too
    few, or it crashed); their feedback came after the last cutoff, so the next run builds
    them again. Returns how many there were."""
    deleted = session.execute(
        sa.delete(PreferencePair).where(PreferencePair.snapshot_id.is_(None))
    ).rowcount
    session.commit()
    return deleted


def save_pairs(session: Session, pairs: list[PairCandidate]) -> list[PreferencePair]:
    rows = [
        PreferencePair(
            strategy=pair.strategy,
            prompt=pair.prompt,
            chosen=pair.chosen,
            rejected=pair.rejected,
            weight=pair.weight,
            chosen_message_id=pair.chosen_message_id,
            rejected_message_id=pair.rejected_message_id,
            feedback_ids=pair.feedback_ids,
        )
        for pair in pairs
    ]
    session.add_all(rows)
    session.commit()
    return rows


def write_snapshot(
    session: Session,
    *,
    pairs: list[PreferencePair],
    directory: Path,
    feedback_until: datetime,
    replay_share: float = 0.0,
    replay_after: datetime | None = None,
    seed: int = 0,
    guard_votes: bool = False,
) -> DatasetSnapshot:
    """Freeze the kept `pairs`, plus `replay_share` as many kept pairs of earlier snapshots:
    pairs made after `replay_after` (the retention limit), from conversations that still
    consent. Beside them, the unpaired rows for KTO (`write_kto_rows`)."""
    kept = [pair for pair in pairs if pair.verdict == GateVerdict.kept]
    replayable = (
        select(PreferencePair)
        .join(Message, Message.id == PreferencePair.rejected_message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            PreferencePair.snapshot_id.is_not(None),
            PreferencePair.verdict == GateVerdict.kept,
            Conversation.training_consent.is_(True),
        )
    )
    if replay_after is not None:
        replayable = replayable.where(PreferencePair.created_at > replay_after)
    older = session.exec(replayable).all()
    replayed = random.Random(seed).sample(older, min(len(older), round(replay_share * len(kept))))
    snapshot_id = new_id()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{snapshot_id}.jsonl"
    lines = [json.dumps(training_row(pair)) for pair in [*kept, *replayed]]
    path.write_text("".join(line + "\n" for line in lines))
    kto_path, kto_count = write_kto_rows(
        session, directory / f"{snapshot_id}.kto.jsonl", guard_votes=guard_votes
    )
    snapshot = DatasetSnapshot(
        id=snapshot_id,
        path=str(path),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        pair_count=len(lines),
        kto_path=str(kto_path),
        kto_count=kto_count,
        feedback_until=feedback_until,
        stats={"new_pairs": len(kept), "replayed_pairs": len(replayed), "gated": len(pairs)},
    )
    session.add(snapshot)
    session.flush()
    for pair in pairs:
        pair.snapshot_id = snapshot_id
        session.add(pair)
    session.commit()
    return snapshot


WEIGHT_COLUMN = "weight"  # a training row's pair weight, which the trainer samples by


def training_row(pair: PreferencePair) -> dict:
    """TRL's conversational preference format, plus the pair's weight and id."""
    return {
        "prompt": pair.prompt,
        "chosen": [{"role": "assistant", "content": pair.chosen}],
        "rejected": [{"role": "assistant", "content": pair.rejected}],
        WEIGHT_COLUMN: pair.weight,
        "pair_id": str(pair.id),
    }


def write_kto_rows(session: Session, path: Path, *, guard_votes: bool = False) -> tuple[Path, int]:
    """Unpaired ratings for KTO: each rated answer with label = rated good (ties left out), and
    the answer's id (what erasure finds it by). `guard_votes`: the answers the serving guard
    withheld count as voted down (`feedback.pairs.guard_votes`)."""
    scored = scored_answers(with_guard_votes=guard_votes)
    rows = session.execute(
        sa.select(scored.c.message_id, scored.c.context_id, scored.c.score).where(
            scored.c.score != 0.5
        )
    ).all()
    contents = dict(
        session.execute(
            sa.select(Message.id, Message.content).where(Message.id.in_([r[0] for r in rows]))
        ).all()
    )
    threads = conversation_threads(session, {row.context_id for row in rows})
    lines = [
        json.dumps(
            {
                "prompt": threads[row.context_id],
                "completion": [{"role": "assistant", "content": contents[row.message_id]}],
                "label": row.score > 0.5,
                "message_id": str(row.message_id),
            }
        )
        for row in rows
    ]
    path.write_text("".join(line + "\n" for line in lines))
    return path, len(lines)
