"""Cached state (st.cache_resource / st.cache_data): the loaders and what is computed from a model."""
