"""Hyperparameter tuning: the tuned profile against the default hyperparameters, same pairs, same
run; and how many trials an hour the machine runs.

Run by hand after `tuneloop bootstrap`: `python -m bench.tuning [--model DIR] [--trials 10]`.
The demo corpus's own pairs (reference answer over its weaker variants) are split by topic. A
study tunes on one part, cross-validated as `tuneloop tune --synthetic` does (its first trial
is the defaults). Then the defaults and the best trial's values each train on that whole part
and are measured on the other part's topics, which no trial saw: held-out preference accuracy
as the model gate measures it, pair by pair, the candidate's implicit reward against the base.
"""

import argparse
import json
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

SYSTEM = "You are the support assistant of Northwind Outfitters."
CONTEXT_TOKENS = 512


def split_topics(test_topics: int, seed: int):
    from trainer.corpus import load_topics

    topics = load_topics()
    random.Random(seed).shuffle(topics)
    return topics[test_topics:], topics[:test_topics]


def held_out_accuracy(model: str, trained: Path, test_file: Path, beta: float) -> dict:
    from bot.engine import Engine
    from trainer.evaluation import preference_accuracy

    engines = [
        Engine.load(path, system_prompt=SYSTEM, context_tokens=CONTEXT_TOKENS)
        for path in (trained, model)
    ]
    return preference_accuracy(*engines, test_file, beta=beta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: the active version)")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--max-pairs", type=int, default=120, help="pairs the study tunes on")
    parser.add_argument("--test-topics", type=int, default=14)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from trainer.corpus import corpus_pairs
    from trainer.dpo import TrainingPlan, train_dpo
    from trainer.folds import sample_pairs
    from trainer.search_space import SearchSpace
    from trainer.tuning import FINISHED, TuningPlan, open_study, run_study

    model = args.model or _active_model()
    tune_topics, test_topics = split_topics(args.test_topics, args.seed)
    rows = sample_pairs(corpus_pairs(tune_topics), max_pairs=args.max_pairs, seed=args.seed)
    plan = TuningPlan(
        space=SearchSpace(),
        training=TrainingPlan(),
        base_path=model,
        system_prompt=SYSTEM,
        context_tokens=CONTEXT_TOKENS,
        folds=args.folds,
    )
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        study = open_study(
            f"sqlite:///{work / 'study.db'}", name="bench", dataset="synthetic", plan=plan
        )
        started = time.perf_counter()
        run_study(study, rows, plan, trials=args.trials, on_trial=_show)
        seconds = time.perf_counter() - started
        train_file, test_file = work / "train.jsonl", work / "test.jsonl"
        train_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
        test_rows = corpus_pairs(test_topics)
        test_file.write_text("".join(json.dumps(row) + "\n" for row in test_rows))
        results = {}
        for label, training in (
            ("default", plan.training),
            ("tuned", replace(plan.training, **study.best_params)),
        ):
            train_dpo(
                base_path=model,
                train_path=train_file,
                eval_path=None,
                output_dir=work / label,
                plan=training,
                system_prompt=SYSTEM,
                context_tokens=CONTEXT_TOKENS,
                quiet=True,
            )
            results[label] = held_out_accuracy(model, work / label, test_file, training.beta)

    finished = study.get_trials(states=FINISHED)
    pruned = sum(trial.state.name == "PRUNED" for trial in finished)
    studied_topics = len({row["group"] for row in rows})
    print(
        f"model {Path(model).name}; study: {len(rows)} pairs of {studied_topics} topics, "
        f"{args.folds} folds, {len(finished)} trials ({pruned} pruned) in {seconds / 60:.1f} min "
        f"= {len(finished) / seconds * 3600:.0f} trials/hour; test: {len(test_rows)} pairs of "
        f"{len(test_topics)} topics no trial saw\n"
    )
    print(f"best trial {study.best_trial.number}: {study.best_params}")
    defaults = study.trials[0].value
    print(f"cross-validated score: defaults {defaults:.4f}, best {study.best_value:.4f}\n")
    print("| hyperparameters | held-out preference accuracy | mean implicit reward margin |")
    print("|---|---|---|")
    for label, result in results.items():
        print(f"| {label} | {result['accuracy']:.3f} | {result['mean_margin']:+.4f} |")


def _show(trial) -> None:
    seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    print(f"trial {trial.number}: {trial.state.name.lower()} {trial.value} in {seconds:.0f} s")


def _active_model() -> str:
    from feedback import active_model_version
    from tuneloop.settings import Settings
    from tuneloop.store import open_store

    with open_store(Settings()).session() as session:
        version = active_model_version(session)
    if version is None:
        raise SystemExit("no active model: run `tuneloop bootstrap`, or pass --model DIR")
    return version.path


if __name__ == "__main__":
    main()
