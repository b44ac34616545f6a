"""The progress of t-SNE runs (vae_core.serving.tsne_job) while a page waits for them: bars, the cap, and a Cancel
button."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from ui.state.session import session_token
from vae_core.engine.literal_text import literal
from vae_core.serving.tsne_job import CANCELLED, DONE, FAILED, TsneJob, describe_sample

POLL_SECONDS = 0.5  # how often the bars move; each poll reruns this fragment only


@st.fragment(run_every=POLL_SECONDS)
def tsne_progress(runs: Sequence[tuple[str, TsneJob]], *, key: str, on_cancel: Callable[[], None]) -> None:
    """A progress bar per (label, run) and one Cancel button, polled until every run has finished.

    When all are done, or one was cancelled (here or in another session sharing the run), the whole page
    reruns so that it can draw the result or fall back. on_cancel runs in the button's callback after the
    runs are terminated: the place to switch the page's widgets back (e.g. to PCA).
    """
    for _, job in runs:  # this session still waits for them: a run no session holds is cancelled
        job.hold(session_token())
    progresses = [job.progress() for _, job in runs]
    if all(p.state == DONE for p in progresses) or any(p.state == CANCELLED for p in progresses):
        st.rerun()
    for (label, job), progress in zip(runs, progresses, strict=True):
        st.progress(progress.fraction, text=f"{literal(label)}: t-SNE, {progress.text}")
        st.caption(describe_sample(job.n_codes, job.indices))
        if progress.state == FAILED:
            st.error(f"t-SNE failed: {literal(progress.error or 'no reason given')}")

    def cancel() -> None:
        for _, job in runs:
            job.cancel()
        on_cancel()

    st.button("Cancel t-SNE", key=key, on_click=cancel, help="Stops the t-SNE now; the page goes back to PCA.")
