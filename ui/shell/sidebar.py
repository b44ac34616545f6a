"""The shared sidebar: data set family, model picker (from the checkpoint registry) and device.

app.py calls draw_sidebar() once per run, before the page; pages call current_selection() to read it.
The data set and model also live in the URL (ui/shell/url_state.py): a link opens the app on them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import streamlit as st

from ui.shell import url_state
from ui.shell.navigation import leave_legacy_pages_mode
from ui.state import loaders
from vae_core.engine.checkpoint_info import CheckpointError
from vae_core.engine.data import DATASET_NAMES, INPUT_SHAPES, SIDEBAR_DATASETS, ImageDataset, offered_datasets
from vae_core.engine.literal_text import literal
from vae_core.engine.registry import ModelEntry, ModelRef, Registry, default_entry

SELECTION_KEY = "app_selection"
DATASET_KEY = "sidebar_dataset"
MODEL_KEY = "sidebar_model"
DEVICE_KEY = "sidebar_device"
FOREIGN_KEY = "sidebar_foreign_models"  # the checkbox that also lists models trained on other data sets
MODEL_DATASET_KEY = "sidebar_model_dataset"  # the data set the picked model was chosen for

DATASET_LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "digits": "digits (8×8, small offline set)"}
DEVICE_LABELS = {"cpu": "CPU", "cuda": "GPU (CUDA)"}
ZOO_COMMAND = "python -m vae_core zoo --out checkpoints/"


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose, as plain values."""

    dataset: str  # one of vae_core.engine.data.SIDEBAR_DATASETS
    entry: ModelEntry | None  # the picked model; None when no model fits the data set
    device: str  # "cpu" or "cuda"
    entries: tuple[ModelEntry, ...] = field(default=())  # the picker's models: the data set's own (and, when
    # the sidebar's checkbox asks for them, those trained on another data set of the same image shape)
    input_shape: tuple[int, int, int] | None = None  # the data set's image shape (C, H, W)

    @property
    def model(self) -> ModelRef:
        """The picked model on the picked device, for ui.state's cached functions (needs an entry)."""
        assert self.entry is not None, "no model fits the data set (require_model stops the page first)"
        return self.entry.ref(self.device)


def dataset_label(dataset: str) -> str:
    """The data set's name as the app shows it (its own name when it has no label)."""
    return DATASET_LABELS.get(dataset, dataset)


def available_datasets() -> list[str]:
    """Data sets of the sidebar whose test split is here: all of them (MNIST's and Fashion-MNIST's ship with the
    package; a data directory's own files win). Their training splits are fetched where a page needs them
    (ui.widgets.train_data). Sprites are the Disentanglement lesson's own (vae_core.engine.data.SIDEBAR_DATASETS)."""
    return [name for name in offered_datasets() if name in SIDEBAR_DATASETS]


def opening_dataset(datasets: list[str], registry: Registry) -> str:
    """The data set a session opens on: the first offered (MNIST first) that has a model, else the first offered.

    With the shipped checkpoints that is MNIST, whatever data is installed; a folder of digits models only (a
    classroom's own, the tests' tiny zoo) opens on digits rather than on a data set with nothing to show.
    """
    with_models = {entry.dataset for entry in registry.entries}
    return next((name for name in datasets if name in with_models), datasets[0])


