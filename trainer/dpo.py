"""DPO training with TRL on a dataset snapshot: held-out split, early stopping, an SFT term."""

import copy
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from accelerate import PartialState
from datasets import Dataset, load_dataset
from peft import LoraConfig, PeftModel
from transformers import (
    AutoTokenizer,
    EarlyStoppingCallback,
    PrinterCallback,
    ProgressCallback,
    TrainerCallback,
)
from trl import DPOConfig

from bot.engine import load_causal_lm
from bot.prompt import build_prompt
from feedback.snapshots import WEIGHT_COLUMN
from trainer.devices import trains_on_cpu
from trainer.pair_sampling import WeightedPairsDPOTrainer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingPlan:
    """tuneloop's knobs; `dpo_config` maps them onto TRL's DPOConfig (overrides win)."""

    learning_rate: float = 1e-4
    beta: float = 1.0
    num_train_epochs: float = 2  # at most: early stopping on the held-out pairs' loss
    sft_weight: float = 0.2
    loss_type: str = "sigmoid"  # TRL's pairwise loss; the SFT term is added by sft_weight
    batch_size: int = 8
    eval_share: float = 0.15  # held out of training, for early stopping and the model gate
    # None: as the base is served (its adapter trained on, else the whole model); 0: full
    # fine-tuning (small models); > 0: a LoRA adapter of that rank.
    lora_rank: int | None = None
    lora_alpha: int | None = None  # None: twice the rank
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)

    def hyperparameters(self) -> dict[str, Any]:
        """The values a training run records, and a training profile may set."""
        return {name: getattr(self, name) for name in HYPERPARAMETERS}


# The knobs `tuneloop tune` searches and a training profile holds.
HYPERPARAMETERS = (
    "learning_rate",
    "beta",
    "num_train_epochs",
    "sft_weight",
    "loss_type",
    "lora_rank",
    "lora_alpha",
)


def dpo_config(plan: TrainingPlan, output_dir: Path, *, evaluate: bool) -> DPOConfig:
    on_cpu = trains_on_cpu()
    losses = {"loss_type": [plan.loss_type], "loss_weights": [1.0]}
    if plan.sft_weight > 0:  # likelihood of the chosen answer keeps DPO from drifting
        losses = {"loss_type": [plan.loss_type, "sft"], "loss_weights": [1.0, plan.sft_weight]}
    per_epoch = {"eval_strategy": "epoch", "save_strategy": "epoch"} if evaluate else {}
    options = {
        "output_dir": str(output_dir),
        "learning_rate": plan.learning_rate,
        "beta": plan.beta,
        "num_train_epochs": plan.num_train_epochs,
        "per_device_train_batch_size": plan.batch_size,
        "per_device_eval_batch_size": plan.batch_size,
        "seed": plan.seed,
        "use_cpu": on_cpu,
        "bf16": False if on_cpu else None,  # these CPUs have no bf16 instructions
        "activation_checkpointing": False,  # memory is plentiful for small models; it costs time
        "logging_steps": 10,
        "report_to": "none",
        "save_only_model": True,
        "save_total_limit": 1,
        **per_epoch,
        **(
            {"load_best_model_at_end": True, "metric_for_best_model": "eval_loss"}
            if evaluate
            else {"save_strategy": "no"}
        ),
        **losses,
    }
    return DPOConfig(**(options | plan.overrides))


def load_pairs(path: Path, *, tokenizer, system_prompt: str, context_tokens: int) -> Dataset:
    """The snapshot's rows with the persona first and old turns trimmed as the bot trims them,
    and each pair's weight (1 where the file has none)."""

    def as_served(row: dict) -> dict:
        prompt = build_prompt(
            tokenizer, system_prompt=system_prompt, messages=row["prompt"], budget=context_tokens
        )
        kept = row["prompt"][prompt.dropped_messages :]
        return {"prompt": [{"role": "system", "content": system_prompt}, *kept]}

    dataset = load_dataset("json", data_files=str(path), split="train")
    if WEIGHT_COLUMN not in dataset.column_names:  # pairs not from a snapshot count alike
        dataset = dataset.add_column(WEIGHT_COLUMN, [1.0] * len(dataset))
    return dataset.map(as_served).select_columns(["prompt", "chosen", "rejected", WEIGHT_COLUMN])


