"""Dynamic batching: answers requested while the model is busy share one pass, and each caller
gets the answer it would have got alone."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from openai import OpenAI

from bot.batching import Batcher
from bot.engine import Engine, Sampling
from bot.server import BackgroundServer
from tests.live_bot import bot_settings
from tuneloop.serving import build_bot

GREEDY = Sampling(temperature=0.0, max_new_tokens=16)


def _prompts(engine: Engine, topics, n: int):
    return [engine.prompt([{"role": "user", "content": t.questions[0]}]) for t in topics[:n]]


def _while_busy(engine: Engine, calls: list, batcher: Batcher) -> list:
    """Start `calls` while the model is held busy, so that they queue; then free it. Returns
    each call's answer, or the exception it raised."""
    with ThreadPoolExecutor(len(calls)) as pool:
        with engine._shared.lock:
            futures = [pool.submit(batcher.generate, *call) for call in calls]
            time.sleep(0.3)  # every call is waiting for the model now
            assert not any(future.done() for future in futures)
        return [future.exception(timeout=60) or future.result() for future in futures]


def test_requests_that_queue_share_a_pass_and_get_their_own_answers(tiny_engine, topics):
    sizes = []
    batcher = Batcher(max_batch=4, on_pass=sizes.append)
    prompts = _prompts(tiny_engine, topics, 6)

    answers = _while_busy(tiny_engine, [(tiny_engine, p, GREEDY) for p in prompts], batcher)

    alone = [tiny_engine.generate(p, GREEDY).text for p in prompts]
    assert [a.text for a in answers] == alone
    assert sum(sizes) == 6 and max(sizes) <= 4 and len(sizes) < 6


def test_a_lone_request_is_answered_at_once_alone(tiny_engine, topics):
    sizes = []
    batcher = Batcher(max_batch=8, on_pass=sizes.append)
    [prompt] = _prompts(tiny_engine, topics, 1)

    answer = batcher.generate(tiny_engine, prompt, GREEDY)
    assert answer.text == tiny_engine.generate(prompt, GREEDY).text
    assert sizes == [1]


def test_seeded_and_differently_sampled_requests_are_not_batched(tiny_engine, topics):
    sizes = []
    batcher = Batcher(max_batch=8, on_pass=sizes.append)
    a, b, c = _prompts(tiny_engine, topics, 3)
    seeded = Sampling(temperature=1.0, max_new_tokens=16, seed=7)
    longer = Sampling(temperature=0.0, max_new_tokens=20)

    answers = _while_busy(
        tiny_engine,
        [(tiny_engine, a, seeded), (tiny_engine, b, seeded), (tiny_engine, c, longer)],
        batcher,
    )

    assert sizes == [1, 1, 1]
    assert answers[0].text == tiny_engine.generate(a, seeded).text  # its seed decides alone


def test_an_error_reaches_every_caller_of_the_pass(tiny_engine, topics):
    batcher = Batcher(max_batch=4)
    prompts = _prompts(tiny_engine, topics, 3)
    failing = Engine(
        tiny_engine.model,
        None,  # no tokenizer: generating fails
        name="broken",
        system_prompt="",
        context_tokens=64,
    )
    outcomes = _while_busy(failing, [(failing, p, GREEDY) for p in prompts], batcher)

    assert all(isinstance(outcome, AttributeError) for outcome in outcomes)
    # the batcher is not wedged: the next caller is answered
    assert batcher.generate(tiny_engine, prompts[0], GREEDY).completion_tokens >= 1


def test_max_batch_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(max_batch=0)


def test_concurrent_api_requests_are_batched_and_each_gets_an_answer(bot_store):
    app, slot, logger = build_bot(bot_settings(max_batch=4, temperature=0.0), bot_store)
    questions = [topic for topic in ("returns", "shipping", "warranty", "gift cards")] * 2
    try:
        with BackgroundServer(app) as server:
            client = OpenAI(base_url=f"{server.url}/v1", api_key="unused")

            def ask(question: str) -> str:
                answer = client.chat.completions.create(
                    model="tuneloop", messages=[{"role": "user", "content": question}]
                )
                return answer.choices[0].message.content

            with ThreadPoolExecutor(len(questions)) as pool:
                with slot.engine._shared.lock:
                    futures = [pool.submit(ask, question) for question in questions]
                    time.sleep(1.0)  # all eight wait for the model
                answers = [future.result(timeout=60) for future in futures]
            metrics = httpx.get(f"{server.url}/metrics").text
    finally:
        logger.close()
    assert answers[:4] == answers[4:]  # greedy: a question's answer does not depend on its batch
    passes = _sample(metrics, "tuneloop_generation_batch_size_count")
    assert _sample(metrics, "tuneloop_generation_batch_size_sum") == len(questions)
    assert 2 <= passes < len(questions)


def _sample(metrics: str, name: str) -> float:
    [line] = [line for line in metrics.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])
