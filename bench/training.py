"""Training: SFT and DPO step time and peak memory, LoRA and full fine-tuning, tuneloop's own
code against a plain TRL script on the same data, model and settings, same run.

Run by hand: `python -m bench.training [--steps 8] [--sft-batch 8] [--dpo-batch 4] [--runs 1]`.
The model is SmolLM2-135M-Instruct (or `--model DIR`). tuneloop trains through
`train_domain_sft` (on `sft_rows`: domain answers and general dialogs) and `train_dpo` (on the
corpus's own pairs); the plain scripts give TRL's SFTTrainer and DPOTrainer the same rows with
bf16 and gradient checkpointing off, the same batch size, learning rate, seed and LoRA config
(rank 16, all linear layers). DPO runs without tuneloop's SFT term, as plain DPO does.

Each configuration runs in its own process (`--one CONFIG`), so that its peak memory is its own;
tuneloop and TRL alternate. A step is timed from the end of the one before (data, forward,
backward, optimizer), the first step being the warm-up. tuneloop's SFT run also evaluates one
held-out batch at the end of its epoch and keeps the best checkpoint, as `tuneloop bootstrap`
does: that is in its whole-run time and process peak, not in its steps.
"""

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generation import SYSTEM, smollm2

LORA_RANK = 16
METHODS = {"lora": f"LoRA r{LORA_RANK}", "full": "full"}
TRAINERS = {"trl": "plain TRL", "tuneloop": "tuneloop"}
LEARNING_RATES = {  # as SftPlan and TrainingPlan advise; the same for both trainers
    ("sft", "lora"): 1e-3,
    ("sft", "full"): 1e-5,
    ("dpo", "lora"): 5e-5,
    ("dpo", "full"): 5e-5,
}
CONFIGS = [
    f"{task}-{method}-{trainer}"
    for task in ("sft", "dpo")
    for method in ("lora", "full")
    for trainer in ("trl", "tuneloop")
]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def start_clock():
    """Times every optimizer step of the next trainer made in this process, and notes the peak
    memory at the last step's end; through transformers' default callbacks, so that tuneloop's
    code runs as it is."""
    import transformers.trainer
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []
            self.steps_peak = 0.0

        def on_step_end(self, args, state, control, **kwargs) -> None:
            self.ends.append(time.perf_counter())
            self.steps_peak = peak_mib()

    clock = StepClock()
    transformers.trainer.DEFAULT_CALLBACKS.append(clock)
    return clock


