"""Latent space: every test image as a point, the autoencoder and the VAE side by side."""

import streamlit as st

from ui.figures.latent import selected_index, shared_range, trusted_figure
from ui.shell.projector import image_width, prose
from ui.shell.sidebar import current_selection, require_test_split
from ui.state import derived
from ui.state.browser_decoders import UnsupportedDecoder, browser_decoder
from ui.widgets import bound
from ui.widgets.chart import plot
from ui.widgets.export import codes_download, figure_config, image_download
from ui.widgets.keys import keyed
from ui.widgets.latent_pad import PadClick, latent_pad
from ui.widgets.shared import model_caption, projection_choice
from ui.widgets.tsne_progress import tsne_progress
from vae_core.engine.registry import comparison_pair
from vae_core.serving.images import tile_pngs
from vae_core.serving.tsne_job import DONE, describe_sample

EXPORT_PAGE = "latent-space"  # the page's part of every download's file name
selection = current_selection()
st.title("Latent space")
prose(
    "Each dot is one test image, placed where the encoder puts it (the posterior mean μ for a VAE), coloured "
    "by its true label, which the model never saw. Compare the two panels: the autoencoder may spread its "
    "classes at any scale with empty gaps between them, while the VAE's KL term packs them into the prior "
    "N(0, I), whose 1σ and 2σ circles are drawn. **Click a point** to see the image and its reconstruction."
)
data = require_test_split(selection)
assert selection.entry is not None  # require_test_split stops the page when no model fits

ae_entry, vae_entry = comparison_pair(list(selection.entries), selection.entry)
panels = [(side, entry) for side, entry in (("Autoencoder", ae_entry), ("VAE", vae_entry)) if entry is not None]
if len(panels) == 1:
    st.info(
        "No model of the other kind with the same latent size fits this data set, so there is one panel. "
        "Train one on the Train page to compare."
    )


def _pick_from_chart(chart_key: str) -> None:
    # A click on either chart becomes the image number below; only that block reruns, the charts (10 000
    # points each, the slow part) stay as they are in the browser.
    index = selected_index(st.session_state.get(chart_key))
    if index is not None:
        st.session_state["latent_index"] = index
        st.rerun("latent_images")


def _back_to_pca() -> None:
    # The Cancel button's callback: the radio may still be set here, before the page reruns.
    st.session_state["latent_projection"] = "pca"
    st.session_state["latent_tsne_note"] = "t-SNE cancelled; the view is back to PCA."


refs = [entry.ref(selection.device) for _, entry in panels]


@st.fragment(key="latent_charts")
def latent_charts() -> None:
    # The projection, the axes toggle and a t-SNE's progress rerun only the charts; a click on a point reruns
    # only the images block below (_pick_from_chart).
    controls = st.columns([2, 1])
    method = projection_choice(controls[0], max(e.latent_dim for _, e in panels), key="latent_projection")
    # one panel has nothing to share its axes with
    same_axes = len(panels) == 2 and bound.toggle(
        "Same axes for both",
        key="latent_same_axes",
        value=True,
        help="One range and one scale for both panels, holding every point: shows how differently the two "
        "models scale their codes.",
        container=controls[1],
    )

    if note := st.session_state.pop("latent_tsne_note", None):
        st.info(note)
    if method == "tsne":
        # t-SNE runs in a child process per model (vae_core.serving.tsne_job), shared with every session on that model:
        # until all are done the charts' place shows their progress and a Cancel button, polled by a fragment.
        runs = [
            (f"{side}: {entry.info.name}", derived.tsne_run(ref, selection.dataset))
            for (side, entry), ref in zip(panels, refs, strict=True)
        ]
        if not all(job.progress().state == DONE for _, job in runs):
            tsne_progress(runs, key="latent_tsne_cancel", on_cancel=_back_to_pca)
            return
    point_sets = [derived.project_split(ref, selection.dataset, method=method)[1] for ref in refs]
    if len(panels) == 1:
        _charts(method, None, "")
        return
    # Both axes choices stay in the browser once drawn, the other one hidden: flipping the toggle then sends
    # two unchanged charts, which the browser does not redraw (redrawing 2 x 10 000 points took 1.5-2 s in
    # headless Chromium on 2 busy cores), and only the style below changes. Each choice keeps its place.
    signature = (tuple(entry.key for _, entry in panels), method, selection.dataset)
    drawn: tuple[tuple, set[bool]] | None = st.session_state.get("latent_axes_drawn")
    if drawn is None or drawn[0] != signature:
        drawn = (signature, set())  # a new pair or projection: draw only what is shown
    drawn[1].add(same_axes)
    st.session_state["latent_axes_drawn"] = drawn
    for shared in (True, False):
        with st.container(key=f"latent_axes_{'shared' if shared else 'own'}"):
            if shared in drawn[1]:
                axis_range = shared_range(point_sets, include_prior=True, tail=0.0) if shared else None
                _charts(method, axis_range, "" if shared else "_own")
    hidden = "own" if same_axes else "shared"
    # !important: Streamlit's own container styles are more specific than one class; max-height because the
    # container is a flex item, whose height its flex basis can override.
    hide = "height: 0; max-height: 0; min-height: 0; overflow: hidden; visibility: hidden"
    rules = "; ".join(f"{rule} !important" for rule in hide.split("; "))
    st.html(f"<style>.st-key-latent_axes_{hidden} {{{rules}}}</style>")


