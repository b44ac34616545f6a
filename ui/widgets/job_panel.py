"""The progress panel of a background training job, shared by the Train and β pages.

A page's job lives on the server's vae_core.serving.jobs.BOARD; the page keeps only its id, in session state and in
the URL (?train_job=…), so a browser refresh finds the job again: its progress and curves. Only the session that
started a job sees its Stop button: the job keeps that session's secret token (ui.state.session), never put in
the URL, so a shared link lets others watch, not stop. Back on the page without the id in the URL, a session
finds its own job again through session state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import streamlit as st
from streamlit.errors import StreamlitAPIException

from ui.figures.training import training_curves
from ui.state.loaders import refresh_registry
from ui.state.session import session_token
from ui.widgets.chart import plot
from ui.widgets.export import figure_config
from ui.widgets.replay_sections import job_replay
from vae_core.engine.config import ModelConfig, TrainConfig
from vae_core.engine.protocol import metric_names, protocol_of
from vae_core.engine.results import EvaluationReport
from vae_core.engine.vocabulary import INFORMATIVE_DEFINITION
from vae_core.lessons.training_curves import KlDip, find_kl_dip
from vae_core.serving.jobs import BOARD, DIVERGED, DONE, FAILED, STOPPED, JobProgress, QueueFull, TrainingJob

POLL_SECONDS = 1.0


def attached_job(job_key: str) -> TrainingJob | None:
    """This page's job: the one whose id session state or, after a refresh, the URL holds (None if none)."""
    job_id = st.session_state.get(job_key) or st.query_params.get(job_key)
    job = BOARD.get(job_id if isinstance(job_id, str) else None)
    if job is None:
        return None
    if st.session_state.get(job_key) != job.job_id:  # reattached after a refresh: announce only a new ending
        st.session_state[f"{job_key}_announced"] = job.progress().finished
    st.session_state[job_key] = job.job_id
    if st.query_params.get(job_key) != job.job_id:
        st.query_params[job_key] = job.job_id
    return job


def controls_job(job: TrainingJob) -> bool:
    """Whether this session started the job (and so may stop it)."""
    return job.controlled_by(session_token())


def other_sessions_jobs() -> int:
    """Trainings running or waiting on this server that this session did not start."""
    token = session_token()
    return sum(not job.controlled_by(token) for job in BOARD.unfinished())


def submit(
    job_key: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    folder: str | Path,
    stem: str,
    *,
    metadata: dict[str, Any] | None = None,
    rerun_scope: Literal["app", "fragment"] = "app",
) -> None:
    """Claim the name and start the job on the server's board, then rerun the page (its form disabled while the
    job trains); show why when it cannot start. rerun_scope="fragment": rerun only the fragment that holds
    the form and the job panel (it must be called from that fragment's own run)."""
    try:
        job = BOARD.submit(model_config, train_config, folder, stem, metadata=metadata, owner=session_token())
    except QueueFull as err:
        st.warning(str(err))
        return
    except ValueError as err:  # a name without letters, a config the model rejects
        st.error(f"Cannot train this: {err}")
        return
    st.session_state[f"{job_key}_announced"] = False
    st.session_state[job_key] = job.job_id
    st.query_params[job_key] = job.job_id
    # The form above was drawn before the job existed: redraw it with its button disabled. A fragment-scoped
    # rerun is refused during a full-app run (a fragment drawn by the page's own run, or AppTest): rerun all.
    try:
        st.rerun(scope=rerun_scope)
    except StreamlitAPIException:
        st.rerun()


def job_running(job_key: str) -> bool:
    """True while this page's job is still training (or waiting for a slot)."""
    job = attached_job(job_key)
    return job is not None and not job.progress().finished


def job_panel(job_key: str, show_curves: bool = True, show_replay: bool = False) -> None:
    """Show this page's job, if any; polls every second while it trains. show_replay: its training replay too (the
    frames so far, each poll; the saved model's once saved).

    When the job finishes, the registry is rescanned and the whole app reruns once, so the new model
    appears in the sidebar's picker (and on the page) at once.
    """
    job = attached_job(job_key)
    if job is None:
        return
    running = not job.progress().finished
    st.fragment(_panel, run_every=POLL_SECONDS if running else None)(job_key, job, show_curves, show_replay)


