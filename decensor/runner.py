"""What `decensor bar` and `decensor mosaic` do with each page of a batch.

``bar``: find the hole (green paint, a mask file, or transparency with
``--alpha-mask``), fill it, write it. ``mosaic``: find the mosaic region
(green marks over the page, whose un-marked original holds the mosaic; or,
with ``--auto``, the mosaic itself), estimate its grid, restore it keeping
each block's mean colour, write it. A CBZ/ZIP or PDF input is taken apart
page by page (:mod:`decensor.archives`) and written back whole. With
``--dry-run`` the holes are found and reported, nothing is filled or written
(``--preview`` draws them).
"""

import io
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from . import archives, images, masks
from .batch import (EXIT_INTERRUPTED, EXIT_USAGE, Outcome, Processed, UsageError, check_writable, collect_jobs,
                    names_a_file, one_line, run_jobs, summarise, unlisted_subfolder_images, write_atomically,
                    write_report)
from .engine import NoMarkedRegion, PaintSettings
from .modelfile import ModelFileError, check_model
from .parallel import default_jobs, run_jobs_in_processes, run_jobs_on_cluster


@dataclass(frozen=True)
class PageOptions:
    """How each page of a command is found and written (the options every page command shares)."""

    paint: PaintSettings = PaintSettings()
    models_dir: object = None
    copy_unmarked: bool = False
    max_pixels: int = images.MAX_PIXELS
    alpha_mask: bool = False
    dry_run: bool = False
    preview_dir: object = None


def find_by_stem(folder, name):
    """The image in ``folder`` with ``name``'s stem, any image extension (masks, originals)."""
    for candidate in sorted(Path(folder).glob(f"{_stem(name)}.*")):
        if candidate.suffix.lower() in images.IMAGE_SUFFIXES:
            return candidate
    return None


def _stem(name):
    """A page's file or archive member name without folders or extension."""
    return PurePosixPath(str(name)).stem


