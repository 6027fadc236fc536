"""Domain adaptation of a pretrained chat model: supervised fine-tuning (TRL's SFTTrainer) on the
shop's reference answers, with the persona's system prompt, mixed with the persona's calm reply
to provocations and with general dialogs, so that the model keeps its manners outside the
domain. LoRA by default, full fine-tuning as an option.
"""

import logging
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset
from peft import LoraConfig
from transformers import (
    AutoTokenizer,
    EarlyStoppingCallback,
    PrinterCallback,
    ProgressCallback,
)
from trl import SFTConfig, SFTTrainer

from bot.engine import load_causal_lm
from trainer.corpus import Topic
from trainer.devices import trains_on_cpu

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SftPlan:
    """The knobs of domain SFT; `general_share` is the share of general dialogs in the mix."""

    general_share: float = 0.25
    learning_rate: float = 1e-3  # LoRA; full fine-tuning wants about 1e-5
    num_train_epochs: float = 2
    batch_size: int = 8
    lora_rank: int = 16  # 0: full fine-tuning
    lora_alpha: int | None = None  # None: twice the rank
    max_length: int = 256
    seed: int = 0


def sft_rows(
    topics: list[Topic],
    general: list[tuple[str, str]],
    *,
    system_prompt: str,
    plan: SftPlan,
    calm: Sequence[tuple[str, str]] = (),
) -> tuple[list[dict], list[dict]]:
    """Prompt-completion rows (TRL's conversational format; the loss is on the answer only).

    Every phrasing and paraphrase of every topic with its reference answer; one per topic
    is held out for early stopping (the topic's held-out phrasings stay unseen for the
    before/after measure). Then the `calm` (provocation, reply) rows, and general dialogs
    until they are `general_share` of the training rows.
    """
    rng = random.Random(plan.seed)
    train, held_out = [], []
    for topic in topics:
        questions = [*topic.questions, *topic.paraphrases]
        rng.shuffle(questions)
        for index, question in enumerate(questions):
            row = _row(system_prompt, question, topic.reference)
            (held_out if index == 0 and len(questions) > 1 else train).append(row)
    train += [_row(system_prompt, provocation, reply) for provocation, reply in calm]
    wanted = round(len(train) * plan.general_share / (1 - plan.general_share))
    chosen = rng.sample(general, min(wanted, len(general)))
    train += [_row(system_prompt, prompt, reply) for prompt, reply in chosen]
    rng.shuffle(train)
    return train, held_out


def _row(system_prompt: str, question: str, answer: str) -> dict:
    return {
        "prompt": [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": question},
        ],
        "completion": [{"role": "assistant", "content": answer}],
    }


def sft_config(plan: SftPlan, output_dir: Path) -> SFTConfig:
    on_cpu = trains_on_cpu()
    return SFTConfig(
        output_dir=str(output_dir),
        learning_rate=plan.learning_rate,
        num_train_epochs=plan.num_train_epochs,
        per_device_train_batch_size=plan.batch_size,
        per_device_eval_batch_size=plan.batch_size,
        max_length=plan.max_length,
        seed=plan.seed,
        use_cpu=on_cpu,
        # TRL's defaults (bf16, gradient checkpointing) are about 19x slower on these CPUs.
        bf16=False if on_cpu else None,
        activation_checkpointing=False,
        eval_strategy="epoch",
        save_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        save_only_model=True,
        save_total_limit=1,
        logging_steps=10,
        report_to="none",
    )


def train_domain_sft(
    *,
    base_path: Path,
    output_dir: Path,
    train_rows: list[dict],
    held_out_rows: list[dict],
    plan: SftPlan,
    quiet: bool = False,
) -> dict[str, float]:
    """Fine-tune `base_path` on the rows; save a LoRA adapter (or, with `plan.lora_rank` 0, the
    whole model) and the tokenizer in `output_dir`. Stops early when the held-out loss rises."""
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    model = load_causal_lm(base_path)
    lora = None
    if plan.lora_rank > 0:
        lora = LoraConfig(
            r=plan.lora_rank,
            lora_alpha=plan.lora_alpha or 2 * plan.lora_rank,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    checkpoints = output_dir.parent / f"{output_dir.name}.checkpoints"
    trainer = SFTTrainer(
        model=model,
        args=sft_config(plan, checkpoints),
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(held_out_rows),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=1)],
    )
    if quiet:
        for printer in (ProgressCallback, PrinterCallback):
            trainer.remove_callback(printer)
    result = trainer.train()
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(output_dir)
    shutil.rmtree(checkpoints, ignore_errors=True)
    metrics = {
        "train_loss": result.training_loss,
        "train_runtime": result.metrics["train_runtime"],
        "train_rows": len(train_rows),
        "eval_loss": trainer.evaluate()["eval_loss"],
        "lora_rank": plan.lora_rank,
    }
    log.info("domain SFT done: %s", metrics)
    return metrics
