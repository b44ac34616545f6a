"""β trade-off: what the KL weight buys and costs, across a sweep of VAEs."""

import streamlit as st

from ui.figures.beta import kl_heatmap_figure, rate_distortion_figure
from ui.shell.sidebar import ZOO_COMMAND, current_selection
from ui.state import derived
from ui.state.loaders import dataset_or_none
from ui.widgets.job_panel import job_panel, job_running, start_job
from vae_core.jobs import TrainingJob, unique_checkpoint_path
from vae_core.registry import beta_sweeps, user_folder
from vae_core.sweeps import extra_point_configs, informative_dims, metrics_complete, reference_entry, sweep_point
from vae_core.vocabulary import INFORMATIVE_MEAN_KL, ROLE_BETA_SWEEP, SOURCE_USER

JOB_KEY = "beta_job"

selection = current_selection()
st.title("β trade-off")
st.markdown(
    "The same VAE trained with different weights β on the KL term. Each model pays **rate** (KL: nats its "
    "codes carry about the image) to lower **distortion** (reconstruction error). Look for the curve they "
    "trace, which dimensions fall silent as β grows (posterior collapse), and what the samples look like."
)
if dataset_or_none(selection.dataset, "test") is None:
    st.stop()
sweeps = beta_sweeps(list(selection.entries), selection.dataset)
if not sweeps:
    st.info(f"No β sweep for {selection.dataset} yet. Build the shipped zoo with `{ZOO_COMMAND}` (it trains "
            "the β sweeps), or train VAEs with several β on the Train page.")
    st.stop()
group = st.selectbox("Sweep", list(sweeps), key="beta_group") if len(sweeps) > 1 else next(iter(sweeps))
members = sweeps[group]
device = selection.device

points = []
for entry in members:
    metrics = entry.info.metrics
    if not metrics_complete(metrics, entry.latent_dim):  # saved without its evaluation: evaluate here
        metrics = derived.test_metrics(entry.ref(device), selection.dataset,
                                       binarized=entry.info.train_config.dynamic_binarization)
    points.append(sweep_point(entry, metrics))

st.caption(f"{len(points)} models in {group}: {members[0].info.model_config.arch.upper()} VAEs with a "
           f"{members[0].latent_dim}-D latent, test-split terms in nats per image.")
left, right = st.columns([3, 2])
with left:
    st.subheader("Rate against distortion")
    st.plotly_chart(rate_distortion_figure(points), key="beta_rd", config={"displaylogo": False})
    st.caption("Dotted lines: equal −ELBO (recon + KL); lower-left lines are better bounds. Small β spends "
               "rate for low distortion (bottom right); large β saves rate and pays in distortion (top left). "
               "Only β = 1 trains on the −ELBO itself.")
with right:
    st.subheader("KL per latent dimension")
    st.plotly_chart(kl_heatmap_figure(points), key="beta_heatmap", config={"displaylogo": False})
    st.caption("Pale cells are dimensions with almost no KL: the encoder ignores them and q(z|x) ≈ p(z) there "
               "(collapsed units). Informative dimensions (mean KL > "
               f"{INFORMATIVE_MEAN_KL:g} nats): "
               + ", ".join(f"β={p.beta:g}: {informative_dims(p)}" for p in sorted(points, key=lambda p: p.beta))
               + ".")

st.subheader("Samples per β")


@st.fragment
def samples_per_beta() -> None:
    c1, c2 = st.columns(2)
    seed = int(c1.number_input("Seed", 0, 10_000, 0, key="beta_seed"))
    n = c2.slider("Samples per β", 4, 16, 10, key="beta_n_samples")
    st.caption(f"The same {n} codes z ~ N(0, I) (seed {seed}) decoded by each model: small β gives sharper "
               "but odder samples (its codes drift off the prior), large β blurrier, more average ones.")
    for entry in sorted(members, key=lambda e: e.beta):
        image_col, label_col = st.columns([6, 1])
        image_col.image(derived.prior_samples_png(entry.ref(device), n=n, seed=seed, temperature=1.0, n_cols=n,
                                                  cell_px=40))
        label_col.markdown(f"**β = {entry.beta:g}**" + ("  \n*trained here*" if entry.source == SOURCE_USER else ""))


samples_per_beta()

st.subheader("Train one more β point")
reference = reference_entry(members)
st.caption(f"Copies {reference.info.name}'s architecture and training recipe with your β; it is saved to the "
           "user folder in the same sweep and joins the plots when done. A few epochs take seconds on digits and "
           "a minute or more on MNIST; fewer epochs than the sweep's own models means a somewhat worse point.")
with st.form("beta_form"):
    c1, c2 = st.columns(2)
    beta = c1.number_input("β", min_value=0.0, max_value=50.0, value=2.0, step=0.1, format="%.2f", key="beta_new")
    epochs = c2.slider("Epochs", 1, 20, 3, key="beta_epochs")
    submitted = st.form_submit_button("Train this β point", disabled=job_running(JOB_KEY), type="primary")
if submitted and not job_running(JOB_KEY):
    model_config, train_config = extra_point_configs(reference, beta, epochs, device)
    path = unique_checkpoint_path(user_folder(), f"{selection.dataset}-vae-z{reference.latent_dim}-beta{beta:g}")
    start_job(JOB_KEY, TrainingJob(model_config, train_config, path,
                                   metadata={"role": ROLE_BETA_SWEEP, "group": group}))
job_panel(JOB_KEY, show_curves=False)
