"""β trade-off: what the KL weight buys and costs, across a sweep of VAEs."""

import streamlit as st

from ui.figures.beta import kl_heatmap_figure, rate_distortion_figure
from ui.shell.projector import prose
from ui.shell.sidebar import ZOO_COMMAND, current_selection
from ui.state import derived
from ui.state.browser_decoders import UnsupportedDecoder, browser_decoder
from ui.state.loaders import dataset_or_none
from ui.widgets import bound
from ui.widgets.chart import plot
from ui.widgets.export import figure_config, image_download
from ui.widgets.job_panel import job_panel, job_running, submit
from ui.widgets.keys import keyed
from ui.widgets.latent_pad import DecodedRow, RowsSlider, decoded_rows
from ui.widgets.replay_sections import sweep_replay
from ui.widgets.train_data import training_split_ready
from vae_core.engine.literal_text import literal
from vae_core.engine.protocol import metric_names, protocol_of
from vae_core.engine.registry import ModelEntry, beta_sweeps, user_folder
from vae_core.engine.vocabulary import INFORMATIVE_DEFINITION, ROLE_BETA_SWEEP, SOURCE_USER
from vae_core.lessons.sweeps import (
    describe_sweep,
    extra_point_configs,
    informative_dims,
    metrics_complete,
    reference_entry,
    short_of_sweep,
    suggested_beta,
    sweep_epochs,
    sweep_point,
)
from vae_core.serving.export import export_stem

JOB_KEY = "beta_job"

EXPORT_PAGE = "beta-tradeoff"  # the page's part of every download's file name
selection = current_selection()
st.title("β trade-off")
prose(
    "The same VAE trained with different weights β on the KL term. Each model pays **rate** (KL: on average "
    "over the images, an upper bound on the nats its codes carry about an image) to lower **distortion** "
    "(reconstruction error). Look for the curve they trace, which dimensions fall silent as β grows "
    "(posterior collapse), and what the samples look like."
)
if dataset_or_none(selection.dataset, "test") is None:
    st.stop()
sweeps = beta_sweeps(list(selection.entries), selection.dataset)
if not sweeps:
    st.info(
        f"No β sweep for {selection.dataset} yet. Build the shipped zoo with `{ZOO_COMMAND}` (it trains "
        "the β sweeps), or train VAEs with several β on the Train page."
    )
    st.stop()
group = st.selectbox("Sweep", list(sweeps), key="beta_group") if len(sweeps) > 1 else next(iter(sweeps))
members = sweeps[group]
device = selection.device
reference = reference_entry(members)
protocol = protocol_of(reference.info.train_config, reference.info.model_config)
names = metric_names(protocol, variational=True)
assert names.neg_elbo is not None, "a variational model's bound always has a name"
bound_name = names.neg_elbo.split(",")[0]  # "−ELBO" (or "cross-entropy + KL" for grey-level models)

points = []
with st.spinner("Evaluating the sweep's models on the test split…"):
    for entry in members:
        metrics = entry.info.metrics
        if not metrics_complete(metrics, entry.latent_dim):  # saved without its evaluation: evaluate here
            metrics = derived.test_metrics(
                entry.ref(device),
                selection.dataset,
                protocol=protocol_of(entry.info.train_config, entry.info.model_config),
            )
        assert metrics is not None  # complete, or evaluated just now
        points.append(sweep_point(entry, metrics))
epochs = sweep_epochs(points)

