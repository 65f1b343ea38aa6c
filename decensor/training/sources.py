"""Gathering real drawn images from Debian packages into a local cache.

Nothing here is committed to the repository: the packages are downloaded with
``apt-get download`` (the only network the project's machines have), unpacked
with ``dpkg-deb``, and their images are normalised into
``<cache>/images/<package>/*.png``. ``<cache>/manifest.json`` records, for
every package, its version, licence lines from its copyright file and the
images taken from it. A stable hash of each image's name puts about 5 % of
them into the held-out split that training never sees.

Two sets, never mixed:

* the **training** set (``PACKAGES``), split 95 / 5 into training and the
  held-out validation that decides shipping;
* the **independent** real-art set (``INDEPENDENT``): whole packages that no
  training, tuning or validation reads, cached under
  ``<cache>/independent/`` with their own manifest; only the benchmarks
  (``benchmarks/real_art.py``, ``benchmarks/speed.py``) score on it.

The ``wesnoth-*`` packages are reserved for the project's outside
evaluation and are refused here, as are the independent packages for
training.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from dataclasses import dataclass

import numpy as np
from PIL import Image

@dataclass(frozen=True)
class Source:
    """A Debian package of images: what kind of art, how many to take, and which files count."""

    kind: str
    limit: int
    # Smallest side (after cropping to the drawn content) worth a crop.
    min_side: int = 96
    # Share of opaque pixels a file needs: sprite sheets and icons on transparency are mostly empty.
    min_opaque: float = 0.0


PACKAGES = {
    "openclipart-png": Source("clip art", 2500),
    "tuxpaint-stamps-default": Source("drawn stamps", 1200),
    "gcompris-qt-data": Source("drawn educational art", 1200),
    "kdegames-card-data-kf5": Source("card art (SVG)", 400),
    "freedroidrpg-data": Source("painted game art", 1000),
    "plasma-workspace-wallpapers": Source("painted wallpapers", 200),
    "gnome-backgrounds": Source("rendered wallpapers", 200),
    # Painted and rendered art of the kinds users fill: figures, scenes, textures.
    "naev-data": Source("painted and rendered space art, portraits", 600, 192, 0.9),
    "megaglest-data": Source("painted figures and textures", 500, 192, 0.9),
    "freeorion-data": Source("painted space art", 300, 192, 0.9),
    "endless-sky-data": Source("landscape photographs and renders", 400, 192, 0.9),
    "supertuxkart-data": Source("painted textures and scenes", 800, 192, 0.9),
}
# The independent real-art set: never trained, tuned or validated on.
INDEPENDENT = {
    "flare-game": Source("painted portraits and scenes (CC-BY-SA)", 200, 192, 0.4),
    "hedgewars-data": Source("drawn cartoon scenes", 150, 256, 0.95),
}
RESERVED_PREFIXES = ("wesnoth",)
MAX_SIDE = 1024
HELD_OUT_PERCENT = 5
_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".svg", ".svgz"}


def default_cache():
    return Path(os.environ.get("DECENSOR_CACHE", Path.home() / ".cache" / "decensor"))


def is_held_out(key):
    """Stable split: the same image is always on the same side."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return digest[0] * 100 // 256 < HELD_OUT_PERCENT


def _licence_lines(tree, package):
    copyright_file = tree / "usr" / "share" / "doc" / package / "copyright"
    if not copyright_file.exists():
        return []
    text = copyright_file.read_text(errors="replace")
    found = sorted(set(m.strip() for m in re.findall(r"^License:\s*(.+)$", text, re.M)))
    if found or not text.strip():
        return found
    # Not machine-readable (old-style copyright file): name the licences it mentions.
    mentioned = [name for name, pattern in _LICENCE_WORDS if re.search(pattern, text, re.I)]
    return mentioned or ["see the package's copyright file"]


_LICENCE_WORDS = (
    ("public-domain", r"public\s+domain"),
    ("CC0", r"\bCC0\b|creative\s+commons\s+zero"),
    ("CC-BY-SA", r"\bCC[- ]BY[- ]SA\b|attribution[- ]share\s*alike"),
    ("CC-BY", r"\bCC[- ]BY\b(?![- ]SA)"),
    ("GPL", r"\bGPL\b|general\s+public\s+license"),
    ("LGPL", r"\bLGPL\b|lesser\s+general"),
    ("BSD", r"\bBSD\b"),
    ("MIT/Expat", r"\bMIT\b|\bexpat\b"),
)


def _render(path):
    """Open a raster image or render an SVG; returns RGBA or None."""
    if path.suffix.lower() in {".svg", ".svgz"}:
        import cairosvg

        try:
            data = cairosvg.svg2png(url=str(path), output_width=768)
        except Exception:  # noqa: BLE001 - broken SVGs are common, skip them
            return None
        import io

        return Image.open(io.BytesIO(data)).convert("RGBA")
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGBA")
    except Exception:  # noqa: BLE001 - skip anything Pillow cannot read
        return None


def normalise(image, min_side=96, min_opaque=0.0):
    """Flatten on white, crop to content, bound the size; None if too small, empty or mostly transparent."""
    alpha = np.array(image.getchannel("A"))
    if alpha.max() == 0 or (alpha > 250).mean() < min_opaque:
        return None
    rows = np.flatnonzero(alpha.max(axis=1) > 0)
    cols = np.flatnonzero(alpha.max(axis=0) > 0)
    image = image.crop((cols[0], rows[0], cols[-1] + 1, rows[-1] + 1))
    if min(image.size) < min_side:
        return None
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(white, image).convert("RGB")
    scale = MAX_SIDE / max(flat.size)
    if scale < 1:
        flat = flat.resize(
            (max(1, round(flat.width * scale)), max(1, round(flat.height * scale))),
            Image.LANCZOS,
        )
    pixels = np.asarray(flat)
    if pixels.std() < 4:  # a blank or single-colour file teaches nothing
        return None
    return flat


