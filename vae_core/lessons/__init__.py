"""The maths behind each lesson, one module (or package) per lesson, over the engine; no Streamlit here."""
