"""Train: your own autoencoder or VAE, trained in the background while you keep exploring."""

import streamlit as st

from ui.shell.projector import prose
from ui.shell.sidebar import DATASET_LABELS, available_datasets, current_selection
from ui.state.loaders import dataset_or_none
from ui.widgets import bound
from ui.widgets.job_panel import attached_job, job_panel, job_running, other_sessions_jobs, submit
from ui.widgets.replay_sections import model_replay
from ui.widgets.train_data import training_split_ready
from vae_core.engine.registry import user_folder
from vae_core.engine.vocabulary import KINDS, kind_label
from vae_core.serving.jobs import MAX_CONCURRENT_JOBS
from vae_core.serving.train_request import (
    HIDDEN_PRESETS,
    LATENT_SIZES,
    LEARNING_RATES,
    MAX_FORM_EPOCHS,
    TrainRequest,
    build_configs,
    default_epochs,
    default_kl_warmup,
    default_name,
)

JOB_KEY = "train_job"

selection = current_selection()
st.title("Train a model")
prose(
    "Pick a model and watch its two terms fall as it trains: reconstruction (how well it redraws the images) "
    "and, for a VAE, the KL price of its codes. Training runs in the background, in a process of its own "
    "with one CPU thread, "
    f"at most {MAX_CONCURRENT_JOBS} at a time on this server; when it ends, the model is saved to "
    f"`{user_folder()}` and appears in the sidebar's model picker. Like the shipped models, it trains on "
    "binarised images (each pixel drawn black or white with its grey level as the probability, anew in every "
    "batch)."
)

datasets = available_datasets()
if st.session_state.get("train_followed_dataset") != selection.dataset:
    # The form's data set (and its epochs) follow the sidebar whenever the sidebar's changes.
    st.session_state["train_followed_dataset"] = selection.dataset
    st.session_state["train_dataset"] = selection.dataset
    st.session_state["train_epochs"] = default_epochs(selection.dataset)
    st.session_state["train_warmup"] = default_kl_warmup(default_epochs(selection.dataset))
with st.form("train_form"):
    c1, c2, c3 = st.columns(3)
    kind = bound.selectbox(
        "Model",
        list(KINDS),
        key="train_kind",
        index=list(KINDS).index("vae"),
        format_func=kind_label,
        container=c1,
    )
    arch = bound.selectbox(
        "Body", ["mlp", "conv"], key="train_arch", format_func={"mlp": "MLP", "conv": "Conv"}.get, container=c2
    )
    size = bound.selectbox(
        "Size",
        list(HIDDEN_PRESETS["mlp"]),
        key="train_size",
        index=1,
        help="MLP widths: "
        + ", ".join(f"{k} {v}" for k, v in HIDDEN_PRESETS["mlp"].items())
        + "; conv channels: "
        + ", ".join(f"{k} {v}" for k, v in HIDDEN_PRESETS["conv"].items()),
        container=c3,
    )
    c4, c5, c6 = st.columns(3)
    latent_dim = bound.select_slider("Latent size", LATENT_SIZES, key="train_latent", value=2, container=c4)
    beta = bound.number_input(
        "β (VAE only)",
        key="train_beta",
        min_value=0.0,
        max_value=50.0,
        value=1.0,
        step=0.1,
        format="%.2f",
        container=c5,
    )
    dataset = c6.selectbox(
        "Data set", datasets, key="train_dataset", format_func=lambda name: DATASET_LABELS.get(name, name)
    )
    c7, c8, c9 = st.columns(3)
    epochs = c7.slider(
        "Epochs",
        1,
        MAX_FORM_EPOCHS,
        key="train_epochs",
        help="digits has 12 batches per epoch, MNIST 469: the defaults (30 and 5) give a few "
        "hundred to a few thousand steps.",
    )
    warmup = c8.slider(
        "KL warm-up (epochs, VAE only)",
        0,
        MAX_FORM_EPOCHS,
        key="train_warmup",
        help="β rises linearly from β/N in epoch 1 to β in epoch N, so the codes are cheap while the "
        "decoder learns to use them (Bowman et al. 2016 introduced it against posterior collapse, codes switched "
        "off for good). It does not prevent the early KL dip of a small VAE (shaded on the chart): the KL first "
        "falls near 0, then rises again.",
    )
    lr = bound.select_slider(
        "Learning rate", LEARNING_RATES, key="train_lr", value=1e-3, format_func=lambda v: f"{v:g}", container=c9
    )
    name = st.text_input(
        "Name (optional)",
        key="train_name",
        max_chars=80,
        placeholder="e.g. " + default_name("vae", selection.dataset, 2, 1.0),
    )
    submitted = st.form_submit_button("Train", type="primary", disabled=job_running(JOB_KEY))

# The form's data set as last submitted (or as the sidebar set it): its training split, or an offer to fetch it.
ready = training_split_ready(dataset, "train")
if submitted and ready and not job_running(JOB_KEY):
    request = TrainRequest(
        kind=kind,
        arch=arch,
        size=size,
        latent_dim=latent_dim,
        beta=beta,
        dataset=dataset,
        epochs=epochs,
        lr=lr,
        kl_warmup_epochs=min(warmup, epochs),
        name=name.strip() or default_name(kind, dataset, latent_dim, beta),
    )
    data = dataset_or_none(dataset, "train")
    if data is not None:
        try:
            model_config, train_config = build_configs(request, data.input_shape, selection.device)
        except ValueError as err:  # a config the model rejects
            st.error(f"Cannot train this: {err}")
        else:
            submit(JOB_KEY, model_config, train_config, user_folder(), request.name)

job_panel(JOB_KEY, show_replay=True)
if attached_job(JOB_KEY) is None:
    others = other_sessions_jobs()
    if others:
        st.caption(f"{others} training job(s) from other sessions are running or waiting on this server.")
    st.caption(
        "Tip: on digits the default VAE (2-D latent, 30 epochs with a 10-epoch KL warm-up) trains in a "
        "few seconds; then compare it with the shipped models on the Latent space and Decoder "
        "grid pages."
    )
    model_replay("train_model_replay", selection.entry)
