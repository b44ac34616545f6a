"""Conditional VAE: the class label as an input of the encoder and the decoder; the same z as every class, style
transfer, the latent scatter beside a VAE's, and the KL the label saves."""

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.figures.latent import shared_range, trusted_figure
from ui.shell.projector import prose
from ui.shell.sidebar import current_selection
from ui.state import conditional_cache, derived
from ui.state.loaders import dataset_or_none, model_or_none, registry
from ui.widgets import bound
from ui.widgets.chart import plot, plot_in
from ui.widgets.export import codes_download, figure_config, image_download
from ui.widgets.image_chooser import measured_image
from ui.widgets.shared import digit_picker, show_as_measured
from vae_core.engine.protocol import EVAL_BINARIZATION_SEED, metric_names, protocol_of
from vae_core.engine.registry import ModelEntry
from vae_core.engine.vocabulary import ROLE_FAMILY_2D, dim_name
from vae_core.lessons.conditional import CLASS_GUESS_K


def vae_protocol_of(entry: ModelEntry):
    return protocol_of(entry.info.train_config, entry.info.model_config)


GRID_SIDE = 8  # cells per side of each class's latent grid
CLASS_GRIDS_PER_ROW = 2  # wide enough that every cell stays at least MIN_CELL_PX on screen
CLASS_GRID_HEIGHT_PX = 300
SCATTER_HEIGHT_PX = 460
SEED = 0

EXPORT_PAGE = "conditional-vae"  # the page's part of every download's file name
selection = current_selection()
st.title("Conditional VAE")
prose(
    "A conditional VAE is told the class: the one-hot label y is an input of the encoder, q(z | x, y), and of the "
    "decoder, p(x | z, y), while the prior stays N(0, I). Since the decoder already knows *which* digit to draw, "
    "z no longer has to say it, and is free to hold *how* it is drawn: slant, width, thickness. Decode one z with "
    "each of the ten labels and the ten digits share one hand."
)
input_shape = selection.input_shape or (selection.entry.input_shape if selection.entry else None)
cvaes = registry().conditional_for(selection.dataset, input_shape) if input_shape else []
cvaes = [e for e in cvaes if e.dataset == selection.dataset]
if not cvaes:
    st.info(
        f"No conditional VAE for {selection.dataset} yet. The zoo ships `mnist-cvae-z2` and `digits-cvae-z2`; "
        "train one on the **Train** page (model: Conditional VAE)."
    )
    st.stop()
by_key = {e.key: e for e in cvaes}
left, right = st.columns(2)
cvae_entry = by_key[
    left.selectbox("Conditional VAE", list(by_key), key="cvae_model", format_func=lambda k: by_key[k].label)
]
if model_or_none(cvae_entry.ref(selection.device)) is None:
    st.stop()
cvae = cvae_entry.ref(selection.device)
vaes = [
    e
    for e in selection.entries
    if e.kind == "vae" and e.latent_dim == cvae_entry.latent_dim and e.dataset == selection.dataset
]
vaes.sort(key=lambda e: e.role != ROLE_FAMILY_2D)
vae_by_key = {e.key: e for e in vaes}
vae_entry = None
if vaes:
    vae_entry = vae_by_key[
        right.selectbox(
            f"VAE of the same latent size ({cvae_entry.latent_dim})",
            list(vae_by_key),
            key="cvae_vae",
            format_func=lambda k: vae_by_key[k].label,
        )
    ]
data = dataset_or_none(selection.dataset, "test")
if data is None:
    st.stop()
class_names = list(data.class_names)
# Every image the models see on this page is fed as their protocol says (binarised once with the test set's
# fixed seed for a binarised model), in the style transfer, the codes and the KL alike.
protocol = protocol_of(cvae_entry.info.train_config, cvae_entry.info.model_config)

# --- 1. the same z, every class -------------------------------------------------------------------------------
st.header("1 · One z, every class")
left, right = st.columns([1, 3])
n_styles = int(
    bound.slider("Rows (draws z ~ N(0, I))", key="cvae_rows", min_value=1, max_value=12, value=6, container=left)
)
seed = int(
    bound.number_input(
        "Seed of the draws", key="cvae_seed", min_value=0, max_value=2**31 - 1, value=SEED, container=left
    )
)
same_z_png = conditional_cache.same_z_png(cvae, n_styles=n_styles, seed=seed)
right.image(
    same_z_png,
    caption="Each row: one z decoded with the labels " + ", ".join(class_names) + " (left to right).",
)
image_download(
    same_z_png,
    selection.dataset,
    cvae_entry.info.name,
    EXPORT_PAGE,
    f"one-z-every-class-seed{seed}",
    key="cvae_same_z_png",
    container=right,
)
prose(
    "Along a row only the label changes, so whatever the row's digits have in common (stroke width, slant, "
    "size) is what z encodes; down a column only z changes, and the class stays put."
)

