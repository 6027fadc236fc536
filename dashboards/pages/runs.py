"""Training runs: counts, scorer, the gates' verdicts, the decision; promote and roll back."""

import pandas as pd
import streamlit as st

from dashboards import actions
from dashboards.auth import Staff
from dashboards.queries import training_runs
from dashboards.rights import EXPLANATION, NotAllowed, allowed
from feedback import Store, list_versions
from feedback.errors import UnknownModelVersion


def render(store: Store, staff: Staff) -> None:
    st.title("Training runs")
    with store.session() as session:
        runs = training_runs(session)
    if not runs:
        st.info(
            "No training run yet. `tuneloop nightly --now` runs one; `tuneloop scheduler` "
            "runs one every night."
        )
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "run": run.id,
                        "started": run.started_at,
                        "status": run.status.value,
                        "pairs built": run.counts.get("pairs_built"),
                        "kept": run.counts.get("pairs_kept"),
                        "trained on": run.counts.get("pairs_trained"),
                        "scorer": run.scorer,
                        "decision": run.decision,
                    }
                    for run in runs
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        run = st.selectbox("Details of run", runs, format_func=lambda r: f"run {r.id}", key="run")
        _details(run)
    _registry(store, staff)


def _details(run) -> None:
    st.subheader(f"Run {run.id}: {run.status.value}")
    st.write(run.decision or "")
    if run.hyperparameters:
        st.caption(f"Hyperparameters from {run.profile or 'the settings'}: {run.hyperparameters}")
    dropped = run.gate_report.get("dropped", {})
    if dropped:
        st.markdown("**Pairs dropped by the data gates**")
        st.bar_chart(pd.Series(dropped, name="pairs"))
    if unchecked := run.gate_report.get("unchecked"):
        st.warning("Not checked: " + "; ".join(unchecked))
    gates = run.gate_report.get("model_gates")
    if gates:
        st.markdown(
            "**Model gates: candidate against the active model** (and against the line's start, "
            "where a gate looks back)"
        )
        st.dataframe(pd.DataFrame(gates), hide_index=True, width="stretch")
    with st.expander("Steps"):
        st.json(run.steps)


def _registry(store: Store, staff: Staff) -> None:
    st.subheader("Model versions")
    with store.session() as session:
        versions = list_versions(session)
    if not versions:
        st.info("No model yet: `tuneloop bootstrap` builds the demo model.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {"id": v.id, "name": v.name, "status": v.status.value, "parent": v.parent_id}
                for v in versions
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    admin = allowed(staff, "promote")
    if not admin:
        st.info(f"Promoting and rolling back: {EXPLANATION}")
    target = st.selectbox("Version", versions, format_func=lambda v: v.name, key="promote_pick")
    sure = st.checkbox(
        "I am sure: the bot switches models within seconds", key="confirm", disabled=not admin
    )
    promote, roll_back = st.columns(2)
    why = None if admin else EXPLANATION
    try:
        if promote.button("Promote", disabled=not (admin and sure), help=why):
            actions.promote(store, staff, target.id)
            st.success(f"{target.name} is now active")
        if roll_back.button("Roll back", disabled=not (admin and sure), help=why):
            previous = actions.roll_back(store, staff)
            st.success(f"{previous.name} is active again")
    except (UnknownModelVersion, NotAllowed) as exc:
        st.error(str(exc))
