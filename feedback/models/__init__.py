"""The store's tables and the shapes its write API accepts, SQLModel style."""

from sqlmodel import SQLModel

# Deterministic constraint names, so that migrations can refer to them on every database.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

from feedback.models.audit import ActorRole, AuditEvent  # noqa: E402
from feedback.models.canary import CanaryDecision, CanaryOutcome, CanaryPhase  # noqa: E402
from feedback.models.conversation import Conversation, Message, Role, TurnCreate  # noqa: E402
from feedback.models.job_claim import JobClaim  # noqa: E402
from feedback.models.model_version import ModelStatus, ModelVersion  # noqa: E402
from feedback.models.profile import TrainingProfile  # noqa: E402
from feedback.models.rating import (  # noqa: E402
    FeedbackCreate,
    FeedbackEvent,
    FeedbackKind,
    OperatorReview,
    ReviewAction,
    ReviewCreate,
)
from feedback.models.rollups import (  # noqa: E402
    DISTRUSTED_BELOW,
    DailyQuality,
    RaterTrustRecord,
    RollupWatermark,
)
from feedback.models.training import (  # noqa: E402
    DatasetSnapshot,
    GateVerdict,
    PairStrategy,
    PreferencePair,
    RunStatus,
    TrainingRun,
)

__all__ = [
    "DISTRUSTED_BELOW",
    "ActorRole",
    "AuditEvent",
    "CanaryDecision",
    "CanaryOutcome",
    "CanaryPhase",
    "Conversation",
    "DailyQuality",
    "DatasetSnapshot",
    "FeedbackCreate",
    "FeedbackEvent",
    "FeedbackKind",
    "GateVerdict",
    "JobClaim",
    "Message",
    "ModelStatus",
    "ModelVersion",
    "OperatorReview",
    "PairStrategy",
    "PreferencePair",
    "RaterTrustRecord",
    "ReviewAction",
    "ReviewCreate",
    "Role",
    "RollupWatermark",
    "RunStatus",
    "TrainingProfile",
    "TrainingRun",
    "TurnCreate",
]
