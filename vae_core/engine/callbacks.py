"""Training callbacks composed: fit takes one callback, a run may want several (a replay recorder and a reporter)."""

from __future__ import annotations

from vae_core.engine.models import LatentModel
from vae_core.engine.results import EpochRecord
from vae_core.engine.training import StepProgress, TrainingCallback


class CallbackList(TrainingCallback):
    """Calls each callback in turn, in the order given (None entries are skipped)."""

    def __init__(self, *callbacks: TrainingCallback | None) -> None:
        self.callbacks = tuple(callback for callback in callbacks if callback is not None)

    def on_step(self, progress: StepProgress) -> None:
        for callback in self.callbacks:
            callback.on_step(progress)

    def on_epoch(self, record: EpochRecord, model: LatentModel) -> None:
        for callback in self.callbacks:
            callback.on_epoch(record, model)
