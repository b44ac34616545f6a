"""The course's lessons, in the order a student meets them: each page's title, icon, URL and URL keys, declared once.

app.py builds the navigation from LESSONS (an explicit url_path per page, so a page's address does not depend on
its file's name); tests, tools and benchmarks name a lesson by its slug (`LESSONS["decoder_grid"].script`), never
by a file name. A lesson's script is `pages/<slug>.py`. The first lesson is the default page, served at "/".

A lesson's URL parameters are the widgets of its page that are bound to the address (ui.widgets.bound, which records
each one's default, type and bounds where the widget is drawn), each declared with its type and the widest bounds
any data set gives it (ui.shell.url_check.UrlParam): the app shell checks a link's values against these before the
page runs, "Reset this page" resets them, and tests/app/test_url_state.py checks that the page binds exactly these,
with these types and within these bounds.

This module imports neither torch nor the pages' helpers (only the torch-free vocabulary): app.py reads it before
the first page is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from ui.shell.url_check import (
    MAX_TEST_INDEX,
    UrlParam,
    bool_param,
    choice_param,
    declarations,
    float_param,
    int_param,
)
from vae_core.engine.limits import MAX_PCA_COMPONENTS
from vae_core.engine.vocabulary import kind_label  # torch-free (pyproject's import-linter contract)

PAGES_FOLDER = "pages"  # the lessons' scripts, next to app.py


@dataclass(frozen=True)
class Lesson:
    """One page of the course."""

    slug: str  # the page's url_path (/decoder_grid) and its script's name (pages/decoder_grid.py)
    title: str  # its entry in the navigation
    icon: str  # a Material Symbol beside the title
    url_params: tuple[UrlParam, ...] = ()  # its widgets bound to the URL, each key the parameter's name

    @property
    def url_keys(self) -> tuple[str, ...]:
        """The names of its URL parameters, in the order declared."""
        return tuple(param.key for param in self.url_params)

    @property
    def script(self) -> str:
        """The page's script relative to app.py, as st.Page, st.switch_page and AppTest.switch_page take it."""
        return f"{PAGES_FOLDER}/{self.slug}.py"


SEED_MAX = 2**31 - 1  # the widest seed a number input takes (numpy's and torch's seeds)


def _digit_picker(prefix: str) -> tuple[UrlParam, ...]:
    # ui.widgets.shared.digit_picker's bound widgets: where the digit comes from, its class, which one of it.
    return (
        choice_param(f"{prefix}_source"),
        choice_param(f"{prefix}_class"),
        int_param(f"{prefix}_nth", 0, MAX_TEST_INDEX),
    )


def _image_chooser(prefix: str, binarised: bool = True) -> tuple[UrlParam, ...]:
    # ui.widgets.image_chooser.choose_image's bound widgets: the source, the test image, and the seed of the
    # binarised copy (drawn for binarised models only).
    return (
        choice_param(f"{prefix}_source"),
        int_param(f"{prefix}_test_index", 0, MAX_TEST_INDEX),
        *((int_param(f"{prefix}_binarize_seed", 0, SEED_MAX),) if binarised else ()),
    )


def _toy(prefix: str) -> UrlParam:
    # ui.widgets.autoencoder_parts.toy_controls: the toy manifold (its points and noise are the shipped models')
    return choice_param(f"{prefix}_manifold")


