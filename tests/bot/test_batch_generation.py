"""Generation: batched prompts answered as one at a time, and greedy decoding at temperature 0."""

from bot.engine import Sampling

GREEDY = Sampling(temperature=0.0, max_new_tokens=24)


def test_greedy_answers_in_a_batch_equal_one_at_a_time(tiny_engine, topics):
    questions = [topic.questions[0] for topic in topics[:4]] + ["Hi"]
    prompts = [tiny_engine.prompt([{"role": "user", "content": q}]) for q in questions]
    assert len({len(prompt.token_ids) for prompt in prompts}) > 1  # padding is exercised

    batch = tiny_engine.generate_batch(prompts, GREEDY)
    alone = [tiny_engine.generate(prompt, GREEDY) for prompt in prompts]

    assert [g.text for g in batch] == [g.text for g in alone]
    assert [g.finish_reason for g in batch] == [g.finish_reason for g in alone]
    assert [g.completion_tokens for g in batch] == [g.completion_tokens for g in alone]
    assert [g.prompt_tokens for g in batch] == [len(p.token_ids) for p in prompts]


def test_an_empty_batch_is_answered_without_touching_the_model(tiny_engine):
    assert tiny_engine.generate_batch([], GREEDY) == []


def test_a_temperature_near_zero_decodes_greedily_instead_of_failing(tiny_engine, topics):
    prompt = tiny_engine.prompt([{"role": "user", "content": topics[0].questions[0]}])
    near_zero = Sampling(temperature=1e-300, top_p=0.25, max_new_tokens=24, seed=1)
    assert tiny_engine.generate(prompt, near_zero).text == tiny_engine.generate(prompt, GREEDY).text