def _charts(method: str, axis_range: tuple | None, key_suffix: str) -> None:
    """The scatter of each panel's test codes, side by side, with their captions."""
    # a 2-D latent is drawn as it is: its file is named for the codes, not for a projection it did not get
    view_name = f"{method}-scatter" if max(e.latent_dim for _, e in panels) > 2 else "codes-scatter"
    for column, (side, entry), ref in zip(st.columns(len(panels)), panels, refs, strict=True):
        with column:
            fig = derived.latent_figure(
                ref,
                selection.dataset,
                method=method,
                title=f"{side}: {entry.info.name}",
                axis_range=axis_range,
                show_prior=entry.is_variational,
            )
            chart_key = keyed("latent_chart", side, entry.key, method, key_suffix)
            plot(
                trusted_figure(fig),
                key=chart_key,
                on_select=lambda k=chart_key: _pick_from_chart(k),
                selection_mode="points",
                config=figure_config(selection.dataset, entry.info.name, EXPORT_PAGE, view_name, scrollZoom=True),
            )
            st.caption(model_caption(entry))
            if method == "tsne":
                projection, _ = derived.project_split(ref, selection.dataset, method=method)
                st.caption(describe_sample(len(data), projection.indices))
            encoded = derived.encode_split(ref, selection.dataset)
            codes_download(
                encoded.means,
                encoded.labels,
                selection.dataset,
                entry.info.name,
                EXPORT_PAGE,
                key=f"latent_csv_{side}{key_suffix}",
            )


latent_charts()


@st.fragment(key="latent_pads")
def latent_pads() -> None:
    # The decoder runs in the browser: hovering or dragging costs no rerun. A click picks the nearest test
    # image for the block below, which alone reruns.
    st.subheader("Move through the plane")
    prose(
        "Point anywhere, in the gaps too: your browser decodes the code under the pointer as you move. "
        "Click to pick the nearest test image below."
    )
    for column, (side, entry), ref in zip(st.columns(len(panels)), panels, refs, strict=True):
        with column:
            try:
                decoder = browser_decoder(ref)
            except UnsupportedDecoder as err:
                st.info(f"{side}: {err}.")
                continue
            encoded = derived.encode_split(ref, selection.dataset)
            # Each pad on its own axes: on shared ones a VAE's plane would be a speck beside an AE's.
            latent_pad(
                keyed("latent_pad", side, entry.key),
                decoder,
                codes=encoded.means,
                labels=encoded.labels,
                axis_range=shared_range([encoded.means], include_prior=entry.is_variational),
                show_prior=entry.is_variational,
                title=f"{side}: {entry.info.name}",
                on_click=_pick_from_pad,
                size_px=300,
                image_px=100,
                hint="",
            )


def _pick_from_pad(click: PadClick) -> None:
    if click.index is not None:
        st.session_state["latent_index"] = click.index
        st.rerun("latent_images")


if all(entry.latent_dim == 2 for _, entry in panels):
    latent_pads()


@st.fragment(key="latent_images")
def latent_images() -> None:
    index = bound.number_input(
        f"Test image # (0–{len(data) - 1}), or click a point",
        key="latent_index",
        min_value=0,
        max_value=len(data) - 1,
        value=0,
        step=1,
    )
    label = data.class_names[int(data.labels[index])]
    st.markdown(
        f"**Test image #{index}**, label **{label}**: the original, then each model's reconstruction "
        "from its code (the VAE decodes μ)."
    )
    image_columns = st.columns(1 + len(panels))
    original_png, _ = derived.reconstruction_png(refs[0], selection.dataset, index)
    image_columns[0].image(original_png, caption="original", width=image_width(140))
    row_pngs = [original_png]
    for column, (side, _entry), ref in zip(image_columns[1:], panels, refs, strict=True):
        _, recon_png = derived.reconstruction_png(ref, selection.dataset, index)
        row_pngs.append(recon_png)
        code = derived.encode_split(ref, selection.dataset).means[index]
        column.image(
            recon_png,
            caption=f"{side}: z = ({', '.join(f'{v:.2f}' for v in code[:4])}{', …' if len(code) > 4 else ''})",
            width=image_width(140),
        )
    # the row as one file: the original, then each panel's reconstruction, left to right as shown
    model = "-and-".join(entry.info.name for _, entry in panels)
    image_download(tile_pngs(row_pngs), selection.dataset, model, EXPORT_PAGE, f"test-{index}", key="latent_row_png")


latent_images()