def _panel(job_key: str, job: TrainingJob, show_curves: bool, show_replay: bool) -> None:
    progress = job.progress()
    announced_key = f"{job_key}_announced"
    if progress.finished and st.session_state.get(announced_key) is False:
        st.session_state[announced_key] = True
        refresh_registry()
        st.rerun()  # the whole app: the sidebar's picker must list the new checkpoint
    st.markdown(
        f"**{job.save_path.name}**: {job.model_config.kind.upper()} on {job.train_config.dataset}, "
        f"{job.train_config.epochs} epochs"
    )
    if not progress.finished:
        st.progress(progress.fraction, text=progress.message)
        if controls_job(job):
            st.button(
                "Stop training",
                key=f"{job_key}_stop",
                on_click=job.request_stop,
                type="secondary",
                disabled=progress.stop_requested,
                help="Stops now; the epochs finished so far are evaluated and saved.",
            )
        else:
            st.caption(
                "Started in another browser session (or before a refresh): you can watch it here; only the "
                "session that started it can stop it."
            )
    elif progress.state == DONE:
        st.success(progress.message)
    elif progress.state == STOPPED:
        st.warning(progress.message)
    elif progress.state in (DIVERGED, FAILED):
        st.error(progress.message)
        if (
            job.can_save_last_good
            and controls_job(job)
            and st.button("Save the last good weights", key=f"{job_key}_save_good")
        ):
            job.save_last_good()
            refresh_registry()
            st.rerun()
    if progress.report is not None:
        st.caption(result_line(job, progress.report))
    collapse = collapse_warning(job, progress)
    if collapse:
        st.warning(collapse, icon="⚠️")
    if show_curves and (progress.curve or progress.history):
        dip = (
            find_kl_dip([(r.test or r.train).kl for r in progress.history])
            if job.model_config.is_variational and progress.report is not None  # judged once training is over
            else None
        )
        plot(
            training_curves(progress.history, job.model_config.kind, progress.curve, dip=dip),
            key=f"{job_key}_curves",
            config=figure_config(job.train_config.dataset, job.save_path.stem, "train", "training-curves"),
        )
        warmup = job.train_config.kl_warmup_epochs if job.model_config.is_variational else 0
        st.caption(
            "Blue: training terms, averaged over the batches since the previous point (a point every few "
            "steps). Orange: the test split after each epoch."
            + (
                f" KL warm-up: the KL weight rises from β/{warmup} in epoch 1 to β in epoch {warmup}, so "
                "until then the model is trained on a weaker KL term than its final objective."
                if warmup > 0
                else ""
            )
            + (dip_text(dip, warmup) if dip is not None else "")
        )
    if show_replay:
        job_replay(f"{job_key}_replay", progress.replay, dataset=job.train_config.dataset, live=not progress.finished)


def result_line(job: TrainingJob, report: EvaluationReport) -> str:
    """The saved model's test numbers under the names its protocol allows."""
    names = metric_names(protocol_of(job.train_config, job.model_config), report.is_variational)
    images = f"{report.n_images:,} test images"
    if report.is_variational:
        numbers = (
            f"{names.neg_elbo}: {report.neg_elbo:.1f} nats per image (reconstruction {report.recon:.1f} + "
            f"KL {report.kl:.1f}), {report.informative_dims} of {job.model_config.latent_dim} informative "
            "dimensions"
        )
    else:
        numbers = f"{names.recon}: {report.recon:.1f} nats per image"
    return f"On {images}: {numbers}." + (f" {names.caveat}" if names.caveat else "")


def dip_text(dip: KlDip, warmup: int) -> str:
    """The caption's words for a shaded KL dip: what it is, and that it is not collapse."""
    epochs = (
        f"epoch {dip.first_epoch}"
        if dip.first_epoch == dip.last_epoch
        else (f"epochs {dip.first_epoch}–{dip.last_epoch}")
    )
    return (
        f" Shaded, {epochs}: the KL fell to {dip.lowest_kl:.2f} nats, under a fifth of its final "
        f"{dip.final_kl:.2f}. A small VAE often first learns to draw the average image with its codes nearly "
        "unused, then its codes start to pay for themselves and the KL rises again"
        + (": the warm-up lowers the KL's weight early on, but does not prevent this dip" if warmup > 0 else "")
        + ". A KL that stays near 0 to the end would be posterior collapse."
    )


def collapse_warning(job: TrainingJob, progress: JobProgress) -> str | None:
    """A warning for a finished VAE none of whose dimensions is informative (its codes carry nothing), else None."""
    report = progress.report
    if report is None or not report.is_variational or report.informative_dims != 0:
        return None
    return (
        f"This VAE has **no informative dimension**: {INFORMATIVE_DEFINITION}, and here every one has (KL "
        f"{report.kl:.2f} nats per image in all), so every image gets about the same code and "
        "the decoder draws an average image (posterior collapse). Try more epochs, a KL warm-up, a smaller "
        "β, or a larger learning rate."
    )
