"""The operators' Streamlit dashboards: quality trends, review queue, training runs."""
