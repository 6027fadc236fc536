"""The store's side of canaries: the status and its migration, the registry's canary calls,
and the live counts of a version (without distrusted raters)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from feedback import (
    activate,
    active_model_version,
    canary_model_version,
    log_turn,
    pseudonymize,
    record_feedback,
    register_model_version,
    revert,
    rollback,
    start_canary,
    start_conversation,
)
from feedback.columns import utcnow
from feedback.errors import CanaryInProgress
from feedback.live_counts import VersionCounts, version_counts
from feedback.migrate import _config, upgrade
from feedback.models import ModelStatus, ModelVersion
from feedback.rollups import save_rater_trust
from feedback.trust import RaterTrust


def test_one_canary_at_a_time_beside_the_active_model(session):
    active = register_model_version(session, name="a", path="/m/a")
    activate(session, active.id)
    first = register_model_version(session, name="b", path="/m/b")
    second = register_model_version(session, name="c", path="/m/c")
    assert start_canary(session, first.id).status == ModelStatus.canary
    assert canary_model_version(session).id == first.id
    with pytest.raises(CanaryInProgress, match="b is the canary already"):
        start_canary(session, second.id)
    with pytest.raises(sa.exc.IntegrityError):  # the database holds the line too
        session.execute(
            sa.update(ModelVersion).where(ModelVersion.id == second.id).values(status="canary")
        )
        session.commit()
    session.rollback()
    activate(session, first.id)  # promotion: the canary becomes the active model
    assert canary_model_version(session) is None
    assert active_model_version(session).id == first.id


def test_revert_withdraws_the_active_version_for_good(session):
    old = register_model_version(session, name="old", path="/m/old")
    activate(session, old.id)
    bad = register_model_version(session, name="bad", path="/m/bad")
    activate(session, bad.id)
    assert revert(session, bad.id, to=old.id).id == old.id
    assert session.get(ModelVersion, bad.id).status == ModelStatus.rejected
    with pytest.raises(LookupError):  # a later manual rollback never brings it back
        rollback(session)


def test_the_migration_goes_down_and_up_with_canaries_in_the_tables(store):
    with store.session() as session:
        active = register_model_version(session, name="a", path="/m/a")
        activate(session, active.id)
        canary = register_model_version(session, name="b", path="/m/b")
        start_canary(session, canary.id)
    with store.engine.begin() as connection:
        command.downgrade(_config(connection), "0008")
    with store.engine.connect() as connection:
        statuses = connection.execute(sa.text("SELECT status FROM model_version ORDER BY id"))
        assert statuses.scalars().all() == ["active", "candidate"]
    upgrade(store.engine)
    with store.session() as session:
        assert start_canary(session, canary.id).status == ModelStatus.canary


def first_answer_by(session, version):
    """A new conversation and `version`'s answer to its first question."""
    conversation = start_conversation(session, user_id="u")
    _, answer = log_turn(
        session, conversation_id=conversation.id, prompt="Hi?", answer="Hello.",
        model_version_id=version.id,
    )  # fmt: skip
    return conversation, answer


def test_version_counts_read_answers_votes_regenerations_flags_and_replies(session):
    version = register_model_version(session, name="v", path="/m/v")
    other = register_model_version(session, name="w", path="/m/w")
    since = utcnow() - timedelta(seconds=1)
    conversation, first = first_answer_by(session, version)
    # A withheld sibling: never shown, counted as flagged and not as an answer.
    log_turn(
        session, conversation_id=conversation.id, parent_id=first.parent_id, answer="Go away.",
        model_version_id=version.id, guard_flags=["insult"],
    )  # fmt: skip
    _, second = log_turn(
        session, conversation_id=conversation.id, parent_id=first.id, prompt="That is useless.",
        prompt_sentiment=-0.6, answer="Sorry.", model_version_id=version.id,
    )  # fmt: skip
    log_turn(
        session, conversation_id=conversation.id, parent_id=second.id, prompt="Thanks!",
        prompt_sentiment=0.7, answer="Welcome.", model_version_id=other.id,
    )  # fmt: skip
    for user, value in (("u", -1), ("u", 1), ("x", 1)):  # u changed their vote: latest counts
        record_feedback(session, message_id=first.id, kind="thumbs", value=value, user_id=user)
    record_feedback(session, message_id=second.id, kind="thumbs", value=-1, user_id="u")
    for _ in range(2):  # two regenerations of one answer: one regenerated answer
        record_feedback(session, message_id=second.id, kind="regenerate", user_id="u")

    counts = version_counts(session, version_id=version.id, since=since)
    assert counts == VersionCounts(
        answers=2, withheld=1, thumbs=3, ups=2, regenerated=1, replies=2, negative_replies=1
    )
    later = version_counts(session, version_id=version.id, since=utcnow())
    assert later == VersionCounts()
    assert version_counts(session, version_id=version.id, since=since, until=since) == (
        VersionCounts()
    )


def test_a_distrusted_raters_thumbs_and_regenerations_do_not_count(session):
    version = register_model_version(session, name="v", path="/m/v")
    since = utcnow() - timedelta(seconds=1)
    _, answer = first_answer_by(session, version)
    record_feedback(session, message_id=answer.id, kind="thumbs", value=1, user_id="customer")
    for kind, value in (("thumbs", -1), ("regenerate", None)):
        record_feedback(session, message_id=answer.id, kind=kind, value=value, user_id="troll")
    before = version_counts(session, version_id=version.id, since=since)
    assert (before.thumbs, before.ups, before.regenerated) == (2, 1, 1)

    troll = RaterTrust(pseudonymize(session, "troll"), 6, None, 0.5, weight=0.06)
    customer = RaterTrust(pseudonymize(session, "customer"), 1, None, 0.0, weight=1.0)
    save_rater_trust(session, {t.user_pseudonym: t for t in (troll, customer)})
    after = version_counts(session, version_id=version.id, since=since)
    assert (after.thumbs, after.ups, after.regenerated) == (1, 1, 0)
