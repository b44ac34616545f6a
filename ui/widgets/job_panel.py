"""The progress panel of a background training job, shared by the Train and β pages."""

from __future__ import annotations

import streamlit as st

from ui.figures.training import training_curves
from ui.state.loaders import refresh_registry
from vae_core.jobs import DIVERGED, DONE, FAILED, STOPPED, TrainingJob

POLL_SECONDS = 1.0


def job_panel(job_key: str, show_curves: bool = True) -> None:
    """Show the job kept in st.session_state[job_key], if any; polls every second while it trains.

    When the job finishes, the registry is rescanned and the whole app reruns once, so the new model
    appears in the sidebar's picker (and on the page) at once.
    """
    job = st.session_state.get(job_key)
    if not isinstance(job, TrainingJob):
        return
    running = not job.progress().finished
    st.fragment(_panel, run_every=POLL_SECONDS if running else None)(job_key, job, show_curves)


def _panel(job_key: str, job: TrainingJob, show_curves: bool) -> None:
    progress = job.progress()
    announced_key = f"{job_key}_announced"
    if progress.finished and not st.session_state.get(announced_key):
        st.session_state[announced_key] = True
        refresh_registry()
        st.rerun()  # the whole app: the sidebar's picker must list the new checkpoint
    if not progress.finished:
        st.progress(progress.fraction, text=progress.message)
        st.button("Stop training", key=f"{job_key}_stop", on_click=job.request_stop, type="secondary",
                  help="Stops after the current batch; the epochs finished so far are saved.")
    elif progress.state == DONE:
        st.success(progress.message)
    elif progress.state == STOPPED:
        st.warning(progress.message)
    elif progress.state == DIVERGED:
        st.error(progress.message)
        if job.can_save_last_good and st.button("Save the last good weights", key=f"{job_key}_save_good"):
            job.save_last_good()
            refresh_registry()
            st.rerun()
    elif progress.state == FAILED:
        st.error(progress.message)
    if show_curves and progress.history:
        st.plotly_chart(training_curves(progress.history, job.model_config.is_variational), key=f"{job_key}_curves",
                        config={"displaylogo": False})


def start_job(job_key: str, job: TrainingJob) -> None:
    """Start job in the background and keep it in session state for job_panel."""
    st.session_state[f"{job_key}_announced"] = False
    st.session_state[job_key] = job.start()


def job_running(job_key: str) -> bool:
    """True while this session's job under job_key is still training (or waiting for a slot)."""
    job = st.session_state.get(job_key)
    return isinstance(job, TrainingJob) and not job.progress().finished
