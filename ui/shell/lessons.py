"""The course's lessons, in the order a student meets them: each page's title, icon and URL, declared once.

app.py builds the navigation from LESSONS (an explicit url_path per page, so a page's address does not depend on
its file's name); tests, tools and benchmarks name a lesson by its slug (`LESSONS["decoder_grid"].script`), never
by a file name. A lesson's script is `pages/<slug>.py`. The first lesson is the default page, served at "/".

This module imports neither torch nor the pages' helpers: app.py reads it before the first page is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGES_FOLDER = "pages"  # the lessons' scripts, next to app.py


@dataclass(frozen=True)
class Lesson:
    """One page of the course."""

    slug: str  # the page's url_path (/decoder_grid) and its script's name (pages/decoder_grid.py)
    title: str  # its entry in the navigation
    icon: str  # a Material Symbol beside the title

    @property
    def script(self) -> str:
        """The page's script relative to app.py, as st.Page, st.switch_page and AppTest.switch_page take it."""
        return f"{PAGES_FOLDER}/{self.slug}.py"


# The order is the path through the course (the Train page last: it is where a student goes once they know
# what to train). Home is the default page: "/" shows it, as does its own url_path.
LESSONS: dict[str, Lesson] = {
    lesson.slug: lesson
    for lesson in (
        Lesson("home", "Home", ":material/home:"),
        # the autoencoder family's four parts (ui.widgets.autoencoder_parts), the first at the family's old address
        Lesson("autoencoders", "Undercomplete AE and PCA", ":material/compress:"),
        Lesson("sparse_autoencoders", "Sparse AE", ":material/grain:"),
        Lesson("denoising_autoencoders", "Denoising AE", ":material/auto_fix_high:"),
        Lesson("contractive_autoencoders", "Contractive AE", ":material/unfold_less:"),
        Lesson("latent_space", "Latent space", ":material/scatter_plot:"),
        Lesson("decoder_grid", "Decoder grid", ":material/grid_on:"),
        Lesson("interpolation", "Interpolation", ":material/timeline:"),
        Lesson("beta_tradeoff", "β trade-off", ":material/tune:"),
        Lesson("elbo_breakdown", "ELBO breakdown", ":material/functions:"),
        Lesson("inference", "Inference", ":material/blur_on:"),
        Lesson("anomaly_detection", "Anomaly detection", ":material/crisis_alert:"),
        Lesson("conditional_vae", "Conditional VAE", ":material/category:"),
        Lesson("train", "Train", ":material/model_training:"),
    )
}
HOME = next(iter(LESSONS.values()))  # the default page
