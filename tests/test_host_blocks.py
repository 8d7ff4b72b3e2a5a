"""The host basis as a stack of blocks (`amf.solvers.host_blocks`): layout, release, and its panelled GEMMs
against plain numpy, with several panels per thread and a ragged last one."""

from __future__ import annotations

import numpy as np
import pytest

from amf.operators.csr_kernel import ALIGN
from amf.solvers import host_blocks


def _dense(blocks: np.ndarray) -> np.ndarray:
    """``[V_0 | V_1 | ...]`` as one ``(N, J d)`` array, by plain numpy."""
    return np.concatenate(list(blocks), axis=1)


@pytest.mark.parametrize("width, dtype", [(8, np.float64), (4, np.float64), (1, np.float32), (3, np.float64)])
def test_stack_blocks_are_aligned_kernel_inputs(width, dtype):
    blocks = host_blocks.stack(4, 1001, width, dtype)  # 1001 rows: padding between blocks for most widths
    assert blocks.shape == (4, 1001, width) and not blocks.any()
    for block in blocks:
        assert block.flags.c_contiguous and block.ctypes.data % ALIGN == 0


def test_release_frees_the_tail_and_keeps_the_head():
    blocks = host_blocks.stack(4, 300_000, 8, np.float64)  # 19 MB a block: many pages each
    blocks[...] = 1.0
    host_blocks.release(blocks, 2)
    assert np.all(blocks[:2] == 1.0)
    assert not blocks[3].any()  # returned pages read as zeros on Linux (private anonymous memory)


@pytest.mark.parametrize("width", [1, 8])
def test_gemms_in_panels_match_numpy(monkeypatch, width):
    assert [host_blocks.panel(c, 8) for c in (1, 40, 104, 10**6)] == [host_blocks.PANEL, 2048, 1024, 256]
    monkeypatch.setattr(host_blocks, "PANEL_BYTES", 5 * 8 * 300)  # 5 rows: 300 fit, so panels of 256
    monkeypatch.setattr(host_blocks, "PANEL", 256)
    rng = np.random.default_rng(4)
    count, n = 5, 1000
    blocks = host_blocks.stack(count, n, width, np.float64)
    blocks[...] = rng.standard_normal(blocks.shape)
    dense = _dense(blocks)
    w, h = rng.standard_normal((n, 3)), rng.standard_normal((count * width, 3))
    np.testing.assert_allclose(host_blocks.coefficients(blocks, w), dense.T @ w, rtol=1e-13, atol=1e-12)
    expected = w - dense @ h
    host_blocks.subtract_span(w, blocks, h)
    np.testing.assert_allclose(w, expected, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(host_blocks.gram(w), w.T @ w, rtol=1e-13, atol=1e-12)
    small = rng.standard_normal((3, 2))
    np.testing.assert_allclose(host_blocks.times_small(w, small), w @ small, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(host_blocks.times_small_rows(w, small), (w @ small).T, rtol=1e-13, atol=1e-12)
    np.testing.assert_array_equal(host_blocks.columns(blocks, 2 * width + 1), dense[:, : 2 * width + 1])


def test_combine_in_place_over_the_first_blocks(monkeypatch):
    monkeypatch.setattr(host_blocks, "PANEL_BYTES", 10 * 8 * 256)  # panels of 256 rows: ragged at 1000
    rng = np.random.default_rng(5)
    blocks = host_blocks.stack(5, 1000, 2, np.float64)
    blocks[...] = rng.standard_normal(blocks.shape)
    dense = _dense(blocks)
    select = rng.standard_normal((10, 4))
    np.testing.assert_allclose(host_blocks.combine(blocks, select), dense @ select, rtol=1e-13, atol=1e-12)
    host_blocks.combine(blocks, select, out=blocks[:2])  # reads blocks 0..4 while it writes 0..1
    np.testing.assert_allclose(_dense(blocks[:2]), dense @ select, rtol=1e-13, atol=1e-12)
    np.testing.assert_array_equal(_dense(blocks[2:]), dense[:, 4:])