class PageProcessor:
    """Turns one job into what to write: a page, or an archive of pages, one page at a time.

    Subclasses say how a page is restored (:meth:`restore`); the pipeline
    (and its model) is loaded on first use.
    """

    models = ()

    def __init__(self, options=PageOptions()):
        self.options = options
        self._pipeline = None
        self._loading = None

    @property
    def pipeline(self):
        if self._pipeline is None:
            self._pipeline = self._loading.result() if self._loading is not None else self.load_pipeline()
            self._loading = None
        return self._pipeline

    def load_in_background(self):
        """Start loading the pipeline in a thread, so it overlaps decoding the first page and finding its marks.

        Loading reads the model and numba's compiled synthesis from disk
        (about half a second); a load error is raised where the pipeline is
        first used, as without this. Then the same thread builds the
        network's runtime, while the first page's synthesis runs.
        """
        if self._pipeline is None and self._loading is None:
            pool = ThreadPoolExecutor(1, thread_name_prefix="decensor-load")
            self._loading = loading = pool.submit(self._ready_pipeline)
            pool.submit(lambda: loading.exception() is None and loading.result().correction.prepare())
            pool.shutdown(wait=False)  # (the thread ends when both are done)

    def _ready_pipeline(self):
        """The pipeline with numba's kernels loaded too (which the first fill would do anyway)."""
        from .patchfill import load_kernels

        pipeline = self.load_pipeline()
        load_kernels()
        return pipeline

    def __call__(self, job):
        if archives.is_archive(job.source):
            return self._archive(job)
        picture = images.open_picture(job.source, self.options.max_pixels)
        image_format = images.format_for(job.output, picture.format)
        try:
            processed = self.restore(picture, job.source.name, job.source)
        except NoMarkedRegion as error:
            if self.options.copy_unmarked and not self.options.dry_run:
                return Processed(picture, image_format)
            raise error
        processed.image_format = image_format
        return processed

    def restore(self, picture, name, source=None):
        """A :class:`Processed` for one decoded page (NoMarkedRegion if there is nothing to restore).

        ``name`` is the page's file or member name; ``source`` its file, or
        None for a page inside an archive.
        """
        raise NotImplementedError

    def marked_hole(self, picture, name):
        """(the hole, warnings about how it was found); NoMarkedRegion says why there is none."""
        if self.options.alpha_mask:
            if not picture.has_alpha:
                raise NoMarkedRegion("no alpha channel: --alpha-mask takes transparent pixels as the region")
            hole = picture.pixels[..., -1] < 128
            if not hole.any():
                raise NoMarkedRegion("no marked region found: no pixel is transparent (alpha below 128)")
            return hole, []
        paint = self.options.paint.find(images.rgb_view(picture), jpeg=picture.is_jpeg)
        if not paint.hole.any():
            raise NoMarkedRegion("no marked region found")
        return paint.hole, paint.warnings()

    def finished(self, picture, filled, hole, regions, notes=(), warnings=()):
        """The filled page, opaque where it was transparent with --alpha-mask."""
        result = images.with_fill(picture, filled, hole, copy=False, opaque=self.options.alpha_mask)
        return Processed(result, regions=regions, notes=list(notes), warnings=list(warnings))

    def found(self, picture, name, hole, regions, notes=(), warnings=()):
        """A dry run's answer: what would be filled (and its preview, if asked for)."""
        if self.options.preview_dir is not None:
            _write_preview(images.rgb_view(picture), hole, Path(self.options.preview_dir) / f"{name}.png")
        notes = [f"{regions} region{'s' if regions != 1 else ''}, {hole.mean():.1%} marked", *notes]
        return Processed(None, regions=regions, notes=notes, warnings=list(warnings), dry_run=True)

    # Archives: every image member is a page; the rest is kept as it is.
    def _archive(self, job):
        members = []
        stem = PurePosixPath(job.source.name).stem

        def page(name, load):
            record = Outcome(f"{job.display}:{name}", "failed")
            members.append(record)
            started = time.perf_counter()
            try:
                processed = self.restore(load(), f"{stem}/{PurePosixPath(name).with_suffix('')}")
                record.status = "found" if processed.dry_run else "written"
                record.regions, record.notes, record.warnings = processed.regions, processed.notes, processed.warnings
                return None if processed.dry_run else processed.picture
            except NoMarkedRegion as error:
                record.status, record.notes = "unchanged", [one_line(error)]
            except Exception as error:  # noqa: BLE001 - one bad page must not stop the volume
                record.error = f"{one_line(error)} (kept as it was)"
            finally:
                record.seconds = round(time.perf_counter() - started, 3)
            return None

        # One pass over the archive: into a spooled copy (memory, then disk past 64 MB) that the
        # batch writes out atomically, or, in a dry run, nowhere.
        copy = _Discard() if self.options.dry_run else tempfile.SpooledTemporaryFile(64 * 1024 * 1024)
        if job.source.suffix.lower() == ".pdf":
            left = archives.rewrite_pdf(job.source, copy, page)
            members.extend(Outcome(f"{job.display}:{line.split(':')[0]}", "unchanged", notes=[line]) for line in left)
        else:
            archives.rewrite_zip(job.source, copy, page)
        regions = sum(record.regions for record in members)
        pages = sum(1 for record in members if record.status in ("written", "found"))
        notes = [f"{pages} of {len(members)} pages {'to restore' if self.options.dry_run else 'restored'}"]
        if self.options.dry_run:
            return Processed(None, regions=regions, members=members, dry_run=True, notes=notes)
        if not pages and not self.options.copy_unmarked:
            copy.close()
            raise NoMarkedRegion(f"no marked region found on any of its {len(members)} pages")

        def write(stream):
            copy.seek(0)
            shutil.copyfileobj(copy, stream, 1024 * 1024)
            copy.close()

        return Processed(None, regions=regions, write=write, members=members, notes=notes)


class _Discard(io.RawIOBase):
    """A stream that forgets what is written to it (a dry run reads an archive, writes nothing)."""

    def writable(self):
        return True

    def write(self, data):
        return len(data)


