"""Bounds on everything a user or a file sets: the one place they are defined (the CLI, configs, the checkpoint
reader and, later, the app import them from here).

Each bound keeps the worst case it allows under a stated budget on the machine the app is sized for: 2 CPU
cores, 24 GB of memory shared by every session of one server. The budgets are per request; the comment says
what the worst case costs and why the bound is far above anything a lesson needs. No torch here: configs and
the checkpoint lister import this module before torch has loaded.
"""

from __future__ import annotations

# --- model size (ModelConfig) -----------------------------------------------------------------------------------
# The largest shipped model is 784-512-512-50 (1.4 M parameters); lessons use 2-64 latent units.
MAX_LATENT_DIM = 512
MAX_CLASSES = 1000  # size of a conditional model's one-hot label
MAX_HIDDEN_LAYERS = 8  # each a Linear or a stride-2 conv; 8 halvings take 256 px to 1
MAX_HIDDEN_WIDTH = 4096  # MLP widths and conv channels alike
MAX_INPUT_CHANNELS = 4  # grey, RGB, RGBA
MAX_INPUT_SIDE = 256  # pixels, for H and W: the data sets are 8x8 and 28x28
# 20 M parameters: 80 MB of float32 weights, about 320 MB while training (weights, gradients, two Adam moments),
# and a checkpoint of at most 80 MB; loading one holds the stored and the built weights at once, about 160 MB.
# Checked on the config before anything is allocated.
MAX_PARAMETERS = 20_000_000

# --- training (TrainConfig) -------------------------------------------------------------------------------------
# One epoch of the largest allowed model on MNIST takes minutes on 2 cores; 1000 epochs is days, not weeks, and
# the shipped models use at most 150 (digits) and 60 (MNIST).
MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 8192  # activations of one batch of the largest model: 8192 x 4096 x 4 B = 134 MB per layer
MAX_THREADS = 64  # torch intra-op threads; more than the cores only adds contention
MAX_LEARNING_RATE = 10.0  # Adam steps are about lr per weight; anything above this diverges at once
MAX_BETA = 1e4  # beta-VAE weight on the KL; the β page sweeps 0.1-16
MIN_GAUSSIAN_SIGMA = 1e-4  # fixed decoder std in pixel units; below this the NLL overflows float32 gradients
MAX_GAUSSIAN_SIGMA = 1e3
MAX_PENALTY_WEIGHT = 1e6  # sparsity / contractive / corruption weights
# The β-TCVAE's N (ModelConfig.tc_dataset_size) enters its loss as one log: any size costs the same; a billion
# images is far beyond any data set here and keeps N * batch size well inside a float.
MAX_DATASET_SIZE = 1_000_000_000

# --- evaluation and exploration ---------------------------------------------------------------------------------
# IW estimate: time is linear in K (memory is not: samples are drawn 500 at a time for 100 images, 160 MB a
# tensor for MNIST, about 300 MB at the peak). K = 5000 (the shipped default's protocol) on the 10 000 MNIST test
# images is the worst case, about half an hour on 2 idle cores for the largest shipped model (benchmarks/
# worst_case.py extrapolated 2 hours from 20 images on a 2-core machine at load 9).
MAX_IW_SAMPLES = 5000
MAX_ANOMALY_IW_SAMPLES = 1000  # K per image when the anomaly page scores whole sets (thousands of images)
# Images x K per set on the anomaly page (a study scores 5-7 sets), with K at most 100: 100 000 decodes of the 2-D
# VAE take 7-9 s a set at load 20 on the shared 2-core machine (benchmarks/worst_case.py: about 1-2 s idle); a
# batch decodes 250 images x K at once, 335 MB of growth at K = 100 (671 MB measured at K = 200, so K stops at 100).
# Every set is scored once per data directory (the disk cache), in batches with progress and an estimate, stopped
# by a newer rerun or a closed tab.
MAX_ANOMALY_SET_DECODES = 100_000
# Draws from q(z|x) for one image: 10 000 x 784 x 4 B = 31 MB decoded, about 80 MB with the decoder's activations.
MAX_POSTERIOR_SAMPLES = 10_000
MAX_GRID_SIDE = 40  # decoder grid of n x n images: 1600 decodes, 1600 x 784 x 4 B = 5 MB, well under a second
MAX_TSNE_POINTS = 5000  # scikit-learn's Barnes-Hut t-SNE: about 30 s and 200 MB at 5000 points on 2 cores
# The autoencoder page's PCA-k slider: one eigendecomposition of the 784 x 784 covariance of 10 000 images (about a
# second, once per data set, then read from the disk cache) gives PCA-k for every k up to this; 64 x 784 float64.
MAX_PCA_COMPONENTS = 64
MAX_QUEUED_TRAINING_JOBS = 2  # per server: each job uses one core; more only makes every job and page slower
# Heavy background children per server, trainings and t-SNE runs together (vae_core.serving.background). Each is a
# Python with torch and one busy core: a t-SNE of MAX_TSNE_POINTS peaks near 900 MB, a training of a form-sized
# model a few hundred MB. Two keep a 2-core server at about 2 GB and leave the sessions' reruns a share of the
# cores; eight at once (one link per model) took 8.8 GB and both cores for minutes. The rest wait in a queue.
MAX_BACKGROUND_JOBS = 2
# t-SNE runs waiting for a slot: each holds at most MAX_TSNE_POINTS codes (5000 x 512 x 8 B = 20 MB at the largest
# latent), so a full queue costs at most 160 MB; a start beyond it is refused with a message.
MAX_QUEUED_TSNE_JOBS = 8
# A leased job (a t-SNE) runs only while some session renews its lease (every rerun and every 0.5 s poll of the
# page waiting for it). 5 s of silence outlasts a slow rerun under load (p95 about 3 s) and stops the work of a
# closed tab within seconds, not the minutes it ran on before.
BACKGROUND_LEASE_SECONDS = 5.0

