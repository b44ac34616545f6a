"""Command line: python -m vae_core {train,evaluate,list,convert,zoo,model-card,data,cache} ..."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import unicodedata
import uuid
from pathlib import Path

from vae_core.engine import limits
from vae_core.engine.callbacks import CallbackList
from vae_core.engine.checkpoint_info import SUFFIX, CheckpointError, first_line, list_checkpoints
from vae_core.engine.checkpoints import load_checkpoint, save_checkpoint
from vae_core.engine.config import ARCHITECTURES, LIKELIHOODS, MODEL_KINDS, ModelConfig, TrainConfig
from vae_core.engine.data import (
    DATASET_NAMES,
    INPUT_SHAPES,
    SIDEBAR_DATASETS,
    DatasetUnavailable,
    data_dir,
    load_dataset,
)
from vae_core.engine.data_files import (
    SOURCES,
    FetchFailed,
    fetch_split,
    raw_folder,
    shipped_folder,
    split_in_folder,
)
from vae_core.engine.evaluation import evaluate
from vae_core.engine.legacy import convert_old_checkpoint, old_checkpoints
from vae_core.engine.protocol import protocol_of
from vae_core.engine.replay_recorder import ReplayRecorder, replay_supported
from vae_core.engine.results import EvaluationReport
from vae_core.engine.training import (
    EpochRecord,
    StepProgress,
    TrainingCallback,
    TrainingDiverged,
    fit,
    training_metadata,
)
from vae_core.engine.vocabulary import DEFAULT_HIDDEN, model_kind
from vae_core.lessons.autoencoders.toy_zoo import TOY_BUNDLE_FILE, TOY_BUNDLE_NAME, train_toy_bundle
from vae_core.serving.disk_cache import cache_folder
from vae_core.zoo.model_card import write_model_card
from vae_core.zoo.specs import run_zoo, select_specs, zoo_specs


class ProgressBar(TrainingCallback):
    """A one-line progress bar on stderr, and a line per epoch."""

    def __init__(self, stream=None, width: int = 30):
        # Looked up now, not at import, so a redirected sys.stderr (tests, notebooks) is honoured.
        self.stream, self.width = stream or sys.stderr, width

    def on_step(self, progress: StepProgress) -> None:
        if progress.step % 10 and progress.step != progress.steps_per_epoch:
            return  # redrawing every step costs more than the step on small models
        filled = int(self.width * progress.global_step / progress.total_steps)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] epoch {progress.epoch} "
            f"step {progress.step}/{progress.steps_per_epoch} loss {progress.objective:.2f}"
        )
        self.stream.flush()

    def on_epoch(self, record: EpochRecord, model) -> None:
        test = record.test
        line = (
            f"\repoch {record.epoch}: train {record.train.objective:.2f}"
            + (f", test {test.objective:.2f} (recon {test.recon:.2f}, kl {test.kl:.2f})" if test else "")
            + f", {record.seconds:.1f} s"
        )
        self.stream.write(line.ljust(self.width + 50) + "\n")
        self.stream.flush()


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), like every other failure of the CLI."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def bounded_int(low: int, high: int):
    """An argparse type: a whole number in [low, high], refused with the bound in the message."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def finite_float(text: str) -> float:
    """An argparse type: a finite number (NaN and inf are refused here, ranges by the configs)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m vae_core",
        description="Train, evaluate and list autoencoders and VAEs for the VAE Latent Explorer.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = sub.add_parser("train", help="train a model and save a checkpoint")
    train.add_argument("--model", choices=MODEL_KINDS, default="vae")
    train.add_argument("--arch", choices=ARCHITECTURES, default="mlp")
    train.add_argument("--latent-dim", type=int, default=2)
    train.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=None,
        help="MLP widths or conv channels (default "
        + ", ".join(f"{' '.join(map(str, sizes))} for {arch}" for arch, sizes in DEFAULT_HIDDEN.items())
        + ")",
    )
    train.add_argument("--beta", type=finite_float, default=1.0)
    train.add_argument("--likelihood", choices=LIKELIHOODS, default="bernoulli")
    train.add_argument("--dataset", choices=DATASET_NAMES, default="digits")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=finite_float, default=1e-3)
    train.add_argument(
        "--kl-warmup",
        type=int,
        default=0,
        help="epochs over which beta ramps up linearly to its value, from beta/N in the first epoch",
    )
    train.add_argument("--binarize", action="store_true", help="dynamic binarisation (and a binarised test set)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    train.add_argument(
        "--iw-samples",
        type=bounded_int(0, limits.MAX_IW_SAMPLES),
        default=0,
        help=f"K for the IW estimate stored with the model (at most {limits.MAX_IW_SAMPLES})",
    )
    train.add_argument("--half", action="store_true", help="store weights as float16")
    train.add_argument(
        "--replay",
        action="store_true",
        help="record the training replay the Train page plays, as a run in the app does (not for cvae)",
    )
    train.add_argument("--out", type=Path, required=True, help=f"checkpoint file to write ({SUFFIX})")

    ev = sub.add_parser("evaluate", help="evaluate a checkpoint on a data split (JSON with --json)")
    ev.add_argument("path", type=Path)
    ev.add_argument("--dataset", choices=DATASET_NAMES, default=None, help="default: the one it was trained on")
    ev.add_argument("--split", choices=("train", "test"), default="test")
    ev.add_argument(
        "--iw-samples",
        type=bounded_int(0, limits.MAX_IW_SAMPLES),
        default=0,
        help=f"K for the IW estimate of -log p(x) (at most {limits.MAX_IW_SAMPLES})",
    )
    ev.add_argument("--seed", type=bounded_int(0, 2**63 - 1), default=0)
    ev.add_argument("--json", action="store_true")

    ls = sub.add_parser("list", help="list the checkpoints in a folder")
    ls.add_argument("folder", nargs="?", type=Path, default=Path("checkpoints"))

    convert = sub.add_parser(
        "convert", help=f"convert old-format checkpoints (.pt, torch pickles) to {SUFFIX}, once, beside them"
    )
    convert.add_argument("paths", nargs="+", type=Path, metavar="FOLDER_OR_FILE")

    zoo = sub.add_parser("zoo", help="train the shipped checkpoint zoo, skipping models already there")
    zoo.add_argument("--out", type=Path, default=Path("checkpoints"), help="folder to write the checkpoints to")
    zoo.add_argument("--quick", action="store_true", help="tiny models on small slices, one epoch (for tests)")
    zoo.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        default=None,
        help=f"train only these zoo models (file stems, e.g. mnist-vae-default; {TOY_BUNDLE_NAME}: the toy models)",
    )
    zoo.add_argument("--card", action="store_true", help="regenerate the folder's README.md model card after")

    card = sub.add_parser("model-card", help="write a folder's README.md model card from its checkpoints' metadata")
    card.add_argument("folder", nargs="?", type=Path, default=Path("checkpoints"))

    data = sub.add_parser("data", help="fetch MNIST's or Fashion-MNIST's files into the data directory")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=OneLineParser)
    fetch = data_sub.add_parser(
        "fetch", help="download a split (md5-checked, written atomically) into $VAE_DATA_DIR/<folder>/raw"
    )
    fetch.add_argument("dataset", choices=tuple(SOURCES))
    fetch.add_argument(
        "--split", choices=("train", "test"), default="train", help="train (default); test ships with the package"
    )
    data_sub.add_parser("status", help="which splits are here, and where each is read from")

    cache = sub.add_parser("cache", help="the derived results' disk cache in the data directory")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, parser_class=OneLineParser)
    warm = cache_sub.add_parser(
        "warm",
        help="score every setting the anomaly page offers for each data set's opening models, before class "
        "(sets already on disk are kept)",
    )
    warm.add_argument(
        "--datasets",
        nargs="+",
        choices=SIDEBAR_DATASETS,
        default=None,
        help="default: every data set of the app whose test split is here",
    )
    warm.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {
            "train": cmd_train,
            "evaluate": cmd_evaluate,
            "list": cmd_list,
            "convert": cmd_convert,
            "zoo": cmd_zoo,
            "model-card": cmd_model_card,
            "data": cmd_data,
            "cache": cmd_cache,
        }
        return commands[args.command](args)
    except BrokenPipeError:
        # Whoever read our output stopped early (`... list | head`): not an error. Point stdout at devnull so
        # the interpreter's final flush does not complain either.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CheckpointError, DatasetUnavailable, FetchFailed, TrainingDiverged, ValueError, OSError) as err:
        print(f"error: {first_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # The leading newline ends a progress bar's line; an interrupted save removed its temp file.
        print("\ninterrupted; no file was changed by the interrupted step", file=sys.stderr)
        return 130
    except Exception as err:  # one line, not a traceback; VAE_CORE_TRACEBACK=1 shows where
        if os.environ.get("VAE_CORE_TRACEBACK"):
            raise
        print(
            f"error: unexpected {type(err).__name__}: {first_line(err)} (VAE_CORE_TRACEBACK=1 shows where)",
            file=sys.stderr,
        )
        return 1


def cmd_train(args: argparse.Namespace) -> int:
    # Everything that can be refused is refused before the data are loaded and the training starts.
    if args.out.suffix != SUFFIX:
        raise ValueError(f"--out must end in {SUFFIX}, got {args.out}")
    check_plain_name(args.out)
    check_writable(args.out)
    hidden = args.hidden or model_kind(args.model).default_hidden(args.arch)
    model_config = ModelConfig(
        kind=args.model,
        arch=args.arch,
        input_shape=INPUT_SHAPES[args.dataset],
        latent_dim=args.latent_dim,
        hidden_dims=tuple(hidden),
        likelihood=args.likelihood,
        beta=args.beta,
    )
    train_config = TrainConfig(
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        kl_warmup_epochs=args.kl_warmup,
        dynamic_binarization=args.binarize,
        num_threads=args.threads,
    )
    if args.replay and not replay_supported(model_config):
        raise ValueError(f"--replay: a {args.model} model takes class labels, and its run records no replay")
    train_data = load_dataset(args.dataset, "train")
    test_data = load_dataset(args.dataset, "test")
    recorder = ReplayRecorder.for_run(model_config, train_config, len(train_data), test_data) if args.replay else None
    result = fit(
        model_config,
        train_config,
        CallbackList(ProgressBar(), recorder),
        train_data=train_data,
        test_data=test_data,
        model=None if recorder is None else recorder.model,
    )
    protocol = protocol_of(train_config, model_config)
    report = evaluate(result.model, test_data, iw_samples=args.iw_samples, seed=args.seed, protocol=protocol)
    save_checkpoint(
        args.out,
        result.model,
        train_config,
        history=[r.to_dict() for r in result.history],
        metrics=report.to_dict(),
        half=args.half,
        metadata=training_metadata(
            result.seconds, len(train_data), len(test_data), len(result.history), train_config.num_threads
        ),
        replay=None if recorder is None else recorder.finish(result.model),
    )
    print(
        f"saved {args.out} ({report.format_headline(decimals=2)} on the test split, {result.seconds:.0f} s)",
        file=sys.stderr,
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    model, info = load_checkpoint(args.path)
    dataset = args.dataset or info.train_config.dataset
    data = load_dataset(dataset, args.split)
    if data.input_shape != info.model_config.input_shape:
        raise ValueError(
            f"{args.path.name} expects images shaped {info.model_config.input_shape}; "
            f"{dataset} images are {data.input_shape}"
        )
    started = time.perf_counter()
    protocol = protocol_of(info.train_config, info.model_config)
    report = evaluate(model, data, iw_samples=args.iw_samples, seed=args.seed, protocol=protocol)
    out = {
        "checkpoint": str(args.path),
        "dataset": dataset,
        "split": args.split,
        **report.to_dict(),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if args.json:
        print(json.dumps(finite_or_none(out), allow_nan=False))  # strict JSON: NaN and inf become null
    else:
        for line in report_lines(report):
            print(line)
    return 0


def report_lines(report: EvaluationReport) -> list[str]:
    """The evaluation as text, each number under the one name its data protocol allows (vae_core.engine.protocol)."""
    names = report.names
    rows = [("protocol", report.data_protocol.value)]
    if report.neg_elbo is not None and names.neg_elbo:
        rows.append((names.neg_elbo, f"{report.neg_elbo:.3f} nats"))
    rows.append((names.recon, f"{report.recon:.3f} nats"))
    if report.is_variational:
        rows.append(("KL(q(z|x) ‖ p(z))", f"{report.kl:.3f} nats"))
    if report.iw_nll is not None and names.iw:
        rows.append((f"{names.iw}, K = {report.iw_samples}", f"{report.iw_nll:.3f} nats"))
    if report.entropy_floor is not None:
        rows.append(("entropy floor of these images", f"{report.entropy_floor:.3f} nats"))
    rows += [("active units", str(report.active_units)), ("MSE per pixel", f"{report.mse:.5f}")]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:>{width}}: {value}" for name, value in rows]
    if names.caveat:
        lines.append(names.caveat)
    return lines


def cmd_list(args: argparse.Namespace) -> int:
    if not args.folder.is_dir():
        raise ValueError(f"{args.folder}: no such folder")
    scan = list_checkpoints(args.folder)
    rows = [("name", "model", "arch", "latent", "beta", "dataset", "epochs", "-ELBO/recon", "created")]
    for info in scan.infos:
        m, t, report = info.model_config, info.train_config, info.metrics
        rows.append(
            (
                info.name,
                m.kind,
                m.arch,
                str(m.latent_dim),
                f"{m.beta:g}",
                t.dataset,
                str(t.epochs),
                f"{report.headline:.2f}" if report is not None else "-",
                info.metadata.get("created_at", "-"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for _path, why in scan.problems:
        print(f"skipped {why}", file=sys.stderr)
    if not scan.infos:
        print(f"no checkpoints in {args.folder}", file=sys.stderr)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert each old-format file named, or found in a folder named: a line per file, errors on stderr."""
    failed = 0
    for path in args.paths:
        sources = old_checkpoints(path)
        if not sources:
            print(f"{path}: no old-format checkpoints (*.pt) to convert", file=sys.stderr)
        for source in sources:
            try:
                print(convert_old_checkpoint(source).note)
            except (CheckpointError, OSError) as err:
                print(f"error: {first_line(err)}", file=sys.stderr)
                failed += 1
    return 1 if failed else 0