st.caption(
    f"{len(points)} models in {literal(group)}: {reference.info.model_config.arch.upper()} VAEs with a "
    f"{reference.latent_dim}-D latent, test-split terms in nats per image"
    + (", measured on one fixed binarisation of the test images." if protocol.binarizes_inputs else ".")
    + (f" {names.caveat}" if names.caveat else "")
)
# One figure per row: the heatmap holds a number per cell, which needs the page's width to stay readable.
with st.container():
    st.subheader("Rate against distortion")
    plot(
        rate_distortion_figure(points, bound_name=bound_name, distortion_name=names.recon),
        key="beta_rd",
        config=figure_config(selection.dataset, group, EXPORT_PAGE, "rate-distortion"),
    )
    st.caption(
        f"Dotted lines: equal {bound_name} (recon + KL); lines further down and left are lower. Small "
        "β spends rate for low distortion (bottom right); large β saves rate and pays in distortion "
        "(top left). " + describe_sweep(points, bound_name)
    )
    short = [p for p in points if short_of_sweep(p, epochs)]
    if short:
        st.caption(
            f"Open diamonds: {len(short)} point(s) trained here for fewer epochs than the sweep's {epochs} "
            "(" + ", ".join(f"β = {p.beta:g}: {p.epochs}" for p in short) + "): they show a model that "
            "had less time, not what that β leads to, and are left out of the comparison above."
        )
with st.container():
    st.subheader("KL per latent dimension")
    plot(
        kl_heatmap_figure(points),
        key="beta_heatmap",
        config=figure_config(selection.dataset, group, EXPORT_PAGE, "kl-per-dimension"),
    )
    st.caption(
        f"Mean KL over the test images, in nats, per dimension and β. Throughout the app, {INFORMATIVE_DEFINITION}: "
        "the encoder ignores those, q(z|x) ≈ p(z) there, and their cells show –. Informative dimensions, the "
        "cells with a number: "
        + ", ".join(f"β = {p.beta:g}: {informative_dims(p)}" for p in sorted(points, key=lambda p: p.beta))
        + f" of {reference.latent_dim}. A cell's colour starts at 0 nats, so one with little KL may look white "
        "and still carry a number."
    )

st.subheader("Samples per β")


MAX_SAMPLES = 16  # the samples slider's top: each row shows the first n of this many draws, so n only appends
SAMPLES_CELL_PX = 40
MIN_SAMPLES, DEFAULT_SAMPLES = 4, 10
SAMPLES_LABEL, SAMPLES_KEY = "Samples per β", "beta_n_samples"


@st.fragment
def samples_per_beta() -> None:
    # An MLP decoder runs in the browser: the slider moves inside one component and repaints with no rerun. A sweep
    # of other decoders (conv) is decoded here, and its slider reruns this fragment.
    seed_column, _ = st.columns(2)
    seed = int(
        bound.number_input("Seed", key="beta_seed", min_value=0, max_value=10_000, value=0, container=seed_column)
    )
    ordered = sorted(members, key=lambda e: e.beta)
    try:
        decoders = [browser_decoder(entry.ref(device)) for entry in ordered]
    except UnsupportedDecoder:
        server_samples(ordered, seed)
        return
    n = bound.browser_slider_value(
        SAMPLES_LABEL, key=SAMPLES_KEY, min_value=MIN_SAMPLES, max_value=MAX_SAMPLES, value=DEFAULT_SAMPLES
    )
    decoded_rows(
        keyed("beta_samples", group),
        [
            DecodedRow(
                decoder,
                label=f"β = {entry.beta:g}",
                note="trained here" if entry.source == SOURCE_USER else "",
                file_stem=export_stem(selection.dataset, entry.info.name, EXPORT_PAGE, f"samples-seed{seed}"),
                codes=derived.prior_codes(MAX_SAMPLES, entry.latent_dim, seed),
            )
            for entry, decoder in zip(ordered, decoders, strict=True)
        ],
        slider=RowsSlider(SAMPLES_LABEL, SAMPLES_KEY, n, MIN_SAMPLES, MAX_SAMPLES, file_suffix="n{n}"),
        caption=samples_caption("{n}", seed) + " Your browser decodes them as you move the slider.",
        cell_px=SAMPLES_CELL_PX,
    )


def samples_caption(n: str, seed: int) -> str:
    """The words above the samples; n is the number shown, or "{n}" where the browser fills it in."""
    return (
        f"The same {n} codes z ~ N(0, I) (seed {seed}) decoded by each model. Which β give sharp but odd "
        "samples, which blurry average ones? A model's prior samples look like its data only where its "
        "codes fill the prior, which the KL term pays for."
    )


