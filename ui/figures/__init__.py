"""Plotly figure builders (no Streamlit): latent space, β sweep, ELBO page, training curves."""
