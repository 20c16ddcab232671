"""The Streamlit UI: chat with cited answers, and design review with a scorecard."""