def server_samples(ordered: list[ModelEntry], seed: int) -> None:
    """The samples decoded here, a PNG per model; the slider (bound to the URL) reruns the fragment."""
    n = bound.slider(
        SAMPLES_LABEL, key=SAMPLES_KEY, min_value=MIN_SAMPLES, max_value=MAX_SAMPLES, value=DEFAULT_SAMPLES
    )
    st.caption(samples_caption(str(n), seed))
    with st.spinner("Decoding…"):
        for entry in ordered:
            label_col, image_col = st.columns([1, 7], vertical_alignment="center")
            label_col.markdown(
                f"**β = {entry.beta:g}**" + ("  \n*trained here*" if entry.source == SOURCE_USER else "")
            )
            # The first n of MAX_SAMPLES draws, as the browser's rows show them: a larger n only appends samples.
            codes = derived.prior_codes(MAX_SAMPLES, entry.latent_dim, seed)[:n]
            png = derived.decoded_grid_png(entry.ref(device), codes, n_cols=n, cell_px=SAMPLES_CELL_PX)
            image_col.image(png, output_format="PNG")  # "auto" would show bytes as a JPEG: blurred samples
            image_download(
                png,
                selection.dataset,
                entry.info.name,
                EXPORT_PAGE,
                f"samples-seed{seed}",
                key=keyed("beta_png", entry.key),
                container=image_col,
            )


samples_per_beta()


@st.fragment
def replay_a_models_training() -> None:
    st.subheader("Replay a model's training")
    prose(
        "How the codes of a fixed set of test images moved while one of the sweep's models trained. Compare a "
        "small β with a large one: how far do the codes stay from the prior's circles, and how soon do the "
        "classes part?"
    )
    sweep_replay("beta_replay", members)


replay_a_models_training()

st.subheader("Train one more β point")
st.caption(
    f"Copies {reference.info.name}'s architecture and training recipe with your β; it is saved to the "
    "user folder in the same sweep and joins the plots when done. The sweep's models had "
    f"{epochs} epochs, and the form starts there (the shipped sweeps took about 15 s per model on digits and "
    "2–5 min on MNIST, on two quiet cores). A point with fewer epochs is marked as off the curve."
)


@st.fragment(key="beta_train")
def train_one_more() -> None:
    # Submitting reruns only the form and the job panel (the sweep's figures above stay); the job's end reruns
    # the whole page once (job_panel), so that the new point joins the plots.
    with st.form("beta_form"):
        c1, c2 = st.columns(2)
        # Defaults that give a new point on the curve: a β the sweep lacks, trained as long as the sweep was (fewer
        # epochs left digits' small VAE collapsed onto the prior, a point off the curve)
        beta = c1.number_input(
            "β",
            min_value=0.0,
            max_value=50.0,
            value=suggested_beta([p.beta for p in points]),
            step=0.1,
            format="%.2f",
            key="beta_new",
            help="Starts at a β the sweep does not have yet, between two of its points.",
        )
        new_epochs = c2.slider(
            "Epochs",
            1,
            max(20, epochs),
            epochs,
            key="beta_epochs",
            help=f"Starts at the sweep's {epochs}: a point trained for fewer is a model that had less time, drawn "
            "apart and left out of the comparison.",
        )
        submitted = st.form_submit_button("Train this β point", disabled=job_running(JOB_KEY), type="primary")
    ready = training_split_ready(selection.dataset, "beta")
    if submitted and ready and not job_running(JOB_KEY):
        model_config, train_config = extra_point_configs(reference, beta, new_epochs, device)
        submit(
            JOB_KEY,
            model_config,
            train_config,
            user_folder(),
            f"{selection.dataset}-vae-z{reference.latent_dim}-beta{beta:g}",
            metadata={"role": ROLE_BETA_SWEEP, "group": group},
            rerun_scope="fragment",
        )
    job_panel(JOB_KEY, show_curves=False)


train_one_more()
