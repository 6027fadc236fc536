"""The bootstrap (demo) base model: a byte-level BPE tokenizer and a small Llama, trained offline.

No model hub is needed: the tokenizer and the model are trained here on the support corpus
(every answer variant, so the model answers with a mix of good, vague, wrong and rude) mixed
with general dialogs, then saved with `save_pretrained` so that the bot loads them through the
same `from_pretrained` path as any real model.
"""

import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from tqdm.auto import tqdm
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    get_cosine_schedule_with_warmup,
)

from trainer.corpus import VARIANTS, Topic, load_general_dialogs

log = logging.getLogger(__name__)

PAD, TURN_START, TURN_END = "<|pad|>", "<|im_start|>", "<|im_end|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
IGNORE = -100  # label of tokens the loss skips (the prompt, the padding)


@dataclass(frozen=True)
class BootstrapConfig:
    """Size and training knobs of the demo model: the defaults train in 5 minutes on 2 cores."""

    vocab_size: int = 2000
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 6
    intermediate_size: int = 512
    max_length: int = 128
    steps: int = 500
    batch_size: int = 32
    learning_rate: float = 3e-3
    general_share: float = 0.3
    seed: int = 0

    @classmethod
    def tiny(cls) -> "BootstrapConfig":
        """A model for tests: built in seconds, through the same code."""
        return cls(
            vocab_size=400,
            hidden_size=32,
            num_layers=1,
            num_heads=2,
            intermediate_size=64,
            steps=30,
            batch_size=8,
        )


def training_conversations(
    topics: list[Topic], system_prompt: str, general_share: float, seed: int
) -> list[list[dict[str, str]]]:
    """Every phrasing of every question with every answer variant, plus general dialogs."""
    domain = [
        _conversation(system_prompt, question, topic.answers[variant])
        for topic in topics
        for question in topic.questions
        for variant in VARIANTS
    ]
    general = load_general_dialogs()
    wanted = round(len(domain) * general_share / (1 - general_share))
    sample = random.Random(seed).sample(general, min(wanted, len(general)))
    return domain + [_conversation(system_prompt, prompt, reply) for prompt, reply in sample]


def train_tokenizer(conversations: list[list[dict[str, str]]], vocab_size: int):
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, TURN_START, TURN_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = (message["content"] for conversation in conversations for message in conversation)
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        eos_token=TURN_END,
        extra_special_tokens=[TURN_START],
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(config: BootstrapConfig, tokenizer) -> LlamaForCausalLM:
    torch.manual_seed(config.seed)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            num_key_value_heads=config.num_heads,
            max_position_embeddings=max(512, config.max_length),
            tie_word_embeddings=True,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=None,
        )
    )


def encode(tokenizer, conversation: list[dict[str, str]], max_length: int) -> tuple[list, list]:
    """Token ids and labels: the loss only sees the assistant's answer and its end token."""
    prompt = tokenizer.apply_chat_template(
        conversation[:-1], tokenize=False, add_generation_prompt=True
    )
    full = tokenizer.apply_chat_template(conversation, tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full, add_special_tokens=False)["input_ids"][:max_length]
    labels = [IGNORE] * len(prompt_ids) + full_ids[len(prompt_ids) :]
    return full_ids, labels[: len(full_ids)]


def train(model, tokenizer, conversations, config: BootstrapConfig) -> list[float]:
    """Next-token training on random batches of the mixture; returns the loss per step."""
    examples = [encode(tokenizer, c, config.max_length) for c in conversations]
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, betas=(0.9, 0.95), weight_decay=0.01
    )
    schedule = get_cosine_schedule_with_warmup(
        optimizer, num_warmup_steps=max(1, config.steps // 20), num_training_steps=config.steps
    )
    model.train()
    losses = []
    progress = tqdm(range(config.steps), desc="bootstrap: training", unit="step")
    for _ in progress:
        picks = torch.randint(len(examples), (config.batch_size,), generator=generator)
        batch = _collate([examples[i] for i in picks.tolist()], tokenizer.pad_token_id)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        progress.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses


def build_bootstrap_model(
    output_dir: Path, *, topics: list[Topic], system_prompt: str, config: BootstrapConfig
) -> dict[str, float]:
    """Train and save the demo model in `output_dir`; returns training figures for the card."""
    conversations = training_conversations(topics, system_prompt, config.general_share, config.seed)
    tokenizer = train_tokenizer(conversations, config.vocab_size)
    model = build_model(config, tokenizer)
    parameters = sum(p.numel() for p in model.parameters())
    log.info("bootstrap model: %d parameters, %d conversations", parameters, len(conversations))
    losses = train(model, tokenizer, conversations, config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    tail = losses[-max(1, len(losses) // 10) :]
    return {
        "parameters": parameters,
        "conversations": len(conversations),
        "final_loss": sum(tail) / len(tail),
        **{f"config.{key}": value for key, value in asdict(config).items()},
    }


def _conversation(system_prompt: str, prompt: str, answer: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": answer},
    ]


def _collate(examples: list[tuple[list, list]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id)
    labels = torch.full((len(examples), width), IGNORE)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, row_labels) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(row_labels)] = torch.tensor(row_labels)
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