# Where an NVIDIA driver leaves a trace (Linux, WSL, Windows). torch.cuda.is_available() needs the driver.
NVIDIA_DRIVER_SIGNS = (
    "/proc/driver/nvidia/version",
    "/dev/nvidiactl",
    "/usr/lib/wsl/lib/libcuda.so.1",
    os.path.join(os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32", "nvcuda.dll"),
)


def available_devices() -> list[str]:
    """CPU always; CUDA only where torch sees a GPU.

    On a machine with no NVIDIA driver at all (most laptops, CI) the answer is known without importing torch,
    which keeps torch's seconds-long import out of the first page's start-up; elsewhere torch is asked.
    """
    if "torch" not in sys.modules and not any(os.path.exists(sign) for sign in NVIDIA_DRIVER_SIGNS):
        return ["cpu"]
    import torch

    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def draw_sidebar() -> Selection:
    """Draw the shared sidebar and remember its Selection in session state for the page."""
    sidebar = st.sidebar
    link = url_state.sidebar_link()  # what the URL said, on the session's first run only
    datasets = available_datasets()
    registry = loaders.registry()
    if st.session_state.get(DATASET_KEY) not in datasets:
        st.session_state[DATASET_KEY] = opening_dataset(datasets, registry)
    if link is not None and link.dataset is not None:
        if link.dataset in datasets:
            st.session_state[DATASET_KEY] = link.dataset
        else:
            sidebar.warning(f"The link's data set {literal(link.dataset)} is not on this machine.")
    dataset = sidebar.selectbox(
        "Data set",
        datasets,
        key=DATASET_KEY,
        format_func=dataset_label,
        help="MNIST's and Fashion-MNIST's test images ship with the app (their training images are downloaded "
        "where a page needs them); digits is scikit-learn's small 8×8 set, always offline.",
    )
    # The shape from a table, not from loading the split: reading MNIST (torchvision's import and its md5
    # checks) took seconds of the first page's start-up. The pages that need images load them and say why
    # when they cannot.
    input_shape = INPUT_SHAPES.get(dataset)

    failed = loaders.failed_loads()
    fitting = (
        []
        if input_shape is None
        else [e for e in registry.for_dataset(dataset, input_shape) if e.checkpoint_id not in failed]
    )
    link_model = link.model if link is not None else None
    entries = _offered_models(sidebar, fitting, dataset, link_model)
    entry = _pick_model(sidebar, entries, dataset, link_model)
    devices = available_devices()
    device = sidebar.radio(
        "Run models on",
        devices,
        key=DEVICE_KEY,
        format_func=DEVICE_LABELS.get,
        horizontal=True,
        help="GPU is offered only when PyTorch finds one.",
    )
    if entry is not None:
        # The model itself is loaded by the pages that use it (require_model): the home page needs only this.
        _describe(sidebar, entry, dataset)
    # Failures are remembered server-wide; report only those of files in the folders scanned now.
    failed_here = {e.checkpoint_id: failed[e.checkpoint_id] for e in registry.entries if e.checkpoint_id in failed}
    _report_problems(sidebar, registry.problems, failed_here, unknown_dataset_notes(registry.entries))
    selection = Selection(dataset=dataset, entry=entry, device=device, entries=tuple(entries), input_shape=input_shape)
    st.session_state[SELECTION_KEY] = selection
    url_state.write_sidebar(dataset, entry.key if entry is not None else None)
    return selection


def current_selection() -> Selection:
    """The Selection app.py drew this run; draws the sidebar when a page runs on its own."""
    leave_legacy_pages_mode()  # a page run without app.py (Streamlit's legacy mode): rerun through app.py
    selection = st.session_state.get(SELECTION_KEY)
    return selection if isinstance(selection, Selection) else draw_sidebar()


def _offered_models(sidebar, fitting: list[ModelEntry], dataset: str, link_model: str | None) -> list[ModelEntry]:
    """The data set's own models; those trained on another data set only when the checkbox asks for them
    (or when the link that opened the session names one of them)."""
    own = [e for e in fitting if e.dataset == dataset]
    foreign = [e for e in fitting if e.dataset != dataset]
    if not foreign:
        return own
    if link_model in {e.key for e in foreign}:
        st.session_state[FOREIGN_KEY] = True
    show = sidebar.checkbox(
        f"Show models trained on other data sets ({len(foreign)})",
        key=FOREIGN_KEY,
        help="Models trained on another data set with the same image size, e.g. an MNIST "
        "model shown Fashion-MNIST images: it redraws them as the images it knows.",
    )
    return own + foreign if show else own


def model_label(entry: ModelEntry, dataset: str) -> str:
    """The picker's text: the entry's label, and for a model of another data set, which one it was trained on."""
    if entry.dataset == dataset:
        return entry.label
    return f"{entry.label} · FOREIGN: trained on {dataset_label(entry.dataset)}"


def _pick_model(sidebar, entries: list[ModelEntry], dataset: str, link_model: str | None) -> ModelEntry | None:
    if not entries:
        sidebar.info(missing_models_text(dataset))
        return None
    keys = [e.key for e in entries]
    by_key = {e.key: e for e in entries}
    if link_model in by_key:
        st.session_state[MODEL_KEY] = link_model
        st.session_state[MODEL_DATASET_KEY] = dataset
    elif st.session_state.get(MODEL_KEY) not in by_key or st.session_state.get(MODEL_DATASET_KEY) != dataset:
        # A new data set, or the picked file went away: open on the data set's own natural model.
        opening = default_entry(entries, dataset)
        assert opening is not None, "default_entry picks one of a non-empty list"
        st.session_state[MODEL_KEY] = opening.key
        st.session_state[MODEL_DATASET_KEY] = dataset
        if link_model is not None:  # the link's model is not here (deleted, renamed, or another machine's)
            url_state.remember_missing_model(link_model, st.session_state[MODEL_KEY])
    key = sidebar.selectbox(
        "Model",
        keys,
        key=MODEL_KEY,
        format_func=lambda k: model_label(by_key[k], dataset),
        help="Shipped models (checkpoints/) and models trained on the Train page "
        "(user_checkpoints/), trained on this data set.",
    )
    asked = url_state.missing_model_note(key)
    if asked is not None:
        sidebar.warning(
            f"The link's model {literal(asked)} is not here: showing this data set's default model instead."
        )
    return by_key[key]


def _describe(sidebar, entry: ModelEntry, dataset: str) -> None:
    report = entry.info.metrics
    lines = [
        f"Trained on **{literal(entry.dataset)}** for "
        f"{literal(entry.info.metadata.get('epochs_run', entry.info.train_config.epochs))} "
        f"epochs, {entry.info.model_config.arch.upper()} body."
    ]
    if entry.dataset != dataset:
        lines.append(f"Shown on {DATASET_LABELS[dataset]}: images it never saw in training.")
    if report is not None:
        terms = f" (recon {report.recon:.1f} + KL {report.kl:.1f})" if report.is_variational else ""
        lines.append(f"Test {report.format_headline()}{terms}.")
    sidebar.caption(" ".join(lines))


def unknown_dataset_notes(entries: tuple[ModelEntry, ...]) -> list[str]:
    """A line for each model trained on a data set this app does not offer, on images of a size no offered data set
    has: no picker lists it, so say why (one of a known size is offered beside that data set's own models)."""
    offered = ", ".join(dataset_label(name) for name in SIDEBAR_DATASETS)
    return [
        f"{e.info.path.name}: trained on {e.dataset} ({'×'.join(map(str, e.input_shape))} images), which this app "
        f"does not offer ({offered}); not listed"
        for e in entries
        if e.dataset not in DATASET_NAMES and e.input_shape not in INPUT_SHAPES.values()
    ]


def _report_problems(sidebar, problems: tuple[tuple[str, str], ...], failed: dict[str, str], notes: list[str]) -> None:
    messages = [why for _, why in problems] + list(failed.values()) + notes
    if messages:
        with sidebar.expander(f"⚠️ {len(messages)} checkpoint file(s) skipped"):
            for message in messages:
                st.warning(literal(message))


def require_model(selection: Selection) -> None:
    """Stop the page, saying how to get one, when no model fits the selected data set; make sure the picked
    model loads (cached), else drop it from the picker, say why and rerun on the next one."""
    if selection.entry is None:
        st.info(missing_models_text(selection.dataset))
        st.stop()
    try:
        loaders.load_model(selection.model)
    except CheckpointError as err:
        loaders.record_failed_load(selection.model, str(err))
        st.rerun()


def require_test_split(selection: Selection) -> ImageDataset:
    """The selected data set's test split; stops the page (with the reason shown) when there is no model or data."""
    require_model(selection)
    data = loaders.dataset_or_none(selection.dataset, "test")
    if data is None:
        st.stop()
    return data


def missing_models_text(dataset: str) -> str:
    """What to do when no model fits a data set."""
    return (
        f"No model fits {dataset_label(dataset)} yet. Train one on the **Train** page, "
        f"or build the shipped zoo with `{ZOO_COMMAND}`."
    )
