"""Rater trust: the raters with the least trust, and why, as the last nightly run saw them."""

import pandas as pd
import streamlit as st

from dashboards.queries import least_trusted
from feedback import Store


def render(store: Store) -> None:
    st.title("Rater trust")
    st.caption(
        "Raters who vote against everyone else or reward toxic answers lose weight in "
        "training. Raters are shown by pseudonym; the nightly run computes their trust."
    )
    with store.session() as session:
        raters = least_trusted(session)
    if not raters:
        st.info("No trust computed yet: the nightly run computes it (`tuneloop nightly --now`).")
        return
    st.caption(f"Computed {raters[0].computed_at:%Y-%m-%d %H:%M} UTC")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "rater": rater.user_pseudonym,
                    "weight": round(rater.weight, 3),
                    "votes": rater.votes,
                    "why": rater.reasons or "-",
                }
                for rater in raters
            ]
        ),
        hide_index=True,
        width="stretch",
    )
