"""Evaluation through the bot's engine: the same prompts to every model, then metrics.

Most answers are greedy, so that two models compare and not two draws of sampling noise; the
domain questions are also answered as served (the bot's sampling, a few draws each), since a
sampled model's users meet its whole distribution, not its most likely answer. Metrics are
`evaluate` modules shipped in trainer/metrics and loaded by path.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import yaml
from tqdm.auto import tqdm

from bot.engine import Engine, Sampling
from feedback.snapshots import load_rows
from trainer.answering import answer_questions
from trainer.corpus import Topic
from trainer.identity import default_lexicon
from trainer.metrics import METRICS_DIR, load_metric
from trainer.scorers import ToxicityScorer
from trainer.semantic_judge import SemanticJudge

EVALUATION_PROMPTS = Path(__file__).with_name("corpus") / "evaluation.yaml"


@dataclass(frozen=True)
class ServedDraws:
    """How the bot samples its answers, and how many draws of each domain question to judge
    (one where it decodes greedily)."""

    sampling: Sampling
    draws: int = 4
    seed: int = 0  # the draws are reproducible: the same model, the same report


@dataclass(frozen=True)
class EvalPrompts:
    red_team: list[str]
    bias: list[tuple[str, str]]  # (group, prompt with the group swapped in)
    domain: list[tuple[str, Topic]]  # (held-out question, its topic)
    # (a corpus phrasing, its topic), one a topic: does the model still know the corpus?
    known: list[tuple[str, Topic]]


def load_eval_prompts(topics: list[Topic], path: Path = EVALUATION_PROMPTS) -> EvalPrompts:
    data = yaml.safe_load(path.read_text())
    groups = default_lexicon().counterfactual_groups
    return EvalPrompts(
        red_team=data["red_team"],
        bias=[(g, t.format(group=g)) for t in data["bias_templates"] for g in groups],
        domain=held_out_questions(topics),
        known=[(topic.questions[0], topic) for topic in topics],
    )


def held_out_questions(topics: list[Topic]) -> list[tuple[str, Topic]]:
    """(phrasing, topic) for every held-out phrasing: questions the corpus never trains on."""
    return [(question, topic) for topic in topics for question in topic.held_out]


def evaluation_key(
    prompts: EvalPrompts,
    *,
    scorer: ToxicityScorer,
    judge: SemanticJudge,
    sampling: Sampling,
    served: ServedDraws,
    system_prompt: str,
    context_tokens: int,
) -> str:
    """What a model's evaluation report depends on besides the model: the same key, the same
    report (answers to the same prompts, decoded alike, scored by the same scorer and judge),
    so a model already measured need not be measured again."""
    conditions = {
        "prompts": asdict(prompts),
        "scorer": scorer.name,
        "judge": judge.name,
        "sampling": sampling.as_dict(),
        "served": asdict(served) | {"sampling": served.sampling.as_dict()},
        "system_prompt": system_prompt,
        "context_tokens": context_tokens,
        "metrics": {
            module.name: hashlib.sha256(module.read_bytes()).hexdigest()
            for module in sorted(METRICS_DIR.glob("*/*.py"))
        },
    }
    return hashlib.sha256(json.dumps(conditions, sort_keys=True).encode()).hexdigest()


def measure_model(
    engine: Engine,
    prompts: EvalPrompts,
    *,
    scorer: ToxicityScorer,
    score_sentiment: Callable[[Sequence[str]], list[float]],
    judge: SemanticJudge,
    sampling: Sampling,
    served: ServedDraws,
) -> dict[str, dict]:
    """Red-team toxicity, counterfactual bias gap, domain accuracy (greedy, and as `served`),
    perplexity and degeneration of one model."""
    red_team = _answers(engine, prompts.red_team, sampling, "red team")
    bias = _answers(engine, [prompt for _, prompt in prompts.bias], sampling, "bias probes")
    domain = _answers(engine, [question for question, _ in prompts.domain], sampling, "domain")
    known = _answers(engine, [question for question, _ in prompts.known], sampling, "known")
    bias_toxicity = scorer.score(bias)["toxicity"]
    references = [
        answer_logprob(engine, [{"role": "user", "content": question}], topic.reference)
        for question, topic in prompts.domain
    ]
    return {
        "red_team": load_metric("toxicity_rate").compute(
            toxicity=scorer.score(red_team)["toxicity"]
        ),
        "bias": load_metric("bias_gap").compute(
            group=[group for group, _ in prompts.bias],
            toxicity=bias_toxicity,
            sentiment=score_sentiment(bias),
        ),
        "domain": domain_report(judge, prompts.known, prompts.domain, known + domain),
        "perplexity": load_metric("perplexity_from_nll").compute(
            nll=[-logprob for logprob, _ in references], tokens=[count for _, count in references]
        ),
        "degeneration": load_metric("distinct_n").compute(
            predictions=one_answer_per_question(prompts.domain, domain)
        ),
        "served": served_accuracy(engine, prompts, judge=judge, served=served),
    }


def served_accuracy(
    engine: Engine, prompts: EvalPrompts, *, judge: SemanticJudge, served: ServedDraws
) -> dict:
    """Domain accuracy of answers as the bot samples them (the serving guard aside): each known
    and held-out domain question answered `served.draws` times, every draw judged; once where
    the bot decodes greedily, since every draw would be the same answer."""
    draws = 1 if served.sampling.greedy else served.draws
    known = [item for item in prompts.known for _ in range(draws)]
    held_out = [item for item in prompts.domain for _ in range(draws)]
    # A sampling seed would reseed every batch alike; the draws follow `served.seed` instead.
    sampling = replace(served.sampling, seed=None)
    with torch.random.fork_rng(devices=[]):  # the CPU's state only: the engine runs there
        torch.manual_seed(served.seed)
        answers = _answers(
            engine, [question for question, _ in known + held_out], sampling, "as served"
        )
    return domain_report(judge, known, held_out, answers) | {"draws": draws}


def domain_report(
    judge: SemanticJudge,
    known: list[tuple[str, Topic]],
    held_out: list[tuple[str, Topic]],
    answers: Sequence[str],
) -> dict:
    """Domain accuracy of `answers` to the `known` then the `held_out` questions, with the
    held-out ones' own accuracy."""
    verdicts = judge_verdicts(judge, known + held_out, answers)
    held_out_accuracy = domain_accuracy(verdicts[len(known) :])["accuracy"]
    return domain_accuracy(verdicts) | {"held_out_accuracy": held_out_accuracy}


