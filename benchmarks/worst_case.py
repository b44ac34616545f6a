"""The worst case of each user-reachable bound in vae_core/engine/limits.py: seconds and peak memory, one
fresh process each.

    python benchmarks/worst_case.py                     # every case, about 2-4 minutes on 2 cores
    python benchmarks/worst_case.py --cases upload-png,tsne --tsne-points 2000
    python benchmarks/worst_case.py --list              # the cases and the budgets they are held to

Each case runs in a child process (`--child CASE`) that first does its untimed setup (imports, loading a shipped
model and MNIST, writing the hostile file), then resets its peak resident memory to the current one
(/proc/self/clear_refs, Linux) and runs the worst case the bound allows, timed. It reports the seconds, its peak
RSS (VmHWM) and the growth of that peak over the setup's RSS: the memory the worst case itself costs one server.
Where the whole worst case would take too long (the IW estimate over the 10 000 test images; t-SNE when asked
for fewer points), it is measured on part of it and extrapolated, and the table says so.

The budgets quoted are the ones vae_core/engine/limits.py's comments state (2 CPU cores, 24 GB per server). Needs the
shipped checkpoints and MNIST in $VAE_DATA_DIR (or ./data). On a shared machine other work inflates the seconds.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from any folder

from vae_core.engine import limits  # noqa: E402  (no torch: the parent process stays small)

MB = 2**20
DEFAULT_MODEL = "checkpoints/mnist-vae-default.safetensors"  # the largest shipped model: 784-512-512-50
GRID_MODEL = "checkpoints/mnist-vae-z2.safetensors"  # the decoder grid is drawn for 2-D models
TSNE_MODEL = "checkpoints/mnist-vae-z16-beta1.safetensors"  # t-SNE is offered for latents of more than 2 dimensions
MNIST_TEST_IMAGES = 10_000
TIMEOUT_S = 300  # per child: a case that runs longer is reported as such, not waited for


@dataclass(frozen=True)
class Case:
    bound: str  # the name in vae_core/engine/limits.py
    value: Callable[[argparse.Namespace], str]  # the value exercised, as printed
    budget: str  # what limits.py's comment says the worst case costs


CASES: dict[str, Case] = {
    "upload-png": Case(
        "MAX_UPLOAD_PIXELS",
        lambda a: f"{limits.MAX_UPLOAD_PIXELS / 1e6:.0f} MP RGBA PNG",
        "96 MB as 8-bit pixels, ~190 MB in all",
    ),
    "upload-png16": Case(
        "MAX_UPLOAD_PIXELS",
        lambda a: f"{limits.MAX_UPLOAD_PIXELS / 1e6:.0f} MP 16-bit grey PNG",
        "reduced too (in 16 bits)",
    ),
    "upload-png1": Case(
        "MAX_UPLOAD_PIXELS",
        lambda a: f"{limits.MAX_UPLOAD_PIXELS / 1e6:.0f} MP 1-bit PNG",
        "reduced too (in 8 bits)",
    ),
    "upload-jpeg": Case(
        "MAX_UPLOAD_PIXELS",
        lambda a: f"{limits.MAX_UPLOAD_PIXELS / 1e6:.0f} MP RGB JPEG",
        "far less than the PNG (draft)",
    ),
    "checkpoint-header-lists": Case(
        "MAX_HEADER_BYTES",
        lambda a: f"{limits.MAX_HEADER_BYTES // 1024} KiB header of nested empty lists",
        "near 35 MB",
    ),
    "checkpoint-document-lists": Case(
        "MAX_HEADER_BYTES",
        lambda a: f"{limits.MAX_HEADER_BYTES // 1024} KiB document of nested empty lists",
        "near 35 MB, then the node budget",
    ),
    "checkpoint-absurd-header": Case(
        "MAX_HEADER_BYTES",
        lambda a: "a header declaring 2**63 bytes",
        "refused before reading it",
    ),
    "checkpoint-parameters": Case(
        "MAX_PARAMETERS",
        lambda a: f"{limits.MAX_PARAMETERS / 1e6:.0f} M parameters, loaded",
        "80 MB of weights, ~160 MB loading",
    ),
    "iw": Case(
        "MAX_IW_SAMPLES",
        lambda a: f"K={limits.MAX_IW_SAMPLES} x {MNIST_TEST_IMAGES} images",
        "about half an hour, about 300 MB",
    ),
    "posterior-samples": Case(
        "MAX_POSTERIOR_SAMPLES",
        lambda a: f"{limits.MAX_POSTERIOR_SAMPLES} draws of one image",
        "31 MB decoded, ~80 MB in all",
    ),
    "grid": Case(
        "MAX_GRID_SIDE",
        lambda a: f"{limits.MAX_GRID_SIDE}x{limits.MAX_GRID_SIDE} decoded grid, as a PNG",
        "5 MB, well under a second",
    ),
    "tsne": Case(
        "MAX_TSNE_POINTS",
        lambda a: f"{limits.MAX_TSNE_POINTS} points",
        "about 30 s and 200 MB",
    ),
    "anomaly-set": Case(
        "MAX_ANOMALY_SET_DECODES",
        lambda a: f"one set, {ANOMALY_IMAGES} images x K={limits.MAX_ANOMALY_SET_DECODES // ANOMALY_IMAGES}",
        "1-2 s a set idle (5-7 sets)",
    ),
    "anomaly-set-k": Case(
        "MAX_ANOMALY_SET_DECODES",
        lambda a: f"one set, {ANOMALY_LARGEST_K_IMAGES} images x K={ANOMALY_LARGEST_K}",
        "1-2 s a set idle, 335 MB at K = 100",
    ),
    "pca-basis": Case(
        "MAX_PCA_COMPONENTS",
        lambda a: f"{limits.MAX_PCA_COMPONENTS} components of 10 000 images",
        "about a second, once per data set",
    ),
    "q-star": Case(
        "Q_STAR_ITERATIONS",
        lambda a: "q* of one image, two starts",
        "0.12 s CPU (posterior.Q_STAR_MEASURED_SECONDS)",
    ),
}
ANOMALY_IMAGES = 2000  # the largest images-per-set choice of the anomaly page
ANOMALY_LARGEST_K, ANOMALY_LARGEST_K_IMAGES = 100, 1000  # the largest K the page lets through, at its images


# --- the child: one case ----------------------------------------------------------------------------------------
def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak() -> int:
    """Reset VmHWM to the current RSS; return that RSS in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS:") * 1024


