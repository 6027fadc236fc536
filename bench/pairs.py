"""Pair building on a big store: 1,000,000 messages and 300,000 feedback events.

Run by hand: `python -m bench.pairs [--messages 1000000] [--events 300000]`. The floor is one
full-table aggregate over the same tables (every event joined to its answer, grouped by
context); pair building runs all its queries (latest vote per rater, trust-free scores,
ranked contexts, the pair join, provenance) in the same run, on SQLite and PostgreSQL.
"""

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench.databases import DEFAULT_POSTGRES, benchmark_databases
from feedback import Store
from feedback.columns import new_id
from feedback.curation import build_pairs
from feedback.migrate import upgrade
from feedback.models import Conversation, FeedbackEvent, Message
from feedback.normalize import prompt_key
from feedback.pairs import PairPolicy
from trainer.corpus import load_topics

CHUNK = 20_000


def populate(store: Store, messages: int, events: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    topics = load_topics()
    questions = [(q, t) for t in topics for q in t.questions]
    start = datetime.now(UTC) - timedelta(days=7)
    conversations, rows, answers = [], [], []
    while len(rows) < messages:
        conversation = new_id()
        when = start + timedelta(seconds=rng.randrange(7 * 86400))
        question, topic = rng.choice(questions)
        conversations.append(
            {
                "id": conversation,
                "user_pseudonym": f"u{rng.randrange(50_000)}",
                "client": "api",
                "training_consent": True,
                "created_at": when,
            }
        )
        prompt = new_id()
        rows.append(
            {
                "id": prompt,
                "conversation_id": conversation,
                "parent_id": None,
                "role": "user",
                "content": question,
                "prompt_key": prompt_key(question),
                "created_at": when,
            }
        )
        for _ in range(1 + (rng.random() < 0.5)):
            answer = new_id()
            rows.append(
                {
                    "id": answer,
                    "conversation_id": conversation,
                    "parent_id": prompt,
                    "role": "assistant",
                    "prompt_key": None,
                    "created_at": when,
                    "content": topic.answers[rng.choice(["good", "vague", "wrong", "rude"])],
                }
            )
            answers.append((answer, when))
    feedback = []
    for index in range(events):
        answer, when = rng.choice(answers)
        stars = rng.random() < 0.3
        feedback.append(
            {
                "id": new_id(),
                "message_id": answer,
                "kind": "stars" if stars else "thumbs",
                "value": rng.randint(1, 5) if stars else rng.choice((-1, 1)),
                "text": None,
                "idempotency_key": None,
                "user_pseudonym": f"r{rng.randrange(20_000)}",
                "created_at": when + timedelta(minutes=1 + index % 60),
            }
        )
    with store.engine.begin() as connection:
        for table, data in (
            (Conversation, conversations),
            (Message, rows),
            (FeedbackEvent, feedback),
        ):
            for offset in range(0, len(data), CHUNK):
                connection.execute(sa.insert(table.__table__), data[offset : offset + CHUNK])
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")


def floor_query(store: Store) -> float:
    started = time.perf_counter()
    with store.engine.connect() as connection:
        connection.execute(
            sa.select(Message.parent_id, sa.func.count(), sa.func.avg(FeedbackEvent.value))
            .join(Message, Message.id == FeedbackEvent.message_id)
            .group_by(Message.parent_id)
        ).all()
    return time.perf_counter() - started


def pair_building(store: Store) -> tuple[float, int]:
    started = time.perf_counter()
    with store.session() as session:
        pairs = build_pairs(session, since=None, policy=PairPolicy())
    return time.perf_counter() - started, len(pairs)


def measure(name: str, url: str, args: argparse.Namespace) -> str:
    store = Store.from_url(url, pseudonym_key=b"bench-pseudonym-key-012345")
    upgrade(store.engine)
    started = time.perf_counter()
    populate(store, args.messages, args.events)
    print(f"{name}: populated in {time.perf_counter() - started:.0f} s", flush=True)
    floor = min(floor_query(store) for _ in range(3))
    build, count = min(pair_building(store) for _ in range(3))
    store.dispose()
    return f"| {name} | {floor:.2f} s | {build:.2f} s | {build / floor:.2f} | {count:,} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    rows = [
        "| database | floor (aggregate) | pair building | ratio | pairs |",
        "|---|---|---|---|---|",
    ]
    with benchmark_databases(args.postgres) as databases:
        rows += [measure(name, url, args) for name, url in databases]
    print(f"{args.messages:,} messages, {args.events:,} feedback events (best of 3)\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