if cvae_entry.latent_dim == 2:
    st.subheader("The decoder over the 2-D latent, class by class")
    st.caption(
        f"For each class the same {GRID_SIDE}×{GRID_SIDE} grid of Gaussian quantiles of {dim_name(0)} "
        f"(left to right) and {dim_name(1)} (bottom to top): the same cell is the same z in every grid."
    )
    grids = conditional_cache.class_grids_png(cvae, side=GRID_SIDE)
    grid_figures = conditional_cache.class_grid_figures(
        cvae, side=GRID_SIDE, class_names=tuple(class_names), height_px=CLASS_GRID_HEIGHT_PX
    )
    per_row = CLASS_GRIDS_PER_ROW
    for row_start in range(0, len(grids), per_row):
        row = st.columns(per_row)
        for column, c in zip(row, range(row_start, min(row_start + per_row, len(grids))), strict=False):
            plot_in(
                column,
                trusted_figure(grid_figures[c]),
                key=f"cvae_class_grid_{c}",
                config=figure_config(selection.dataset, cvae_entry.info.name, EXPORT_PAGE, f"grid-class-{c}"),
            )
            image_download(
                grids[c],
                selection.dataset,
                cvae_entry.info.name,
                EXPORT_PAGE,
                f"grid-{GRID_SIDE}-class-{class_names[c]}",
                key=f"cvae_class_grid_png_{c}",
                container=column,
            )

# --- 2. style transfer ------------------------------------------------------------------------------------------
st.header("2 · Style transfer")
prose(
    "Encode a test digit with its own label, keep its posterior mean z, and decode z with every other "
    "label: the style travels, the class is swapped."
)
picked = digit_picker(data, "cvae_pick", default_class=2, title="The digit to transfer")
if picked is not None:
    if picked.index is not None:  # a test image: the test set's one fixed binarisation, as in the codes below
        measured = derived.measured_split(selection.dataset, protocol)[picked.index, 0].numpy()
    else:  # an upload: binarised with the same seed
        measured = measured_image(picked.image, protocol, EVAL_BINARIZATION_SEED)
    measured = np.ascontiguousarray(measured, np.float32)
    own_label = "its own"
    if picked.index is not None:
        label = int(data.labels[picked.index])
    else:
        # An upload has no label: the conditional VAE guesses it, p(y | x) ∝ p(x | y), and the guess is labelled.
        posterior = conditional_cache.class_posterior(cvae, measured)
        guess = int(np.argmax(posterior))
        choice = st.selectbox(
            "Its class (an upload has none: guessed, or say which)",
            ["guess", *range(len(class_names))],
            key="cvae_upload_label",
            format_func=lambda c: (
                f"guessed: {class_names[guess]} (p = {posterior[guess]:.2f} by the conditional VAE)"
                if c == "guess"
                else class_names[int(c)]
            ),
            help="The guess is the class under which the conditional VAE finds the image most probable: "
            "p(y | x) ∝ p(x | y), with log p(x | y) estimated by importance sampling (K = "
            f"{CLASS_GUESS_K}).",
        )
        label = guess if choice == "guess" else int(choice)
        if choice == "guess":
            own_label = "its guessed"
    left, right = st.columns([1, 3])
    show_as_measured(
        left,
        picked.image,
        measured,
        binarised=protocol.binarizes_inputs,
        caption=picked.description,
        seed=EVAL_BINARIZATION_SEED,
        side_by_side=False,
    )
    transfer_png = conditional_cache.transfer_png(cvae, measured, label)
    right.image(
        transfer_png,
        caption=f"Decoded with the labels {', '.join(class_names)} (left to right, top row first); {own_label} "
        f"class ({class_names[label]}) gives the reconstruction.",
    )
    image_download(
        transfer_png,
        selection.dataset,
        cvae_entry.info.name,
        EXPORT_PAGE,
        "style-transfer",
        key="cvae_transfer_png",
        container=right,
    )

# --- 3. the latent scatter ----------------------------------------------------------------------------------------
st.header("3 · The codes: conditional VAE beside the VAE")
if cvae_entry.latent_dim != 2:
    st.info(f"The scatter needs a 2-D latent; this conditional VAE has {cvae_entry.latent_dim} dimensions.")
