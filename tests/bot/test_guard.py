"""The serving guard on a live bot: clean answers pass, flagged ones are regenerated or replaced,
streams stop before a flagged sentence, and every withheld answer is logged with its flags."""

import asyncio
import threading
import time
import uuid
from contextlib import ExitStack

import httpx
import openai
import pytest
from sqlmodel import select

from bot.engine import Generation, Sampling
from bot.guard import Guard, split_sentences
from bot.server import BackgroundServer
from feedback import message_thread
from feedback.models import Message
from tests.live_bot import LiveBot, bot_settings
from tuneloop.serving import build_bot, build_guard
from tuneloop.settings import Settings

QUESTION = [{"role": "user", "content": "How long do I have to return an item?"}]
FALLBACK = "Sorry, I can't help with that. Please write to support."
SAMPLING = {"temperature": 0.8, "top_p": 0.95, "max_tokens": 24}


class ScriptedFlagger:
    """A deterministic flagger: `rule(call, index, text)` says which texts are insults; every
    text asked about is recorded (`index` counts them across calls)."""

    def __init__(self, rule) -> None:
        self.rule = rule
        self.calls = 0
        self.texts: list[str] = []

    def __call__(self, texts):
        flags = []
        for text in texts:
            flags.append(["insult"] if self.rule(self.calls, len(self.texts), text) else [])
            self.texts.append(text)
        self.calls += 1
        return flags


def never(call, index, text):
    return False


def first_call(call, index, text):
    return call == 0


def always(call, index, text):
    return True


def second_text(call, index, text):
    return index == 1


@pytest.fixture
def serve(bot_store):
    """serve(flag) -> a live bot whose guard uses `flag` (None: the configured `scorer`)."""
    with ExitStack() as stack:

        def start(flag, *, guard: bool = True, scorer: str | None = None) -> LiveBot:
            settings = bot_settings(guard=guard, guard_fallback=FALLBACK)
            if scorer is not None:
                settings.scoring.scorer = scorer
            app, slot, logger = build_bot(settings, bot_store, flag=flag)
            stack.callback(logger.close)
            server = stack.enter_context(BackgroundServer(app))
            return LiveBot(server.url, bot_store, slot, logger, slot.engine.version_id)

        yield start


def ask(bot: LiveBot, seed: int, **extra):
    client = openai.OpenAI(base_url=f"{bot.url}/v1", api_key="unused", max_retries=0)
    return client.chat.completions.create(
        model="tiny", messages=QUESTION, seed=seed, **SAMPLING, **extra
    )


def ask_streaming(bot: LiveBot, seed: int) -> tuple[str, list]:
    chunks = list(ask(bot, seed, stream=True))
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks), chunks


def answer_of(engine, seed: int) -> str:
    """What the model answers QUESTION with, unguarded (the same weights as the live bot's)."""
    sampling = Sampling(temperature=0.8, top_p=0.95, max_new_tokens=24, seed=seed)
    return engine.generate(engine.prompt(QUESTION), sampling).text


def answers(bot: LiveBot, prompt_message_id: str, *, count: int) -> list[Message]:
    """The answers to a question once `count` are logged: a stopped stream's withheld answer
    is logged when its generation ends, after the reply."""
    deadline = time.monotonic() + 30
    while True:
        bot.logger.flush()
        with bot.store.session() as session:
            query = select(Message).where(Message.parent_id == uuid.UUID(prompt_message_id))
            found = session.exec(query.order_by(Message.created_at)).all()
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def guarded_counts(bot: LiveBot) -> dict[str, float]:
    metrics = httpx.get(f"{bot.url}/metrics").text
    return {
        outcome: float(line.rsplit(" ", 1)[1])
        for outcome in ("regenerated_clean", "fallback")
        for line in metrics.splitlines()
        if line.startswith(f'tuneloop_guarded_answers_total{{outcome="{outcome}"}}')
    }


def test_sentences_end_at_stops_before_white_space_and_at_newlines():
    assert split_sentences("It costs 3.5 euros. Ask us! Really?\nBye") == (
        ["It costs 3.5 euros.", " Ask us!", " Really?", "\n"],
        "Bye",
    )
    assert split_sentences("See example.com.") == ([], "See example.com.")


def test_a_clean_answer_passes_untouched(serve, tiny_engine):
    flagger = ScriptedFlagger(never)
    bot = serve(flagger)
    completion = ask(bot, seed=5)
    text, _ = ask_streaming(bot, seed=5)

    assert completion.choices[0].message.content == answer_of(tiny_engine, 5)
    assert text.strip() == answer_of(tiny_engine, 5)
    assert completion.model_extra["tuneloop"]["guard"] == {"outcome": "clean", "flags": []}
    assert flagger.calls >= 2  # it was checked, both times
    [answer] = answers(bot, completion.model_extra["tuneloop"]["prompt_message_id"], count=1)
    assert answer.guard_flags is None
    assert guarded_counts(bot) == {"regenerated_clean": 0.0, "fallback": 0.0}


