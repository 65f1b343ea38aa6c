"""Training and held-out batches: crops of real art and procedural manga, with painted holes.

Procedural pages are drawn from seeds; held-out pages use seeds below
``HELD_OUT_SEEDS`` and training pages seeds from ``TRAIN_SEED_BASE`` up, so the
two never meet. Real images are split by the manifest (see ``sources``).
"""

import numpy as np
from PIL import Image

from .holes import hole_mask
from .procedural import manga_page, to_manga_style

HELD_OUT_SEEDS = 100_000
TRAIN_SEED_BASE = 1_000_000


class ImagePool:
    """Decoded source images kept in memory and refreshed bit by bit."""

    def __init__(self, real_paths, rng, procedural_share=0.45, size=400, page_size=(512, 512), seed_base=TRAIN_SEED_BASE):
        self.real_paths = list(real_paths)
        self.rng = rng
        self.procedural_share = procedural_share if self.real_paths else 1.0
        self.page_size = page_size
        self.seed_base = seed_base
        self.next_seed = seed_base + int(rng.integers(0, 10**6))
        self.items = [self._new_item() for _ in range(size)]

    def _new_item(self):
        if self.rng.random() < self.procedural_share:
            page = manga_page(self.page_size, seed=self.next_seed)
            self.next_seed += 1
            return np.repeat(page[..., None], 3, axis=-1)
        path = self.real_paths[int(self.rng.integers(len(self.real_paths)))]
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
        if self.rng.random() < 0.4:
            gray = to_manga_style(rgb, self.rng)
            rgb = np.repeat(gray[..., None], 3, axis=-1)
        return rgb

    def refresh(self, count):
        for _ in range(count):
            self.items[int(self.rng.integers(len(self.items)))] = self._new_item()

    def crop(self, size):
        image = self.items[int(self.rng.integers(len(self.items)))]
        return random_crop(image, size, self.rng)


class ReplayBuffer:
    """Recent training samples, each drawn again a few times under a random flip or quarter turn.

    A sample's first guess (patch synthesis) costs about a second per crop,
    while a training step costs about a second per batch: drawing every batch
    fresh spends nine tenths of a CPU run on guesses. Reusing each sample a few
    times, each time in one of its eight orientations, gives the network several
    times more steps for the same synthesis work.
    """

    def __init__(self, capacity, rng):
        self.capacity = capacity
        self.rng = rng
        self.samples = []  # (per-sample input arrays, target array)
        self._next = 0

    def __len__(self):
        return len(self.samples)

    def add(self, inputs, targets):
        """Take a batch apart into samples; once full, the oldest give way."""
        for index in range(len(targets)):
            sample = ([array[index] for array in inputs], targets[index])
            if len(self.samples) < self.capacity:
                self.samples.append(sample)
            else:
                self.samples[self._next] = sample
                self._next = (self._next + 1) % self.capacity

    def draw(self, count):
        """A batch of ``count`` stored samples, each turned and flipped at random."""
        picked = self.rng.integers(len(self.samples), size=count)
        batches = []
        for index in picked:
            turns, flip = int(self.rng.integers(4)), bool(self.rng.integers(2))
            arrays, target = self.samples[index]
            batches.append([orient(a, turns, flip) for a in (*arrays, target)])
        columns = [np.stack(column) for column in zip(*batches)]
        return tuple(columns[:-1]), columns[-1]


def orient(array, turns, flip):
    """An (H, W, C) array turned by ``turns`` quarter turns, then mirrored left-right if ``flip``."""
    turned = np.rot90(array, turns, axes=(0, 1))
    return np.ascontiguousarray(turned[:, ::-1] if flip else turned)


def random_crop(image, size, rng):
    """A size x size crop, rescaled at random and flipped; small images are upscaled."""
    height, width = image.shape[:2]
    scale = rng.uniform(0.6, 1.0) if min(height, width) * 0.6 >= size else 1.0
    if min(height, width) * scale < size:
        scale = size / min(height, width)
    if abs(scale - 1.0) > 1e-3:
        resized = Image.fromarray(image).resize(
            (max(size, round(width * scale)), max(size, round(height * scale))), Image.BILINEAR
        )
        image = np.asarray(resized)
        height, width = image.shape[:2]
    top = int(rng.integers(0, height - size + 1))
    left = int(rng.integers(0, width - size + 1))
    crop = image[top : top + size, left : left + size]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def make_batch(crops, rng, ratio=(0.02, 0.4), families=None):
    """(inputs, targets) for Keras: inputs [masked image, mask], targets image+mask."""
    images = np.stack(crops).astype(np.float32) / 255.0
    size = images.shape[1:3]
    holes = np.stack([
        hole_mask(size, rng, None if families is None else families[i % len(families)], ratio)
        for i in range(len(crops))
    ])
    known = (~holes)[..., None].astype(np.float32)
    return [images * known, known], np.concatenate([images, known], axis=-1)


