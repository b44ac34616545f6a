"""What the app needs Streamlit for, grouped by role. Everything else (maths, data, jobs) lives in vae_core.

Start here:
- ui.shell.sidebar: `current_selection() -> Selection(dataset, entry, device, entries, input_shape)`, what the
  shared sidebar (drawn by app.py) chose; `selection.model` is the picked model as a vae_core.engine.registry.ModelRef.
  `entry` is a vae_core.engine.registry.ModelEntry, or None when no model fits the data set (then show
  `missing_models_text(dataset)`); `require_model` / `require_test_split` stop a page that cannot run.
- ui.state.loaders: cached loaders, the only place models and data come from. `load_split(name, split)`
  (st.cache_resource, raises DatasetUnavailable), `dataset_or_none(name, split)` (shows st.error, returns None),
  `load_model(ref)` / `model_or_none(ref)`: eval mode, gradients off, shared across sessions: never train
  them; `load_vae` / `load_conditional_vae` narrow the type for maths that needs that class. `registry()`
  rescans when files change; `refresh_registry()` after saving a checkpoint.
- ui.state.derived: st.cache_data results for a ModelRef: test-set encodings, 2-D projections, decoded grids,
  the latent scatter as a figure dict. ui.state.elbo_cache: the ELBO page's numbers (vae_core.lessons.elbo_report).

The layout:
- ui/shell/    the app's frame: sidebar (data set, model, device), navigation (leaves Streamlit's legacy
               pages/ mode; tests/app/test_navigation.py guards it), warmup (torch and scikit-learn
               load in the background, then a low-priority child scores the anomaly page's sets into the disk
               cache; pandas first in every run), busy_indicator (a "Working…" badge while a run
               is in progress), url_state (the view in the URL, with "Reset this page"), lessons (the
               lesson registry: each page's title, icon, address and URL keys)
- ui/state/    st.cache_* wrappers: loaders, derived, elbo_cache, browser_decoders (decoders as browser payloads);
               session (this session's secret token: who owns a training job, who holds a t-SNE lease)
- ui/widgets/  widgets that draw and return plain values: bound (every widget bound to the URL, its default,
               type and bounds recorded where it is drawn), shared (model caption, projection choice, digit
               picker), image_chooser (test image / upload / drawing, binarised for binarised models; shared by
               the pages that measure one image), elbo_widgets (the ELBO page's model pickers), job_panel (a
               training job's progress, polled by a fragment), train_data (where a page needs a
               training split: the offer to download it, with a progress bar), tsne_progress (a t-SNE run's
               bars and Cancel),
               canvas (the drawing canvas, a custom component), latent_pad (the live latent pad, client-side
               latent sliders, sample grid and Interpolation's walk: the decoder runs in the browser, JS in
               ui/widgets/js/), export
               (download buttons: grids and strips as PNG, test codes as CSV; `figure_config` is every
               st.plotly_chart's config: its camera saves PNG/SVG as the sidebar chooses)
- ui/figures/  plotly builders, no Streamlit: latent (scatter, prior circles, paths, trusted_figure), beta
               (rate-distortion plane, KL heatmap), elbo (posterior, KL per dimension, IW against K, β curve), training
- Streamlit-free logic the pages use sits in vae_core: registry (ModelEntry, ModelRef, folders, pairing,
  sweeps), latent_paths (grids, lerp/slerp, slices, slider ranges), projection (PCA / t-SNE), tsne_job (t-SNE in
  a child process: progress, cancel, the size cap), sweeps (the β table), elbo_report, jobs (fit() in a
  child process, at most VAE_MAX_TRAINING_JOBS at once, on a server-wide board), background (the one runner of
  those children: a server-wide cap, a queue, leases), train_request (the Train
  form -> configs), preprocess (uploads and drawings -> model input), images (arrays -> PNG), export (codes ->
  CSV, download file names), results (typed metrics), vocabulary (roles, sources, labels, thresholds, z₁…),
  protocol (what a model's numbers mean), posterior, divergences, anomaly, conditional, ae_lessons, toy_data,
  walk (Interpolation's walk from A to B, precomputed for the browser).

Speed (benchmarks/app_latency.py): a slider change reruns only its st.fragment, which should decode one small
batch and draw one small PNG; everything else comes from ui.state's caches. Pass ui.state.derived's figure dicts
to st.plotly_chart through ui.figures.latent.trusted_figure (no second validation of 10 000 points). The sidebar
and the home page load no data set, no model and not even torch (tests/app/test_ui_startup.py checks it): keep
torch imports out of ui.shell, ui.state.loaders and what they import at module level; ui.shell.warmup imports
torch in the background after the first page.
"""
