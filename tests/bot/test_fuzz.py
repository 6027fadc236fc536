"""Schemathesis fuzzes the API from its own OpenAPI schema: whatever it sends, no 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from feedback import Store, activate, make_engine, register_model_version
from feedback.migrate import upgrade
from tests.conftest import PSEUDONYM_KEY
from tests.live_bot import bot_settings
from tuneloop.serving import build_bot


@pytest.fixture(scope="module")
def bot_schema(tmp_path_factory, tiny_model_dir):
    directory = tmp_path_factory.mktemp("fuzz")
    store = Store(make_engine(f"sqlite:///{directory / 'fuzz.db'}"), pseudonym_key=PSEUDONYM_KEY)
    upgrade(store.engine)
    with store.session() as session:
        version = register_model_version(session, name="tiny", path=str(tiny_model_dir))
        activate(session, version.id)
    app, _, logger = build_bot(bot_settings(max_new_tokens=4), store)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    logger.close()
    store.dispose()


@pytest.mark.slow
def test_no_request_makes_the_server_fail(bot_schema):
    operations = [result.ok() for result in bot_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/chat/completions", "/v1/feedback"}
    statuses = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case) -> None:
            response = case.call()
            statuses.append(response.status_code)
            assert response.status_code < 500, (
                f"{case.method} {case.path} {case.body!r}: {response.text[:300]}"
            )

        no_server_error()
    # The fuzzer reached both sides: requests it got wrong and requests it got right.
    assert len(statuses) > 50 and 400 in statuses and 200 in statuses
