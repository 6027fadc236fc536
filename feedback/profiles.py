"""Training profiles: save a study's best hyperparameters under a name, find the one to use."""

from typing import Any

from sqlmodel import Session, col, select

from feedback.columns import utcnow
from feedback.errors import UnknownProfile
from feedback.models import TrainingProfile


def save_profile(
    session: Session,
    *,
    name: str,
    values: dict[str, Any],
    study_name: str,
    dataset: str,
    objective: float,
    trials: int,
) -> TrainingProfile:
    """Create the profile `name`, or replace its values (a study tuned further)."""
    profile = session.exec(select(TrainingProfile).where(TrainingProfile.name == name)).first()
    profile = profile or TrainingProfile(name=name)
    profile.values = values
    profile.study_name = study_name
    profile.dataset = dataset
    profile.objective = objective
    profile.trials = trials
    profile.created_at = utcnow()
    session.add(profile)
    session.commit()
    return profile


def find_profile(session: Session, name: str | None = None) -> TrainingProfile | None:
    """The profile called `name` (which must exist), or without a name the newest one, if any."""
    if name is None:
        return next(iter(list_profiles(session)), None)
    profile = session.exec(select(TrainingProfile).where(TrainingProfile.name == name)).first()
    if profile is None:
        raise UnknownProfile(f"no training profile named {name!r}: `tuneloop tune` makes one")
    return profile


def list_profiles(session: Session) -> list[TrainingProfile]:
    """Every profile, newest first."""
    query = select(TrainingProfile).order_by(col(TrainingProfile.created_at).desc())
    return list(session.exec(query).all())
