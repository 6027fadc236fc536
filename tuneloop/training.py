"""Builds the nightly job from settings: scorers, thresholds, the DPO plan, where files go."""

from feedback.pairs import PairPolicy
from trainer.corpus import load_topics
from trainer.dpo import TrainingPlan
from trainer.evaluation import ServedDraws
from trainer.nightly import NightlyPlan
from trainer.semantic_judge import SemanticJudge
from trainer.sentiment import score_sentiment
from tuneloop.canary import canary_plan
from tuneloop.scoring import data_gate_limits, sentence_embedder, toxicity_scorer
from tuneloop.serving import sampling_from
from tuneloop.settings import Settings


def nightly_plan(settings: Settings) -> NightlyPlan:
    trainer = settings.trainer
    scorer = toxicity_scorer(settings)
    embedder = sentence_embedder(settings)
    return NightlyPlan(
        models_dir=settings.models_dir,
        snapshots_dir=settings.snapshots_dir,
        system_prompt=settings.bot.system_prompt,
        context_tokens=settings.bot.context_tokens,
        scorer=scorer,
        score_sentiment=score_sentiment,
        topics=load_topics(),
        training=training_plan(settings),
        hyperparameters=trainer.hyperparameters,
        profile=trainer.profile,
        pair_policy=PairPolicy(
            prompt_similarity=settings.scoring.prompt_similarity,
            duplicate_similarity=settings.scoring.duplicate_similarity,
        ),
        embed=embedder.embed if embedder else None,
        semantic_judge=SemanticJudge(embedder),
        served=ServedDraws(sampling_from(settings.bot), draws=trainer.served_draws),
        data_limits=data_gate_limits(scorer),
        min_pairs=trainer.min_pairs,
        replay_share=trainer.replay_share,
        retention_days=settings.governance.retention_days,
        max_rater_share=trainer.max_rater_share,
        keep_pii=trainer.public_contacts,
        launcher=trainer.launcher,
        canary=canary_plan(settings),
    )


def training_plan(settings: Settings) -> TrainingPlan:
    """The DPO knobs as the settings give them (a training profile may replace some)."""
    trainer = settings.trainer
    return TrainingPlan(
        learning_rate=trainer.learning_rate,
        beta=trainer.beta,
        num_train_epochs=trainer.num_train_epochs,
        sft_weight=trainer.sft_weight,
        loss_type=trainer.loss_type,
        lora_rank=trainer.lora_rank,
        lora_alpha=trainer.lora_alpha,
        overrides=trainer.dpo_overrides,
    )
