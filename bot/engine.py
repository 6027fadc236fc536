"""The generation core: load a causal LM (directory or hub id, optional LoRA adapter) and answer."""

import itertools
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
    TextStreamer,
)

from bot.prompt import Prompt, build_prompt
from feedback.models import ModelVersion

# Below this temperature, sampling is decoded greedily, its limit: dividing the logits by a
# temperature near 0 overflows them to inf and the sampler fails on the NaNs that follow.
GREEDY_BELOW_TEMPERATURE = 1e-4


def load_causal_lm(path: str | Path, **options: Any):
    """A causal LM in float32, as tuneloop serves and trains it, with transformers' own layers.

    By default transformers swaps layers for kernels it downloads from the Hub whenever the
    `kernels` package is installed (transformers requires it): on a GPU with no Hub in reach
    the first `model.train()` fails, and elsewhere it would run code fetched from the Hub.
    """
    return AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32, use_kernels=False, **options
    )


def serving_device() -> torch.device:
    """Where a model answers unless told otherwise: a CUDA GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class NoSuchDevice(RuntimeError):
    """A model was asked to answer on a CUDA GPU this machine does not have."""


def checked_device(device: str | torch.device) -> torch.device:
    """`device`, if this machine has it (else `NoSuchDevice`, saying what to do)."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NoSuchDevice(
            f"device {device} asked for, but torch {torch.__version__} sees no CUDA GPU: "
            "leave the device unset (the CPU then) or install a CUDA build of torch"
        )
    return device


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 64
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW_TEMPERATURE

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" at end of answer, "length" at max_new_tokens
    latency_ms: float
    dropped_messages: int


class _CallbackStreamer(TextStreamer):
    """Hands each decoded piece of text to a callback as soon as it is final."""

    def __init__(self, tokenizer, on_text: Callable[[str], None]) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self._on_text = on_text

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self._on_text(text)


class _StopWhenSet(StoppingCriteria):
    """Ends generation once `event` is set: a reader that stopped listening frees the model."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        done = self.event.is_set()
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class _SharedBase:
    """What engines on one PEFT model share: the lock they take turns on, and the adapters of
    engines gone (no request holds them any more), deleted at the next turn."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.unused: set[str] = set()
        self._names = itertools.count(1)

    def new_name(self) -> str:
        return f"adapter-{next(self._names)}"

    def collect(self, model) -> None:
        """Delete the unused adapters; call it holding the lock."""
        while self.unused:
            model.delete_adapter(self.unused.pop())


