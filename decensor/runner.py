"""What `decensor bar` and `decensor mosaic` do with each page of a batch.

``bar``: find the painted (or mask-file) hole, fill it, write it.
``mosaic``: find the mosaic region (green marks over the page, whose
un-marked original holds the mosaic; or, with ``--auto``, the mosaic itself),
estimate its grid, restore it keeping each block's mean colour, write it.
"""

import sys
import time
from pathlib import Path

import numpy as np

from . import images, masks
from .batch import (EXIT_INTERRUPTED, EXIT_USAGE, Processed, UsageError, check_writable, collect_jobs,
                    names_a_file, run_jobs, summarise, unlisted_subfolder_images, write_report)
from .modelfile import ModelFileError, check_model
from .engine import NoMarkedRegion, PaintSettings


def find_by_stem(folder, source):
    """The image in ``folder`` with ``source``'s stem, any image extension (masks, originals)."""
    for candidate in sorted(Path(folder).glob(f"{source.stem}.*")):
        if candidate.suffix.lower() in images.IMAGE_SUFFIXES:
            return candidate
    return None


class BarProcessor:
    """Turns one job into a filled picture; the pipeline (and its model) is loaded on first use."""

    models = ("bar",)

    def __init__(self, paint, masks_dir=None, models_dir=None, copy_unmarked=False,
                 max_pixels=images.MAX_PIXELS):
        self.paint = paint
        self.max_pixels = max_pixels
        self.masks_dir = masks_dir
        self.models_dir = models_dir
        self.copy_unmarked = copy_unmarked
        self._pipeline = None

    @property
    def pipeline(self):
        if self._pipeline is None:
            self._pipeline = self.load_pipeline()
        return self._pipeline

    def load_pipeline(self):
        from .bar import BarFill

        return BarFill.load(self.models_dir)

    def hole_for(self, job, picture):
        """(the hole, warnings about how it was found); NoMarkedRegion says why there is none."""
        if self.masks_dir is not None:
            mask_file = find_by_stem(self.masks_dir, job.source)
            if mask_file is None:
                raise masks.MaskError(f"no mask named {job.source.stem}.* in {self.masks_dir}")
            mask = masks.load_mask_file(mask_file, picture.size, picture.orientation)
            if not mask.marks_anything:
                raise NoMarkedRegion(f"no marked region found: {mask.why_empty()}")
            return mask.hole, []
        paint = self.paint.find(images.rgb_view(picture), jpeg=picture.format == "JPEG")
        if not paint.hole.any():
            raise NoMarkedRegion("no marked region found")
        return paint.hole, paint.warnings()

    def unmarked(self, picture, image_format, error):
        """A page with nothing to restore: written unchanged with --copy-unmarked, else reported."""
        if self.copy_unmarked:
            return Processed(picture, image_format)
        raise error

    def __call__(self, job):
        from .regions import count_regions

        picture = images.open_picture(job.source, self.max_pixels)
        image_format = images.format_for(job.output, picture.format)
        try:
            hole, warnings = self.hole_for(job, picture)
        except NoMarkedRegion as error:
            return self.unmarked(picture, image_format, error)
        filled = self.pipeline.fill(images.fill_view(picture), hole)
        return Processed(images.with_fill(picture, filled, hole, copy=False), image_format, count_regions(hole),
                         warnings=warnings)


class MosaicProcessor(BarProcessor):
    """Restores mosaic regions. Marked mode reads the un-marked original
    (same stem, any extension) from ``originals_dir``; auto mode finds the
    mosaic on the page itself and can save what it found as mask images."""

    def __init__(self, paint, originals_dir=None, auto=False, save_masks=None, models_dir=None,
                 copy_unmarked=False, max_pixels=images.MAX_PIXELS):
        super().__init__(paint, None, models_dir, copy_unmarked, max_pixels)
        self.originals_dir = originals_dir
        self.auto = auto
        self.save_masks = save_masks

    models = ("mosaic", "bar")  # (the bar model fills a marked region whose grid cannot be measured)

    def load_pipeline(self):
        from .mosaic import MosaicRestoration

        return MosaicRestoration.load(self.models_dir)

    def _original_for(self, job, marked):
        original_file = find_by_stem(self.originals_dir, job.source)
        if original_file is None:
            raise masks.MaskError(f"no original named {job.source.stem}.* in {self.originals_dir}")
        original = images.open_picture(original_file, self.max_pixels)
        if original.size != marked.size:
            raise masks.MaskError(
                f"original {original_file} is {original.size[0]}x{original.size[1]}, the marked page is "
                f"{marked.size[0]}x{marked.size[1]}"
            )
        return original

    def _found_regions(self, job, picture):
        """[(grid, hole)] of the mosaics found on ``picture``, one per grid; saved as a mask if asked.

        Detection may find one mosaic in several pieces: pieces on one grid are
        restored together (one synthesis, one network pass).
        """
        from .mosaic import find_mosaic

        found, regions = find_mosaic(images.rgb_view(picture))
        if self.save_masks is not None:
            self._write_mask(job, found)
        by_grid = {}
        for grid, piece in regions:
            by_grid[grid] = by_grid[grid] | piece if grid in by_grid else piece
        return list(by_grid.items())

    def _write_mask(self, job, found):
        from PIL import Image

        from .batch import write_atomically

        target = Path(self.save_masks) / f"{job.source.stem}.png"
        mask_picture = images.picture_from_pil(Image.fromarray(found.astype(np.uint8) * 255))
        write_atomically(mask_picture, target, "PNG")

    def __call__(self, job):
        marked = images.open_picture(job.source, self.max_pixels)
        image_format = images.format_for(job.output, marked.format)
        warnings = []
        if self.auto:
            picture = marked
            regions = self._found_regions(job, picture)
        else:
            try:
                hole, warnings = self.hole_for(job, marked)
            except NoMarkedRegion as error:
                return self.unmarked(marked, image_format, error)
            picture = self._original_for(job, marked)
            regions = [(None, hole)]  # the grid is measured inside the marks
        if not regions:
            return self.unmarked(picture, image_format, NoMarkedRegion("no mosaic found"))
        rgb = images.rgb_view(picture).copy()
        hole_total = np.zeros(rgb.shape[:2], bool)
        notes = []
        for grid, hole in regions:
            rgb, used = self.pipeline.restore(rgb, hole, grid)
            hole_total |= hole
            notes.append(f"block {used.size} px, grid offset ({used.offset_x}, {used.offset_y})"
                         if used else "no mosaic grid found: filled as a hole")
        result = images.with_fill(picture, rgb, hole_total, copy=False)
        return Processed(result, image_format, len(regions), notes, warnings)


