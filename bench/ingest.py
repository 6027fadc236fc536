"""Feedback ingestion: the write API against a raw SQLAlchemy bulk insert of the same rows.

Run by hand: `python -m bench.ingest [--events 20000] [--postgres URL]`. Both paths insert the
same events in batches, side by side in one run, on SQLite and on PostgreSQL; the write API
also validates every event, checks its message exists, pseudonymizes the rater and honours
idempotency keys. A third row times one transaction per event, as the HTTP endpoint does.
"""

import argparse
import statistics
import time
import uuid

import sqlalchemy as sa
from sqlmodel import delete

from bench.databases import DEFAULT_POSTGRES, benchmark_databases
from feedback import (
    Store,
    log_turns,
    pseudonymize,
    record_feedback,
    record_feedback_batch,
    start_conversation,
)
from feedback.migrate import upgrade
from feedback.models import FeedbackCreate, FeedbackEvent, FeedbackKind, TurnCreate

KEY = b"benchmark-pseudonym-key-0123456789"


def seed_messages(store: Store, count: int) -> list[uuid.UUID]:
    with store.session() as session:
        conversation = start_conversation(session, user_id="bench")
        turns = [
            TurnCreate(conversation_id=conversation.id, prompt=f"q{i}", answer=f"a{i}")
            for i in range(count)
        ]
        return [answer.id for _, answer in log_turns(session, turns)]


def make_events(message_ids: list[uuid.UUID], count: int, run: str) -> list[FeedbackCreate]:
    kinds = [(FeedbackKind.thumbs, 1), (FeedbackKind.thumbs, -1), (FeedbackKind.stars, 4)]
    return [
        FeedbackCreate(
            message_id=message_ids[i % len(message_ids)],
            kind=kinds[i % 3][0],
            value=kinds[i % 3][1],
            user_id=f"rater-{i % 97}",
            idempotency_key=f"{run}-{i}",
        )
        for i in range(count)
    ]


def batches(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def time_write_api(store: Store, events: list[FeedbackCreate], batch: int) -> float:
    start = time.perf_counter()
    with store.session() as session:
        for chunk in batches(events, batch):
            record_feedback_batch(session, chunk)
    return time.perf_counter() - start


def time_raw_bulk_insert(store: Store, events: list[FeedbackCreate], batch: int) -> float:
    with store.session() as session:  # rows made ahead: the raw path is timed on the insert alone
        rows = [
            FeedbackEvent(
                **event.model_dump(exclude={"user_id"}),
                user_pseudonym=pseudonymize(session, event.user_id),
            ).model_dump()
            for event in events
        ]
    start = time.perf_counter()
    with store.engine.connect() as connection:
        for chunk in batches(rows, batch):
            connection.execute(sa.insert(FeedbackEvent), chunk)
            connection.commit()
    return time.perf_counter() - start


def time_one_per_transaction(store: Store, events: list[FeedbackCreate]) -> float:
    start = time.perf_counter()
    with store.session() as session:
        for event in events:
            record_feedback(session, **event.model_dump())
    return time.perf_counter() - start


def clear(store: Store) -> None:
    with store.session() as session:
        session.exec(delete(FeedbackEvent))
        session.commit()


def measure(name: str, url: str, events: int, batch: int, repeats: int) -> list[str]:
    store = Store.from_url(url, pseudonym_key=KEY)
    upgrade(store.engine)
    messages = seed_messages(store, 2000)
    api, raw, single = [], [], []
    for repeat in range(repeats):  # interleaved, so drift hits both paths alike
        clear(store)
        raw.append(
            events / time_raw_bulk_insert(store, make_events(messages, events, f"r{repeat}"), batch)
        )
        clear(store)
        api.append(
            events / time_write_api(store, make_events(messages, events, f"a{repeat}"), batch)
        )
        clear(store)
        few = make_events(messages, events // 10, f"s{repeat}")
        single.append(len(few) / time_one_per_transaction(store, few))
    store.dispose()
    api_rate, raw_rate, single_rate = map(statistics.median, (api, raw, single))
    return [
        f"| {name} | raw bulk insert, {batch} per transaction | {raw_rate:,.0f} | 1.00 |",
        f"| {name} | write API, batches of {batch} | {api_rate:,.0f} | {api_rate / raw_rate:.2f} |",
        f"| {name} | write API, one event per transaction | {single_rate:,.0f} "
        f"| {single_rate / raw_rate:.2f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()

    rows = ["| database | path | events/s (median of runs) | vs raw |", "|---|---|---|---|"]
    with benchmark_databases(args.postgres) as databases:
        for name, url in databases:
            rows += measure(name, url, **vars_for(args))
    print("\n".join(rows))


def vars_for(args: argparse.Namespace) -> dict[str, int]:
    return {"events": args.events, "batch": args.batch, "repeats": args.repeats}


if __name__ == "__main__":
    main()
