"""What one night of DPO teaches, per setting: candidates trained on the same snapshot with
different knobs, each measured as served by the simulated users' rubric.

`tuneloop tune` scores settings by held-out preference accuracy; this measures what users would
see instead: the share of answers the rubric calls good (and rude, and off-topic), sampled as
the bot serves them, on the corpus phrasings, on the held-out ones customers ask (their
feedback may teach them) and on those only the probe users ask (never trained on); and, as
the model gates see it, the looping-answer rate and distinct-2 of greedy answers to the
held-out phrasings. Run by hand after a `tuneloop demo` (its data directory holds the models
and each night's snapshot); `--night N` starts from the model that served day N, with night N's
pairs:

    python -m bench.night_sweep --data-dir var [--night 2] [--variants '{"name": {...}}']
"""

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

# docs/loop.md's newest table: the defaults before 2026-12-03 (beta 0.3), one knob changed
# at a time from them, and today's (beta 1).
BEFORE = {"learning_rate": 1e-4, "beta": 0.3, "num_train_epochs": 2, "sft_weight": 0.2}
DEFAULT_VARIANTS = {
    "lr 1e-4, beta 0.3, 2 epochs, SFT 0.2": BEFORE,
    "SFT 1": BEFORE | {"sft_weight": 1.0},
    "lr 5e-5": BEFORE | {"learning_rate": 5e-5},
    "IPO loss": BEFORE | {"loss_type": "ipo"},
    "beta 1 (the defaults now)": BEFORE | {"beta": 1.0},
}
VERDICTS = ("good", "vague", "wrong", "rude", "other")
PHRASINGS = ("corpus", "held_out", "never_trained")  # as `tuneloop.simulation` asks them


def served_verdicts(engine, rubric, topics, temperature: float, rounds: int) -> dict:
    """Each phrasing asked `rounds` times, sampled as served: the rubric's verdict shares."""
    from bot.engine import Sampling
    from trainer.answering import answer_questions

    asks = [("corpus", t, q) for t in topics for q in t.questions]
    asks += [("held_out", t, q) for t in topics for q in t.held_out[:-1]]  # users teach these
    asks += [("never_trained", t, q) for t in topics for q in t.held_out[-1:]]  # the probes'
    sampling = Sampling(temperature=temperature, max_new_tokens=64)
    answers = answer_questions(
        engine, [q for _, _, q in asks] * rounds, sampling, label=f"T={temperature}", batch_size=32
    )
    asked = asks * rounds
    verdicts = rubric.verdicts([topic for _, topic, _ in asked], answers)
    counts = Counter(zip([kind for kind, _, _ in asked], verdicts, strict=True))
    shares = {}
    for kind in PHRASINGS:
        total = sum(n for (k, _), n in counts.items() if k == kind)
        shares[kind] = {verdict: counts[kind, verdict] / total for verdict in VERDICTS}
    return shares


def degeneration(engine, topics) -> dict:
    """The model gates' degeneration metrics, on greedy answers to the held-out phrasings."""
    from bot.engine import Sampling
    from trainer.answering import answer_questions
    from trainer.evaluation import held_out_questions, one_answer_per_question
    from trainer.metrics import load_metric

    domain = held_out_questions(topics)  # the held-out phrasings the gates ask
    answers = answer_questions(
        engine, [q for q, _ in domain], Sampling(temperature=0.0), label="greedy", batch_size=32
    )
    metrics = load_metric("distinct_n").compute(
        predictions=one_answer_per_question(domain, answers)
    )
    return {key: metrics[key] for key in ("repetition_rate", "distinct_2")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("var"))
    parser.add_argument("--variants", type=json.loads, default=DEFAULT_VARIANTS)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.8])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--night", type=int, default=1, help="Which night's pairs (1 = first).")
    args = parser.parse_args()

    from sqlmodel import select

    from bot.engine import Engine
    from feedback.models import DatasetSnapshot, ModelVersion, TrainingRun
    from trainer.corpus import load_topics
    from trainer.dpo import TrainingPlan, train_dpo, trains_adapter
    from trainer.embeddings import shared_embedder
    from trainer.nightly import split_snapshot
    from trainer.semantic_judge import SemanticJudge
    from tuneloop.settings import Settings
    from tuneloop.store import open_store

    settings = Settings(data_dir=args.data_dir)
    with open_store(settings).session() as session:
        nights = session.exec(
            select(TrainingRun).where(TrainingRun.snapshot_id.is_not(None)).order_by(TrainingRun.id)
        ).all()
        if len(nights) < args.night:
            raise SystemExit(f"{len(nights)} nights with a snapshot in {args.data_dir}")
        night = nights[args.night - 1]
        model = session.get(ModelVersion, night.base_version_id)
        snapshot = Path(session.get(DatasetSnapshot, night.snapshot_id).path)
    served = {
        "system_prompt": settings.bot.system_prompt,
        "context_tokens": settings.bot.context_tokens,
    }
    topics = load_topics()
    rubric = SemanticJudge(shared_embedder(), topics)

    def measure(path, adapter=None) -> dict:
        engine = Engine.load(path, adapter=adapter, **served)
        shares = {
            temperature: served_verdicts(engine, rubric, topics, temperature, args.rounds)
            for temperature in args.temperatures
        }
        return shares | {"greedy, held out": degeneration(engine, topics)}

    before = measure(model.path, model.adapter_path)
    print(json.dumps({"model": model.name, "snapshot": snapshot.name, "before": before}))
    with tempfile.TemporaryDirectory() as work:
        for name, knobs in args.variants.items():
            plan = TrainingPlan(**knobs)
            train, held_out = split_snapshot(snapshot, plan)
            started = time.perf_counter()
            output = Path(work) / "candidate"
            train_dpo(
                base_path=model.path,
                base_adapter=model.adapter_path,
                train_path=train,
                eval_path=held_out,
                output_dir=output,
                plan=plan,
                quiet=True,
                **served,
            )
            seconds = time.perf_counter() - started
            adapter = trains_adapter(plan, model.adapter_path)
            after = measure(model.path, output) if adapter else measure(output)
            print(json.dumps({"variant": name, "train_s": round(seconds), "after": after}))


if __name__ == "__main__":
    main()