def unpack_rcc(path, out_dir):
    """Write the files inside a Qt resource bundle (.rcc) under ``out_dir``; returns how many.

    The format: a "qres" header (version, offsets of the tree, the data and
    the names), a tree of 14-byte (version 1) or 22-byte nodes, names as
    length-prefixed UTF-16, data as length-prefixed blobs, zlib-compressed
    when the node says so (zstd-compressed ones are skipped).
    """
    import struct
    import zlib

    data = Path(path).read_bytes()
    if data[:4] != b"qres" or len(data) < 20:
        return 0
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    node_size = 14 if version == 1 else 22

    def name_at(offset):
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        return data[names + offset + 6 : names + offset + 6 + 2 * length].decode("utf-16-be", "replace")

    written, stack = 0, [(0, Path(out_dir))]
    try:
        while stack:
            node, folder = stack.pop()
            base = tree + node * node_size
            name_offset, flags = struct.unpack(">IH", data[base : base + 6])
            name = name_at(name_offset) if node else ""
            if "/" in name or name in (".", ".."):
                continue  # a name that would leave the folder
            if flags & 2:  # a directory
                count, first = struct.unpack(">II", data[base + 6 : base + 14])
                stack.extend((first + i, folder / name) for i in range(count))
                continue
            (offset,) = struct.unpack(">I", data[base + 10 : base + 14])
            (size,) = struct.unpack(">I", data[payload + offset : payload + offset + 4])
            blob = data[payload + offset + 4 : payload + offset + 4 + size]
            if flags & 4:
                continue
            if flags & 1:
                blob = zlib.decompress(blob[4:])
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
            written += 1
    except (struct.error, zlib.error, OSError):
        pass  # a damaged bundle: keep what came out of it
    return written


def fetch_package(package, cache, source, log=print, images_dir="images"):
    """Download, unpack and normalise one package into ``<cache>/<images_dir>/``; returns its manifest entry."""
    if package.startswith(RESERVED_PREFIXES):
        raise ValueError(f"{package} is reserved for independent evaluation")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    existing = list(debs.glob(f"{package}_*.deb"))
    if not existing:
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
        existing = list(debs.glob(f"{package}_*.deb"))
    deb = existing[0]
    version = deb.stem.split("_")[1] if "_" in deb.stem else "?"
    limit = source.limit
    out_dir = cache / images_dir / package
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
        licences = _licence_lines(tree, package)
        for bundle in sorted(tree.rglob("*.rcc")):  # Qt resource bundles (gcompris keeps its art in them)
            unpack_rcc(bundle, tree / "rcc" / bundle.stem)
        candidates = sorted(p for p in tree.rglob("*") if p.suffix.lower() in _SUFFIXES and p.is_file())
        # Spread the picks over the whole package, not just its first folder.
        rng = np.random.default_rng(0)
        rng.shuffle(candidates)
        taken = []
        for path in candidates:
            if len(taken) >= limit:
                break
            relative = str(path.relative_to(tree))
            name = hashlib.sha1(relative.encode()).hexdigest()[:16] + ".png"
            target = out_dir / name
            if not target.exists():
                image = _render(path)
                if image is None:
                    continue
                flat = normalise(image, source.min_side, source.min_opaque)
                if flat is None:
                    continue
                flat.save(target)
            taken.append({"file": f"{package}/{name}", "source": relative,
                          "held_out": is_held_out(f"{package}/{relative}")})
    log(f"{package} {version}: {len(taken)} images ({', '.join(licences) or 'licence: see package'})")
    return {"package": package, "version": version, "kind": source.kind,
            "licences": licences, "images": taken}


def fetch(cache=None, packages=None, log=print, independent=False):
    """Fetch every package of the training set (or of the independent set, or the named ones) and
    write its manifest."""
    cache = Path(cache) if cache else default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    chosen = INDEPENDENT if independent else PACKAGES
    for package in packages or ():
        if not independent and package in INDEPENDENT:
            raise ValueError(f"{package} belongs to the independent real-art set: it is never trained on")
    manifest_path = cache / ("independent.json" if independent else "manifest.json")
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for package in packages or chosen:
        source = chosen.get(package, Source("", 1000))
        try:
            manifest[package] = fetch_package(package, cache, source, log,
                                              "independent" if independent else "images")
        except (subprocess.CalledProcessError, OSError) as error:
            log(f"{package}: skipped ({error})")
            continue
        manifest_path.write_text(json.dumps(manifest, indent=1))
    if os.environ.get("DECENSOR_DROP_DEBS"):
        shutil.rmtree(cache / "debs", ignore_errors=True)
    return manifest


def independent_images(cache=None):
    """Paths of the independent real-art set (``decensor data fetch --independent``), sorted."""
    cache = Path(cache) if cache else default_cache()
    manifest_path = cache / "independent.json"
    if not manifest_path.exists():
        return []
    manifest = json.loads(manifest_path.read_text())
    return sorted(cache / "independent" / item["file"] for entry in manifest.values() for item in entry["images"]
                  if (cache / "independent" / item["file"]).exists())


def image_lists(cache=None):
    """(training paths, held-out paths) from the training manifest (never the independent set)."""
    cache = Path(cache) if cache else default_cache()
    manifest_path = cache / "manifest.json"
    if not manifest_path.exists():
        return [], []
    manifest = json.loads(manifest_path.read_text())
    train, held = [], []
    for entry in manifest.values():
        for item in entry["images"]:
            path = cache / "images" / item["file"]
            if path.exists():
                (held if item["held_out"] else train).append(path)
    return train, held
