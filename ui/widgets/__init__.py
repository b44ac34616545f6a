"""Widgets and components: they draw, and return plain values."""
