"""Disentanglement: does a larger β give independent, interpretable latent dimensions? Measured on sprites whose
generating factors are known."""

import streamlit as st

from ui.figures.disentanglement import claim_story, mi_heatmaps_figure, point_label, tradeoff_figure, traversal_figure
from ui.shell.projector import prose
from ui.shell.sidebar import ZOO_COMMAND, current_selection
from ui.state.disentanglement_cache import lesson_entries, model_point, sprite_image, traversals
from ui.widgets import bound
from ui.widgets.chart import plot, plot_in
from ui.widgets.export import figure_config
from ui.widgets.job_panel import job_panel, job_running, submit
from vae_core.engine import sprites
from vae_core.engine.registry import ModelEntry, user_folder
from vae_core.engine.vocabulary import ROLE_DISENTANGLEMENT, SOURCE_SHIPPED, kind_label
from vae_core.lessons.disentanglement import (
    FACTOR_VAE_BATCH,
    LESSON_KINDS,
    MI_BINS,
    TRAVERSAL_SPAN,
    check_claim,
    disentangled_reference,
    extra_point_configs,
)

TRAVERSAL_STEPS = 9
JOB_KEY = "disent_job"

EXPORT_PAGE = "disentanglement"  # the page's part of every download's file name
selection = current_selection()
st.title("Disentanglement")
prose(
    "The notes say a larger β “has led to a new class of models – disentangled VAEs”: each latent dimension "
    "should come to stand for one factor of variation. MNIST cannot test this: nobody knows its factors. These "
    f"{sprites.SPRITE_COUNT:,} sprites are drawn in code from five known factors (shape, scale, rotation, x, y; "
    f"{sprites.SPRITE_SIDE}×{sprites.SPRITE_SIDE} binary images), so each dimension can be measured against each "
    "factor. The models are a VAE, two β-VAEs and a β-TCVAE, with the same body and 10 latent dimensions. "
    "This lesson uses its own data set, whatever the sidebar's."
)
entry_by_name = {e.info.name: e for e in lesson_entries()}
point_by_name = {name: p for name, e in entry_by_name.items() if (p := model_point(e, selection.device)) is not None}
points = list(point_by_name.values())
names = list(point_by_name)
if len({p.beta for p in points if p.kind == "vae"}) < 2:
    st.info(f"The sprites models with their metrics are missing: build them with `{ZOO_COMMAND}`.")
    st.stop()

st.subheader("What β buys, and what it costs")
plot(tradeoff_figure(points), key="disent_tradeoff", config=figure_config("sprites", None, EXPORT_PAGE, "tradeoff"))
check = check_claim(points)
st.markdown(claim_story(check))
st.caption(
    "MIG (Chen et al. 2018): for each factor, the gap between the mutual information of its best and its "
    "second-best dimension, over the factor's entropy, averaged over the factors; 1 when each factor lives in one "
    f"dimension alone. FactorVAE score (Kim & Mnih 2018): fix one factor, take {FACTOR_VAE_BATCH} sprites that "
    "differ in the others, and let the dimension that varies least (each scaled by its spread) vote for it; the "
    "score is how often a majority-vote reading of those votes names the right factor (chance: 1 in 5). Both "
    "from the posterior means of all the sprites, measured when the zoo trained the models; reconstruction on the "
    "test split."
)

st.subheader("Which dimension carries which factor")
default_map = max(range(len(names)), key=lambda i: point_by_name[names[i]].report.mig)
chosen = st.selectbox(
    "Model", names, index=default_map, format_func=lambda n: point_label(point_by_name[n]), key="disent_map_model"
)
point = point_by_name[chosen]
matrix_shape = point.report.matrix().shape
plot(
    mi_heatmaps_figure(point, disentangled_reference(*matrix_shape)),
    key="disent_heatmap",
    config=figure_config("sprites", chosen, EXPORT_PAGE, "mutual-information"),
)
best_dims = point.report.matrix().argmax(axis=1)
st.caption(
    f"Each cell: the mutual information between a factor and one dimension's posterior mean (binned in {MI_BINS} "
    "equal-width bins), over the factor's entropy. A disentangled model has one bright cell per row, each in "
    f"its own column. {point_label(point)}: MIG {point.report.mig:.2f}; the best dimension per factor is "
    + ", ".join(
        f"{name} → z{int(best_dims[k]) + 1} ({point.report.matrix()[k, best_dims[k]]:.2f})"
        for k, name in enumerate(point.report.factor_names)
    )
    + f"; {point.report.active_dims} of {len(point.kl_per_dim)} dimensions are active."
)

