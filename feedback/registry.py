"""The model registry: register versions, make one active (and one a canary), find the ones in
service."""

from collections.abc import Collection
from typing import Any

from sqlmodel import Session, select

from feedback.columns import utcnow
from feedback.errors import CanaryInProgress, UnknownModelVersion
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
    version = _get(session, version_id)
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


def line_start(
    session: Session, version: ModelVersion, *, grown_by: Collection[str]
) -> ModelVersion:
    """Where `version`'s line began: itself, or its nearest ancestor whose origin kind is not
    one of `grown_by` (for nightly DPO and merges of it: the bootstrap or domain-SFT model)."""
    while version.origin.get("kind") in grown_by and version.parent_id is not None:
        version = _get(session, version.parent_id)
    return version


def canary_model_version(session: Session) -> ModelVersion | None:
    return session.exec(
        select(ModelVersion).where(ModelVersion.status == ModelStatus.canary)
    ).first()


def start_canary(session: Session, version_id: int) -> ModelVersion:
    """Serve a candidate beside the active model, on a share of new conversations."""
    version = _get(session, version_id)
    running = canary_model_version(session)
    if running is not None and running.id != version.id:
        raise CanaryInProgress(
            f"{running.name} is the canary already: promote or reject it before {version.name}"
        )
    version.status = ModelStatus.canary
    session.add(version)
    session.commit()
    return version


def reject(session: Session, version_id: int) -> ModelVersion:
    """Mark a candidate that failed its gates, or a canary rolled back; it is kept for the
    record, never served."""
    version = _get(session, version_id)
    version.status = ModelStatus.rejected
    session.add(version)
    session.commit()
    return version


def rollback(session: Session) -> ModelVersion:
    """Put the previously active version back in service."""
    previous = session.exec(
        select(ModelVersion)
        .where(ModelVersion.status == ModelStatus.retired, ModelVersion.activated_at.is_not(None))
        .order_by(ModelVersion.activated_at.desc())
    ).first()
    if previous is None:
        raise UnknownModelVersion("there is no earlier active version to roll back to")
    return activate(session, previous.id)


def revert(session: Session, version_id: int, *, to: int) -> ModelVersion:
    """Withdraw the active `version_id` for good (rejected: a later rollback never brings it
    back) and put version `to` back in service, in one transaction."""
    withdrawn = _get(session, version_id)
    withdrawn.status = ModelStatus.rejected
    session.add(withdrawn)
    session.flush()  # not committed: `activate` commits both changes at once
    return activate(session, to)


def list_versions(session: Session) -> list[ModelVersion]:
    return list(session.exec(select(ModelVersion).order_by(ModelVersion.id)).all())


def _get(session: Session, version_id: int) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise UnknownModelVersion(f"no model version with id {version_id}")
    return version
