"""VAE Latent Explorer: `streamlit run app.py`.

The entry point only sets the page config, builds the navigation over pages/ and draws the shared sidebar;
each page is a short script of one lesson, reading the sidebar's choice with ui.shell.sidebar.current_selection().
The settings that define a view are in the URL (ui/shell/url_state.py), with a "Reset this page" control.
"""

from pathlib import Path

import streamlit as st

from ui.shell import url_state, warmup
from ui.shell.busy_indicator import busy_indicator
from ui.shell.navigation import leave_legacy_pages_mode
from ui.shell.projector import projector_style, projector_switch
from ui.shell.sidebar import draw_sidebar
from ui.widgets.export import figure_format_choice

PAGES_DIR = Path(__file__).parent / "pages"

# (file, title, icon): the order is the path through the lessons.
PAGES = (
    ("1_home.py", "Home", ":material/home:"),
    ("1_autoencoders.py", "Autoencoder family", ":material/compress:"),
    ("2_latent_space.py", "Latent space", ":material/scatter_plot:"),
    ("3_decoder_grid.py", "Decoder grid", ":material/grid_on:"),
    ("4_interpolation.py", "Interpolation", ":material/timeline:"),
    ("5_beta_tradeoff.py", "β trade-off", ":material/tune:"),
    ("6_elbo_breakdown.py", "ELBO breakdown", ":material/functions:"),
    ("8_inference.py", "Inference", ":material/blur_on:"),
    ("8_anomaly_detection.py", "Anomaly detection", ":material/crisis_alert:"),
    ("9_conditional_vae.py", "Conditional VAE", ":material/category:"),
    ("7_train.py", "Train", ":material/model_training:"),
)


def main() -> None:
    warmup.import_shared_modules()  # first: no session may meet a half-imported pandas (ui/shell/warmup.py)
    leave_legacy_pages_mode()  # a folder named pages/ would otherwise start Streamlit in its old mode
    st.set_page_config(page_title="VAE Latent Explorer", page_icon="🧭", layout="wide")
    busy_indicator()  # a class sees that a run is in progress (ui/shell/busy_indicator.py)
    files = {
        file: st.Page(PAGES_DIR / file, title=title, icon=icon, default=(i == 0))
        for i, (file, title, icon) in enumerate(PAGES)
        if (PAGES_DIR / file).is_file()  # a page still being written is simply not listed yet
    }
    page = st.navigation(list(files.values()))
    st.sidebar.title("VAE Latent Explorer")
    draw_sidebar()
    # The page's file names its settings in the URL; url_path is how the navigation's page is told apart.
    page_file = next(file for file, p in files.items() if p.url_path == page.url_path)
    url_state.reset_page_control(page_file)  # "Reset this page" (ui/shell/url_state.py)
    projector_switch()  # projector mode: the sidebar's switch and ?projector=1 (ui/shell/projector.py)
    projector_style()
    figure_format_choice()  # what the charts' camera button saves: PNG or SVG (ui/widgets/export.py)
    try:
        page.run()
    finally:
        warmup.start()  # torch and friends load in the background once the first page is out (ui/shell/warmup.py)


main()