RATIO_BUCKETS = ((0.02, 0.08), (0.08, 0.16), (0.16, 0.28))


def stratified_samples(real_paths, per_cell, first_seed, seed, size=256, real_stride=7):
    """[(family, ratio bucket, source kind, image uint8 RGB, hole bool)], the same every call.

    ``per_cell`` crops for every hole family and hole-ratio bucket: half
    procedural pages (seeds from ``first_seed``), half real images (40 % of
    them turned to manga tone). The quality benchmark and the trainer's
    validation set are both drawn this way, from different seeds.
    """
    from .holes import FAMILIES

    rng = np.random.default_rng(seed)
    samples = []
    index = 0
    for family in FAMILIES:
        for bucket in RATIO_BUCKETS:
            for item in range(per_cell):
                if item % 2 == 0 or not real_paths:
                    page = manga_page((512, 512), seed=first_seed + index)
                    image, kind = random_crop(np.repeat(page[..., None], 3, -1), size, rng), "procedural"
                else:
                    with Image.open(real_paths[(index * real_stride) % len(real_paths)]) as opened:
                        rgb = np.asarray(opened.convert("RGB"))
                    if rng.random() < 0.4:
                        rgb = np.repeat(to_manga_style(rgb, rng)[..., None], 3, -1)
                    image, kind = random_crop(rgb, size, rng), "real"
                index += 1
                for _ in range(200):
                    hole = hole_mask((size, size), rng, family, bucket)
                    if bucket[0] <= hole.mean() < bucket[1]:
                        break
                samples.append((family, bucket, kind, image, hole))
    return samples


def held_out_set(real_paths, per_cell=12, size=256, seed=7):
    """The trainer's fixed validation batch: every hole family and ratio bucket alike.

    Stratified like the quality benchmark (108 crops) but from other seeds,
    so shipping decisions do not tune the model to the benchmark's crops;
    a smaller, unstratified set once shipped a model on +0.1 dB that the
    benchmark scored 0.1 dB worse.
    """
    samples = stratified_samples(real_paths, per_cell, first_seed=0, seed=seed, size=size, real_stride=11)
    images = np.stack([image for _, _, _, image, _ in samples]).astype(np.float32) / 255.0
    known = np.stack([~hole for _, _, _, _, hole in samples])[..., None].astype(np.float32)
    return [images * known, known], np.concatenate([images, known], axis=-1)


def make_mosaic_batch(crops, rng, jpeg_share=0.5, keep=None):
    """(inputs, targets) for the mosaic network: [image, known], truth + known.

    Each crop gets a mosaic of 4-32 px blocks at a random grid offset over a
    rectangle or a blob, JPEG-compressed half of the time. ``keep``, a list,
    receives (mosaicked uint8 crop, hole, grid) per crop: what the mosaic
    pipeline needs for its first guess and to finish a prediction as the
    tool writes it.
    """
    import io

    from ..mosaic import Grid, pixelate

    images, knowns, targets = [], [], []
    for crop in crops:
        size = crop.shape[0]
        block = int(rng.integers(4, 33))
        grid = Grid(block, int(rng.integers(block)), int(rng.integers(block)))
        if rng.random() < 0.5:
            h, w = (int(rng.integers(size // 4, size * 3 // 4)) for _ in range(2))
            top, left = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
            region = np.zeros((size, size), bool)
            region[top : top + h, left : left + w] = True
        else:
            region = hole_mask((size, size), rng, "blobs", (0.1, 0.4))
        mosaicked, hole = pixelate(crop, grid, region)
        if not hole.any():
            hole = region
        if rng.random() < jpeg_share:
            buffer = io.BytesIO()
            Image.fromarray(mosaicked).save(buffer, "JPEG", quality=int(rng.integers(75, 96)))
            mosaicked = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        known = (~hole)[..., None].astype(np.float32)
        if keep is not None:
            keep.append((mosaicked, hole, grid))
        images.append(mosaicked.astype(np.float32) / 255.0 * known)
        knowns.append(known)
        targets.append(np.concatenate([crop.astype(np.float32) / 255.0, known], axis=-1))
    return [np.stack(images), np.stack(knowns)], np.stack(targets)


def held_out_mosaic_set(real_paths, count=48, size=256, seed=8, keep=None):
    """The fixed held-out batch for the mosaic network (same crops as the bar set's kind)."""
    rng = np.random.default_rng(seed)
    crops = []
    for index in range(count):
        if index % 2 == 0 or not real_paths:
            page = manga_page((512, 512), seed=50_000 + index)
            crops.append(random_crop(np.repeat(page[..., None], 3, axis=-1), size, rng))
        else:
            with Image.open(real_paths[(index * 3) % len(real_paths)]) as image:
                crops.append(random_crop(np.asarray(image.convert("RGB")), size, rng))
    return make_mosaic_batch(crops, rng, keep=keep)
