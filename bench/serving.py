"""Serving benchmarks: the cost of logging turns; concurrent chats against sequential ones, with
and without dynamic batching.

Run by hand after `tuneloop bootstrap`: `python -m bench.serving [--model DIR] [--requests 60]`.
The bots serve the same loaded model on loopback, one logging every turn to a SQLite store
and one not; requests alternate between them so that drift hits both alike. The concurrency
rows send the same unseeded requests one at a time, then 8 at a time to a bot that answers
one at a time (`bot.max_batch = 1`) and to one that batches up to 8.
"""

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

from bot.api import create_app
from bot.engine import Engine, Sampling
from bot.hotswap import ModelSlot
from bot.server import BackgroundServer
from bot.turn_logger import TurnLogger
from feedback import Store, active_model_version
from feedback.migrate import upgrade
from trainer.corpus import load_topics
from tuneloop.settings import Settings
from tuneloop.store import open_store

SAMPLING = {"temperature": 0.8, "max_tokens": 32}


def questions(count: int) -> list[str]:
    phrasings = [q for topic in load_topics() for q in topic.questions]
    return [phrasings[i % len(phrasings)] for i in range(count)]


def timed_ask(client: openai.OpenAI, question: str, seed: int | None) -> tuple[float, int]:
    started = time.perf_counter()
    completion = client.chat.completions.create(
        model="bench", messages=[{"role": "user", "content": question}], seed=seed, **SAMPLING
    )
    return time.perf_counter() - started, completion.usage.completion_tokens


def logging_overhead(logged: openai.OpenAI, unlogged: openai.OpenAI, count: int) -> list[str]:
    with_log, without_log = [], []
    for i, question in enumerate(questions(count)):
        first, second = (logged, unlogged) if i % 2 == 0 else (unlogged, logged)
        a, _ = timed_ask(first, question, seed=i)
        b, _ = timed_ask(second, question, seed=i)
        (with_log if first is logged else without_log).append(a)
        (without_log if first is logged else with_log).append(b)
    on, off = statistics.median(with_log), statistics.median(without_log)
    return [
        f"| logging off | {off * 1000:.1f} ms | 1.000 |",
        f"| logging on | {on * 1000:.1f} ms | {on / off:.3f} |",
    ]


def concurrency(one_at_a_time: openai.OpenAI, batching: openai.OpenAI, count: int) -> list[str]:
    rows = []
    runs = (
        ("sequential", one_at_a_time, 1),
        ("8 concurrent, max_batch 1", one_at_a_time, 8),
        ("8 concurrent, max_batch 8", batching, 8),
    )
    for label, client, workers in runs:
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            asks = [pool.submit(timed_ask, client, q, None) for q in questions(count)]
            results = [ask.result() for ask in asks]
        elapsed = time.perf_counter() - started
        latencies = sorted(latency for latency, _ in results)
        tokens = sum(tokens for _, tokens in results)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        rows.append(f"| {label} | {tokens / elapsed:.1f} | {p95 * 1000:.0f} ms |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model directory (default: the active one)")
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    settings = Settings()
    model = args.model
    if model is None:
        with open_store(settings).session() as session:
            model = Path(active_model_version(session).path)
    engine = Engine.load(
        model, system_prompt=settings.bot.system_prompt, context_tokens=settings.bot.context_tokens
    )
    with tempfile.TemporaryDirectory() as directory:
        store = Store.from_url(f"sqlite:///{directory}/bench.db", pseudonym_key=b"b" * 32)
        upgrade(store.engine)
        logger = TurnLogger(store)
        slot = ModelSlot(engine)
        apps = [
            create_app(slot=slot, store=store, logger=log, defaults=Sampling(), max_batch=batch)
            for log, batch in ((logger, 1), (None, 1), (logger, 8))
        ]
        with (
            BackgroundServer(apps[0]) as on,
            BackgroundServer(apps[1]) as off,
            BackgroundServer(apps[2]) as batched,
        ):
            logged, unlogged, batching = (
                openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0)
                for server in (on, off, batched)
            )
            for client in (logged, unlogged, batching):  # warm up
                timed_ask(client, "Hello", seed=0)
            print(f"model {model.name}, {args.requests} requests per path, {SAMPLING}\n")
            print("| path | median latency | vs off |\n|---|---|---|")
            print("\n".join(logging_overhead(logged, unlogged, args.requests)))
            print(f"\n| {args.requests} chats | tokens/s | p95 latency |\n|---|---|---|")
            print("\n".join(concurrency(logged, batching, args.requests)))
        logger.close()


if __name__ == "__main__":
    main()
