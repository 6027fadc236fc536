"""`tuneloop bootstrap`: build the demo base model, measure its answers, register it as active."""

import logging
from datetime import UTC, datetime
from pathlib import Path

from bot.engine import Engine, Sampling
from feedback import Store, activate, register_model_version
from feedback.models import ModelVersion
from trainer.answer_mix import measure_answer_mix
from trainer.bootstrap import BootstrapConfig, build_bootstrap_model
from trainer.corpus import Topic
from trainer.model_card import write_model_card

log = logging.getLogger(__name__)

SUMMARY = (
    "The demo base model of tuneloop: a small Llama-style causal LM with its own byte-level BPE "
    "tokenizer, trained offline on the Northwind Outfitters support corpus (every question with "
    "a good, a vague, a wrong and a rude answer) mixed with the chatterbot-corpus dialogs. It "
    "answers with a mix of all four on purpose: that is what user feedback teaches away."
)


def bootstrap(
    store: Store,
    *,
    models_dir: Path,
    topics: list[Topic],
    system_prompt: str,
    context_tokens: int,
    sampling: Sampling,
    config: BootstrapConfig,
) -> ModelVersion:
    """Train, save, measure and register the demo model; it becomes the active version."""
    name = f"bootstrap-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    directory = models_dir / name
    figures = build_bootstrap_model(
        directory, topics=topics, system_prompt=system_prompt, config=config
    )
    engine = Engine.load(directory, system_prompt=system_prompt, context_tokens=context_tokens)
    mix = measure_answer_mix(engine, topics, sampling=sampling)
    held_out_mix = measure_answer_mix(engine, topics, sampling=sampling, held_out=True)
    metrics = {"answer_mix": mix, "answer_mix_held_out": held_out_mix, **figures}
    write_model_card(directory, title=name, summary=SUMMARY, details=metrics)
    with store.session() as session:
        version = register_model_version(
            session,
            name=name,
            path=str(directory.resolve()),
            origin={"kind": "bootstrap", "seed": config.seed},
            metrics=metrics,
        )
        activate(session, version.id)
    log.info("bootstrap model %s registered as active", name)
    return version