else:
    cvae_codes, labels = conditional_cache.codes(cvae, selection.dataset, protocol.value)
    point_sets = [cvae_codes]
    vae_codes = None
    if vae_entry is not None and model_or_none(vae_entry.ref(selection.device)) is not None:
        vae_codes, _ = conditional_cache.codes(
            vae_entry.ref(selection.device), selection.dataset, vae_protocol_of(vae_entry).value
        )
        point_sets.append(vae_codes)
    axis = shared_range(point_sets, include_prior=True)
    columns = st.columns(2)
    plot_in(
        columns[0],
        trusted_figure(
            conditional_cache.codes_figure(
                cvae,
                selection.dataset,
                protocol.value,
                tuple(class_names),
                title="Conditional VAE: μ(x, y)",
                axis_range=axis,
                height=SCATTER_HEIGHT_PX,
            )
        ),
        key="cvae_scatter",
        config=figure_config(selection.dataset, cvae_entry.info.name, EXPORT_PAGE, "scatter"),
    )
    codes_download(
        cvae_codes, labels, selection.dataset, cvae_entry.info.name, EXPORT_PAGE, key="cvae_csv", container=columns[0]
    )
    knn_cvae = conditional_cache.predictability(cvae, selection.dataset, protocol.value)
    if vae_entry is not None and vae_codes is not None:
        plot_in(
            columns[1],
            trusted_figure(
                conditional_cache.codes_figure(
                    vae_entry.ref(selection.device),
                    selection.dataset,
                    vae_protocol_of(vae_entry).value,
                    tuple(class_names),
                    title="VAE: μ(x)",
                    axis_range=axis,
                    height=SCATTER_HEIGHT_PX,
                )
            ),
            key="cvae_vae_scatter",
            config=figure_config(selection.dataset, vae_entry.info.name, EXPORT_PAGE, "scatter"),
        )
        codes_download(
            vae_codes,
            labels,
            selection.dataset,
            vae_entry.info.name,
            EXPORT_PAGE,
            key="cvae_vae_csv",
            container=columns[1],
        )
        knn_vae = conditional_cache.predictability(
            vae_entry.ref(selection.device), selection.dataset, vae_protocol_of(vae_entry).value
        )
        st.metric("Class predicted from the VAE's codes (5-NN)", f"{100 * knn_vae:.1f}%")
        st.metric("Class predicted from the conditional VAE's codes (5-NN)", f"{100 * knn_cvae:.1f}%")
        st.markdown(
            f"A 5-nearest-neighbour classifier, fitted on half of the test codes and scored on the other half, "
            f"recovers the class from the VAE's codes {100 * knn_vae:.1f}% of the time and from the conditional "
            f"VAE's {100 * knn_cvae:.1f}% (chance: {100 / len(class_names):.0f}%). "
            + (
                "The class clusters of the VAE dissolve in the conditional VAE: the label no longer has to be stored "
                "in z."
                if knn_cvae < knn_vae
                else "Here the conditional VAE's codes still separate the classes at least as well as the VAE's."
            )
        )
    else:
        st.info("No VAE of the same latent size for this data set to compare with.")

# --- 4. KL per dimension ------------------------------------------------------------------------------------------
st.header("4 · What the label saves in KL")
if vae_entry is None:
    st.info("No VAE of the same latent size for this data set to compare with.")
    st.stop()
vae_protocol = vae_protocol_of(vae_entry)
if protocol is not vae_protocol:
    st.warning(
        f"The two models were trained under different protocols ({protocol.value}, {vae_protocol.value}): "
        "their numbers are not comparable."
    )
comparison = conditional_cache.kl_comparison(cvae, vae_entry.ref(selection.device), selection.dataset, protocol.value)
dims = [dim_name(d) for d in range(cvae_entry.latent_dim)]
figure = go.Figure(
    [
        go.Bar(name="VAE", x=dims, y=comparison.vae_kl_per_dim, marker_color="#4E79A7"),
        go.Bar(name="Conditional VAE", x=dims, y=comparison.cvae_kl_per_dim, marker_color="#E15759"),
    ]
)
figure.update_layout(
    barmode="group",
    height=340,
    yaxis_title="test-set mean KL(q ‖ N(0, 1)), nats",
    margin={"l": 10, "r": 10, "t": 20, "b": 10},
)
plot(
    figure,
    key="cvae_kl_chart",
    config=figure_config(selection.dataset, cvae_entry.info.name, EXPORT_PAGE, "kl-per-dimension"),
)
names = metric_names(protocol, variational=True)
terms = st.columns(4)
terms[0].metric("KL · VAE", f"{comparison.vae_kl:.2f}", help="KL(q(z|x) ‖ N(0, I)), nats per test image")
terms[1].metric("KL · CVAE", f"{comparison.cvae_kl:.2f}", help="KL(q(z|x, y) ‖ N(0, I)), nats per test image")
terms[2].metric("Recon. · VAE", f"{comparison.vae_recon:.2f}", help=f"{names.recon}, nats per test image")
terms[3].metric("Recon. · CVAE", f"{comparison.cvae_recon:.2f}", help=f"{names.recon} given y, nats per test image")
saved = comparison.vae_kl - comparison.cvae_kl
label_nats = math.log(len(class_names))
st.markdown(
    f"The KL term is what a model pays, per image, to store information in z. On the test set the VAE pays "
    f"{comparison.vae_kl:.2f} nats and the conditional VAE {comparison.cvae_kl:.2f}: "
    + (f"{saved:.2f} nats less. " if saved > 0 else f"{-saved:.2f} nats *more*. ")
    + f"A heuristic yardstick, not a bound: a class label out of {len(class_names)} carries at most "
    f"log {len(class_names)} = {label_nats:.2f} nats, information the VAE had to store in z, at a price in KL, "
    "and the conditional VAE is given with the image. The two models are trained separately, so the KL saved "
    "need not equal it, nor stay below it. The conditional VAE's reconstruction term is an expectation of "
    "−log p(x | z, y), the cost of the image given its class."
)
