"""The model registry: register versions, make one active, find the one in service."""

from typing import Any

from sqlmodel import Session, select

from feedback.columns import utcnow
from feedback.errors import UnknownModelVersion
from feedback.models import ModelStatus, ModelVersion


def register_model_version(
    session: Session,
    *,
    name: str,
    path: str,
    adapter_path: str | None = None,
    parent_id: int | None = None,
    origin: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> ModelVersion:
    """Add a model as a candidate; `activate` puts it in service."""
    version = ModelVersion(
        name=name,
        path=path,
        adapter_path=adapter_path,
        parent_id=parent_id,
        origin=origin or {},
        metrics=metrics or {},
    )
    session.add(version)
    session.commit()
    return version


def activate(session: Session, version_id: int) -> ModelVersion:
    """Make `version_id` the active model and retire the one before it, in one transaction."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise UnknownModelVersion(f"no model version with id {version_id}")
    current = active_model_version(session)
    if current is not None and current.id != version.id:
        current.status = ModelStatus.retired
        session.add(current)
        session.flush()  # the one-active index must see the retirement first
    version.status = ModelStatus.active
    version.activated_at = utcnow()
    session.add(version)
    session.commit()
    return version


def active_model_version(session: Session) -> ModelVersion | None:
    return session.exec(
        select(ModelVersion).where(ModelVersion.status == ModelStatus.active)
    ).first()