def cmd_zoo(args: argparse.Namespace) -> int:
    # The toy bundle is named like a model; --quick leaves it out unless it is named (it has no quick version).
    names = args.only
    toys = TOY_BUNDLE_NAME in names if names else not args.quick
    model_names = [name for name in names if name != TOY_BUNDLE_NAME] if names else None
    specs = [] if names and not model_names else select_specs(zoo_specs(quick=args.quick), model_names)
    started = time.perf_counter()
    outcome = run_zoo(args.out, specs, quick=args.quick, make_callback=lambda spec: ProgressBar(sys.stderr))
    if toys:
        toy_path = args.out / TOY_BUNDLE_FILE
        if toy_path.exists():
            outcome.skipped.append(toy_path)
            print(f"{TOY_BUNDLE_NAME}: exists, skipped", file=sys.stderr)
        else:
            print(f"{TOY_BUNDLE_NAME}: training every toy model of the autoencoder lesson", file=sys.stderr)
            outcome.trained.append(train_toy_bundle(toy_path, log=lambda line: print(line, file=sys.stderr)))
    print(
        f"zoo: {len(outcome.trained)} trained, {len(outcome.skipped)} skipped, {len(outcome.problems)} "
        f"left alone in {args.out} ({time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
    )
    for _path, why in outcome.problems:
        print(f"problem: {why}", file=sys.stderr)
    if args.card:
        print(f"wrote {write_model_card(args.out)}", file=sys.stderr)
    return 1 if outcome.problems else 0


