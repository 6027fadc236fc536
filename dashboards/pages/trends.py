"""Quality trends: thumbs-up rate with its interval, stars, regenerations, the users' sentiment;
promotions marked."""

from datetime import UTC, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.cache import cached
from dashboards.queries import daily_quality, version_events, version_reports
from feedback import Store

DAY = alt.X("yearmonthdate(day):T", title="Day", axis=alt.Axis(format="%b %d"))


def render(store: Store) -> None:
    st.title("Quality trends")
    today = datetime.now(UTC).date()
    start, end = st.date_input(
        "Dates", value=(today - timedelta(days=30), today), max_value=today, key="trend_dates"
    ) or (today, today)
    quality = cached(store, daily_quality, start=start, end=end)
    if quality.empty:
        st.info(
            "No answers in these dates yet. Chat with the bot (`tuneloop chat`) or run "
            "`tuneloop demo`, and the trends appear here."
        )
        return
    versions = sorted(quality["version"].unique())
    chosen = st.multiselect("Model versions", versions, default=versions, key="trend_versions")
    quality = quality[quality["version"].isin(chosen)]
    events = cached(store, version_events)
    totals = quality[["answers", "ups", "thumbs"]].sum()
    first, second, third = st.columns(3)
    first.metric("Answers", f"{int(totals['answers']):,}")
    rate = totals["ups"] / totals["thumbs"] if totals["thumbs"] else None
    second.metric("Thumbs-up rate", f"{rate:.0%}" if rate is not None else "-")
    third.metric("Model versions", len(chosen))

    st.altair_chart(_rate_chart(quality, events), width="stretch")
    left, right = st.columns(2)
    left.altair_chart(_line(quality, "mean_stars", "Mean stars"), width="stretch")
    right.altair_chart(
        _line(quality, "regenerate_rate", "Regenerate rate", percent=True),
        width="stretch",
    )
    st.altair_chart(
        _line(quality, "user_sentiment", "Sentiment of users' replies (VADER, -1 to 1)"),
        width="stretch",
    )
    volume = (
        alt.Chart(quality)
        .mark_bar()
        .encode(
            x=DAY,
            y=alt.Y("answers:Q", title="Answers"),
            color=alt.Color("version:N", title="Model version"),
        )
    )
    st.altair_chart(volume.properties(title="Volume"), width="stretch")
    st.subheader("Per model version")
    st.dataframe(cached(store, version_reports), hide_index=True, width="stretch")


def _rate_chart(quality: pd.DataFrame, events: pd.DataFrame) -> alt.LayerChart:
    base = alt.Chart(quality).encode(x=DAY, color=alt.Color("version:N", title="Model version"))
    interval = base.mark_rule(strokeWidth=4, opacity=0.35).encode(
        y=alt.Y("low:Q", title="Thumbs-up rate", axis=alt.Axis(format=".0%")), y2="high:Q"
    )
    line = base.mark_line(point=True).encode(
        y="thumbs_up_rate:Q",
        tooltip=["day:T", "version:N", alt.Tooltip("thumbs_up_rate:Q", format=".0%"), "thumbs:Q"],
    )
    layers = [interval, line]
    if not events.empty:
        layers.append(
            alt.Chart(events)
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(x="activated_at:T", tooltip=["version:N", "activated_at:T", "status:N"])
        )
    return alt.layer(*layers).properties(title="Thumbs-up rate (95% interval); dashed: promotions")


def _line(quality: pd.DataFrame, field: str, title: str, *, percent: bool = False) -> alt.Chart:
    axis = alt.Axis(format=".0%") if percent else alt.Axis()
    return (
        alt.Chart(quality)
        .mark_line(point=True)
        .encode(
            x=DAY,
            y=alt.Y(f"{field}:Q", title=title, axis=axis),
            color=alt.Color("version:N", title="Model version"),
        )
        .properties(title=title)
    )