st.subheader("Latent traversals")
st.caption(
    f"Pick a sprite; each row sweeps one dimension from −{TRAVERSAL_SPAN:g} to +{TRAVERSAL_SPAN:g} prior standard "
    "deviations while the others keep the sprite's code, largest KL first. An interpretable dimension changes "
    "one thing about the shape; a collapsed one (KL ≈ 0) changes nothing."
)
cols = st.columns(5)
factor_choice = tuple(
    sprites.FACTORS[k].values.index(
        bound.select_slider(
            factor.name,
            list(factor.values),
            key=f"disent_{factor.name}",
            value=factor.values[len(factor.values) // 2],
            format_func=factor.format,
            container=cols[k],
        )
    )
    for k, factor in enumerate(sprites.FACTORS)
)
image_col, _ = st.columns([1, 5])
image_col.image(1.0 - sprite_image(factor_choice), caption="the sprite", width=96, clamp=True)
left, right = st.columns(2)
first = next((n for n in names if point_by_name[n].kind == "vae" and point_by_name[n].beta == 1.0), names[0])
last = next((n for n in names if point_by_name[n].kind == "tcvae"), names[-1])
for column, default, key in ((left, first, "disent_left"), (right, last, "disent_right")):
    name = column.selectbox(
        "Model", names, index=names.index(default), format_func=lambda n: point_label(point_by_name[n]), key=key
    )
    shown = point_by_name[name]
    dims = shown.dims_by_kl()
    images = traversals(entry_by_name[name].ref(selection.device), factor_choice, tuple(dims), TRAVERSAL_STEPS)
    plot_in(
        column,
        traversal_figure(images, dims, shown.kl_per_dim, TRAVERSAL_SPAN),
        key=f"{key}_traversal",
        config=figure_config("sprites", name, EXPORT_PAGE, "traversals"),
    )

st.subheader("Train one more β point")
reference = min(
    (e for e in entry_by_name.values() if e.source == SOURCE_SHIPPED and e.kind == "vae"),
    key=lambda e: abs(e.beta - 1.0),
    default=None,
)
if reference is None:
    st.info(f"Training one more needs the zoo's sprites VAEs to copy: build them with `{ZOO_COMMAND}`.")
    st.stop()
zoo_epochs = reference.info.train_config.epochs
cpu_seconds = reference.info.metadata.get("train_cpu_seconds")
st.caption(
    f"Copies {reference.info.name}'s body and training recipe with your kind and β; it is saved to the user folder, "
    "measured once it is done (about a second) and joins the chart, the maps and the pickers above. The zoo's "
    f"models had {zoo_epochs} epochs"
    + (f" ({cpu_seconds:.0f} s of CPU time for {reference.info.name})" if isinstance(cpu_seconds, float) else "")
    + "; fewer epochs show a model that had less time, not what its β leads to."
)


@st.fragment(key="disent_train")
def train_one_more(reference: ModelEntry, zoo_epochs: int) -> None:
    with st.form("disent_form"):
        c1, c2, c3 = st.columns(3)
        kind = c1.selectbox("Kind", LESSON_KINDS, format_func=kind_label, key="disent_new_kind")
        beta = c2.number_input(
            "β", min_value=0.0, max_value=50.0, value=8.0, step=0.5, format="%.2f", key="disent_new_beta"
        )
        epochs = c3.slider("Epochs", 1, zoo_epochs, zoo_epochs, key="disent_new_epochs")
        submitted = st.form_submit_button("Train this model", disabled=job_running(JOB_KEY), type="primary")
    if submitted and not job_running(JOB_KEY):
        model_config, train_config = extra_point_configs(
            reference.info.model_config, reference.info.train_config, kind, beta, epochs, selection.device
        )
        submit(
            JOB_KEY,
            model_config,
            train_config,
            user_folder(),
            f"sprites-{kind}-z{model_config.latent_dim}-beta{beta:g}",
            metadata={"role": ROLE_DISENTANGLEMENT, "group": reference.group},
            rerun_scope="fragment",
        )
    job_panel(JOB_KEY, show_curves=False)


train_one_more(reference, zoo_epochs)
