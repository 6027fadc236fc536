"""The canary: the version on trial beside the one in service, their live numbers side by side,
the bound the decision rests on, every decision; and the banner after an automatic rollback."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboards.queries import canary_decisions, latest_rollback, version_names
from feedback import Store
from feedback.models import CanaryDecision, CanaryOutcome, CanaryPhase

BANNER_DAYS = 7
METRICS = {
    "thumbs_up": "thumbs-up rate",
    "regenerated": "regenerate rate",
    "guard_flagged": "guard-flag rate",
    "negative_replies": "negative replies",
}
SHOWN = {
    CanaryOutcome.rollback: st.error,
    CanaryOutcome.promote: st.success,
    CanaryOutcome.keep: st.success,
}


def render(store: Store) -> None:
    st.title("Canary")
    st.caption(
        "A candidate that passes the model gates serves a share of new conversations beside "
        "the active model until the live numbers decide; a promoted version is then watched "
        "against the previous one. Decisions hold at their confidence however often checked."
    )
    with store.session() as session:
        decisions, names = canary_decisions(session), version_names(session)
    if not decisions:
        st.info(
            "No canary yet: the nightly run makes a candidate that passes its gates the canary "
            "(`canary.share` of new conversations)."
        )
        return
    latest = decisions[0]
    trial = [d for d in decisions if d.version_id == latest.version_id][::-1]
    name, baseline = names.get(latest.version_id), names.get(latest.baseline_version_id)
    role = "canary" if latest.phase == CanaryPhase.canary else "promoted, under watch"
    st.subheader(f"{name} ({role}) against {baseline}")
    SHOWN.get(latest.outcome, st.info)(
        f"**{latest.outcome.value}** ({latest.created_at:%Y-%m-%d %H:%M} UTC, "
        f"{latest.trigger}): {latest.reason}"
    )
    numbers = next((d.numbers for d in reversed(trial) if d.numbers), None)
    if numbers is None:
        st.info("No live numbers yet: the first check comes after rated answers arrive.")
    else:
        st.dataframe(side_by_side(numbers, name, baseline), hide_index=True, width="stretch")
        st.caption(
            f"Bounds on the difference ({name} - {baseline}) at "
            f"{numbers['rollback_confidence']:.1%} confidence: a rollback needs the whole "
            f"interval on the worse side of 0. Promotion needs {numbers['min_rated']} rated "
            f"answers and the thumbs-up difference above -{numbers['margin']} at "
            f"{numbers['confidence']:.0%} confidence. Method: {numbers['method']}."
        )
        bounds = bounds_over_time(trial)
        if len(bounds) > 1:
            st.markdown("**Thumbs-up difference over the checks, with its bounds**")
            st.line_chart(bounds, x="checked", y=["difference", "low", "high", "promote above"])
    st.markdown("**Every decision**")
    st.dataframe(history(decisions, names), hide_index=True, width="stretch")


def rollback_banner(store: Store) -> None:
    """A warning at the top of every page for a week after an automatic rollback."""
    since = datetime.now(UTC) - timedelta(days=BANNER_DAYS)
    with store.session() as session:
        rollback, names = latest_rollback(session, since=since), version_names(session)
    if rollback is not None:
        st.error(
            f"Automatic rollback on {rollback.created_at:%Y-%m-%d %H:%M} UTC: "
            f"{names.get(rollback.version_id)} was taken out of service. {rollback.reason}",
            icon="⏪",
        )


def side_by_side(numbers: dict, name: str | None, baseline: str | None) -> pd.DataFrame:
    rows = []
    for key, label in METRICS.items():
        figures = numbers[key]
        rows.append(
            {
                "metric": label,
                f"{name}": _rate(figures["canary"]),
                f"{baseline}": _rate(figures["baseline"]),
                "difference": figures["difference"],
                "low": round(figures["low"], 3),
                "high": round(figures["high"], 3),
            }
        )
    return pd.DataFrame(rows)


def bounds_over_time(trial: list[CanaryDecision]) -> pd.DataFrame:
    rows = [
        {
            "checked": decision.created_at,
            "difference": decision.numbers["thumbs_up"]["difference"],
            "low": decision.numbers["thumbs_up"]["low"],
            "high": decision.numbers["thumbs_up"]["high"],
            "promote above": -decision.numbers["margin"],
        }
        for decision in trial
        if decision.numbers
    ]
    return pd.DataFrame(rows)


def history(decisions: list[CanaryDecision], names: dict[int, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "when": decision.created_at,
                "version": names.get(decision.version_id),
                "against": names.get(decision.baseline_version_id),
                "phase": decision.phase.value,
                "decision": decision.outcome.value,
                "trigger": decision.trigger,
                "reason": decision.reason,
            }
            for decision in decisions
        ]
    )


def _rate(side: dict) -> str:
    if side["rate"] is None:
        return f"- (0 of {side['n']})"
    return f"{side['rate']:.1%} ({side['hits']} of {side['n']})"
