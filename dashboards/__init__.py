"""The operators' Streamlit dashboards: quality trends, review queue, training runs."""

from dashboards.app import run_dashboard

__all__ = ["run_dashboard"]
