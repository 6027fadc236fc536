"""DPO training: tuneloop's `train_dpo` against a plain TRL DPOTrainer script, same pairs and model.

Run by hand after `tuneloop bootstrap`: `python -m bench.dpo [--model DIR] [--pairs 256]`. Each
run is its own process (so peak memory is its own); the two alternate, three runs each.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYSTEM = "You are the support assistant of Northwind Outfitters."


def write_pairs(path: Path, count: int) -> None:
    from trainer.corpus import corpus_pairs, load_topics

    pairs = corpus_pairs(load_topics())
    rows = [pairs[index % len(pairs)] for index in range(count)]
    columns = ("prompt", "chosen", "rejected")
    path.write_text("".join(json.dumps({c: row[c] for c in columns}) + "\n" for row in rows))


def run_ours(model: str, pairs: Path, output: Path) -> float:
    from trainer.dpo import TrainingPlan, train_dpo

    started = time.perf_counter()
    metrics = train_dpo(
        base_path=model,
        train_path=pairs,
        eval_path=None,
        output_dir=output,
        plan=TrainingPlan(num_train_epochs=1, sft_weight=0.0),
        system_prompt=SYSTEM,
        context_tokens=512,
    )
    return time.perf_counter() - started, metrics["train_runtime"]


def run_plain(model: str, pairs: Path, output: Path) -> float:
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model)
    policy = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    dataset = load_dataset("json", data_files=str(pairs), split="train").map(
        lambda row: {"prompt": [{"role": "system", "content": SYSTEM}, *row["prompt"]]}
    )
    config = DPOConfig(
        output_dir=str(output),
        num_train_epochs=1,
        per_device_train_batch_size=8,
        learning_rate=5e-5,
        seed=0,  # as train_dpo, which draws by weight (all equal here: each pair once)
        logging_steps=10,
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
    )
    trainer = DPOTrainer(
        model=policy, args=config, train_dataset=dataset, processing_class=tokenizer
    )
    result = trainer.train()
    return time.perf_counter() - started, result.metrics["train_runtime"]


def child(mode: str, model: str, pairs: Path) -> None:
    with tempfile.TemporaryDirectory() as directory:
        run = run_ours if mode == "ours" else run_plain
        seconds, training = run(model, pairs, Path(directory) / "out")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "training": training, "peak_mib": peak_mib}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: the active version)")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=["ours", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--pairs-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.model, args.pairs_file)
    model = args.model or _active_model()
    results = {"ours": [], "plain": []}
    with tempfile.TemporaryDirectory() as directory:
        pairs = Path(directory) / "pairs.jsonl"
        write_pairs(pairs, args.pairs)
        for _ in range(args.runs):
            for mode in ("plain", "ours"):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        mode,
                        "--model",
                        model,
                        "--pairs-file",
                        str(pairs),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                results[mode].append(json.loads(out.strip().splitlines()[-1]))
    steps = args.pairs / 8
    print(
        f"model {Path(model).name}, {args.pairs} pairs, batch 8, 1 epoch, median of {args.runs}\n"
    )
    print("| trainer | steps/s, training | steps/s, whole run | peak memory | vs plain |")
    print("|---|---|---|---|---|")
    keys = ("seconds", "training", "peak_mib")
    median = {m: {k: statistics.median(r[k] for r in results[m]) for k in keys} for m in results}
    for mode in ("plain", "ours"):
        run, plain = median[mode], median["plain"]
        print(
            f"| {mode} | {steps / run['training']:.2f} | {steps / run['seconds']:.2f} | "
            f"{run['peak_mib']:,.0f} MiB | {plain['training'] / run['training']:.2f}x training "
            f"speed, {run['peak_mib'] / plain['peak_mib']:.2f}x memory |"
        )


def _active_model() -> str:
    from feedback import active_model_version
    from tuneloop.settings import Settings
    from tuneloop.store import open_store

    with open_store(Settings()).session() as session:
        return active_model_version(session).path


if __name__ == "__main__":
    main()
