"""What `decensor bar` does with a batch: find the hole of each page, fill it, write it."""

import sys
import time
from pathlib import Path

from . import images, masks
from .batch import (EXIT_USAGE, UsageError, collect_jobs, run_jobs, summarise,
                    write_report)
from .engine import NoMarkedRegion, PaintSettings


def find_mask_file(masks_dir, source):
    """The mask for ``source`` in ``masks_dir``: same stem, any image extension."""
    for candidate in sorted(Path(masks_dir).glob(f"{source.stem}.*")):
        if candidate.suffix.lower() in images.IMAGE_SUFFIXES:
            return candidate
    return None


class BarProcessor:
    """Turns one job into a filled picture; the model is loaded on first use."""

    def __init__(self, paint, masks_dir=None, models_dir=None, copy_unmarked=False,
                 max_pixels=images.MAX_PIXELS):
        self.paint = paint
        self.max_pixels = max_pixels
        self.masks_dir = masks_dir
        self.models_dir = models_dir
        self.copy_unmarked = copy_unmarked
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            from .engine import Decensor

            self._engine = Decensor(models_dir=self.models_dir, paint=self.paint)
        return self._engine

    def hole_for(self, job, picture):
        if self.masks_dir is not None:
            mask_file = find_mask_file(self.masks_dir, job.source)
            if mask_file is None:
                raise masks.MaskError(f"no mask named {job.source.stem}.* in {self.masks_dir}")
            return masks.load_mask_file(mask_file, picture.size, picture.orientation)
        return self.paint.detect(images.rgb_view(picture))

    def __call__(self, job):
        from .regions import label_regions

        picture = images.open_picture(job.source, self.max_pixels)
        image_format = images.format_for(job.output, picture.format)
        hole = self.hole_for(job, picture)
        if not hole.any():
            if self.copy_unmarked:
                return picture, image_format, 0
            raise NoMarkedRegion("no marked region found")
        _, boxes = label_regions(hole)
        return self.engine.fill_picture(picture, hole, copy=False), image_format, len(boxes)


def run_bar(inputs, output_dir, recursive=False, masks_dir=None, paint=None, overwrite=False,
            copy_unmarked=False, report=None, allow_output_inside_input=False, models_dir=None,
            quiet=False, started=None, echo=None, max_pixels=images.MAX_PIXELS):
    """Run the bar command; returns the exit code."""
    echo = echo or (lambda message: print(message, file=sys.stderr))
    started = started or time.perf_counter()
    try:
        jobs, early_failures = collect_jobs(inputs, output_dir, recursive, allow_output_inside_input)
    except UsageError as error:
        echo(f"error: {error}")
        return EXIT_USAGE
    for failure in early_failures:
        echo(f"error: {failure.input}: {failure.error}")
    if not jobs and not early_failures:
        echo(f"error: no images found in {', '.join(map(str, inputs))}")
        return EXIT_USAGE
    if any(not job.output.exists() or overwrite for job in jobs):
        from .modelfile import ModelFileError, load_arrays

        try:
            load_arrays(models_dir=models_dir)
        except ModelFileError as error:
            echo(f"error: {error}")
            return EXIT_USAGE
    processor = BarProcessor(PaintSettings(**(paint or {})), masks_dir, models_dir, copy_unmarked, max_pixels)
    outcomes = early_failures + run_jobs(jobs, processor, overwrite, progress=not quiet, echo=echo)
    line, code = summarise(outcomes, "bar", output_dir, time.perf_counter() - started)
    if report:
        write_report(outcomes, report)
    if not quiet:
        echo(line)
    return code