def train_dpo(
    *,
    base_path: str,
    train_path: Path,
    eval_path: Path | None,
    output_dir: Path,
    plan: TrainingPlan,
    system_prompt: str,
    context_tokens: int,
    base_adapter: str | None = None,
    callbacks: Sequence[TrainerCallback] = (),
    quiet: bool = False,
) -> dict[str, float]:
    """Train a candidate from `base_path` (plus `base_adapter`, when the active model is an
    adapter) and save it in `output_dir`: the whole model, or only a LoRA adapter for
    `base_path` (see `trains_adapter`). With `eval_path`: evaluate each epoch, stop early,
    keep the best epoch. `callbacks` see the training (a tuning trial's pruning); `quiet` drops the
    progress bar and log lines (a tuning study's many short runs report on their own)."""
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    model, peft_config = _trainable_model(base_path, base_adapter, plan)
    served = {
        "tokenizer": tokenizer,
        "system_prompt": system_prompt,
        "context_tokens": context_tokens,
    }
    train = load_pairs(train_path, **served)
    held_out = load_pairs(eval_path, **served) if eval_path else None
    evaluate = held_out is not None and len(held_out) > 0
    checkpoints = output_dir.parent / f"{output_dir.name}.checkpoints"
    config = dpo_config(plan, checkpoints, evaluate=evaluate)
    trainer = WeightedPairsDPOTrainer(
        model=model,
        ref_model=reference_model(model, peft_config, config),
        args=config,
        train_dataset=train,
        eval_dataset=held_out if evaluate else None,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[
            *([EarlyStoppingCallback(early_stopping_patience=1)] if evaluate else []),
            *callbacks,
        ],
    )
    if quiet:
        for printer in (ProgressCallback, PrinterCallback):
            trainer.remove_callback(printer)
    result = trainer.train()
    trainer.save_model(str(output_dir))  # on the main process only, when there are several
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(output_dir)
        shutil.rmtree(checkpoints, ignore_errors=True)
    metrics = {
        "train_loss": result.training_loss,
        "train_runtime": result.metrics["train_runtime"],
        "train_pairs": len(train),
        "lora_rank": plan.lora_rank,
    }
    if evaluate:
        metrics |= {
            key: value for key, value in trainer.evaluate().items() if key.startswith("eval_")
        }
    log.info("DPO done: %s", metrics)
    return metrics


def trains_adapter(plan: TrainingPlan, base_adapter: str | None) -> bool:
    """Whether training makes a LoRA adapter (else a whole model)."""
    if plan.lora_rank is None:
        return base_adapter is not None
    return plan.lora_rank > 0


def _trainable_model(base_path: str, base_adapter: str | None, plan: TrainingPlan):
    """The model to train and, for a new adapter, its LoRA config."""
    model = load_causal_lm(base_path)
    if base_adapter is None:
        if not plan.lora_rank:
            return model, None
        lora = LoraConfig(
            r=plan.lora_rank,
            lora_alpha=plan.lora_alpha or 2 * plan.lora_rank,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
        return model, lora
    if plan.lora_rank == 0:  # full fine-tuning of a model that was served as an adapter
        return PeftModel.from_pretrained(model, base_adapter).merge_and_unload(), None
    # Go on training last night's adapter; last night's model is then the DPO reference.
    return PeftModel.from_pretrained(model, base_adapter, is_trainable=True), None


def reference_model(model, peft_config: LoraConfig | None, config: DPOConfig):
    """DPO's reference, the model as training starts, where TRL should not make it.

    An adapter's reference is the model with the adapter off (or TRL's copy of last night's
    adapter); with `precompute_ref_log_probs` TRL takes the policy's log-probs before the first
    step. Otherwise it is a frozen copy made here: TRL would load the policy's `name_or_path`
    again, which for a model served as an adapter and trained whole lacks the merged adapter.
    """
    if peft_config is not None or isinstance(model, PeftModel) or config.precompute_ref_log_probs:
        return None
    return copy.deepcopy(model).eval().requires_grad_(False)


def launch_dpo(*, launcher: list[str] | None, **arguments) -> dict[str, float]:
    """Train in this process, or through a launcher such as `accelerate launch` (several GPUs,
    DeepSpeed: whatever the launcher's own config says) running `python -m trainer.dpo`."""
    if not launcher:
        return train_dpo(**arguments)
    with tempfile.TemporaryDirectory() as directory:
        request, result = Path(directory) / "request.json", Path(directory) / "result.json"
        request.write_text(json.dumps(arguments | {"plan": asdict(arguments["plan"])}, default=str))
        command = [*launcher, "-m", "trainer.dpo", str(request), str(result)]
        log.info("training through %s", " ".join(command))
        subprocess.run(command, check=True)
        return json.loads(result.read_text())


def main() -> None:
    """`python -m trainer.dpo REQUEST.json RESULT.json`: what `launch_dpo` runs per process."""
    request, result = map(Path, sys.argv[1:3])
    arguments = json.loads(request.read_text())
    metrics = train_dpo(
        base_path=arguments["base_path"],
        base_adapter=arguments.get("base_adapter"),
        train_path=Path(arguments["train_path"]),
        eval_path=Path(arguments["eval_path"]) if arguments["eval_path"] else None,
        output_dir=Path(arguments["output_dir"]),
        plan=TrainingPlan(**arguments["plan"]),
        system_prompt=arguments["system_prompt"],
        context_tokens=arguments["context_tokens"],
        quiet=arguments.get("quiet", False),
    )
    if PartialState().is_main_process:
        result.write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
