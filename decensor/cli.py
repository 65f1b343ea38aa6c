"""Command line: parses options and hands them to the library. Nothing else lives here."""

import sys
import time
from pathlib import Path

import click

from . import __version__

DEFAULT_INPUT = "decensor_input"
DEFAULT_ORIGINALS = "decensor_input_original"
DEFAULT_OUTPUT = "decensor_output"


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


@main.command(
    epilog="""\b
Examples:
  decensor bar                                  fill every page in decensor_input/
  decensor bar scans/ -o filled/ --recursive    keep sub-folders of scans/
  decensor bar page.jpg --tolerance 80          JPEG with noisy green paint
  decensor bar pages/ --masks masks/            white in masks/<stem>.png = fill
  decensor bar pages/ --color "#ff00ff"         paint in magenta instead of green

Exit status: 0 all pages done, 1 some pages failed or had no marked region,
2 the command could not start (bad option, missing input, output inside input)."""
)
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--output", "output_dir", type=click.Path(path_type=Path), default=DEFAULT_OUTPUT,
              show_default=True, help="Folder for the filled pages (same names and formats as the inputs).")
@click.option("-r", "--recursive", is_flag=True, help="Descend into sub-folders and keep their structure.")
@click.option("--masks", "masks_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Folder of black/white mask images matched by file stem (white = fill) instead of paint.")
@click.option("--color", default="#00ff00", show_default=True, callback=_color,
              help="Colour of the paint that marks regions: #rrggbb or r,g,b.")
@click.option("--tolerance", type=click.IntRange(0, 255), default=60, show_default=True,
              help="Largest per-channel difference from the colour that still counts as paint "
                   "(raise it for heavily compressed JPEGs).")
@click.option("--min-region", type=click.IntRange(1, None), default=16, show_default=True,
              help="Painted specks smaller than this many pixels are left alone.")
@click.option("--overwrite", is_flag=True, help="Replace outputs that already exist (default: skip them).")
@click.option("--copy-unmarked", is_flag=True, help="Write pages without a marked region unchanged instead of reporting them.")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False),
              help="Write a JSON record per input (status, output, regions, seconds, error).")
@click.option("--allow-output-inside-input", is_flag=True, help="Permit an output folder inside an input folder.")
@click.option("--models", "models_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder holding bar.npz and bar.json (default: the shipped models/).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary; errors are still printed.")
def bar(inputs, output_dir, recursive, masks_dir, color, tolerance, min_region, overwrite,
        copy_unmarked, report, allow_output_inside_input, models_dir, quiet):
    """Fill regions painted in a solid colour (pure green by default).

    INPUTS are image files or folders (default: decensor_input/). Every pixel
    outside the filled region is written back exactly as it was (in lossless
    formats); alpha, ICC profile and DPI are kept.
    """
    from .runner import run_bar

    started = time.perf_counter()
    code = run_bar(
        inputs=list(inputs) or [Path(DEFAULT_INPUT)],
        output_dir=output_dir,
        recursive=recursive,
        masks_dir=masks_dir,
        paint=dict(color=color, tolerance=tolerance, min_region=min_region),
        overwrite=overwrite,
        copy_unmarked=copy_unmarked,
        report=report,
        allow_output_inside_input=allow_output_inside_input,
        models_dir=models_dir,
        quiet=quiet,
        started=started,
    )
    sys.exit(code)