def cmd_model_card(args: argparse.Namespace) -> int:
    path = write_model_card(args.folder)
    print(f"wrote {path}", file=sys.stderr)
    return 0


class DownloadBar:
    """A one-line download progress bar on stderr, redrawn at most once per whole percent."""

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label, self.stream, self.width, self.shown = label, stream or sys.stderr, width, -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent == self.shown:
            return
        self.shown = percent
        filled = self.width * percent // 100
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done / 1e6:.1f}/{total / 1e6:.1f} MB"
        )
        self.stream.flush()


def cmd_data(args: argparse.Namespace) -> int:
    if args.data_command == "status":
        for name in DATASET_NAMES:
            print(f"{name}: " + ", ".join(f"{split} {split_origin(name, split)}" for split in ("train", "test")))
        return 0
    root = data_dir()
    bar = DownloadBar(f"{args.dataset} {args.split}")
    try:
        paths = fetch_split(args.dataset, args.split, root, progress=bar)
    finally:
        if bar.shown >= 0:
            sys.stderr.write("\n")
    for path in paths:
        print(path)
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    """cache warm: a line per set scored, then what was scored, found and how long it took."""
    import torch

    from vae_core.engine.registry import registry_folders, scan_registry
    from vae_core.serving.anomaly_scores import warm, warm_datasets

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    datasets = args.datasets or warm_datasets()
    registry = scan_registry(registry_folders())
    print(f"warming the anomaly page's scores for {', '.join(datasets)} in {cache_folder()}", file=sys.stderr)
    report = warm(registry, datasets, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(
        f"anomaly scores: {report.scored} sets scored, {report.found} already on disk ({report.seconds:.0f} s)",
        file=sys.stderr,
    )
    return 0


def split_origin(name: str, split: str) -> str:
    """Where load_dataset reads the split from, in a few words."""
    if name == "digits":
        return "(scikit-learn, bundled)"
    if name == "sprites":
        return "(drawn in code)"
    folder = raw_folder(name, data_dir())
    if split_in_folder(name, split, folder):
        return f"in {folder}"
    if split == "test" and split_in_folder(name, split, shipped_folder(name)):
        return "shipped with the package"
    return f"missing (python -m vae_core data fetch {name}{' --split test' if split == 'test' else ''})"


def check_plain_name(out: Path) -> None:
    """Refuse a file name with a control or invisible character (a line break, a tab, a bidi override): every
    listing, log line and page that shows the name would show it broken or reversed."""
    if any(unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} for c in out.name):
        raise ValueError(
            f"--out {out.name!a} holds a control character (a line break, a tab, an invisible or bidi "
            "character); give a plain file name"
        )


def check_writable(out: Path) -> None:
    """Raise OSError/ValueError now, not after training, if a checkpoint cannot be written at out."""
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name ending in {SUFFIX}")
    # A probe named like atomic_files' temp files (so a killed probe is cleaned up like them), removed at once.
    probe = out.with_name(f".{out.name}.{uuid.uuid4().hex}-{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(probe, "xb"):
            pass
    except OSError as err:
        raise OSError(f"cannot write to {out.parent}: {err.strerror or err}") from None
    probe.unlink(missing_ok=True)


def finite_or_none(value):
    """value with every NaN or infinite float replaced by None, for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value
