"""Dashboard pages on a big store: 1,000,000 messages, 300,000 feedback events.

Run by hand: `python -m bench.dashboards [--messages 1000000] [--events 300000]`. After the
rollups a nightly run keeps (quality per day, rater trust), each page is rendered headless
with Streamlit's AppTest, cold (empty cache) and warm (cached for a minute, as operators see
it on a reload), on SQLite and on PostgreSQL.
"""

import argparse
import statistics
import time

import streamlit as st
from streamlit.testing.v1 import AppTest

from bench.databases import DEFAULT_POSTGRES, benchmark_databases
from bench.pairs import populate
from feedback import Store, activate, register_model_version
from feedback.migrate import upgrade
from feedback.rollups import rebuild_daily_quality, save_rater_trust
from feedback.trust import rater_trust

PAGES = {
    "trends": "",
    "review": ", Staff('bench', ActorRole.operator)",
    "conversations": "",
    "runs": ", Staff('bench', ActorRole.operator)",
    "trust": "",
}
SCRIPT = """
from dashboards.auth import Staff
from feedback import Store, make_engine
from feedback.models import ActorRole
from dashboards.pages import {module}
store = Store(make_engine({url!r}), pseudonym_key=b"bench-pseudonym-key-0123456")
{module}.render(store{extra})
"""


def render_seconds(url: str, module: str, extra: str) -> float:
    started = time.perf_counter()
    app = AppTest.from_string(
        SCRIPT.format(module=module, url=url, extra=extra), default_timeout=120
    )
    app.run()
    if app.exception:
        raise RuntimeError(f"{module}: {app.exception[0].message}")
    return time.perf_counter() - started


def warm_up() -> None:
    """Import what a running dashboard server has imported long before a page is opened
    (Streamlit, Altair, pandas, the pages), so that "cold" means an empty cache only."""
    import dashboards.app  # noqa: F401

    AppTest.from_string("import streamlit as st\nst.write('warm')").run()


def measure(name: str, url: str, args: argparse.Namespace) -> list[str]:
    store = Store.from_url(url, pseudonym_key=b"bench-pseudonym-key-0123456")
    upgrade(store.engine)
    populate(store, args.messages, args.events)
    with store.session() as session:
        activate(session, register_model_version(session, name="bench", path="/m").id)
        started = time.perf_counter()  # what the nightly run does before the dashboards read
        rebuild_daily_quality(session)
        trust = rater_trust(session, score_toxicity=_insults, toxicity_threshold=0.5)
        save_rater_trust(session, trust)
        print(f"{name}: nightly rollups in {time.perf_counter() - started:.1f} s", flush=True)
    rows = []
    for module, extra in PAGES.items():
        st.cache_data.clear()
        cold = render_seconds(url, module, extra)
        warm = statistics.median(render_seconds(url, module, extra) for _ in range(3))
        rows.append(f"| {name} | {module} | {cold:.2f} s | {warm:.2f} s |")
        print(rows[-1], flush=True)
    store.dispose()
    return rows


def _insults(texts: list[str]) -> list[float]:
    return [1.0 if "idiot" in text or "moron" in text else 0.0 for text in texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    warm_up()
    rows = ["| database | page | cold cache | warm cache |", "|---|---|---|---|"]
    with benchmark_databases(args.postgres) as databases:
        for name, url in databases:
            rows += measure(name, url, args)
    print(f"\n{args.messages:,} messages, {args.events:,} feedback events\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