class BarProcessor(PageProcessor):
    """Fills marked regions."""

    models = ("bar",)

    def __init__(self, options=PageOptions(), masks_dir=None):
        super().__init__(options)
        self.masks_dir = masks_dir

    def load_pipeline(self):
        from .bar import BarFill

        return BarFill.load(self.options.models_dir)

    def marked_hole(self, picture, name):
        if self.masks_dir is None:
            return super().marked_hole(picture, name)
        mask_file = find_by_stem(self.masks_dir, PurePosixPath(str(name)).name)
        if mask_file is None:
            raise masks.MaskError(f"no mask named {_stem(name)}.* in {self.masks_dir}")
        mask = masks.load_mask_file(mask_file, picture.size, picture.orientation)
        if not mask.marks_anything:
            raise NoMarkedRegion(f"no marked region found: {mask.why_empty()}")
        return mask.hole, []

    def restore(self, picture, name, source=None):
        from .regions import count_regions

        hole, warnings = self.marked_hole(picture, name)
        regions = count_regions(hole)
        if self.options.dry_run:
            return self.found(picture, name, hole, regions, warnings=warnings)
        filled = self.pipeline.fill(images.fill_view(picture), hole)
        return self.finished(picture, filled, hole, regions, warnings=warnings)


class MosaicProcessor(PageProcessor):
    """Restores mosaic regions. Marked mode reads the un-marked original
    (same stem, any extension) from ``originals_dir``; auto mode finds the
    mosaic on the page itself and can save what it found as mask images."""

    models = ("mosaic", "bar")  # (the bar model fills a marked region whose grid cannot be measured)

    def __init__(self, options=PageOptions(), originals_dir=None, auto=False, save_masks=None):
        super().__init__(options)
        self.originals_dir = originals_dir
        self.auto = auto
        self.save_masks = save_masks

    def load_pipeline(self):
        from .mosaic import MosaicRestoration

        return MosaicRestoration.load(self.options.models_dir)

    def _original_for(self, name, source, marked):
        if source is None:
            raise masks.MaskError("marked mode reads each original from a file: use --auto for archives")
        original_file = find_by_stem(self.originals_dir, source.name)
        if original_file is None:
            raise masks.MaskError(f"no original named {source.stem}.* in {self.originals_dir}")
        original = images.open_picture(original_file, self.options.max_pixels)
        if original.size != marked.size:
            raise masks.MaskError(
                f"original {original_file} is {original.size[0]}x{original.size[1]}, the marked page is "
                f"{marked.size[0]}x{marked.size[1]}"
            )
        return original

    def _found_regions(self, name, picture):
        """[(grid, hole)] of the mosaics found on ``picture``, one per grid; saved as a mask if asked.

        Detection may find one mosaic in several pieces: pieces on one grid are
        restored together (one synthesis, one network pass).
        """
        from .mosaic import find_mosaic

        found, regions = find_mosaic(images.rgb_view(picture), jpeg=picture.is_jpeg)
        if self.save_masks is not None and not self.options.dry_run:
            from PIL import Image

            mask_picture = images.picture_from_pil(Image.fromarray(found.astype(np.uint8) * 255))
            write_atomically(mask_picture, Path(self.save_masks) / f"{_stem(name)}.png", "PNG")
        by_grid = {}
        for grid, piece in regions:
            by_grid[grid] = by_grid[grid] | piece if grid in by_grid else piece
        return list(by_grid.items())

    def restore(self, marked, name, source=None):
        warnings = []
        if self.auto:
            picture = marked
            regions = self._found_regions(name, picture)
        else:
            hole, warnings = self.marked_hole(marked, name)
            picture = self._original_for(name, source, marked)
            regions = [(None, hole)]  # the grid is measured inside the marks
        if not regions:
            raise NoMarkedRegion("no mosaic found")
        rgb = images.rgb_view(picture).copy()
        hole_total = np.zeros(rgb.shape[:2], bool)
        for _, hole in regions:
            hole_total |= hole
        if self.options.dry_run:
            from .mosaic import estimate_grid

            grids = [grid or estimate_grid(rgb, hole) for grid, hole in regions]
            notes = [f"block {grid.size} px" if grid else "no mosaic grid found: would be filled as a hole"
                     for grid in grids]
            return self.found(picture, name, hole_total, len(regions), notes, warnings)
        notes = []
        for grid, hole in regions:
            rgb, used = self.pipeline.restore(rgb, hole, grid)
            notes.append(f"block {used.size} px, grid offset ({used.offset_x}, {used.offset_y})"
                         if used else "no mosaic grid found: filled as a hole")
        return self.finished(picture, rgb, hole_total, len(regions), notes, warnings)


