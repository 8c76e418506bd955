"""Streamlit dashboard: app.py is the entry; pages read only the warehouse views."""
