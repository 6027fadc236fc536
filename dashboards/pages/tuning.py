"""Hyperparameter tuning: a study's trials, optimization history and parameter importances
(Optuna's own Plotly figures), and the training profile the nightly job uses."""

import optuna
import pandas as pd
import sqlalchemy as sa
import streamlit as st
from optuna.trial import TrialState

from feedback import Store
from feedback.errors import UnknownProfile
from feedback.profiles import find_profile, list_profiles


def render(store: Store, hyperparameters: str = "default", profile: str | None = None) -> None:
    st.title("Hyperparameter tuning")
    _profile_in_use(store, hyperparameters, profile)
    # Optuna keeps its studies in the store's database, in tables of its own.
    if not sa.inspect(store.engine).has_table("studies"):
        st.info(
            "No tuning study yet. `tuneloop tune --synthetic --trials 20` tries it on the demo "
            "corpus; `tuneloop tune --trials 20` tunes on the latest dataset snapshot."
        )
        return
    storage = _storage(store.engine.url.render_as_string(hide_password=False))
    names = sorted(optuna.get_all_study_names(storage))
    name = st.selectbox("Study", names, key="study")
    study = optuna.load_study(study_name=name, storage=storage)
    _trials(study)
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if completed:
        st.subheader("Optimization history")
        st.plotly_chart(optuna.visualization.plot_optimization_history(study), key="history")
    if len(completed) > 1:
        st.subheader("Parameter importances")
        try:
            figure = optuna.visualization.plot_param_importances(study)
        except (RuntimeError, ValueError) as exc:  # e.g. every trial had the same values
            st.caption(f"No importances yet: {exc}")
        else:
            st.plotly_chart(figure, key="importances")


@st.cache_resource(show_spinner=False)
def _storage(url: str) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(url, skip_table_creation=True)


def _profile_in_use(store: Store, hyperparameters: str, name: str | None) -> None:
    with store.session() as session:
        profiles = list_profiles(session)
        try:
            in_use = find_profile(session, name) if hyperparameters == "tuned" else None
        except UnknownProfile as exc:
            st.error(f"{exc}: the nightly run fails until trainer.profile names one")
            return
    if hyperparameters != "tuned":
        st.info(
            "The nightly job trains with the settings' hyperparameters; with "
            'trainer.hyperparameters = "tuned" it uses a training profile.'
        )
    elif in_use is None:
        st.warning("Tuned hyperparameters are on, but there is no profile: the defaults are used.")
    else:
        st.success(f"The nightly job trains with training profile **{in_use.name}**.")
        st.json(in_use.values)
    if profiles:
        st.subheader("Training profiles")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "profile": p.name,
                        "objective": round(p.objective, 4),
                        "trials": p.trials,
                        "tuned on": p.dataset,
                        "saved": p.created_at,
                        **p.values,
                    }
                    for p in profiles
                ]
            ),
            hide_index=True,
            width="stretch",
        )


def _trials(study: optuna.Study) -> None:
    st.subheader(f"Trials of {study.study_name}")
    st.caption(
        "Score: cross-validated held-out preference accuracy, the reward margin breaking ties. "
        "Pruned trials stopped early, worse than the median at the same fold and epoch."
    )
    rows = [
        {
            "trial": trial.number,
            "state": trial.state.name.lower(),
            "score": trial.value,
            "accuracy": trial.user_attrs.get("accuracy"),
            "margin": trial.user_attrs.get("margin"),
            "seconds": (trial.datetime_complete - trial.datetime_start).total_seconds()
            if trial.datetime_complete and trial.datetime_start
            else None,
            **trial.params,
        }
        for trial in study.get_trials(deepcopy=False)
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
