"""The batch runner: many input files -> output files, safely.

It decides which outputs to write, processes each file in isolation (one bad
page never stops the batch), writes every output atomically (temporary file
in the target folder, then rename), skips outputs that already exist unless
told to overwrite, and keeps a record per input for the summary, the exit
code and an optional JSON report.
"""

import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import images

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


class UsageError(ValueError):
    """The command cannot start (bad folders, output inside input, ...)."""


@dataclass
class Job:
    source: Path
    output: Path
    display: str


@dataclass
class Outcome:
    input: str
    status: str  # "written", "skipped", "unmarked", "failed"
    output: str | None = None
    regions: int = 0
    seconds: float = 0.0
    error: str | None = None
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    # The pages inside an archive, each its own record (not part of this one's JSON).
    members: list = field(default_factory=list, repr=False, metadata={"report": False})


@dataclass
class Processed:
    """What processing one input gives: what to write and what to say about it.

    ``picture`` (in ``image_format``) for a page; for an archive, ``write``,
    a function of the open binary output stream, and ``members``, an Outcome
    per page inside it. ``dry_run``: found, computed, nothing to write.
    """

    picture: object  # images.Picture, or None
    image_format: str = None
    regions: int = 0
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    write: object = None
    members: list = field(default_factory=list)
    dry_run: bool = False


@dataclass
class Batch:
    """The outcomes of a batch, in job order, and whether it was cut short by Ctrl-C."""

    outcomes: list
    interrupted: bool = False
    total: int = 0


def _is_inside(path, folder):
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def input_suffixes():
    """Pages and archives of pages."""
    from .archives import ARCHIVE_SUFFIXES

    return images.IMAGE_SUFFIXES | ARCHIVE_SUFFIXES


def names_a_file(output):
    """Whether ``-o`` names one output file (a page's or an archive's extension, and not an existing folder)."""
    output = Path(output)
    return output.suffix.lower() in input_suffixes() and not output.is_dir()


def _output_file_job(inputs, output):
    """The one job of ``-o page.png`` with one input file; UsageError for anything else."""
    if len(inputs) == 1 and Path(inputs[0]).is_file():
        source = Path(inputs[0])
        if not source.exists():
            raise UsageError(f"input {source} does not exist")
        if output.resolve() == source.resolve():
            raise UsageError(f"{source} would be overwritten by its own output")
        return Job(source, output, str(source))
    raise UsageError(f"-o {output} names a file (it has a page's or an archive's extension), which takes exactly "
                     "one input file: name a folder for several pages")


def collect_jobs(inputs, output_dir, recursive=False, allow_output_inside_input=False):
    """Expand files and folders into jobs; raises UsageError for what cannot run at all.

    ``output_dir`` is a folder, or with exactly one input file it may name the
    output file itself (see :func:`names_a_file`).
    """
    output_dir = Path(output_dir)
    for given in inputs:
        if not Path(given).exists():
            raise UsageError(f"input {given} does not exist")
    if names_a_file(output_dir):
        return [_output_file_job(inputs, output_dir)], []
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"output folder {output_dir} is a file: name a folder (or, for one input file, "
                         "an output file with an image extension)")
    resolved_output = output_dir.resolve()
    jobs, seen_sources, planned_outputs = [], set(), {}
    problems = []
    for given in inputs:
        given = Path(given)
        if given.is_dir():
            folder = given.resolve()
            if not allow_output_inside_input and (
                resolved_output == folder or _is_inside(resolved_output, folder)
            ):
                raise UsageError(
                    f"output folder {output_dir} is inside input folder {given}: pick another "
                    "output folder or pass --allow-output-inside-input"
                )
            pattern = "**/*" if recursive else "*"
            suffixes = input_suffixes()
            candidates = sorted(
                p for p in given.glob(pattern)
                if p.suffix.lower() in suffixes and not p.name.startswith(".")
                and (p.is_file() or p.is_symlink())
            )
            if recursive and _is_inside(resolved_output, folder):
                candidates = [p for p in candidates if not _is_inside(p.resolve(), resolved_output)]
            pairs = [(p, p.relative_to(given)) for p in candidates]
        else:
            pairs = [(given, Path(given.name))]
        for source, relative in pairs:
            key = source.resolve()
            if key in seen_sources:
                continue
            seen_sources.add(key)
            output = output_dir / relative
            if output.resolve() == key:
                raise UsageError(f"{source} would be overwritten by its own output")
            if output in planned_outputs:
                problems.append(
                    Outcome(str(source), "failed", error=f"output {output} is already taken by "
                            f"{planned_outputs[output]} (same name): rename one of them or run them with "
                            "separate -o folders")
                )
                continue
            planned_outputs[output] = source
            jobs.append(Job(source, output, str(source)))
    return jobs, problems


def unlisted_subfolder_images(inputs):
    """How many images the sub-folders of the given folders hold (what --recursive would add)."""
    count = 0
    suffixes = input_suffixes()
    for given in map(Path, inputs):
        if given.is_dir():
            count += sum(1 for p in given.glob("*/**/*") if p.suffix.lower() in suffixes
                         and not p.name.startswith("."))
    return count