# --- uploads ----------------------------------------------------------------------------------------------------
# An image picked in the browser, before decoding: a phone photo is 2-6 MB as JPEG, a digit needs far less. The
# one cap for st.file_uploader (max_upload_size, whole megabytes of 2**20 bytes, as Streamlit counts them), the
# server's maxUploadSize (.streamlit/config.toml) and the decoder (vae_core.serving.preprocess.load_image).
MAX_UPLOAD_MB = 5
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 2**20
# A phone camera takes 12-20 MP; 24 MP admits those uncropped. PNG cannot be decoded reduced, so the worst case
# is a 24 MP RGBA PNG: 96 MB as 8-bit pixels (about 190 MB with the decoder's buffers and the reduced copy),
# reduced in Pillow by a whole factor to under 2048 px a side before any float32 array exists; 1-bit and 16-bit are
# reduced too (in 8 and 16 bits), and JPEG is decoded at 1/2-1/8 scale by Image.draft and costs far less.
MAX_UPLOAD_PIXELS = 24_000_000
MAX_CONCURRENT_DECODES = 2  # uploads decoded at once per server (2 cores): a burst of uploads queues, not swaps

# --- checkpoint files -------------------------------------------------------------------------------------------
# A checkpoint's header is JSON: each tensor's dtype, shape and byte range, and the document of configs, metadata
# and a per-epoch history, at most 58 KB in the shipped files (about 380 bytes an epoch as stored, so a MAX_EPOCHS
# history fits twice over). Parsing JSON costs at most about 31 bytes of memory per byte (nested empty lists,
# "[[]],"), so 1 MiB bounds a header near 35 MB (benchmarks/worst_case.py), held only while the scan reads that
# one file; a file that declares a longer header is refused before any of it is read.
MAX_HEADER_BYTES = 2**20
MAX_METADATA_NODES = 200_000  # values visited when type-checking a checkpoint's document (its configs and metadata)
MAX_TEXT_LENGTH = 200  # role, group, created_at, hardware, ...: strings the app shows
MAX_TENSORS = 1024  # tensors in one checkpoint: a VAE with 8 hidden layers has about 40
MAX_TENSOR_DIMS = 8  # sizes in one tensor's shape: the models' weights have at most 4 (conv kernels)
# The bytes of every tensor together: the largest allowed model stored as float32, plus room for int64 buffers.
MAX_TENSOR_BYTES = 4 * MAX_PARAMETERS + 2**20
MAX_HISTORY_EPOCHS = MAX_EPOCHS  # entries in the stored history, read by the training figures
# Largest |weight| accepted. Adam moves a weight by about lr per step; the lessons train with lr <= 1e-2, so
# even 10^6 steps stay below 1e4, and float16-stored checkpoints top out at 65504. A weight of 1e6 comes from a
# corrupted or hand-made file (or a run at an absurd lr that diverged), and overflows float32 logits.
MAX_ABS_WEIGHT = 1e6

# --- temporary files --------------------------------------------------------------------------------------------
# A temp file of a writer that was killed (SIGKILL, power loss) is removed once its writer's process is gone, or
# once it is older than this whatever its pid says (pids are reused). Writing the largest checkpoint takes under
# a second; an hour leaves room for a slow network file system.
STALE_TEMP_SECONDS = 3600

# --- fetching data sets -----------------------------------------------------------------------------------------
# Seconds a mirror may stay silent (connecting, or between two reads) before the next mirror is tried. The largest
# file is Fashion-MNIST's 26 MB of training images; a slow link still sends something every few seconds, and a
# dead one costs the user this long per mirror before the message says the machine seems to be offline.
DATA_FETCH_TIMEOUT_S = 20
