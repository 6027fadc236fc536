"""Query results cached per store for a minute: pages stay fast, and fresh enough."""

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from feedback import Store

Result = TypeVar("Result")
TTL_SECONDS = 60


def cached(
    store: Store,
    query: Callable[..., Result],
    *,
    helpers: dict[str, Any] | None = None,
    **arguments: Any,
) -> Result:
    """`query(session, **arguments, **helpers)`, from the cache when the same call ran in the
    last minute. `helpers` (an embedding function, say) are passed on but not part of the key."""
    url = store.engine.url.render_as_string()
    return _run(url, query.__qualname__, store, query, helpers or {}, arguments)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def _run(
    url: str, name: str, _store: Store, _query: Callable, _helpers: dict, arguments: dict
) -> Any:
    # Hashed: the store's URL, the query's name, its arguments; not the objects themselves.
    with _store.session() as session:
        return _query(session, **arguments, **_helpers)
