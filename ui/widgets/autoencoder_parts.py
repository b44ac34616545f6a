"""What the four pages of the autoencoder family share: the heading, the row of parts, the toy and image pickers.

The family was one page with a part picker bound to the URL (`?ae_section=2 · Sparse AE`); each part is now a
lesson of its own (ui.shell.lessons), the picker switches between them, and a link made before the split lands
on the part it named, with its other settings.
"""

from __future__ import annotations

import streamlit as st

from ui.shell.lessons import LESSONS
from ui.shell.projector import prose
from ui.shell.sidebar import Selection
from ui.shell.url_state import OLD_PART_PARAM
from ui.widgets import bound
from vae_core.lessons.autoencoders.lesson_models import LESSON_DATASETS, TEST_IMAGES, ToySettings
from vae_core.lessons.autoencoders.toy_zoo import toy_data
from vae_core.serving.images import READABLE_PX, digit_png

# part label -> its lesson's slug, in the course's order; the labels are the old part picker's (and old links').
PARTS = {
    "1 · Undercomplete AE and PCA": "autoencoders",
    "2 · Sparse AE": "sparse_autoencoders",
    "3 · Denoising AE": "denoising_autoencoders",
    "4 · Contractive AE": "contractive_autoencoders",
}
MANIFOLD_LABELS = {"curve": "S-curve (2-D)", "spiral": "spiral (2-D)", "swiss-roll": "swiss roll (3-D)"}
DIGIT_PX = READABLE_PX  # every digit a student reads: at least 112 px (vae_core.serving.images)
EXPORT_PAGE = "autoencoders"  # the four parts' share of every download's file name, as before the split


def part_header(slug: str, selection: Selection) -> tuple[str, str]:
    """The family's title, introduction and row of parts, with this part (a lesson's slug) picked.

    Returns (the data set of the image parts, a few words on where their models come from). A link from before
    the split (`?ae_section=<part>`) is sent on to the part it names."""
    _follow_old_link(slug)
    st.title("The autoencoder family")
    prose(
        "An autoencoder learns an encoder f and a decoder g so that g(f(x)) ≈ x. Left to itself it could copy "
        "its input; what it learns comes from what stops it: a **bottleneck** (undercomplete AE), a **sparsity "
        "penalty** on its hidden units (sparse AE), **noise** it must undo (denoising AE), or a **penalty on "
        "how fast its code changes** with the input (contractive AE). Each part below shows one of them on images "
        "of the sidebar's data set and, in parts 1, 3 and 4, on a toy manifold (points near a curve or a "
        "surface), whose small models ship trained like the others. Errors are squared errors ‖x − x̂‖² per point "
        "or per image (pixels in [0, 1]), the one unit PCA and autoencoders share."
    )

    if selection.dataset in LESSON_DATASETS:
        dataset = selection.dataset
    else:
        dataset = "digits"
        st.info(
            f"The lesson's image models exist for MNIST (shipped) and digits (trained here); with "
            f"{selection.dataset} in the sidebar, the image parts use digits."
        )
    source_note = (
        "MNIST models from the shipped zoo"
        if dataset == "mnist"
        else "digits models trained here on first use, a few seconds each, then cached"
    )
    here = next(label for label, part in PARTS.items() if part == slug)
    # The same picker as before the split, now a way between four pages: another part is another page.
    picked = st.segmented_control(
        "Part",
        list(PARTS),
        default=here,
        required=True,
        key=f"ae_part_{slug}",
        help="One part at a time: each trains or loads only the models it shows.",
    )
    if picked != here:
        _switch_to(PARTS[picked])
    return dataset, source_note


def _follow_old_link(slug: str) -> None:
    old_part = st.query_params.get(OLD_PART_PARAM)
    if old_part is None:
        return
    if PARTS.get(old_part, slug) == slug:  # this part, or no part at all: only the parameter goes
        del st.query_params[OLD_PART_PARAM]
        return
    _switch_to(PARTS[old_part])


def _switch_to(slug: str) -> None:
    # The address's other parameters go along, as the navigation keeps them (the sidebar's data set and model,
    # an old link's settings of the part it names); the part picker's old parameter does not.
    kept = {name: st.query_params.get_all(name) for name in st.query_params if name != OLD_PART_PARAM}
    st.switch_page(LESSONS[slug].script, query_params=kept)


def part_footer() -> None:
    """Where the numbers of every part come from, under each part."""
    st.divider()
    st.caption(
        "The numbers with the default settings, toy data and images, are printed by "
        "`python -m benchmarks.ae_lesson_numbers` (add `--dataset digits` for the offline models)."
    )


def toy_controls(key: str, manifolds: tuple[str, ...]) -> ToySettings:
    """The toy manifold; its points and noise are the lesson's (TOY_DATA), the data its shipped models saw."""
    columns = st.columns([1, 2])
    manifold = bound.selectbox(
        "Toy manifold", manifolds, key=f"{key}_manifold", format_func=MANIFOLD_LABELS.get, container=columns[0]
    )
    settings = toy_data(manifold)
    columns[1].caption(
        f"{settings.n_points} points with Gaussian noise of std {settings.noise:g} (seed {settings.seed}); the toy "
        "models were trained on exactly these points and ship with the app."
    )
    return settings


def images_row(images, captions) -> None:
    """Digits side by side, each with its caption."""
    for column, image, caption in zip(st.columns(len(images)), images, captions, strict=True):
        column.image(digit_png(image, DIGIT_PX), caption=caption, width=DIGIT_PX)


def index_picker(key: str, n_images: int) -> int:
    """The number of one of the lesson's n_images test images (the first TEST_IMAGES, or all of a smaller test
    set: digits has 360)."""
    last = min(n_images, TEST_IMAGES) - 1
    return int(bound.number_input(f"Test image # (0–{last})", key=key, min_value=0, max_value=last, value=0))


def relation(a: float, b: float, tolerance: float = 0.02) -> str:
    """'lower than', 'about the same as' or 'higher than': a compared with b (relative tolerance)."""
    if abs(a - b) <= tolerance * max(abs(b), 1e-12):
        return "about the same as"
    return "lower than" if a < b else "higher than"
