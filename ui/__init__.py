"""The app's building blocks: everything that is not page layout lives here, unit-tested.

Shared by every page (start here):
- ui.shell.sidebar: `current_selection() -> Selection(dataset, entry, device, entries, input_shape)`: what the
  shared sidebar (drawn by app.py) chose. `entry` is a vae_core.registry.ModelEntry or None when no model fits the
  data set (then show `missing_models_text(dataset)`); `entries` are all usable models for the data set.
- ui.state.loaders: cached loaders, the only place models and data come from.
  `load_split(name, split)` (st.cache_resource, raises DatasetUnavailable), `dataset_or_none(name, split)`
  (shows st.error, returns None), `load_model(entry, device)` / `model_or_none(entry, device)`: eval mode,
  gradients off, shared across sessions: never train them. `registry()` rescans when files change;
  `refresh_registry()` after saving a checkpoint.
- vae_core.registry: ModelEntry (info, source, checkpoint_id, key, label, kind, latent_dim, beta, role, group),
  the checkpoint folders ($VAE_CHECKPOINT_DIR, $VAE_USER_CHECKPOINT_DIR), `counterpart(entries, entry)`
  (the AE to compare a VAE with, and back), `beta_sweeps(entries, dataset)`. No Streamlit.
- ui.state.derived: st.cache_data results keyed by checkpoint_id: test-set encodings, 2-D projections, decoded
  grids.

Pure helpers (no Streamlit): vae_core.images (tensors to PNG), vae_core.latent_paths (grids, lerp/slerp, slices,
slider ranges), vae_core.projection (PCA that can place new codes), ui.figures.latent / ui.figures.beta /
ui.figures.training (plotly builders), vae_core.sweeps (beta-sweep tables), vae_core.train_request (form -> configs),
vae_core.jobs (fit() in a background thread, at most VAE_MAX_TRAINING_JOBS at once),
vae_core.preprocess (uploads and drawings to model input).

Streamlit helpers: ui.widgets.shared (digit picker, captions, projection choice), ui.widgets.job_panel (progress of a
training job, polled by a fragment), ui.shell.navigation (leaves Streamlit's legacy pages/ mode; called by app.py
and current_selection()), ui.widgets.canvas (the drawing canvas).

Speed (benchmarks/app_latency.py): a slider change reruns only its st.fragment, which should decode one small
batch and draw one small PNG; everything else comes from ui.state.derived's caches. Pass ui.state.derived's figure dicts
to st.plotly_chart through ui.figures.latent.trusted_figure (no second validation of 10 000 points). The sidebar
and the home page load no data set, no model and not even torch (tests/app/test_ui_startup.py checks it):
a page that uses the model calls `require_model` / `require_test_split`, which load it; ui.shell.warmup imports
torch in the background after the first page.
"""
