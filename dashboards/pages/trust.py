"""Rater trust: the raters with the least trust, and why."""

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from feedback import Store
from feedback.trust import rater_trust


def render(store: Store, score_toxicity: Callable[[Sequence[str]], Sequence[float]]) -> None:
    st.title("Rater trust")
    st.caption(
        "Raters who vote against everyone else or reward toxic answers lose weight in "
        "training. Raters are shown by pseudonym."
    )
    with store.session() as session:
        trust = rater_trust(session, score_toxicity=score_toxicity, toxicity_threshold=0.5)
    if not trust:
        st.info("No ratings yet.")
        return
    least = sorted(trust.values(), key=lambda rater: rater.weight)[:25]
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "rater": rater.user_pseudonym,
                    "weight": round(rater.weight, 3),
                    "votes": rater.votes,
                    "why": "; ".join(rater.reasons) or "-",
                }
                for rater in least
            ]
        ),
        hide_index=True,
        width="stretch",
    )