AE_TEST_INDEX = 999  # the autoencoder lessons' first 1000 test images (lesson_models.TEST_IMAGES); digits: 360


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
            url_params=(_toy("ae_pca"), int_param("ae_pca_k", 1, MAX_PCA_COMPONENTS, step=1)),
        ),
        Lesson(
            "sparse_autoencoders",
            kind_label("sae"),
            ":material/grain:",
            url_params=(
                float_param("ae_sparse_rho", 0.01, 0.5, step=0.01),
                int_param("ae_sparse_index", 0, AE_TEST_INDEX),
                float_param("ae_sparse_threshold", 0.01, 0.9, step=0.01),
            ),
        ),
        Lesson(
            "denoising_autoencoders",
            kind_label("dae"),
            ":material/auto_fix_high:",
            url_params=(
                # the toy field, then digits with a noise level per kind of noise, and your own image
                _toy("ae_dae"),
                choice_param("ae_dae_sigma"),  # the shipped σ values only (a select_slider)
                choice_param("ae_dae_kind"),
                *(choice_param("ae_dae_level_gaussian"), choice_param("ae_dae_level_mask")),
                bool_param("ae_dae_own"),
                int_param("ae_dae_index", 0, AE_TEST_INDEX),
                *_image_chooser("ae_dae_own", binarised=False),  # the lesson's images are grey, never binarised
            ),
        ),
        Lesson(
            "contractive_autoencoders",
            kind_label("cae"),
            ":material/unfold_less:",
            url_params=(
                *(int_param("ae_cae_index", 0, AE_TEST_INDEX), choice_param("ae_cae_epsilon")),
                _toy("ae_cae"),
                choice_param("ae_cae_weight"),
                int_param("ae_cae_position", 0, 999, step=1),  # a point of the toy curve (at most 1000 points)
            ),
        ),
        Lesson(
            "latent_space",
            "Latent space",
            ":material/scatter_plot:",
            url_params=(
                choice_param("latent_projection"),  # latents above 2-D
                bool_param("latent_same_axes"),
                int_param("latent_index", 0, MAX_TEST_INDEX),
            ),
        ),
        Lesson(
            "decoder_grid",
            "Decoder grid",
            ":material/grid_on:",
            url_params=(
                # 2-D latents: the grid over the plane
                choice_param("grid_kind"),
                int_param("grid_n", 5, 25, step=1),
                float_param("grid_extent", 0.5, 3.0, step=0.25),
                # larger latents: samples and a 2-D slice
                int_param("grid_seed", 0, 10_000),
                *(choice_param("grid_dim_x"), choice_param("grid_dim_y")),
                int_param("grid_slice_n", 5, 21, step=1),
                float_param("grid_slice_range", 1.0, 6.0, step=0.5),
                int_param("grid_anchor", -1, MAX_TEST_INDEX),
            ),
        ),
        Lesson(
            "interpolation",
            "Interpolation",
            ":material/timeline:",
            url_params=(
                *_digit_picker("interp_a"),
                *_digit_picker("interp_b"),
                choice_param("interp_method"),
                int_param("interp_steps", 5, 15, step=1),
                # Only where the walk decodes on the server (a conv decoder): an MLP decoder's walk has its t slider
                # in the browser (ui/widgets/latent_pad.latent_walk), which keeps it out of the URL.
                float_param("interp_t", 0.0, 1.0, step=0.05),
            ),
        ),
        Lesson(
            "beta_tradeoff",
            "β trade-off",
            ":material/tune:",
            url_params=(int_param("beta_seed", 0, 10_000), int_param("beta_n_samples", 4, 16, step=1)),
        ),
        Lesson(
            "disentanglement",
            "Disentanglement",
            ":material/category:",
            url_params=tuple(choice_param(f"disent_{factor}") for factor in ("shape", "scale", "rotation", "x", "y")),
        ),
        Lesson(
            "elbo_breakdown",
            "ELBO breakdown",
            ":material/functions:",
            url_params=(
                int_param("elbo_seed", 0, SEED_MAX),
                *(choice_param("elbo_k"), choice_param("elbo_beta")),
                *_image_chooser("elbo"),
            ),
        ),
        Lesson(
            "inference",
            "Inference",
            ":material/blur_on:",
            url_params=(
                # 1 · the true posterior of one image
                *(choice_param("inference_source"), int_param("inference_index", 0, MAX_TEST_INDEX)),
                # the chooser offers uploads and drawings only (the page has its own test-image picker); the seed of
                # a binarised upload is not in a link, an upload never is
                choice_param("inference_own_source"),
                *(bool_param("inference_q_star"), choice_param("inference_view")),
                # 2 · mean-field; 3 · forward and reverse KL
                float_param("inference_rho", -0.95, 0.95, step=0.05),
                choice_param("inference_mixture_dim"),
                float_param("inference_separation", 0.0, 10.0, step=0.5),
                float_param("inference_weight", 0.1, 0.9, step=0.05),
                choice_param("inference_start"),
            ),
        ),
        Lesson(
            "anomaly_detection",
            "Anomaly detection",
            ":material/crisis_alert:",
            url_params=(
                *(choice_param("anomaly_subset"), choice_param("anomaly_k"), choice_param("anomaly_score")),
                *_image_chooser("anomaly"),
            ),
        ),
        Lesson(
            "conditional_vae",
            "Conditional VAE",
            ":material/category:",
            url_params=(
                int_param("cvae_rows", 1, 12, step=1),
                int_param("cvae_seed", 0, SEED_MAX),
                *_digit_picker("cvae_pick"),
            ),
        ),
        Lesson(
            "train",
            "Train",
            ":material/model_training:",
            # the Train form: a link can prepare "a β = 4 VAE with an 8-D latent"; Train still needs a click
            url_params=(
                *(choice_param("train_kind"), choice_param("train_arch"), choice_param("train_size")),
                choice_param("train_latent"),
                float_param("train_beta", 0.0, 50.0),
                choice_param("train_lr"),
            ),
        ),
    )
}
HOME = next(iter(LESSONS.values()))  # the default page
# Every lesson's URL parameters by name (a name belongs to one lesson): what ui.shell.url_state.check_link accepts.
URL_PARAMS = declarations(param for lesson in LESSONS.values() for param in lesson.url_params)