def check_writable(folder):
    """Raise UsageError unless a file can be created in ``folder`` (made if missing), before any work."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".decensor-probe.", suffix=".partial", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"output folder {folder} is not writable ({error.strerror or error}): "
                         "nothing was done") from None


def _file_mode():
    """Permissions for outputs and reports: readable by all, as the umask allows (mkstemp makes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomically(picture, target, image_format):
    """Encode a picture to a hidden temporary file beside ``target``, then rename over it."""
    write_stream_atomically(target, lambda stream: images.save_picture(picture, stream, image_format))


def write_stream_atomically(target, write):
    """``write(stream)`` into a hidden temporary file beside ``target``, then rename it over ``target``.

    A crash at any moment leaves either no output or a complete one; a
    symlink at ``target`` is replaced, never written through.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, _file_mode())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def remove_stale_partials(folders):
    """Delete temporary files a killed earlier run left behind (ours only: .NAME.*.partial)."""
    for folder in folders:
        if not folder.is_dir():
            continue
        for leftover in folder.glob(".*.partial"):
            try:
                leftover.unlink()
            except OSError:
                pass


def one_line(error):
    text = str(error) or error.__class__.__name__
    return " ".join(text.split())


def run_jobs(jobs, process, overwrite=False, progress=True, echo=print):
    """Run ``process(job) -> Processed`` for every job and write each result atomically.

    ``process`` raises to fail a file; ``NoMarkedRegion`` marks it unmarked.
    A Ctrl-C stops the batch between (or inside) pages: the page being
    worked on is not written, and the returned :class:`Batch` says so.
    """
    remove_stale_partials({job.output.parent for job in jobs})
    outcomes = []
    bar, say = progress_bar(len(jobs), progress, echo)
    try:
        for job in jobs:
            outcomes.append(run_page(job, process, overwrite, say))
            bar.update(1)
    except KeyboardInterrupt:
        return Batch(with_members(outcomes), interrupted=True, total=len(jobs))
    finally:
        bar.close()
    return Batch(with_members(outcomes), total=len(jobs))


def progress_bar(total, progress, echo):
    """(a page progress bar, shown only if ``progress``; where to say a line without breaking it)."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="page", disable=not progress, leave=False, dynamic_ncols=True)
    return bar, (bar.write if progress else echo)


def with_members(outcomes):
    """Every outcome followed by its archive's page outcomes, as a Batch lists them."""
    listed = []
    for outcome in outcomes:
        listed.append(outcome)
        listed.extend(outcome.members)
    return listed


def run_page(job, process, overwrite, say):
    """Process one job and write its output atomically; an Outcome, whatever happens (but Ctrl-C).

    ``say(line)`` receives the warnings and errors to show.
    """
    from .engine import NoMarkedRegion

    started = time.perf_counter()
    if job.output.exists() and not overwrite:
        return Outcome(job.display, "skipped", str(job.output), notes=["output exists"])
    outcome = Outcome(job.display, "failed")
    try:
        processed = process(job)
        outcome.regions, outcome.notes, outcome.warnings = (processed.regions, list(processed.notes),
                                                            list(processed.warnings))
        outcome.members = processed.members
        for member in processed.members:
            if member.status == "failed":
                say(f"error: {member.input}: {member.error}")
            for warning in member.warnings:
                say(f"warning: {member.input}: {warning}")
        if processed.dry_run:
            outcome.status = "found"
            say(f"{job.display}: {'; '.join(processed.notes) or 'nothing to fill'}")
        else:
            try:
                if processed.write is not None:
                    write_stream_atomically(job.output, processed.write)
                else:
                    write_atomically(processed.picture, job.output, processed.image_format)
            except OSError as error:
                raise OSError(f"cannot write {job.output} ({error.strerror or error})") from None
            outcome.status, outcome.output = "written", str(job.output)
        for warning in outcome.warnings:
            say(f"warning: {job.display}: {warning}")
    except NoMarkedRegion as error:
        outcome.status, outcome.error = "unmarked", one_line(error)
        say(f"warning: {job.display}: {one_line(error)} (not written)")
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:  # noqa: BLE001 - one bad page must not stop the batch
        outcome.error = one_line(error)
        say(f"error: {job.display}: {one_line(error)}")
    outcome.seconds = round(time.perf_counter() - started, 3)
    return outcome


def summarise(batch, command, output_dir, seconds):
    """(the one-line summary, the exit code) of a batch."""
    outcomes = batch.outcomes
    counts = {status: 0 for status in ("written", "found", "unchanged", "skipped", "unmarked", "failed")}
    for outcome in outcomes:
        counts[outcome.status] += 1
    if counts["found"]:
        parts = [f"{counts['found']} to restore (dry run: nothing written)"]
    else:
        parts = [f"{counts['written']} written", f"{counts['skipped']} skipped (output exists)"]
    if counts["unmarked"]:
        parts.append(f"{counts['unmarked']} without marked region")
    parts.append(f"{counts['failed']} failed")
    warned = sum(1 for outcome in outcomes if outcome.warnings)
    if counts["unchanged"]:
        parts.append(f"{counts['unchanged']} pages inside archives unmarked (kept)")
    if warned:
        parts.append(f"{warned} with warnings (see above)")
    line = f"decensor {command}: {', '.join(parts)} -> {output_dir} ({seconds:.1f} s)"
    if batch.interrupted:
        return (f"{line}\ninterrupted: {len(outcomes)} of {batch.total} done; re-run the same command to continue "
                "(finished pages are skipped)"), EXIT_INTERRUPTED
    code = EXIT_OK if counts["failed"] == 0 and counts["unmarked"] == 0 else EXIT_SOME_FAILED
    return line, code


def _record(outcome):
    record = asdict(outcome)
    record.pop("members", None)
    return record


def write_report(outcomes, path):
    """JSON list, one record per input; written atomically, or to standard output for ``-``."""
    text = json.dumps([_record(o) for o in outcomes], indent=1, ensure_ascii=False)
    if str(path) == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.chmod(temporary, _file_mode())
    os.replace(temporary, path)