def _write_preview(rgb, hole, target):
    """The page dimmed, what would be filled in red: a small PNG to check a dry run by eye."""
    from PIL import Image

    shown = (rgb.astype(np.float32) * 0.55 + 255 * 0.45).astype(np.uint8)
    shown[hole] = (230, 30, 60)
    image = Image.fromarray(shown)
    image.thumbnail((1024, 1024))
    write_atomically(images.picture_from_pil(image), target, "PNG")


def run_bar(inputs, output_dir, recursive=False, masks_dir=None, overwrite=False, report=None,
            allow_output_inside_input=False, quiet=False, started=None, echo=None, jobs=1, cluster=None, **options):
    """Run the bar command; returns the exit code. ``options``: the fields of :class:`PageOptions`."""
    processor = BarProcessor(_options(**options), masks_dir)
    return run_command("bar", processor, inputs, output_dir, recursive, overwrite, report,
                       allow_output_inside_input, quiet, started, echo, jobs, cluster)


def run_mosaic(inputs, output_dir, originals_dir=None, auto=False, save_masks=None, recursive=False,
               overwrite=False, report=None, allow_output_inside_input=False, quiet=False, started=None, echo=None,
               jobs=1, cluster=None, **options):
    """Run the mosaic command; returns the exit code."""
    echo = echo or (lambda message: print(message, file=sys.stderr))
    if not auto and (originals_dir is None or not Path(originals_dir).is_dir()):
        echo(f"error: originals folder {originals_dir} does not exist (give --originals, or use --auto)")
        return EXIT_USAGE
    if save_masks is not None:
        Path(save_masks).mkdir(parents=True, exist_ok=True)
    processor = MosaicProcessor(_options(**options), originals_dir, auto, save_masks)
    return run_command("mosaic", processor, inputs, output_dir, recursive, overwrite, report,
                       allow_output_inside_input, quiet, started, echo, jobs, cluster)


def _options(paint=None, **fields):
    return PageOptions(paint=PaintSettings(**(paint or {})), **fields)


def run_command(name, processor, inputs, output_dir, recursive, overwrite, report,
                allow_output_inside_input, quiet, started=None, echo=None, jobs=1, cluster=None):
    """The shared batch flow: collect, check the output folder and the models, process, summarise, report.

    ``jobs``: worker processes on this machine (None: one per core that memory allows); ``cluster``:
    the address of a Dask scheduler to send one task per page to instead.
    """
    echo = echo or (lambda message: print(message, file=sys.stderr))
    started = started or time.perf_counter()
    options = processor.options
    try:
        pages, early_failures = collect_jobs(inputs, output_dir, recursive, allow_output_inside_input)
        for failure in early_failures:
            echo(f"error: {failure.input}: {failure.error}")
        if not pages and not early_failures:
            echo(f"error: {_nothing_found(inputs, recursive)}")
            return EXIT_USAGE
        # (Whether any page will be written: its output is missing, or may be replaced.)
        writes = not options.dry_run and any(not job.output.exists() or overwrite for job in pages)
        if options.dry_run:
            overwrite = True  # (a dry run looks at every input, whatever outputs exist)
            if options.preview_dir is not None:
                check_writable(options.preview_dir)
        elif writes:
            check_writable(Path(output_dir).parent if names_a_file(output_dir) else output_dir)
            for model in processor.models:
                check_model(model, options.models_dir)
    except (UsageError, ModelFileError) as error:
        echo(f"error: {error}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        echo("interrupted before any page was done")
        return EXIT_INTERRUPTED
    # A progress bar only on a terminal: in a log it is a trail of carriage returns.
    progress = not quiet and sys.stderr.isatty()
    workers = default_jobs() if jobs is None else jobs
    try:
        if cluster:
            batch = run_jobs_on_cluster(pages, processor, overwrite, cluster, progress, echo)
        elif workers > 1 and len(pages) > 1:
            batch = run_jobs_in_processes(pages, processor, overwrite, min(workers, len(pages)), progress, echo)
        else:
            if writes:
                processor.load_in_background()
            batch = run_jobs(pages, processor, overwrite, progress=progress, echo=echo)
    except (OSError, RuntimeError, TimeoutError) as error:
        echo(f"error: {one_line(error)}")
        return EXIT_USAGE
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