def lora_config(method: str):
    from peft import LoraConfig

    if method == "full":
        return None
    return LoraConfig(
        r=LORA_RANK,
        lora_alpha=2 * LORA_RANK,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def sft_data(steps: int, batch: int) -> tuple[list[dict], list[dict]]:
    """Enough of tuneloop's SFT rows for `steps` steps, and one held-out batch."""
    from trainer.corpus import load_general_dialogs, load_topics
    from trainer.domain_sft import SftPlan, sft_rows

    train, held_out = sft_rows(
        load_topics(), load_general_dialogs(), system_prompt=SYSTEM, plan=SftPlan()
    )
    return train[: steps * batch], held_out[:batch]


def write_pairs(path: Path, count: int) -> None:
    """A sample of the corpus's own preference pairs, as a JSONL snapshot holds them."""
    from trainer.corpus import corpus_pairs, load_topics

    pairs = random.Random(0).sample(corpus_pairs(load_topics()), count)
    columns = ("prompt", "chosen", "rejected")
    path.write_text("".join(json.dumps({c: row[c] for c in columns}) + "\n" for row in pairs))


def sft_tuneloop(model: Path, work: Path, method: str, steps: int, batch: int) -> None:
    from trainer.domain_sft import SftPlan, train_domain_sft

    train, held_out = sft_data(steps, batch)
    plan = SftPlan(
        learning_rate=LEARNING_RATES["sft", method],
        num_train_epochs=1,
        batch_size=batch,
        lora_rank=LORA_RANK if method == "lora" else 0,
    )
    train_domain_sft(
        base_path=model,
        output_dir=work / "out",
        train_rows=train,
        held_out_rows=held_out,
        plan=plan,
        quiet=True,
    )


def sft_trl(model: Path, work: Path, method: str, steps: int, batch: int) -> None:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    train, _ = sft_data(steps, batch)
    tokenizer = AutoTokenizer.from_pretrained(model)
    policy = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    config = SFTConfig(**plain_args(work, "sft", method, steps, batch), max_length=256)
    trainer = SFTTrainer(
        model=policy,
        args=config,
        train_dataset=Dataset.from_list(train),
        processing_class=tokenizer,
        peft_config=lora_config(method),
    )
    trainer.train()
    trainer.save_model(str(work / "out"))


def plain_args(work: Path, kind: str, method: str, steps: int, batch: int) -> dict:
    """The training arguments both plain TRL scripts pass, as a user on a CPU would write them."""
    return {
        "output_dir": str(work / "checkpoints"),
        "learning_rate": LEARNING_RATES[kind, method],
        "max_steps": steps,
        "per_device_train_batch_size": batch,
        "seed": 0,
        "use_cpu": True,
        "bf16": False,
        "activation_checkpointing": False,
        "save_strategy": "no",
        "logging_steps": 10,
        "report_to": "none",
        "disable_tqdm": True,
    }


def dpo_tuneloop(model: Path, work: Path, method: str, steps: int, batch: int) -> None:
    from trainer.dpo import TrainingPlan, train_dpo

    plan = TrainingPlan(
        learning_rate=LEARNING_RATES["dpo", method],
        num_train_epochs=1,
        sft_weight=0.0,
        batch_size=batch,
        lora_rank=LORA_RANK if method == "lora" else 0,
        overrides={"max_steps": steps},
    )
    train_dpo(
        base_path=str(model),
        train_path=work / "pairs.jsonl",
        eval_path=None,
        output_dir=work / "out",
        plan=plan,
        system_prompt=SYSTEM,
        context_tokens=512,
        quiet=True,
    )


def dpo_trl(model: Path, work: Path, method: str, steps: int, batch: int) -> None:
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(model)
    policy = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    dataset = load_dataset("json", data_files=str(work / "pairs.jsonl"), split="train").map(
        lambda row: {"prompt": [{"role": "system", "content": SYSTEM}, *row["prompt"]]}
    )
    config = DPOConfig(**plain_args(work, "dpo", method, steps, batch), beta=0.1)
    trainer = DPOTrainer(
        model=policy,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(method),
    )
    trainer.train()
    trainer.save_model(str(work / "out"))


RUNNERS = {
    ("sft", "tuneloop"): sft_tuneloop,
    ("sft", "trl"): sft_trl,
    ("dpo", "tuneloop"): dpo_tuneloop,
    ("dpo", "trl"): dpo_trl,
}


def one(config: str, model: Path, work: Path, steps: int, batch: int) -> dict[str, float]:
    """Run one configuration in this process (a child of `main`) and measure it."""
    # Imported before the clock starts: imports are not a run's cost.
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import transformers
    import trl  # noqa: F401

    transformers.logging.set_verbosity_error()
    task, method, trainer = config.split("-")
    if task == "dpo":
        write_pairs(work / "pairs.jsonl", steps * batch)
    clock = start_clock()
    started = time.perf_counter()
    RUNNERS[task, trainer](model, work, method, steps, batch)
    seconds = time.perf_counter() - started
    if len(clock.ends) != steps:
        raise RuntimeError(f"{config}: {len(clock.ends)} steps instead of {steps}")
    return {
        "step_seconds": (clock.ends[-1] - clock.ends[0]) / (steps - 1),
        "run_seconds": seconds,
        "steps_peak_mib": clock.steps_peak,
        "peak_mib": peak_mib(),
    }


def spawn(config: str, model: Path, work: Path, steps: int, batch: int) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.training", "--one", config]
    command += ["--model", str(model), "--work", str(work), "--steps", str(steps)]
    command += ["--batch", str(batch)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{config} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table_rows(task: str, method: str, results: dict[str, dict[str, float]]) -> list[str]:
    rows = []
    plain = results["trl"]
    for trainer in ("trl", "tuneloop"):
        run = results[trainer]
        ratios = (
            f"{run['step_seconds'] / plain['step_seconds']:.2f}x time, "
            f"{run['peak_mib'] / plain['peak_mib']:.2f}x memory "
            f"({run['steps_peak_mib'] / plain['steps_peak_mib']:.2f}x in the steps)"
        )
        rows.append(
            f"| {task.upper()} | {METHODS[method]} | {TRAINERS[trainer]} "
            f"| {run['step_seconds']:.2f} s | {run['run_seconds']:.0f} s "
            f"| {run['steps_peak_mib']:,.0f} MiB | {run['peak_mib']:,.0f} MiB "
            f"| {'' if trainer == 'trl' else ratios} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps per run (>= 2)")
    parser.add_argument("--sft-batch", type=int, default=8)
    parser.add_argument("--dpo-batch", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1, help="runs per configuration (median)")
    parser.add_argument("--model", type=Path, help="a model directory instead of SmolLM2")
    parser.add_argument("--cache", type=Path, help="model cache (default: the data directory's)")
    parser.add_argument("--one", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.model, args.work, args.steps, args.batch)))
        return
    model = args.model or smollm2(args.cache)
    label = model.name if args.model else "SmolLM2-135M-Instruct"
    batches = {"sft": args.sft_batch, "dpo": args.dpo_batch}
    rows = [
        "| training | method | trainer | s/step | whole run | peak RSS, steps | peak RSS, process "
        "| tuneloop vs TRL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        for index, (task, method) in enumerate(
            (task, method) for task in ("sft", "dpo") for method in ("lora", "full")
        ):
            order = ("trl", "tuneloop") if index % 2 == 0 else ("tuneloop", "trl")
            runs = {trainer: [] for trainer in order}
            for _ in range(args.runs):
                for trainer in order:
                    config = f"{task}-{method}-{trainer}"
                    with tempfile.TemporaryDirectory(dir=directory) as work:
                        runs[trainer].append(
                            spawn(config, model, Path(work), args.steps, batches[task])
                        )
                    print(f"{config}: {runs[trainer][-1]}", flush=True)
            results = {
                trainer: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
                for trainer, rs in runs.items()
            }
            rows += table_rows(task, method, results)
    print(
        f"\nmodel {label}, {args.steps} steps (the first is the warm-up), SFT batch "
        f"{args.sft_batch}, DPO batch {args.dpo_batch}, float32, LoRA rank {LORA_RANK} on all "
        f"linear layers, median of {args.runs}, {time.perf_counter() - started:.0f} s in all\n"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
