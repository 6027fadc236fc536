"""`tuneloop bootstrap --base NAME`: a pretrained chat model imported, adapted to the shop with
domain SFT, measured before and after by the semantic judge on questions it never trained on,
and registered as the active model version (a LoRA adapter on the imported base)."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.engine import Engine, Sampling
from bot.model_import import ImportedModel, register_import
from feedback import Store, activate, register_model_version
from feedback.models import ModelVersion
from trainer.answering import answer_questions
from trainer.corpus import Topic, calm_replies, load_general_dialogs, load_topics
from trainer.domain_sft import SftPlan, sft_rows, train_domain_sft
from trainer.evaluation import (
    domain_accuracy,
    held_out_questions,
    judge_verdicts,
)
from trainer.model_card import write_model_card
from trainer.semantic_judge import SemanticJudge
from tuneloop.scoring import sentence_embedder
from tuneloop.settings import Settings

log = logging.getLogger(__name__)

# Greedy and short: the judge compares models, not draws of sampling noise.
JUDGE_SAMPLING = Sampling(temperature=0.0, max_new_tokens=48)


@dataclass(frozen=True)
class DomainAdaptation:
    base: ModelVersion
    version: ModelVersion
    judged_good_before: float  # share of held-out questions answered with the shop's facts
    judged_good_after: float


def judged_good_share(
    engine: Engine, topics: list[Topic], judge: SemanticJudge, *, label: str
) -> float:
    """Share of the topics' held-out phrasings whose greedy answer the semantic judge takes for
    the shop's reference answer."""
    domain = held_out_questions(topics)
    answers = answer_questions(engine, [q for q, _ in domain], JUDGE_SAMPLING, label=label)
    return domain_accuracy(judge_verdicts(judge, domain, answers))["accuracy"]


def adapt_base(
    settings: Settings,
    store: Store,
    imported: ImportedModel,
    *,
    plan: SftPlan,
    topics: list[Topic] | None = None,
) -> DomainAdaptation:
    """Measure an imported base, fine-tune it on the domain, measure again, and register the
    result as the active version whose parent is the imported base."""
    topics = topics or load_topics()
    bot = settings.bot
    with store.session() as session:
        base, _ = register_import(session, imported, make_active=False)
    served = {"system_prompt": bot.system_prompt, "context_tokens": bot.context_tokens}
    judge = SemanticJudge(sentence_embedder(settings), topics)
    before = judged_good_share(
        Engine.load(imported.path, **served), topics, judge, label="judge: base model"
    )
    name = f"sft-{base.name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    output = settings.models_dir / name
    train, held_out = sft_rows(
        topics,
        load_general_dialogs(),
        system_prompt=bot.system_prompt,
        plan=plan,
        calm=calm_replies(),
    )
    metrics = train_domain_sft(
        base_path=imported.path,
        output_dir=output,
        train_rows=train,
        held_out_rows=held_out,
        plan=plan,
    )
    lora = plan.lora_rank > 0
    adapted = Engine.load(
        imported.path if lora else output, adapter=output if lora else None, **served
    )
    after = judged_good_share(adapted, topics, judge, label="judge: after domain SFT")
    metrics |= {"judged_good_before": before, "judged_good_after": after}
    write_model_card(
        output,
        title=name,
        summary=f"{base.name} adapted to the Northwind Outfitters support domain with SFT "
        f"({'a LoRA adapter of rank ' + str(plan.lora_rank) if lora else 'full fine-tuning'}), "
        f"on the shop's reference answers mixed with general dialogs "
        f"({plan.general_share:.0%} of the rows).",
        details=metrics,
    )
    with store.session() as session:
        version = register_model_version(
            session,
            name=name,
            path=str(Path(imported.path if lora else output).resolve()),
            adapter_path=str(output.resolve()) if lora else None,
            parent_id=base.id,
            origin={
                "kind": "sft",
                "base": base.name,
                "general_share": plan.general_share,
                "lora_rank": plan.lora_rank,
                "learning_rate": plan.learning_rate,
                "epochs": plan.num_train_epochs,
            },
            metrics=metrics,
        )
        version = activate(session, version.id)
    log.info("domain SFT %s: judged good %.0f%% -> %.0f%%", name, 100 * before, 100 * after)
    return DomainAdaptation(base, version, before, after)
