import numpy as np
import pytest

from decensor.regions import Box, count_regions, feather, plan_groups, plan_tiles, tile_starts


@pytest.mark.parametrize("start,stop,length", [(0, 10, 1000), (100, 900, 1000), (990, 1000, 1000), (0, 1000, 1000), (5, 20, 30)])
def test_tiles_cover_the_span_and_stay_inside(start, stop, length):
    tile = 64
    starts = tile_starts(start, stop, tile, length, 16)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + tile] = True
        if length >= tile:
            assert 0 <= s <= length - tile
    assert covered[start:stop].all()


def test_overlapping_tiles_overlap_enough():
    starts = tile_starts(0, 1000, 128, 1000, 32)
    assert all(b - a <= 128 - 32 for a, b in zip(starts, starts[1:]))


def test_groups_merge_regions_whose_context_touches():
    hole = np.zeros((200, 200), bool)
    hole[10:20, 10:20] = True
    hole[10:20, 40:50] = True   # 20 px away: same group with margin 16
    hole[150:160, 150:160] = True
    _, groups = plan_groups(hole, 16)
    assert sorted(len(g.labels) for g in groups) == [1, 2]
    assert count_regions(hole) == 3
    # A margin that grows with the region (as patch synthesis plans) merges more.
    _, grown = plan_groups(hole, lambda box: 16 if box.top < 100 else 200)
    assert len(grown) == 1


def test_plan_tiles_for_image_smaller_than_tile():
    tiles = plan_tiles(Box(0, 0, 30, 40), 64, (30, 40), 16)
    assert tiles == [Box(0, 0, 64, 64)]


def test_feather_is_positive_and_peaks_inside():
    weights = feather(32, 8)
    assert weights.min() > 0 and weights.max() == 1.0
    assert weights[16, 16] > weights[0, 0]


def test_label_map_stores_only_the_marked_area_and_reads_any_box():
    from decensor.regions import LabelMap

    hole = np.zeros((500, 600), bool)
    hole[100:110, 200:230] = True
    hole[300:320, 250:260] = True
    labels = LabelMap(hole)
    assert labels.labels.shape == (220, 60)
    assert labels.boxes == [Box(100, 200, 110, 230), Box(300, 250, 320, 260)]
    window = labels.within(Box(95, 190, 115, 240))
    assert window.shape == (20, 50)
    assert (window > 0).sum() == 10 * 30
    assert not labels.within(Box(0, 0, 50, 50)).any()


def test_tiles_shrink_to_a_small_or_thin_mark_in_steps_and_still_cover_it():
    shape = (2000, 2000)
    thin = plan_tiles(Box(500, 400, 550, 700), 384, shape, 96, step=32)
    assert {(t.height, t.width) for t in thin} == {(64, 320)}
    wide = plan_tiles(Box(100, 100, 150, 1200), 384, shape, 96, step=32)
    assert {(t.height, t.width) for t in wide} == {(64, 384)}
    covered = np.zeros(shape, bool)
    for t in wide:
        covered[t.slices] = True
    assert covered[100:150, 100:1200].all()
    assert plan_tiles(Box(0, 0, 50, 50), 384, shape, 96) == [Box(0, 0, 384, 384)]  # (no step: square tiles)
