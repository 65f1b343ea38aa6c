"""Command line: parses options and hands them to the library. Nothing else lives here."""

import contextlib
import gc
import sys
import time
from pathlib import Path

import click

from . import __version__

DEFAULT_INPUT = "decensor_input"
DEFAULT_ORIGINALS = "decensor_input_original"
DEFAULT_OUTPUT = "decensor_output"


def _exit(code):
    """End the command with ``code``, its objects frozen first: the interpreter's last garbage collection
    would walk everything numba and ONNX Runtime built (0.2-0.3 s at every exit)."""
    gc.freeze()
    sys.exit(code)


def _color(ctx, param, value):
    from .masks import parse_color

    try:
        return parse_color(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="decensor")
def main():
    """Restore the parts of drawn images hidden under bars or mosaics."""


def _batch_options(models_help):
    """Options every page command shares (output, paint, safety, report); ``models_help`` names its models."""
    options = [
        click.argument("inputs", nargs=-1, type=click.Path(path_type=Path)),
        click.option("-o", "--output", "output_dir", type=click.Path(path_type=Path), default=DEFAULT_OUTPUT,
                     show_default=True, help="Folder for the results (same names and formats as the inputs); "
                                             "with one input file, an output file such as result.png."),
        click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders and keep their structure."),
        click.option("--color", default="#00ff00", show_default=True, callback=_color,
                     help="Colour of the paint that marks regions: #rrggbb or r,g,b."),
        click.option("--tolerance", type=click.IntRange(0, 255), default=60, show_default=True,
                     help="Largest per-channel difference from the colour that still counts as paint "
                          "(raise it for heavily compressed JPEGs)."),
        click.option("--min-region", type=click.IntRange(1, None), default=16, show_default=True,
                     help="Painted specks smaller than this many pixels are left alone."),
        click.option("--overwrite", is_flag=True, help="Replace outputs that already exist (default: skip them)."),
        click.option("--copy-unmarked", is_flag=True,
                     help="Write pages with nothing to restore unchanged instead of reporting them."),
        click.option("--report", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
                     help="Write a JSON record per input (status, output, regions, seconds, error, "
                          "warnings); - writes it to standard output."),
        click.option("--allow-output-inside-input", is_flag=True,
                     help="Permit an output folder inside an input folder."),
        click.option("--max-pixels", type=click.IntRange(1, None), default=300_000_000, show_default=True,
                     help="Refuse pages with more pixels than this, before decoding them."),
        click.option("--models", "models_dir", type=click.Path(path_type=Path, file_okay=False),
                     help=f"Folder holding {models_help} (default: the shipped models/)."),
        click.option("--alpha-mask", is_flag=True,
                     help="The region is what is erased to transparency (alpha below 128); the output is opaque "
                          "there and keeps its alpha elsewhere."),
        click.option("--dry-run", is_flag=True,
                     help="Find the regions of every page (and of every page inside archives), report them, "
                          "write nothing."),
        click.option("--preview", "preview_dir", type=click.Path(path_type=Path, file_okay=False),
                     help="With --dry-run: write a small image per page showing what would be filled, here."),
        click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, envvar="DECENSOR_JOBS",
                     help="Pages at once, in worker processes  [default: $DECENSOR_JOBS, or one per core as "
                          "memory allows]"),
        click.option("--cluster", metavar="tcp://HOST:PORT",
                     help="Send one task per page to this Dask scheduler (pip install 'decensor[cluster]'); "
                          "inputs and outputs must be on a folder every worker sees."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary; errors are still printed."),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _common(kwargs):
    """Split the shared options into what the runners take."""
    if kwargs.get("preview_dir") is not None and not kwargs.get("dry_run"):
        raise click.BadParameter("goes with --dry-run", param_hint="--preview")
    return dict(
        inputs=list(kwargs.pop("inputs")) or [Path(DEFAULT_INPUT)],
        paint=dict(color=kwargs.pop("color"), tolerance=kwargs.pop("tolerance"),
                   min_region=kwargs.pop("min_region")),
        started=time.perf_counter(),
        **kwargs,
    )


_EXIT_STATUS = """Exit status: 0 all pages done, 1 some pages failed or had nothing to restore,
2 the command could not start (bad option, missing input or model, output inside input or not
writable), 130 interrupted by Ctrl-C (re-run to continue)."""


@main.command(
    epilog="""\b
Examples:
  decensor bar                                  fill every page in decensor_input/
  decensor bar scans/ -o filled/ --recursive    keep sub-folders of scans/
  decensor bar page.jpg --tolerance 80          JPEG with noisy green paint
  decensor bar pages/ --masks masks/            white in masks/<stem>.png = fill
  decensor bar pages/ --color "#ff00ff"         paint in magenta instead of green

""" + _EXIT_STATUS
)
@_batch_options("bar.npz and bar.json")
@click.option("--masks", "masks_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Folder of black/white mask images matched by file stem (white = fill) instead of paint.")
def bar(**kwargs):
    """Fill regions painted in a solid colour (pure green by default).

    INPUTS are image files, CBZ/ZIP or PDF volumes, or folders (default: decensor_input/). Every pixel
    outside the filled region is written back exactly as it was (in lossless
    formats); alpha, ICC profile and DPI are kept.
    """
    from .allocator import keep_freed_memory
    from .runner import run_bar

    keep_freed_memory()
    _exit(run_bar(**_common(kwargs)))


@main.command(
    epilog="""\b
Examples:
  decensor mosaic                               marked pages in decensor_input/, originals in
                                                decensor_input_original/
  decensor mosaic --auto scans/ -o restored/    find the mosaics, no marks needed
  decensor mosaic --auto scans/ --save-masks found/   also write what was found (white = mosaic)

""" + _EXIT_STATUS
)
@_batch_options("mosaic.npz, mosaic.json, bar.npz and bar.json")
@click.option("--originals", "originals_dir", type=click.Path(path_type=Path, file_okay=False),
              default=DEFAULT_ORIGINALS, show_default=True,
              help="Un-marked pages with the mosaic, matched to INPUTS by file stem (any extension).")
@click.option("--auto", is_flag=True, help="Find mosaic regions (and their block size) without green marks; "
                                           "INPUTS are then the mosaic pages themselves.")
@click.option("--save-masks", type=click.Path(path_type=Path, file_okay=False),
              help="With --auto: write each page's found mosaic as <stem>.png (white = mosaic).")
def mosaic(**kwargs):
    """Restore mosaic (pixelated) regions, keeping each block's colour.

    A mosaic still shows every block's average colour: the restoration fills
    the region from its surroundings and then shifts every block to the
    colour the mosaic kept. The block size and grid offset are measured from
    the pixels. Mark the region in green on a copy of the page (INPUTS) and
    keep the un-marked page in --originals, or use --auto.
    """
    from .allocator import keep_freed_memory
    from .runner import run_mosaic

    keep_freed_memory()
    _exit(run_mosaic(**_common(kwargs)))


@main.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("-o", "--output", "output_dir", type=click.Path(path_type=Path, file_okay=False),
              default=DEFAULT_OUTPUT, show_default=True, help="Folder the saved pages go to (same names).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (anything but this machine's own lets others read your pages).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open the page in the default browser.")
@click.option("--models", "models_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder holding the models (default: the shipped models/).")
def studio(folder, output_dir, host, port, no_browser, models_dir):
    """Paint what to restore in a browser, fill it and save it: no image editor needed.

    FOLDER (default: decensor_input/) holds the pages; saved pages go to
    OUTPUT with the same names and formats, written as the command line
    writes them. The page is served from this machine only.
    """
    from .allocator import keep_freed_memory
    from .studio import serve

    keep_freed_memory()
    folder = folder or Path(DEFAULT_INPUT)
    if not folder.is_dir():
        raise click.BadParameter(f"{folder} is not a folder", param_hint="FOLDER")
    try:
        sys.exit(serve(folder, output_dir, host, port, not no_browser, models_dir, echo=click.echo))
    except OSError as error:
        click.echo(f"error: cannot listen on {host}:{port} ({error.strerror or error})", err=True)
        sys.exit(2)


@main.group()
def data():
    """Training data: gather drawn images from Debian packages into a local cache."""


@data.command("fetch")
@click.option("--cache", type=click.Path(path_type=Path, file_okay=False),
              help="Cache folder (default: $DECENSOR_CACHE or ~/.cache/decensor).")
@click.option("--package", "packages", multiple=True,
              help="Fetch only this Debian package (repeatable). Default: every listed source.")
@click.option("--independent", is_flag=True,
              help="Fetch the independent real-art set instead (benchmarks only: never trained or tuned on).")
def data_fetch(cache, packages, independent):
    """Download the listed Debian packages and extract their images.

    Records package, version and licence of every image in <cache>/manifest.json
    and puts ~5 % of them in a held-out split. wesnoth-* packages are refused:
    they are reserved for independent evaluation. With --independent the
    independent set goes to <cache>/independent/ and <cache>/independent.json.

    \b
    Example:
      decensor data fetch --package openclipart-png
    """
    from .training.sources import RESERVED_PREFIXES, fetch

    for package in packages:
        if package.startswith(RESERVED_PREFIXES):
            raise click.BadParameter(f"{package} is reserved for independent evaluation", param_hint="--package")
    try:
        fetch(cache, list(packages) or None, log=click.echo, independent=independent)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--package") from None


@data.command("samples")
@click.option("--cache", type=click.Path(path_type=Path, file_okay=False),
              help="Cache folder (default: $DECENSOR_CACHE or ~/.cache/decensor).")
@click.option("--task", type=click.Choice(["bar", "mosaic"]), default="bar", show_default=True)
@click.option("--count", type=click.IntRange(1, None), default=12288, show_default=True,
              help="Samples to have on disk (building resumes: shards already there count).")
@click.option("--crop", type=click.IntRange(64, 1024), default=192, show_default=True,
              help="Sample size; training takes random sub-crops of --crop px from them.")
def data_samples(cache, task, count, crop):
    """Make training samples once, first guesses included, so that training is pure network work.

    \b
    Example:
      decensor data samples --task bar --count 12288 && decensor train
    """
    from .training import sources
    from .training.cache import build
    from .training.tasks import task_for

    cache = cache or sources.default_cache()
    train_paths, _ = sources.image_lists(cache)
    with _stale_samples_refused():
        build(task_for(task), cache, count, crop, train_paths, log=click.echo)


@contextlib.contextmanager
def _stale_samples_refused():
    """A sample cache made with other first-guess settings ends the command with its one line."""
    from .training.cache import StaleSamples

    try:
        yield
    except StaleSamples as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.option("--cache", type=click.Path(path_type=Path, file_okay=False),
              help="Data and checkpoint cache (default: $DECENSOR_CACHE or ~/.cache/decensor).")
@click.option("--models", "models_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where better models are shipped (default: the repository's models/).")
@click.option("--crop", type=click.IntRange(64, 1024), default=128, show_default=True,
              help="Training crop size (a multiple of 64).")
@click.option("--batch-size", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--steps-per-epoch", type=click.IntRange(1, None), default=100, show_default=True,
              help="Steps between held-out scoring and checkpoints.")
@click.option("--epochs", type=click.IntRange(1, None), default=100000, show_default=True)
@click.option("--hours", type=float, help="Stop after this many hours.")
@click.option("--learning-rate", type=float, default=2e-4, show_default=True)
@click.option("--restart", is_flag=True, help="Ignore the shipped model and checkpoints; start from random weights.")
@click.option("--task", type=click.Choice(["bar", "mosaic"]), default="bar", show_default=True,
              help="bar: fill holes (models/bar); mosaic: refine mosaic block means (models/mosaic).")
@click.option("--fresh-per-batch", type=click.IntRange(1, 256), default=2, show_default=True,
              help="New samples (each with its patch-synthesis guess) per batch; the rest of the batch "
                   "reuses recent samples, turned or flipped. The batch size makes every sample new.")
@click.option("--sharp", is_flag=True,
              help="bar: train (and ship) the correction as it is, not smoothed over the hole.")
@click.option("--adversarial", type=click.FloatRange(0, None), default=0.0, show_default=True,
              help="Weight of a patch discriminator's judgement of the fill in the loss (0: off).")
@click.option("--feature-matching", type=click.FloatRange(0, None), default=0.0, show_default=True,
              help="Weight of matching the discriminator's features of the fill to the truth's (0: off).")
@click.option("--rescore", is_flag=True,
              help="Only score the shipped model on the held-out set with this version's code, "
                   "record the numbers in its card, and exit.")
def train(cache, models_dir, crop, batch_size, steps_per_epoch, epochs, hours, learning_rate, restart, task,
          fresh_per_batch, sharp, adversarial, feature_matching, rescore):
    """Train a model; resumes from the last checkpoint or the shipped model.

    Every epoch: checkpoint to <cache>/checkpoints/<task>, score the held-out set,
    and write the weights to models/ when they beat the shipped model's score.
    Runs on TensorFlow (CPU) by default; KERAS_BACKEND=jax or torch trains the
    same model code on a GPU machine.

    \b
    Example:
      decensor data fetch && nohup decensor train --hours 2 > train.log &
    """
    if crop % 64:
        raise click.BadParameter("must be a multiple of 64", param_hint="--crop")
    if sharp and task != "bar":
        raise click.BadParameter("only the bar task's correction is smoothed", param_hint="--sharp")
    from .modelfile import quiet_keras_import

    quiet_keras_import()
    if rescore:
        from .training.train import rescore as run_rescore

        run_rescore(cache=cache, models_dir=models_dir, task=task, log=click.echo)
        return
    from .training.train import train as run_training

    with _stale_samples_refused():
        run_training(cache=cache, models_dir=models_dir, crop=crop, batch_size=batch_size,
                     steps_per_epoch=steps_per_epoch, epochs=epochs, learning_rate=learning_rate,
                     hours=hours, restart=restart, task=task, fresh_per_batch=fresh_per_batch,
                     correction_smoothing=0.0 if sharp else None, adversarial=adversarial,
                     matching=feature_matching, log=lambda m: click.echo(m, err=False))
