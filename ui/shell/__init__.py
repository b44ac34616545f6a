"""The app's frame: the shared sidebar, navigation out of Streamlit's legacy pages/ mode, the torch warm-up."""
