"""The Decoder grid page's 2-D panels, built once per model and setting and shared by every session (st.cache_data).

A panel is the decoded grid, the outline of where the test codes lie, and the still figure that shows both. The
figure is kept as a dict (ui.figures.latent.trusted_figure draws it without a second validation): building it
through plotly's objects cost about a third of the server's time per action under benchmarks/class_load.py, where
the Decoder grid is one of the three pages every session moves sliders on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui.figures.grid import decoded_grid_figure
from ui.figures.still import still_figure
from ui.state import derived
from vae_core.engine.registry import ModelRef
from vae_core.lessons.latent_paths import code_density, grid_axes, grid_codes, hole_radii

CELL_PX = 28  # one decoded image per cell, at its own size


@dataclass(frozen=True)
class GridPanel:
    """One model's decoded grid over its latent plane, with the region where its test codes lie."""

    figure: dict  # the still figure (grid image, holes veil, outline), as Figure.to_dict() gives it
    png: bytes  # the grid's images alone, as downloaded
    cells_outside: int  # cells whose centre lies outside the outline: the holes
    hole_radii: np.ndarray  # each hole's centre's distance from the origin, in the axes' units
    n_codes: int  # test codes the outline was drawn from
    code_mean: np.ndarray  # (2,) the test codes' mean per dimension
    code_std: np.ndarray  # (2,) and their standard deviation


@st.cache_data(max_entries=64, show_spinner=False)
def grid_panel(
    ref: ModelRef, dataset: str, *, variational: bool, kind: str, n: int, extent: float, mass: float
) -> GridPanel:
    """The panel of a 2-D model: an n × n grid of `kind` (vae_core.lessons.latent_paths.grid_axes) and the outline
    enclosing the densest `mass` of its test codes."""
    means = derived.encode_split(ref, dataset).means
    x_axis, y_axis = grid_axes(means, variational, n, kind, extent)
    density = code_density(means, x_axis, y_axis, mass=mass)
    png = derived.decoded_grid_png(ref, grid_codes(x_axis, y_axis), n_cols=n, cell_px=CELL_PX)
    return GridPanel(
        figure=still_figure(decoded_grid_figure(png, x_axis, y_axis, density)).to_dict(),
        png=png,
        cells_outside=density.cells_outside,
        hole_radii=hole_radii(density, x_axis, y_axis),
        n_codes=len(means),
        code_mean=means.mean(0),
        code_std=means.std(0),
    )
