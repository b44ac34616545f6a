"""The floor under a cold direct link (benchmarks/app_latency.py's cold start): a page that needs what every lesson
needs and does nothing else.

It imports torch (every lesson draws with a model) and draws a title and one plotly chart (the browser then fetches
Streamlit's plotly chunk, as it does for every lesson with a chart). Served fresh and opened by a link, its time from
the request to the page idle is what any Streamlit page over torch pays on this machine: the browser loading
Streamlit's frontend, the websocket, torch's import, the chart's script. The app's own direct link is compared with it.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

st.title("Floor")
st.write(f"torch {torch.__version__}: {float(torch.ones(3).sum()):.0f} ones")
st.plotly_chart(go.Figure(go.Heatmap(z=[[0.0, 1.0], [1.0, 0.0]])))
