"""The model registry keeps exactly one active version and knows where each line began."""

import pytest
import sqlalchemy as sa
from sqlmodel import select

from feedback import activate, active_model_version, line_start, register_model_version
from feedback.errors import UnknownModelVersion
from feedback.models import ModelStatus, ModelVersion


def test_activating_a_version_retires_the_previous_one(session):
    assert active_model_version(session) is None
    base = register_model_version(
        session, name="base", path="/m/base", origin={"kind": "bootstrap"}
    )
    child = register_model_version(session, name="dpo-1", path="/m/dpo-1", parent_id=base.id)
    assert base.status == ModelStatus.candidate

    activate(session, base.id)
    assert active_model_version(session).id == base.id
    activate(session, child.id)

    statuses = dict(session.exec(select(ModelVersion.name, ModelVersion.status)).all())
    assert statuses == {"base": ModelStatus.retired, "dpo-1": ModelStatus.active}
    assert active_model_version(session).activated_at is not None


def test_the_database_allows_only_one_active_version(session):
    first = register_model_version(session, name="a", path="/m/a")
    second = register_model_version(session, name="b", path="/m/b")
    activate(session, first.id)
    with pytest.raises(sa.exc.IntegrityError):
        session.execute(
            sa.update(ModelVersion).where(ModelVersion.id == second.id).values(status="active")
        )
        session.commit()


def test_a_line_starts_at_the_nearest_ancestor_nightly_training_did_not_make(session):
    def add(name, kind, parent=None):
        parent_id = parent.id if parent else None
        return register_model_version(
            session, name=name, path=f"/m/{name}", parent_id=parent_id, origin={"kind": kind}
        )

    base = add("base", "import")
    sft = add("sft", "sft", base)
    first = add("dpo-1", "dpo", sft)
    second = add("dpo-2", "dpo", first)
    merged = add("merged", "merge", second)
    third = add("dpo-3", "dpo", merged)
    nightly = ("dpo", "merge")  # a merge packages a DPO adapter whole: the line goes on
    assert line_start(session, second, grown_by=nightly).name == "sft"
    assert line_start(session, sft, grown_by=nightly).name == "sft"
    assert line_start(session, third, grown_by=nightly).name == "sft"
    assert line_start(session, third, grown_by=("dpo",)).name == "merged"
    orphan = add("dpo-0", "dpo")  # registered by hand, no parent: its own start
    assert line_start(session, orphan, grown_by=nightly).name == "dpo-0"


def test_activating_an_unknown_version_is_an_error(session):
    with pytest.raises(UnknownModelVersion):
        activate(session, 999)