def _digit_image(mode: str, size: tuple[int, int]):
    """A dark '7' on a light page filling most of the frame: a photo of a digit, as compressible as one."""
    from PIL import Image, ImageDraw

    width, height = size
    page = {"RGBA": (245, 245, 240, 255), "RGB": (245, 245, 240), "I;16": 60000, "1": 1}[mode]
    ink = {"RGBA": (20, 20, 30, 255), "RGB": (20, 20, 30), "I;16": 3000, "1": 0}[mode]
    image = Image.new("I" if mode == "I;16" else mode, size, page)
    draw = ImageDraw.Draw(image)
    stroke = max(width, height) // 25
    draw.line([(width * 0.25, height * 0.2), (width * 0.75, height * 0.2), (width * 0.4, height * 0.85)], ink, stroke)
    return image.convert("I;16") if mode == "I;16" else image


def _upload_bytes(kind: str) -> bytes:
    side_w = int(math.sqrt(limits.MAX_UPLOAD_PIXELS * 3 / 2))  # a 3:2 photo just under the cap
    size = (side_w, limits.MAX_UPLOAD_PIXELS // side_w)
    modes = {"upload-png": "RGBA", "upload-png16": "I;16", "upload-png1": "1", "upload-jpeg": "RGB"}
    image = _digit_image(modes[kind], size)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG" if kind == "upload-jpeg" else "PNG", quality=95)
    data = buffer.getvalue()
    assert len(data) <= limits.MAX_UPLOAD_BYTES, f"{len(data)} bytes: over the upload cap, not a reachable case"
    return data


def child_upload(kind: str, args) -> dict:
    from vae_core.serving.preprocess import preprocess_bytes  # what the pages call: load_image, then preprocess

    data = _upload_bytes(kind)
    base = _reset_peak()
    start = time.perf_counter()
    result = preprocess_bytes(data, (1, 28, 28))
    seconds = time.perf_counter() - start
    assert result.image.shape == (28, 28)
    return {"seconds": seconds, "base": base, "note": f"{len(data) / MB:.2f} MB file"}


def _nested_lists(size: int) -> bytes:
    """size bytes of JSON list items "[[]]," (no trailing comma): the costliest JSON per byte, two lists per 5."""
    return (b"[[]]," * (size // 5))[:-1].ljust(size - 1) + b" "


def _header_file(header: bytes, declared: int | None = None) -> bytes:
    """A safetensors file of header alone, its first 8 bytes declaring its length (or declared)."""
    return (len(header) if declared is None else declared).to_bytes(8, "little") + header


def child_checkpoint_header(kind: str, args) -> dict:
    budget = limits.MAX_HEADER_BYTES
    if kind == "checkpoint-header-lists":  # the header's own JSON: refused as not ours once parsed
        head, tail = b'{"x":[', b"]}"
        content = _header_file(head + _nested_lists(budget - len(head) - len(tail)) + tail)
    elif kind == "checkpoint-document-lists":  # the document inside it, parsed and walked, then refused
        head = (
            b'{"__metadata__":{"vae-latent-explorer":"{\\"format\\":\\"vae-latent-explorer\\",'
            b'\\"format_version\\":2,\\"model_config\\":{},\\"train_config\\":{},\\"metadata\\":{\\"note\\":['
        )
        tail = b']}}","sha256":"' + b"0" * 64 + b'"}}'
        content = _header_file(head + _nested_lists(budget - len(head) - len(tail)) + tail)
    else:
        content = _header_file(b"{}", declared=2**63)
    size, seconds, base, problem = _list_one_refused(f"{kind}.safetensors", content)
    return {"seconds": seconds, "base": base, "note": f"{size / 1024:.0f} KB file; {problem[:70]}"}


def _list_one_refused(name: str, content: bytes) -> tuple[int, float, int, str]:
    """Write one checkpoint file of content, time the registry's scan of its folder from a reset peak, and check
    the file was refused: (file bytes, seconds, base peak, the reason)."""
    from vae_core.engine.registry import scan_registry
    from vae_core.engine.vocabulary import SOURCE_USER

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_bytes(content)
        base = _reset_peak()
        start = time.perf_counter()
        registry = scan_registry(((SOURCE_USER, folder),))
        seconds = time.perf_counter() - start
    assert not registry.entries and len(registry.problems) == 1, registry
    return len(content), seconds, base, registry.problems[0][1]


def largest_mlp_config():
    """An MNIST VAE with two equal hidden layers, as wide as MAX_PARAMETERS allows."""
    from vae_core.engine.config import ModelConfig, parameter_count_bound

    def config(width: int) -> ModelConfig:
        return ModelConfig(input_shape=(1, 28, 28), latent_dim=limits.MAX_LATENT_DIM, hidden_dims=(width, width))

    low, high = 1, limits.MAX_HIDDEN_WIDTH
    while low < high:  # the widest that fits: config() itself refuses anything over the limit
        middle = (low + high + 1) // 2
        try:
            fits = parameter_count_bound(config(middle)) <= limits.MAX_PARAMETERS
        except ValueError:
            fits = False
        low, high = (middle, high) if fits else (low, middle - 1)
    return config(low)


def child_checkpoint_parameters(kind: str, args) -> dict:
    from vae_core.engine.checkpoints import load_checkpoint, save_checkpoint
    from vae_core.engine.config import TrainConfig, parameter_count_bound
    from vae_core.engine.models import build_model

    config = largest_mlp_config()
    over = {**vars(config), "hidden_dims": (config.hidden_dims[0] + 64,) * 2}
    try:
        type(config)(**over)
        refused = "NOT refused"
    except ValueError:
        refused = "one size up refused"
    with tempfile.TemporaryDirectory() as folder:
        path = save_checkpoint(Path(folder) / "largest.safetensors", build_model(config), TrainConfig(dataset="mnist"))
        size = path.stat().st_size
        base = _reset_peak()
        start = time.perf_counter()
        model, _ = load_checkpoint(path)  # what picking it in the sidebar does: validate, build, load, check
        seconds = time.perf_counter() - start
    count = sum(p.numel() for p in model.parameters())
    assert count <= parameter_count_bound(config) <= limits.MAX_PARAMETERS
    return {
        "seconds": seconds,
        "base": base,
        "note": f"hidden {config.hidden_dims}, {count / 1e6:.1f} M params, {size / MB:.0f} MB file; {refused}",
    }


def _mnist_model(path: str):
    from vae_core.engine.checkpoints import load_checkpoint
    from vae_core.engine.data import load_dataset, measured_inputs
    from vae_core.engine.protocol import protocol_of

    model, info = load_checkpoint(REPO / path)
    protocol = protocol_of(info.train_config, info.model_config)
    images = measured_inputs(load_dataset(info.train_config.dataset, "test").images, protocol)
    return model.eval(), images, info


def child_iw(kind: str, args) -> dict:
    from vae_core.engine.evaluation import evaluate
    from vae_core.engine.protocol import DataProtocol

    model, images, _ = _mnist_model(DEFAULT_MODEL)
    sample = images[: args.iw_images]
    base = _reset_peak()
    start = time.perf_counter()
    report = evaluate(
        model, sample, iw_samples=limits.MAX_IW_SAMPLES, protocol=DataProtocol.BINARIZED
    )  # binarised: IW applies
    seconds = time.perf_counter() - start
    assert report.iw_samples == limits.MAX_IW_SAMPLES and report.iw_nll is not None
    whole = seconds * MNIST_TEST_IMAGES / len(sample)
    return {
        "seconds": whole,
        "base": base,
        "extrapolated": True,
        "note": f"measured {seconds:.1f} s on {len(sample)} images, x{MNIST_TEST_IMAGES // len(sample)} (linear)",
    }


def child_posterior_samples(kind: str, args) -> dict:
    from vae_core.lessons.elbo_report import posterior_samples

    model, images, _ = _mnist_model(DEFAULT_MODEL)
    x = images[:1]
    base = _reset_peak()
    start = time.perf_counter()
    drawn = posterior_samples(model, x, n=limits.MAX_POSTERIOR_SAMPLES, seed=0)
    seconds = time.perf_counter() - start
    assert drawn.shape == (limits.MAX_POSTERIOR_SAMPLES, 28, 28)
    return {"seconds": seconds, "base": base, "note": f"{DEFAULT_MODEL.split('/')[-1]}"}


def child_grid(kind: str, args) -> dict:
    import torch

    from vae_core.lessons.latent_paths import grid_axes, grid_codes
    from vae_core.serving.images import grid_png

    model, _, _ = _mnist_model(GRID_MODEL)
    side = limits.MAX_GRID_SIDE
    base = _reset_peak()
    start = time.perf_counter()
    codes = grid_codes(*grid_axes(torch.zeros(1, 2).numpy(), True, side, "quantiles"))
    with torch.no_grad():
        decoded = model.decode(torch.from_numpy(codes))
    png = grid_png(decoded, n_cols=side)  # what the Decoder grid page shows (ui.state.derived.decoded_grid_png)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "base": base, "note": f"{side * side} decodes, {len(png) / MB:.1f} MB PNG"}


def child_tsne(kind: str, args) -> dict:
    from vae_core.engine.evaluation import embed_dataset
    from vae_core.lessons.projection import fit_projection

    model, images, _ = _mnist_model(TSNE_MODEL)
    points = min(args.tsne_points, limits.MAX_TSNE_POINTS)
    codes = embed_dataset(model, images[:points]).numpy()
    base = _reset_peak()
    start = time.perf_counter()
    _, projected = fit_projection(codes, "tsne", seed=0)
    seconds = time.perf_counter() - start
    assert projected.shape == (points, 2)
    if points == limits.MAX_TSNE_POINTS:
        return {"seconds": seconds, "base": base, "note": f"{TSNE_MODEL.split('/')[-1]}, {codes.shape[1]}-D codes"}
    # Barnes-Hut t-SNE costs about N log N; the extrapolated memory is left as measured (it says so).
    n, full = points, limits.MAX_TSNE_POINTS
    return {
        "seconds": seconds * (full * math.log(full)) / (n * math.log(n)),
        "base": base,
        "extrapolated": True,
        "note": f"measured {seconds:.1f} s at {n} points, scaled by N log N; memory as measured at {n}",
    }


def child_anomaly_set(kind: str, args) -> dict:
    from vae_core.engine.data import load_dataset
    from vae_core.lessons import anomaly

    model, _, info = _mnist_model(GRID_MODEL)
    images, k = (
        (ANOMALY_IMAGES, limits.MAX_ANOMALY_SET_DECODES // ANOMALY_IMAGES)
        if kind == "anomaly-set"
        else (ANOMALY_LARGEST_K_IMAGES, ANOMALY_LARGEST_K)
    )
    assert images * k <= limits.MAX_ANOMALY_SET_DECODES
    reference = anomaly.IndependentBernoulli.fit(load_dataset("mnist", "train").images)
    image_set = anomaly.build_set("mnist", "in-distribution", subset=images, seed=0)
    from vae_core.engine.protocol import protocol_of

    protocol = protocol_of(info.train_config, info.model_config)
    base = _reset_peak()
    start = time.perf_counter()
    scored = anomaly.score_set(model, image_set, protocol, reference, iw_samples=k, seed=0)
    seconds = time.perf_counter() - start
    assert len(scored.scores.iw_nll) == images
    sets = len(anomaly.set_keys("mnist", include_synthetic=True))
    return {"seconds": seconds, "base": base, "note": f"{GRID_MODEL.split('/')[-1]}; a study scores {sets} such sets"}


def child_pca_basis(kind: str, args) -> dict:
    from vae_core.engine.data import load_dataset
    from vae_core.lessons.autoencoders.lesson_models import PCA_TRAIN_IMAGES
    from vae_core.lessons.autoencoders.numbers import fit_principal_basis

    images = load_dataset("mnist", "train").images[:PCA_TRAIN_IMAGES]
    base = _reset_peak()
    start = time.perf_counter()
    basis = fit_principal_basis(images, limits.MAX_PCA_COMPONENTS)
    seconds = time.perf_counter() - start
    assert basis.components.shape == (limits.MAX_PCA_COMPONENTS, 784)
    return {"seconds": seconds, "base": base, "note": "then read from the disk cache"}


def child_q_star(kind: str, args) -> dict:
    import torch

    from vae_core.lessons import posterior as post

    model, images, _ = _mnist_model(GRID_MODEL)
    decoder = post.Decoder.from_model(model)
    timings = []
    for x in images[:6]:
        with torch.inference_mode():
            q = post.encode_one(model, x)
            report = post.analyse_image(decoder, x, q)
        base = _reset_peak()
        start = time.perf_counter()
        post.amortisation_gap(decoder, x, q, report.grid, elbo_encoder=report.elbo)
        timings.append(time.perf_counter() - start)
    slowest = max(timings[1:])  # the first includes L-BFGS's first use
    return {"seconds": slowest, "base": base, "note": f"the slowest of 5 test images (after a warm-up), {GRID_MODEL}"}


CHILDREN: dict[str, Callable[[str, argparse.Namespace], dict]] = {
    "upload-png": child_upload,
    "upload-png16": child_upload,
    "upload-png1": child_upload,
    "upload-jpeg": child_upload,
    "checkpoint-header-lists": child_checkpoint_header,
    "checkpoint-document-lists": child_checkpoint_header,
    "checkpoint-absurd-header": child_checkpoint_header,
    "checkpoint-parameters": child_checkpoint_parameters,
    "iw": child_iw,
    "posterior-samples": child_posterior_samples,
    "grid": child_grid,
    "tsne": child_tsne,
    "anomaly-set": child_anomaly_set,
    "anomaly-set-k": child_anomaly_set,
    "pca-basis": child_pca_basis,
    "q-star": child_q_star,
}


def run_child(case: str, args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    result = CHILDREN[case](case, args)
    result["peak"] = _status_kib("VmHWM:") * 1024
    print(json.dumps(result))


# --- the parent: the table --------------------------------------------------------------------------------------
def measure(case: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", case, "--threads", str(args.threads)]
    command += ["--iw-images", str(args.iw_images), "--tsne-points", str(args.tsne_points)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"still running after {TIMEOUT_S} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {last[:100]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases (--list shows them)")
    parser.add_argument("--list", action="store_true", help="list the cases and their budgets, run nothing")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the app is sized for 2)")
    parser.add_argument("--iw-images", type=int, default=20, help="test images the IW estimate is timed on")
    parser.add_argument(
        "--tsne-points", type=int, default=limits.MAX_TSNE_POINTS, help="fewer than the bound: time and scale up"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args)
        return
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; use --list")
    header = f"{'case':24} {'bound':22} {'value':34} {'seconds':>9} {'peak MB':>8} {'case MB':>8}  budget (limits.py)"
    print(header)
    if args.list:
        for name in cases:
            print(
                f"{name:24} {CASES[name].bound:22} {CASES[name].value(args):34} {'':>9} {'':>8} {'':>8}  "
                f"{CASES[name].budget}"
            )
        return
    os.environ.setdefault("VAE_DATA_DIR", str(REPO / "data"))
    started = time.perf_counter()
    notes = []
    for name in cases:
        case, result = CASES[name], measure(name, args)
        if "error" in result:
            print(f"{name:24} {case.bound:22} {case.value(args):34} {'failed':>9} {'':>8} {'':>8}  {case.budget}")
            notes.append(f"{name}: {result['error']}")
            continue
        seconds = f"{'~' if result.get('extrapolated') else ''}{result['seconds']:.2f}"
        peak, growth = result["peak"] / MB, (result["peak"] - result["base"]) / MB
        print(f"{name:24} {case.bound:22} {case.value(args):34} {seconds:>9} {peak:8.0f} {growth:8.0f}  {case.budget}")
        notes.append(f"{name}: {result['note']}")
        sys.stdout.flush()
    print()
    print("peak MB: the child's peak RSS (VmHWM), setup included; case MB: its growth over the setup's RSS.")
    print("~ marks an extrapolation (see the note).")
    for note in notes:
        print(f"  {note}")
    print(
        f"total {time.perf_counter() - started:.0f} s, {args.threads} torch threads, load average "
        f"{os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