def test_a_flagged_answer_is_regenerated_and_the_original_logged(serve, tiny_engine):
    bot = serve(ScriptedFlagger(first_call))
    completion = ask(bot, seed=5)
    ids = completion.model_extra["tuneloop"]

    assert ids["guard"] == {"outcome": "regenerated_clean", "flags": ["insult"]}
    assert completion.choices[0].message.content == answer_of(tiny_engine, 6)  # the next seed
    shown, withheld = answers(bot, ids["prompt_message_id"], count=2)
    assert str(shown.id) == ids["message_id"] and shown.guard_flags is None
    assert shown.sampling["seed"] == 6
    assert withheld.content == answer_of(tiny_engine, 5) and withheld.guard_flags == ["insult"]
    assert guarded_counts(bot) == {"regenerated_clean": 1.0, "fallback": 0.0}


def test_flagged_twice_the_user_gets_the_fallback_and_the_talk_goes_on_from_it(serve):
    bot = serve(ScriptedFlagger(always))
    completion = ask(bot, seed=5)
    ids = completion.model_extra["tuneloop"]

    assert completion.choices[0].message.content == FALLBACK
    assert completion.choices[0].finish_reason == "content_filter"
    assert ids["guard"] == {"outcome": "fallback", "flags": ["insult"]}
    shown, *withheld = answers(bot, ids["prompt_message_id"], count=3)
    assert (str(shown.id), shown.content, shown.guard_flags) == (ids["message_id"], FALLBACK, None)
    assert [message.guard_flags for message in withheld] == [["insult"], ["insult"]]
    assert guarded_counts(bot) == {"regenerated_clean": 0.0, "fallback": 1.0}

    follow_up = ask(
        bot,
        seed=1,
        extra_body={"conversation_id": ids["conversation_id"], "parent_id": ids["message_id"]},
    ).model_extra["tuneloop"]
    bot.logger.flush()
    with bot.store.session() as session:
        thread = message_thread(session, uuid.UUID(follow_up["message_id"]))
    assert [str(message.id) for message in thread[1:3]] == [
        ids["message_id"],
        follow_up["prompt_message_id"],
    ]
    assert thread[1].content == FALLBACK
    assert all(message.guard_flags is None for message in thread)


def test_a_stream_stops_at_the_flagged_sentence_and_never_sends_it(serve, tiny_engine):
    seed = next(s for s in range(200) if _sentence_count(answer_of(tiny_engine, s)) >= 2)
    flagger = ScriptedFlagger(second_text)  # the first sentence passes, the second is flagged
    bot = serve(flagger)
    text, chunks = ask_streaming(bot, seed)
    ids = chunks[0].model_extra["tuneloop"]
    clean, flagged = flagger.texts[:2]

    assert text.startswith(clean) and text.endswith(FALLBACK)
    assert flagged.strip() not in text
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert chunks[-1].model_extra["tuneloop"]["guard"] == {
        "outcome": "fallback",
        "flags": ["insult"],
    }
    shown, withheld = answers(bot, ids["prompt_message_id"], count=2)
    assert str(shown.id) == ids["message_id"] and shown.content == text.strip()
    # The model was told to stop once the sentence was flagged; it may have written a little
    # more by then (or finished: the tiny model is fast), never anything else.
    assert answer_of(tiny_engine, seed).startswith(withheld.content)
    assert withheld.guard_flags == ["insult"]
    assert flagged.strip() in withheld.content
    assert guarded_counts(bot) == {"regenerated_clean": 0.0, "fallback": 1.0}


def test_setting_stop_ends_a_generation_at_the_next_token(tiny_engine):
    prompt = tiny_engine.prompt(QUESTION)
    sampling = Sampling(temperature=0.8, top_p=0.95, max_new_tokens=48, seed=3)
    full = tiny_engine.generate(prompt, sampling)
    stop = threading.Event()
    stopped = tiny_engine.generate(prompt, sampling, on_text=lambda _: stop.set(), stop=stop)

    assert full.completion_tokens > 8
    assert stopped.completion_tokens < full.completion_tokens / 2
    assert full.text.startswith(stopped.text)


