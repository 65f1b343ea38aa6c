"""The thresholds of mosaic detection, as one frozen value passed to every step.

Measurements behind the values are in ``benchmarks/TUNING.md`` (tuned on the
training split of ``benchmarks/mosaic_detection.py``, never on held-out pages).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectionSettings:
    """What counts as a mosaic block, a step between blocks, and enough evidence."""

    # A block whose grey standard deviation is below this is flat, JPEG noise allowed for.
    flat_std: float = 6.0
    # Evidence blocks a region needs before it proves its grid.
    min_blocks: int = 4
    # Grey levels a step on a grid line must reach.
    min_step: float = 2.0
    # ... and how many times the steps inside the blocks (a gradient steps inside as much as across) ...
    min_contrast: float = 3.0
    # ... counted as at least this much, so a perfectly flat block does not make every step a contrast.
    inner_floor: float = 0.25
    # Lossless blocks (spread at most lossless_flat) step by lossless_step or more: a mosaic over soft
    # painted shading steps by a grey level or two, while a smooth 8-bit gradient's bands step by one
    # and JPEG's blocks are never this flat.
    lossless_flat: float = 0.5
    lossless_step: float = 1.5
    # On a page decoded from a JPEG file, a step on its 8 px block lines (on a grid sharing every other line
    # with them) must reach this: compression flattens smooth shading into a staircase of 2-4 levels there.
    jpeg_line_step: float = 5.0
    # Side of the windows in which box positions vote for a grid phase.
    window: int = 128
    # Votes a phase needs in a window ...
    min_votes: int = 3
    # ... standing this many times above the other phases' mean (plus one), so scattered corners never win.
    standout: float = 4.0
    # A box half a block off a mosaic block straddles a step: at least this spread ...
    straddle_min: float = 2.0
    # ... and this many times the on-block box's spread (plus one).
    straddle_ratio: float = 2.0
    # ... or, on a lossless block, this spread (a box half on each side of a lossless_step step).
    lossless_straddle: float = 0.7
    # A region is firm with at least this many stepping pairs each way ...
    firm_steps: int = 3
    # ... and the fewer way at least this share of the other: an edge on a grid line steps one way only.
    firm_balance: float = 0.25
    # Gaps of up to this many blocks (plain paper under the mosaic) are bridged inside a region.
    bridge_blocks: int = 2
    # Neighbouring flat blocks whose means differ by less than this are one patch when growing.
    same_colour: float = 2.5
    # Growing takes a patch when this share of its edges steps by at least grow_step on grid lines.
    grow_share: float = 0.75
    grow_step: float = 1.5
    # Rounds of growing: each takes the patches next to what was found, so this bounds the reach.
    grow_rounds: int = 16
    # Growing and weak pieces take only blocks this many times as spread as the firm region's
    # (its 90th percentile block spread), or relative_floor grey levels: a smooth texture is
    # flat by the absolute test, but not as flat as a mosaic's blocks.
    relative_flat: float = 2.0
    relative_floor: float = 1.0
    # JPEG ringing allowed in a rim block: a share of the step to its neighbour's mean ...
    rim_ringing: float = 0.12
    # ... and of the busiest neighbour's own spread (a rim against hatching of about the same grey).
    rim_leak: float = 0.03
    # Banded mosaics (over one-way shading): at least this many bands stepping like a staircase ...
    min_bands: int = 4
    # ... over at least this many blocks' (and 32 px of) length.
    min_band_blocks: int = 4
    min_band_length: int = 32
    # Grey levels a band's column means may wander along it (JPEG noise) ...
    band_along_std: float = 2.5
    # ... and the spread allowed down a column inside a band (or a tenth of the step, if more).
    band_noise: float = 1.5
    band_noise_share: float = 0.1
    # A grid whose found blocks hold a handful of colours, each many times over, is pixel art or a
    # checkerboard, not a mosaic (which averages art into new colours where two meet): refused
    # when at most palette_colours colours (block means rounded to palette_step grey levels, JPEG
    # noise allowed for) cover palette_share of its blocks, and there are palette_repeats blocks
    # per such colour (a small mosaic of a grey manga page has few colours too, but few blocks).
    palette_colours: int = 12
    palette_step: float = 6.0
    palette_share: float = 0.995
    palette_repeats: int = 25
    # ... and those colours lie this many steps apart at least: a mosaic over hatching or a soft
    # tone also holds few colours, but colours a grey level or two apart.
    palette_separation: int = 3


DEFAULT_DETECTION = DetectionSettings()
