"""Roles and the audit trail: operators review, admins also promote and roll back; logins and
model changes are audit rows, and the audit page lists them (reviews: test_pages)."""

import json

import pytest
from sqlmodel import select

from dashboards import actions
from dashboards.auth import Staff, hash_password
from dashboards.rights import NotAllowed
from feedback import active_model_version, list_versions
from feedback.models import ActorRole, Message
from tests.dashboards.conftest import (
    AS_ADMIN,
    AS_OPERATOR,
    audit_rows,
    page,
    registered_pages,
)

ADA = Staff("Ada", ActorRole.operator)
GRACE = Staff("Grace", ActorRole.admin)


def active_name(store) -> str:
    with store.session() as session:
        return active_model_version(session).name


def bootstrap_id(store) -> int:
    with store.session() as session:
        return next(v.id for v in list_versions(session) if v.name == "bootstrap")


def test_an_operator_cannot_promote(seeded_store):
    app = page(seeded_store, "runs", AS_OPERATOR)
    assert not app.exception
    promote, roll_back = app.button
    assert promote.label == "Promote" and promote.disabled and roll_back.disabled
    assert app.checkbox(key="confirm").disabled
    assert any("Only admins" in message.value for message in app.info)

    # Disabled is only what the browser shows: the action behind the button refuses too.
    with pytest.raises(NotAllowed):
        actions.promote(seeded_store, ADA, bootstrap_id(seeded_store))
    with pytest.raises(NotAllowed):
        actions.roll_back(seeded_store, ADA)
    assert active_name(seeded_store) == "dpo-0001"
    assert not audit_rows(seeded_store, "promote") and not audit_rows(seeded_store, "rollback")
    refused = audit_rows(seeded_store, "refused")
    assert [row.details["wanted"] for row in refused] == ["rollback", "promote"]
    assert {(row.actor, row.role) for row in refused} == {("Ada", ActorRole.operator)}


def test_an_admin_promotes_and_rolls_back_on_the_record(seeded_store):
    app = page(seeded_store, "runs", AS_ADMIN)
    assert not any("Only admins" in message.value for message in app.info)
    app.selectbox(key="promote_pick").select_index(0).run()
    app.checkbox(key="confirm").check().run()
    app.button[0].click().run()
    assert active_name(seeded_store) == "bootstrap"
    [promoted] = audit_rows(seeded_store, "promote")
    assert (promoted.actor, promoted.role) == ("Grace", ActorRole.admin)
    assert promoted.target == str(bootstrap_id(seeded_store))
    assert promoted.details == {"replaced": "dpo-0001"}

    app.button[1].click().run()
    assert active_name(seeded_store) == "dpo-0001"
    [rolled_back] = audit_rows(seeded_store, "rollback")
    assert rolled_back.details == {"replaced": "bootstrap", "name": "dpo-0001"}
    assert [row.action for row in audit_rows(seeded_store)] == ["rollback", "promote"]


def test_the_audit_page_lists_rows_newest_first_and_filters_by_action(seeded_store):
    with seeded_store.session() as session:
        answer = session.exec(select(Message).where(Message.role == "assistant")).first()
    actions.review(seeded_store, ADA, message_id=answer.id, action="approve")
    actions.promote(seeded_store, GRACE, bootstrap_id(seeded_store))
    actions.roll_back(seeded_store, GRACE)

    app = page(seeded_store, "audit")
    assert not app.exception
    listed = app.dataframe[0].value
    assert list(listed["action"]) == ["rollback", "promote", "approve"]
    assert list(listed["actor"]) == ["Grace", "Grace", "Ada"]
    assert list(listed["role"]) == ["admin", "admin", "operator"]
    assert listed["target"][2] == str(answer.id)

    app.selectbox(key="audit_action").select("promote").run()
    assert list(app.dataframe[0].value["action"]) == ["promote"]


def log_in(app, name: str, password: str):
    app.text_input[0].input(name)
    app.text_input[1].input(password)
    app.button[0].click().run()
    return app


def test_each_password_logs_in_with_its_role_and_every_login_is_recorded(dashboard, seeded_store):
    hashes = hash_password("operator pass"), hash_password("admin pass")
    app = log_in(dashboard(*hashes), "Ada", "admin pass wrong")
    assert "Wrong password" in app.error[0].value
    [failed] = audit_rows(seeded_store, "login_failed")
    assert failed.actor == "Ada" and failed.role == "visitor"
    assert failed.details == {"reason": "wrong password"}
    assert "admin pass" not in json.dumps(failed.model_dump(mode="json"))

    app = log_in(app, "Ada", "operator pass")
    assert not app.exception
    assert "Logged in as Ada (operator)" in [c.value for c in app.sidebar.caption]
    pages = registered_pages(app)
    assert "audit" in pages and "erase" not in pages and "settings" not in pages

    app = log_in(dashboard(*hashes), "Grace", "admin pass")
    assert not app.exception
    assert "Logged in as Grace (admin)" in [c.value for c in app.sidebar.caption]
    assert {"audit", "erase", "settings"} <= set(registered_pages(app))
    logins = audit_rows(seeded_store, "login")
    assert [(row.actor, row.role) for row in logins] == [
        ("Grace", ActorRole.admin),
        ("Ada", ActorRole.operator),
    ]

    app.sidebar.button(key="log_out").click().run()
    assert app.text_input  # the login form again
    [logout] = audit_rows(seeded_store, "logout")
    assert logout.actor == "Grace"


def test_an_admin_password_alone_opens_the_dashboard_to_admins(dashboard):
    app = log_in(dashboard(None, hash_password("admin pass")), "Grace", "admin pass")
    assert not app.exception
    assert "Logged in as Grace (admin)" in [c.value for c in app.sidebar.caption]
