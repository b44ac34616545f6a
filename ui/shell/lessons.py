"""The course's lessons, in the order a student meets them: each page's title, icon, URL and URL keys, declared once.

app.py builds the navigation from LESSONS (an explicit url_path per page, so a page's address does not depend on
its file's name); tests, tools and benchmarks name a lesson by its slug (`LESSONS["decoder_grid"].script`), never
by a file name. A lesson's script is `pages/<slug>.py`. The first lesson is the default page, served at "/".

A lesson's URL keys are the widgets of its page that are bound to the address (ui.widgets.bound, which records
each one's default, type and bounds where the widget is drawn): "Reset this page" resets them, and
tests/app/test_url_state.py checks that the page binds exactly these.

This module imports neither torch nor the pages' helpers (only the torch-free vocabulary): app.py reads it before
the first page is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from vae_core.engine.vocabulary import kind_label  # torch-free (pyproject's import-linter contract)

PAGES_FOLDER = "pages"  # the lessons' scripts, next to app.py


@dataclass(frozen=True)
class Lesson:
    """One page of the course."""

    slug: str  # the page's url_path (/decoder_grid) and its script's name (pages/decoder_grid.py)
    title: str  # its entry in the navigation
    icon: str  # a Material Symbol beside the title
    url_keys: tuple[str, ...] = ()  # its widgets bound to the URL, each key the parameter's name

    @property
    def script(self) -> str:
        """The page's script relative to app.py, as st.Page, st.switch_page and AppTest.switch_page take it."""
        return f"{PAGES_FOLDER}/{self.slug}.py"


def _digit_picker(prefix: str) -> tuple[str, ...]:
    # ui.widgets.shared.digit_picker's bound widgets: where the digit comes from, its class, which one of it.
    return (f"{prefix}_source", f"{prefix}_class", f"{prefix}_nth")


def _image_chooser(prefix: str) -> tuple[str, ...]:
    # ui.widgets.image_chooser.choose_image's bound widgets: the source, the test image, and the seed of the
    # binarised copy (drawn for binarised models only).
    return (f"{prefix}_source", f"{prefix}_test_index", f"{prefix}_binarize_seed")


# Not bound, on purpose: uploads and drawings (not text), per-model knob sliders (their keys and ranges belong to
# one model), the knobs' "Start from" (its labels name the digits, so a link's label would stop matching once A or
# B changes), buttons, chart selections, the Decoder grid's sample-grid size and temperature (the browser owns them
# for MLP decoders: no rerun), a page's own model pickers (the Inference, Anomaly and Conditional VAE pages'
# pickers: their defaults follow the sidebar's model or the files on a machine, and the sidebar's model is in the
# URL), widgets whose range or default is computed from the data (Inference's ranked list, Anomaly's sets shown,
# threshold and out-of-distribution set), the autoencoder family's part picker (each part has its own address), and
# on the Train page the name (every student following a link would write the same file) and the data set, epochs
# and KL warm-up (they follow the sidebar's data set, which is in the URL).
#
# The order is the path through the course (the Train page last: it is where a student goes once they know
# what to train). Home is the default page, at "/".
LESSONS: dict[str, Lesson] = {
    lesson.slug: lesson
    for lesson in (
        Lesson("home", "Home", ":material/home:"),
        # the autoencoder family's four parts (ui.widgets.autoencoder_parts), the first at the family's old address
        Lesson(
            "autoencoders",
            "Undercomplete AE and PCA",
            ":material/compress:",
            url_keys=("ae_pca_manifold", "ae_pca_k"),
        ),
        Lesson(
            "sparse_autoencoders",
            kind_label("sae"),
            ":material/grain:",
            url_keys=("ae_sparse_rho", "ae_sparse_index", "ae_sparse_threshold"),
        ),
        Lesson(
            "denoising_autoencoders",
            kind_label("dae"),
            ":material/auto_fix_high:",
            url_keys=(
                # the toy field, then digits with a noise level per kind of noise, and your own image
                *("ae_dae_manifold", "ae_dae_sigma"),
                *("ae_dae_kind", "ae_dae_level_gaussian", "ae_dae_level_mask", "ae_dae_own", "ae_dae_index"),
                "ae_dae_own_source",  # the image chooser; the lesson's images are grey, never binarised
                "ae_dae_own_test_index",
            ),
        ),
        Lesson(
            "contractive_autoencoders",
            kind_label("cae"),
            ":material/unfold_less:",
            url_keys=(
                *("ae_cae_index", "ae_cae_epsilon"),
                *("ae_cae_manifold", "ae_cae_weight", "ae_cae_position"),
            ),
        ),
        Lesson(
            "latent_space",
            "Latent space",
            ":material/scatter_plot:",
            url_keys=("latent_projection", "latent_same_axes", "latent_index"),  # projection: latents above 2-D
        ),
        Lesson(
            "decoder_grid",
            "Decoder grid",
            ":material/grid_on:",
            url_keys=(
                *("grid_kind", "grid_n", "grid_extent"),  # 2-D latents: the grid over the plane
                # larger latents: samples and a 2-D slice
                *("grid_seed", "grid_dim_x", "grid_dim_y", "grid_slice_n", "grid_slice_range", "grid_anchor"),
            ),
        ),
        Lesson(
            "interpolation",
            "Interpolation",
            ":material/timeline:",
            url_keys=(
                *_digit_picker("interp_a"),
                *_digit_picker("interp_b"),
                "interp_method",
                "interp_steps",
                # Only where the walk decodes on the server (a conv decoder): an MLP decoder's walk has its t slider
                # in the browser (ui/widgets/latent_pad.latent_walk), which keeps it out of the URL.
                "interp_t",
            ),
        ),
        Lesson("beta_tradeoff", "β trade-off", ":material/tune:", url_keys=("beta_seed", "beta_n_samples")),
        Lesson(
            "elbo_breakdown",
            "ELBO breakdown",
            ":material/functions:",
            url_keys=("elbo_seed", "elbo_k", "elbo_beta", *_image_chooser("elbo")),
        ),
        Lesson(
            "inference",
            "Inference",
            ":material/blur_on:",
            url_keys=(
                # 1 · the true posterior of one image
                *("inference_source", "inference_index", *_image_chooser("inference_own")),
                *("inference_q_star", "inference_view"),
                # 2 · mean-field; 3 · forward and reverse KL
                *("inference_rho", "inference_mixture_dim", "inference_separation", "inference_weight"),
                "inference_start",
            ),
        ),
        Lesson(
            "anomaly_detection",
            "Anomaly detection",
            ":material/crisis_alert:",
            url_keys=("anomaly_subset", "anomaly_k", "anomaly_score", *_image_chooser("anomaly")),
        ),
        Lesson(
            "conditional_vae",
            "Conditional VAE",
            ":material/category:",
            url_keys=("cvae_rows", "cvae_seed", *_digit_picker("cvae_pick")),
        ),
        Lesson(
            "train",
            "Train",
            ":material/model_training:",
            # the Train form: a link can prepare "a β = 4 VAE with an 8-D latent"; Train still needs a click
            url_keys=("train_kind", "train_arch", "train_size", "train_latent", "train_beta", "train_lr"),
        ),
    )
}
HOME = next(iter(LESSONS.values()))  # the default page