def run_bar(inputs, output_dir, recursive=False, masks_dir=None, paint=None, overwrite=False,
            copy_unmarked=False, report=None, allow_output_inside_input=False, models_dir=None,
            quiet=False, started=None, echo=None, max_pixels=images.MAX_PIXELS):
    """Run the bar command; returns the exit code."""
    processor = BarProcessor(PaintSettings(**(paint or {})), masks_dir, models_dir, copy_unmarked, max_pixels)
    return run_command("bar", processor, inputs, output_dir, recursive, overwrite, report,
                       allow_output_inside_input, models_dir, quiet, started, echo)


def run_mosaic(inputs, output_dir, originals_dir=None, auto=False, save_masks=None, recursive=False,
               paint=None, overwrite=False, copy_unmarked=False, report=None,
               allow_output_inside_input=False, models_dir=None, quiet=False, started=None, echo=None,
               max_pixels=images.MAX_PIXELS):
    """Run the mosaic command; returns the exit code."""
    echo = echo or (lambda message: print(message, file=sys.stderr))
    if not auto and (originals_dir is None or not Path(originals_dir).is_dir()):
        echo(f"error: originals folder {originals_dir} does not exist (give --originals, or use --auto)")
        return EXIT_USAGE
    if save_masks is not None:
        Path(save_masks).mkdir(parents=True, exist_ok=True)
    processor = MosaicProcessor(PaintSettings(**(paint or {})), originals_dir, auto, save_masks, models_dir,
                                copy_unmarked, max_pixels)
    return run_command("mosaic", processor, inputs, output_dir, recursive, overwrite, report,
                       allow_output_inside_input, models_dir, quiet, started, echo)


def run_command(name, processor, inputs, output_dir, recursive, overwrite, report,
                allow_output_inside_input, models_dir, quiet, started=None, echo=None):
    """The shared batch flow: collect, check the output folder and the models, process, summarise, report."""
    echo = echo or (lambda message: print(message, file=sys.stderr))
    started = started or time.perf_counter()
    try:
        jobs, early_failures = collect_jobs(inputs, output_dir, recursive, allow_output_inside_input)
        for failure in early_failures:
            echo(f"error: {failure.input}: {failure.error}")
        if not jobs and not early_failures:
            echo(f"error: {_nothing_found(inputs, recursive)}")
            return EXIT_USAGE
        if any(not job.output.exists() or overwrite for job in jobs):
            check_writable(Path(output_dir).parent if names_a_file(output_dir) else output_dir)
            for model in processor.models:
                check_model(model, models_dir)
    except (UsageError, ModelFileError) as error:
        echo(f"error: {error}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        echo("interrupted before any page was done")
        return EXIT_INTERRUPTED
    # A progress bar only on a terminal: in a log it is a trail of carriage returns.
    batch = run_jobs(jobs, processor, overwrite, progress=not quiet and sys.stderr.isatty(), echo=echo)
    batch.outcomes = early_failures + batch.outcomes
    line, code = summarise(batch, name, output_dir, time.perf_counter() - started)
    if report:
        write_report(batch.outcomes, report)
    if not quiet or batch.interrupted:
        echo(line)
    return code


def _nothing_found(inputs, recursive):
    message = f"no images found in {', '.join(map(str, inputs))}"
    hidden = 0 if recursive else unlisted_subfolder_images(inputs)
    return message + (f" (their sub-folders hold {hidden}: add --recursive)" if hidden else "")