def test_a_stream_flagged_before_any_text_is_regenerated(serve, tiny_engine):
    assert answer_of(tiny_engine, 5) != answer_of(tiny_engine, 6)
    bot = serve(ScriptedFlagger(first_call))
    text, chunks = ask_streaming(bot, seed=5)
    ids = chunks[0].model_extra["tuneloop"]

    assert text.strip() == answer_of(tiny_engine, 6)
    assert chunks[-1].choices[0].finish_reason in {"stop", "length"}
    assert chunks[-1].model_extra["tuneloop"]["guard"]["outcome"] == "regenerated_clean"
    shown, withheld = answers(bot, ids["prompt_message_id"], count=2)
    assert shown.content == answer_of(tiny_engine, 6)
    assert withheld.content == answer_of(tiny_engine, 5) and withheld.guard_flags == ["insult"]
    assert guarded_counts(bot) == {"regenerated_clean": 1.0, "fallback": 0.0}


def broken_flagger(texts):
    raise RuntimeError("scorer crashed")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_failing_flagger_fails_closed_with_the_fallback_not_an_error(serve, stream):
    bot = serve(broken_flagger)
    if stream:
        text, chunks = ask_streaming(bot, seed=5)
        ids, finish = chunks[0].model_extra["tuneloop"], chunks[-1].choices[0].finish_reason
    else:
        completion = ask(bot, seed=5)
        text, ids = completion.choices[0].message.content, completion.model_extra["tuneloop"]
        finish = completion.choices[0].finish_reason

    assert (text, finish) == (FALLBACK, "content_filter")
    _, *withheld = answers(bot, ids["prompt_message_id"], count=3)
    assert [message.guard_flags for message in withheld] == [["unchecked"], ["unchecked"]]


def test_a_stream_flagged_twice_before_any_text_sends_only_the_fallback(serve):
    bot = serve(ScriptedFlagger(always))
    text, chunks = ask_streaming(bot, seed=5)
    ids = chunks[0].model_extra["tuneloop"]

    assert text == FALLBACK
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    shown, *withheld = answers(bot, ids["prompt_message_id"], count=3)
    assert shown.content == FALLBACK and shown.guard_flags is None
    assert [message.guard_flags for message in withheld] == [["insult"], ["insult"]]


def test_a_regenerated_answer_is_guarded_too(serve):
    flagger = ScriptedFlagger(never)
    bot = serve(flagger)
    ids = ask(bot, seed=5).model_extra["tuneloop"]
    flagger.rule = always
    response = httpx.post(
        f"{bot.url}/v1/chat/regenerate", json={"message_id": ids["message_id"], "seed": 2}
    )
    regenerated = response.json()
    assert regenerated["choices"][0]["message"]["content"] == FALLBACK
    assert regenerated["tuneloop"]["guard"]["outcome"] == "fallback"
    siblings = answers(bot, ids["prompt_message_id"], count=4)
    assert sorted(m.guard_flags is not None for m in siblings) == [False, False, True, True]


def test_with_the_guard_off_nothing_is_checked(serve, tiny_engine):
    flagger = ScriptedFlagger(always)
    bot = serve(flagger, guard=False)
    completion = ask(bot, seed=5)
    text, chunks = ask_streaming(bot, seed=5)

    assert completion.choices[0].message.content == answer_of(tiny_engine, 5)
    assert text.strip() == answer_of(tiny_engine, 5)
    assert "guard" not in completion.model_extra["tuneloop"]
    assert "tuneloop" not in (chunks[-1].model_extra or {})
    assert flagger.calls == 0
    assert guarded_counts(bot) == {}


def test_the_configured_scorer_guards_when_no_flagger_is_passed(serve, tiny_engine):
    bot = serve(None, scorer="profanity-check")
    completion = ask(bot, seed=5)
    assert completion.choices[0].message.content == answer_of(tiny_engine, 5)
    assert completion.model_extra["tuneloop"]["guard"]["outcome"] == "clean"


def test_the_real_toxicity_flagger_sends_a_profane_answer_back():
    settings = Settings.model_validate(
        {
            "bot": {"guard": True, "guard_fallback": FALLBACK},
            "scoring": {"scorer": "profanity-check"},
        }
    )
    guard = build_guard(settings)
    assert isinstance(guard, Guard)

    def script(*texts):
        async def generate(attempt: int) -> Generation:
            return Generation(texts[attempt], 9, 7, "stop", 1.0, 0)

        return asyncio.run(guard.answer(generate))

    shown, report = script("Returns are free. Shut up, you fucking idiot.", "Returns are free.")
    assert (shown.text, report.outcome, report.flags) == (
        "Returns are free.",
        "regenerated_clean",
        ["toxicity"],
    )
    shown, report = script("You fucking idiot.", "Damn you, moron.")
    assert (shown.text, shown.finish_reason, report.outcome) == (
        FALLBACK,
        "content_filter",
        "fallback",
    )
    assert len(report.withheld) == 2


def _sentence_count(text: str) -> int:
    sentences, rest = split_sentences(text)
    return len([part for part in [*sentences, rest] if part.strip()])