class Engine:
    """One loaded model. `generate` is safe to call from several threads (one runs at a time).

    An engine with a LoRA `adapter` names it; `beside` makes another engine on the same base
    weights with a second adapter (two versions in service, one copy of the base in memory).
    Prompts go to the model's device; answers come back as Python lists and text.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        name: str,
        system_prompt: str,
        context_tokens: int,
        version_id: int | None = None,
        base: str | None = None,
        adapter: str | None = None,
        shared: _SharedBase | None = None,
    ) -> None:
        self.model = model.eval()
        self.device = next(model.parameters()).device
        self.tokenizer = tokenizer
        self.name = name
        self.version_id = version_id
        self.system_prompt = system_prompt
        self.context_tokens = context_tokens
        self.base = base  # where the base weights came from
        self.adapter = adapter  # the PEFT adapter's name in `model`, None without one
        self._shared = shared or _SharedBase()  # `beside` engines share their base's
        self._lock = self._shared.lock
        if adapter is not None:  # once no request holds this engine, its adapter can go
            weakref.finalize(self, self._shared.unused.add, adapter)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        system_prompt: str,
        context_tokens: int,
        adapter: str | Path | None = None,
        name: str | None = None,
        version_id: int | None = None,
        device: str | torch.device | None = None,
    ) -> "Engine":
        """Load through `from_pretrained`, as any Hugging Face causal LM directory or hub id,
        onto `device` (default: `serving_device()`)."""
        device = checked_device(device or serving_device())
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = load_causal_lm(path)
        if adapter is not None:
            from peft import PeftModel  # only deployments with adapters pay for the import

            model = PeftModel.from_pretrained(model, adapter)
        model.to(device)
        return cls(
            model,
            tokenizer,
            name=name or Path(str(path)).name,
            system_prompt=system_prompt,
            context_tokens=context_tokens,
            version_id=version_id,
            base=str(path),
            adapter="default" if adapter is not None else None,  # PEFT's name for the first
        )

    def beside(self, adapter: str | Path, *, name: str, version_id: int | None = None) -> "Engine":
        """Another engine on this engine's base weights, generating with `adapter` (a second
        adapter loaded into the same PEFT model); the engines take turns on the model. When
        the new engine is gone, its adapter is deleted from the model."""
        if self.adapter is None:
            raise ValueError(f"{self.name} has no LoRA adapter: it has no base to share")
        adapter_name = self._shared.new_name()
        with self._lock:
            self.model.load_adapter(str(adapter), adapter_name=adapter_name)
        return Engine(
            self.model,
            self.tokenizer,
            name=name,
            system_prompt=self.system_prompt,
            context_tokens=self.context_tokens,
            version_id=version_id,
            base=self.base,
            adapter=adapter_name,
            shared=self._shared,
        )

    @classmethod
    def load_version(
        cls,
        version: ModelVersion,
        *,
        system_prompt: str,
        context_tokens: int,
        device: str | torch.device | None = None,
    ) -> "Engine":
        """Load a registered model version (its weights and adapter, named after it)."""
        return cls.load(
            version.path,
            adapter=version.adapter_path,
            name=version.name,
            version_id=version.id,
            system_prompt=system_prompt,
            context_tokens=context_tokens,
            device=device,
        )

    def prompt(self, messages: Sequence[dict[str, str]]) -> Prompt:
        """The conversation as prompt tokens within the context budget (or `PromptTooLong`)."""
        return build_prompt(
            self.tokenizer,
            system_prompt=self.system_prompt,
            messages=messages,
            budget=self.context_tokens,
        )

    def _room_after(self, prompt: Prompt) -> int:
        """How many tokens the model's position window leaves after the prompt (at least 1)."""
        window = getattr(self.model.config, "max_position_embeddings", None) or 10**9
        return max(1, window - len(prompt.token_ids))

    def generate(
        self,
        prompt: Prompt,
        sampling: Sampling,
        on_text: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> Generation:
        """Answer `prompt`; with `on_text`, each piece of the answer is passed on as decoded.
        Setting `stop` ends the answer early (after the token being generated)."""
        input_ids = torch.tensor([prompt.token_ids])
        output, latency_ms = self._run(
            input_ids,
            torch.ones_like(input_ids),
            sampling,
            max_new_tokens=min(sampling.max_new_tokens, self._room_after(prompt)),
            streamer=_CallbackStreamer(self.tokenizer, on_text) if on_text else None,
            stopping_criteria=StoppingCriteriaList([_StopWhenSet(stop)]) if stop else None,
        )
        new_tokens = output[0, input_ids.shape[1] :].tolist()
        stopped = bool(new_tokens) and new_tokens[-1] == self.tokenizer.eos_token_id
        return Generation(
            text=self.tokenizer.decode(new_tokens, skip_special_tokens=True).strip(),
            prompt_tokens=len(prompt.token_ids),
            completion_tokens=len(new_tokens),
            finish_reason="stop" if stopped else "length",
            latency_ms=latency_ms,
            dropped_messages=prompt.dropped_messages,
        )

    def generate_batch(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Generation]:
        """Answer several prompts in one pass, left-padded: the throughput evaluation and
        measurement want (one pass costs about what one answer does on a CPU), not the
        latency a user waits for. Greedy answers equal `generate`'s up to float rounding."""
        if not prompts:
            return []
        eos, pad = self.tokenizer.eos_token_id, self._pad_token_id()
        width = max(len(prompt.token_ids) for prompt in prompts)
        rows = [[pad] * (width - len(p.token_ids)) + list(p.token_ids) for p in prompts]
        mask = [[0] * (width - len(p.token_ids)) + [1] * len(p.token_ids) for p in prompts]
        room = min(self._room_after(prompt) for prompt in prompts)
        output, latency_ms = self._run(
            torch.tensor(rows),
            torch.tensor(mask),
            sampling,
            max_new_tokens=min(sampling.max_new_tokens, room),
        )
        generations = []
        for prompt, row in zip(prompts, output[:, width:].tolist(), strict=True):
            stopped = eos in row
            new_tokens = row[: row.index(eos) + 1] if stopped else row
            generations.append(
                Generation(
                    text=self.tokenizer.decode(new_tokens, skip_special_tokens=True).strip(),
                    prompt_tokens=len(prompt.token_ids),
                    completion_tokens=len(new_tokens),
                    finish_reason="stop" if stopped else "length",
                    latency_ms=latency_ms,
                    dropped_messages=prompt.dropped_messages,
                )
            )
        return generations

    def _pad_token_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else self.tokenizer.eos_token_id

    def _run(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, sampling: Sampling, **extra
    ) -> tuple[torch.Tensor, float]:
        """`model.generate` with this engine's adapter, under the lock; and its milliseconds."""
        with self._lock, torch.inference_mode():
            if self.adapter is not None:
                self._shared.collect(self.model)
                self.model.set_adapter(self.adapter)
            started = time.perf_counter()
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)  # every device's generator
            output = self.model.generate(
                input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                do_sample=not sampling.greedy,
                temperature=None if sampling.greedy else sampling.temperature,
                top_p=None if sampling.greedy else sampling.top_p,
                top_k=None,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self._pad_token_id(),
                **extra,
            )
            return output, (time.perf_counter() - started) * 1000
