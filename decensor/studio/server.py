"""decensor studio: a local web page to paint masks, fill and save, served by the standard library.

Why the standard library's ThreadingHTTPServer and no framework: the page
needs a dozen JSON and PNG routes on 127.0.0.1, no sessions, no templates;
the server then starts in well under a second, adds no dependency and runs
offline. The page is plain HTML, CSS and JavaScript in ``static/``, served
from the package (no CDN, no fonts or scripts from elsewhere).

Safety: pages are named by their path relative to FOLDER and read only when
that path resolves inside FOLDER (``..``, absolute paths and symlinks out
are refused); results are written only as OUT/<same name>, through the
command line's atomic writer, never over the input. Requests are bounded in
size. Fills run one at a time in a worker thread (the compiled synthesis is
not safe to run twice at once) and each has its own job id, so two tabs
never see each other's results.
"""

import base64
import io
import itertools
import json
import queue
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from .. import images
from ..batch import one_line

STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png"}
# A mask of a 300 Mpx page as PNG stays far below this; anything larger is not a mask.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
MAX_JOBS_KEPT = 16


class StudioError(ValueError):
    """A request the studio refuses, with the message the page shows."""

    def __init__(self, message, status=HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


class Studio:
    """What the server knows: the folders, the pipelines (loaded on first use) and the fill jobs."""

    def __init__(self, folder, out, models_dir=None, max_pixels=images.MAX_PIXELS):
        self.folder = Path(folder).resolve()
        self.out = Path(out).resolve()
        self.shown = (str(folder), str(out))  # as the user named them, for the page
        self.models_dir = models_dir
        self.max_pixels = max_pixels
        self._pipelines = {}
        self._jobs = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._queue = queue.Queue()
        threading.Thread(target=self._work, daemon=True, name="studio-fill").start()

    # Pages
    def pages(self):
        found = []
        for path in sorted(self.folder.rglob("*")):
            if (path.suffix.lower() in images.IMAGE_SUFFIXES and not path.name.startswith(".")
                    and path.is_file() and self._inside(path.resolve(), self.folder)
                    and not self._inside(path.resolve(), self.out)):
                found.append(path.relative_to(self.folder).as_posix())
        return found

    @staticmethod
    def _inside(path, folder):
        return path == folder or folder in path.parents

    def page_path(self, name):
        """The page called ``name`` inside FOLDER; StudioError for anything that would leave it."""
        if not name or "\0" in name or Path(name).is_absolute() or name.startswith(("/", "\\")):
            raise StudioError("a page is named by its path inside the folder")
        path = (self.folder / name).resolve()
        if not self._inside(path, self.folder) or path == self.folder:
            raise StudioError(f"{name} is not inside the folder", HTTPStatus.FORBIDDEN)
        if path.suffix.lower() not in images.IMAGE_SUFFIXES or not path.is_file():
            raise StudioError(f"{name} is not a page of the folder", HTTPStatus.NOT_FOUND)
        return path

    def output_path(self, name):
        source = self.page_path(name)
        target = (self.out / name).resolve(strict=False)
        if not self._inside(target, self.out):
            raise StudioError(f"{name} would be written outside the output folder", HTTPStatus.FORBIDDEN)
        if target == source:
            raise StudioError(f"{name} would be written over the page itself", HTTPStatus.FORBIDDEN)
        return target

    def picture(self, name):
        try:
            return images.open_picture(self.page_path(name), self.max_pixels)
        except images.ImageFormatError as error:
            raise StudioError(f"{name}: {one_line(error)}", HTTPStatus.UNPROCESSABLE_ENTITY) from None

    def display_png(self, name):
        """The page as the browser shows it: 8-bit RGB(A) PNG."""
        picture = self.picture(name)
        rgb = images.rgb_view(picture)
        if picture.has_alpha:
            rgb = np.dstack([rgb, picture.pixels[..., -1]])
        return _png(rgb)

    # Masks found on a page
    def marks(self, name):
        from ..engine import PaintSettings

        picture = self.picture(name)
        # (As `decensor bar` finds them: on a JPEG page the paint's blended rim reaches farther.)
        found = PaintSettings().find(images.rgb_view(picture), jpeg=picture.is_jpeg)
        return _png(found.hole.astype(np.uint8) * 255), found.warnings()

    def mosaics(self, name):
        from ..mosaic import find_mosaic

        picture = self.picture(name)
        found, regions = find_mosaic(images.rgb_view(picture), jpeg=picture.is_jpeg)
        notes = [f"block {grid.size} px" for grid, _ in regions]
        return _png(found.astype(np.uint8) * 255), notes

    # Fill jobs
    def start_fill(self, name, mode, mask_data):
        if mode not in ("bar", "mosaic"):
            raise StudioError("mode is bar or mosaic")
        picture = self.picture(name)
        hole = _mask_from_data_url(mask_data, picture.size)
        if not hole.any():
            raise StudioError("nothing is painted: paint over what to restore first")
        if hole.all():
            raise StudioError("the whole page is painted: nothing is left to fill from")
        with self._lock:
            job = str(next(self._ids))
            self._jobs[job] = {"name": name, "state": "waiting", "progress": 0.0, "message": "", "result": None}
            for old in list(self._jobs)[:-MAX_JOBS_KEPT]:
                if self._jobs[old]["state"] in ("done", "failed"):
                    del self._jobs[old]
        self._queue.put((job, picture, hole, mode))
        return job

    def job(self, job):
        with self._lock:
            if job not in self._jobs:
                raise StudioError("no such fill (it may have been forgotten: fill again)", HTTPStatus.NOT_FOUND)
            entry = self._jobs[job]
            return {key: entry[key] for key in ("name", "state", "progress", "message")}

    def result_png(self, job):
        entry = self._finished(job)
        return _png(images.rgb_view(entry["result"]))

    def save(self, job):
        from ..batch import write_atomically

        entry = self._finished(job)
        target = self.output_path(entry["name"])
        picture = entry["result"]
        try:
            write_atomically(picture, target, images.format_for(target, picture.format))
        except (OSError, images.ImageFormatError) as error:
            raise StudioError(f"cannot write {target} ({one_line(error)})", HTTPStatus.INTERNAL_SERVER_ERROR) from None
        return str(target.relative_to(self.out))

    def _finished(self, job):
        with self._lock:
            entry = self._jobs.get(job)
        if entry is None or entry["state"] != "done":
            raise StudioError("that fill is not finished", HTTPStatus.CONFLICT)
        return entry

    def _pipeline(self, mode):
        if mode not in self._pipelines:
            if mode == "bar":
                from ..bar import BarFill

                self._pipelines[mode] = BarFill.load(self.models_dir)
            else:
                from ..mosaic import MosaicRestoration

                self._pipelines[mode] = MosaicRestoration.load(self.models_dir)
        return self._pipelines[mode]

    def _work(self):
        while True:
            job, picture, hole, mode = self._queue.get()
            self._update(job, state="running", progress=0.1)
            try:
                pipeline = self._pipeline(mode)
                self._update(job, progress=0.3)
                if mode == "bar":
                    filled = pipeline.fill(images.fill_view(picture), hole)
                    message = ""
                else:
                    filled, grid = pipeline.restore(images.rgb_view(picture).copy(), hole)
                    message = f"block {grid.size} px" if grid else "no mosaic grid found: filled as a hole"
                result = images.with_fill(picture, filled, hole)
                self._update(job, state="done", progress=1.0, message=message, result=result)
            except Exception as error:  # noqa: BLE001 - the page shows the reason, the server goes on
                traceback.print_exc()
                self._update(job, state="failed", progress=1.0, message=one_line(error))

    def _update(self, job, **values):
        with self._lock:
            if job in self._jobs:
                self._jobs[job].update(values)


def _png(pixels):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _mask_from_data_url(data, size):
    """The hole from the page's mask canvas (a PNG data URL: painted where alpha >= 128, or white)."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(data, str) or not data.startswith("data:image/png;base64,"):
        raise StudioError("the mask must be a PNG data URL")
    try:
        with Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1], validate=True))) as image:
            image.load()
            rgba = np.asarray(image.convert("RGBA"))
    except (ValueError, UnidentifiedImageError, OSError):
        raise StudioError("the mask is not a readable PNG") from None
    if (rgba.shape[1], rgba.shape[0]) != tuple(size):
        raise StudioError(f"the mask is {rgba.shape[1]}x{rgba.shape[0]}, the page is {size[0]}x{size[1]}")
    return rgba[..., 3] >= 128


class _Handler(BaseHTTPRequestHandler):
    studio = None  # set by make_server
    server_version = "decensor-studio"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # the terminal shows the studio's own lines, not every request

    def do_GET(self):  # noqa: N802 - the base class's name
        self._answer(self._get)

    def do_POST(self):  # noqa: N802
        self._answer(self._post)

    def _answer(self, route):
        try:
            status, kind, body = route(urlparse(self.path))
        except StudioError as error:
            status, kind, body = error.status, "application/json", json.dumps({"error": str(error)}).encode()
        except Exception as error:  # noqa: BLE001 - never a stack trace to the page
            traceback.print_exc()
            status, kind, body = (HTTPStatus.INTERNAL_SERVER_ERROR, "application/json",
                                  json.dumps({"error": one_line(error)}).encode())
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value):
        return HTTPStatus.OK, "application/json", json.dumps(value).encode()

    def _get(self, url):
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        studio = self.studio
        if url.path in ("/", "/index.html"):
            return self._static("index.html")
        if url.path.startswith("/static/"):
            return self._static(url.path[len("/static/"):])
        if url.path == "/api/pages":
            return self._json({"pages": studio.pages(), "folder": studio.shown[0], "out": studio.shown[1]})
        if url.path == "/api/page":
            return HTTPStatus.OK, "image/png", studio.display_png(query.get("name", ""))
        if url.path == "/api/job":
            return self._json(studio.job(query.get("id", "")))
        if url.path == "/api/result":
            return HTTPStatus.OK, "image/png", studio.result_png(query.get("id", ""))
        raise StudioError("no such page", HTTPStatus.NOT_FOUND)

    def _post(self, url):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            raise StudioError("request too large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise StudioError("the request is not JSON") from None
        if not isinstance(body, dict):
            raise StudioError("the request is not a JSON object")
        studio = self.studio
        if url.path == "/api/marks":
            png, warnings = studio.marks(body.get("name", ""))
            return self._json({"mask": _data_url(png), "warnings": warnings})
        if url.path == "/api/mosaics":
            png, notes = studio.mosaics(body.get("name", ""))
            return self._json({"mask": _data_url(png), "notes": notes})
        if url.path == "/api/fill":
            return self._json({"job": studio.start_fill(body.get("name", ""), body.get("mode", "bar"), body.get("mask"))})
        if url.path == "/api/save":
            return self._json({"saved": studio.save(str(body.get("job", "")))})
        raise StudioError("no such action", HTTPStatus.NOT_FOUND)

    def _static(self, name):
        path = (STATIC / name).resolve()
        if path.parent != STATIC or path.suffix not in STATIC_TYPES or not path.is_file():
            raise StudioError("no such file", HTTPStatus.NOT_FOUND)
        return HTTPStatus.OK, STATIC_TYPES[path.suffix], path.read_bytes()


def _data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def make_server(folder, out, host="127.0.0.1", port=8765, models_dir=None):
    """A ready (not yet serving) HTTP server for the studio; port 0 picks a free one."""
    studio = Studio(folder, out, models_dir)
    handler = type("Handler", (_Handler,), {"studio": studio})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
