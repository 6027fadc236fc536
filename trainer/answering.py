"""Ask a model questions as a user would, each alone, answered in batches: the build's answer
mix, the model gates, the domain adaptation's before-and-after and the benchmarks ask this way."""

from collections.abc import Sequence

from tqdm.auto import tqdm

from bot.engine import Engine, Sampling


def answer_questions(
    engine: Engine,
    questions: Sequence[str],
    sampling: Sampling,
    *,
    label: str,
    batch_size: int = 32,
) -> list[str]:
    """Each question asked alone, as a conversation's first message, answered in batches."""
    prompts = [engine.prompt([{"role": "user", "content": question}]) for question in questions]
    answers: list[str] = []
    with tqdm(total=len(prompts), desc=label, unit="answer") as progress:
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start : start + batch_size]
            answers += [generation.text for generation in engine.generate_batch(batch, sampling)]
            progress.update(len(batch))
    return answers