def judge_verdicts(
    judge: SemanticJudge, domain: list[tuple[str, Topic]], answers: Sequence[str]
) -> list[str]:
    """The judge's verdict on each answer to a (question, topic) of `domain`."""
    return judge.verdicts([topic for _, topic in domain], answers)


def domain_accuracy(verdicts: list[str]) -> dict:
    """The share of verdicts that take an answer for its topic's reference (and of each other)."""
    return load_metric("domain_accuracy").compute(verdicts=verdicts)


def one_answer_per_question(domain: list[tuple[str, Topic]], answers: list[str]) -> list[str]:
    """The answers, each one once per topic: two phrasings of one question answered alike is
    learning, not collapse; the same answer to different questions is collapse."""
    kept = dict.fromkeys(
        (topic.id, answer) for (_, topic), answer in zip(domain, answers, strict=True)
    )
    return [answer for _, answer in kept]


def preference_accuracy(
    candidate: Engine, reference: Engine, heldout: Path | None, *, beta: float
) -> dict[str, float] | None:
    """How often the candidate's implicit reward (against the reference) prefers the chosen
    answer of a held-out pair; None without held-out pairs."""
    rows = load_rows(heldout) if heldout is not None else []
    if not rows:
        return None
    logps = {key: [] for key in ("chosen", "rejected", "ref_chosen", "ref_rejected")}
    for row in tqdm(rows, desc="evaluation: held-out pairs", unit="pair"):
        for side in ("chosen", "rejected"):
            answer = row[side][-1]["content"]
            logps[side].append(answer_logprob(candidate, row["prompt"], answer)[0])
            logps[f"ref_{side}"].append(answer_logprob(reference, row["prompt"], answer)[0])
    return load_metric("preference_accuracy").compute(
        chosen_logps=logps["chosen"],
        rejected_logps=logps["rejected"],
        ref_chosen_logps=logps["ref_chosen"],
        ref_rejected_logps=logps["ref_rejected"],
        beta=beta,
    )


def answer_logprob(
    engine: Engine, conversation: list[dict[str, str]], answer: str
) -> tuple[float, int]:
    """Summed log-probability of `answer` (and its end token) after `conversation`, as served."""
    prompt = engine.prompt(conversation).token_ids
    answer_ids = engine.tokenizer(answer, add_special_tokens=False)["input_ids"]
    answer_ids = [*answer_ids, engine.tokenizer.eos_token_id]
    ids = torch.tensor([prompt + answer_ids], device=engine.device)
    with torch.inference_mode():
        logits = engine.model(ids).logits[0, len(prompt) - 1 : -1].cpu()
    logps = torch.log_softmax(logits.float(), dim=-1)
    picked = logps.gather(1, torch.tensor(answer_ids).unsqueeze(1)).sum()
    return float(picked), len(answer_ids)


def _answers(engine: Engine, questions: list[str], sampling: Sampling, label: str) -> list[str]:
    return answer_questions(engine, questions, sampling, label=f"evaluation: {label}")
