"""
Flash Attention, simulated: tile Q, K and V into blocks that fit in fast memory
and compute softmax(QK^T / sqrt(d)) V one block at a time with an *online*
softmax, so the N x N attention matrix is never written anywhere.

This file shows WHAT FlashAttention does (tiling, the running max / running
sum / rescale trick, the HBM traffic it saves), not WHY it is fast on a GPU:
in pure Python every list is in the same memory and the tiled version is
slower. On a GPU the tiles live in on-chip SRAM (~100x faster than HBM) and
the saved HBM reads and writes are the whole speed-up.

Reference: Dao et al., "FlashAttention: Fast and Memory-Efficient Exact
Attention with IO-Awareness" (2022); Dao, "FlashAttention-2" (2023) for the
loop order used here (outer loop over query blocks).
"""

from __future__ import annotations

import math
import random

# Kata skeleton generated from solutions/microflash/microflash.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microflash`; stuck? `python -m workbook hint microflash`.
from workbook import KataTodo

# === SIMULATED MEMORY ===
#
# A GPU has two memories that matter here: HBM (large, slow: 40-80 GB at
# ~1.5-2 TB/s on an A100) and SRAM (tiny, fast: ~20 MB at ~19 TB/s; the
# FlashAttention paper's figures for the A100). Attention is
# memory-bound, so the cost that matters is how many floats cross between them.
# HBM below is the slow memory: every float an algorithm loads from it or
# stores to it is counted. Lists the algorithm holds locally play the part of
# SRAM.


class HBM:
    """Simulated slow memory: counts every float loaded from it or stored to it."""

    def __init__(self) -> None:
        self.reads = 0
        self.writes = 0

    def load(self, matrix: list[list[float]], start: int, stop: int) -> list[list[float]]:
        """Copy rows [start, stop) of ``matrix`` into fast memory."""
        rows = [list(row) for row in matrix[start:stop]]
        self.reads += sum(len(row) for row in rows)
        return rows

    def store(self, matrix: list[list[float]], start: int, rows: list[list[float]]) -> None:
        """Write ``rows`` back to ``matrix`` starting at row ``start``."""
        for offset, row in enumerate(rows):
            matrix[start + offset] = list(row)
        self.writes += sum(len(row) for row in rows)


def check_inputs(Q: list[list[float]], K: list[list[float]], V: list[list[float]]) -> tuple[int, int]:
    """Return (N, d) for self-attention inputs, or raise ValueError naming the bad one."""
    if not Q:
        raise ValueError("Q is empty: attention needs at least one position")
    n, d = len(Q), len(Q[0])
    if d == 0:
        raise ValueError("Q has rows of length 0: the head dimension d must be >= 1")
    for name, matrix in (("Q", Q), ("K", K), ("V", V)):
        if len(matrix) != n:
            raise ValueError(f"{name} has {len(matrix)} rows but Q has {n}: one row per position")
        for index, row in enumerate(matrix):
            if len(row) != d:
                raise ValueError(f"{name} row {index} has {len(row)} entries, expected d = {d}")
    return n, d


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def zeros(rows: int, cols: int) -> list[list[float]]:
    return [[0.0] * cols for _ in range(rows)]


# === STANDARD ATTENTION (THE SPEC) ===
#
# Algorithm 0 of the FlashAttention paper. Three passes, each a round trip
# through HBM:
#   S = Q K^T / sqrt(d)        read Q, K (2Nd)   write S (N^2)
#   P = softmax(S) row-wise    read S (N^2)      write P (N^2)
#   O = P V                    read P, V (N^2+Nd) write O (Nd)
# The N^2 terms are the whole story: for N = 8192 and d = 128 the two N x N
# matrices hold 43x more floats than Q, K and V together.


def standard_attention(Q, K, V, causal=False, hbm=None):
    """Compute softmax(QK^T/sqrt(d))V the standard way, round-tripping S and P through hbm.

    Q, K, V: N x d lists of lists. causal: position i attends to keys 0..i only.
    hbm: an HBM-like counter (load/store); a fresh HBM() when None.
    Returns O, N x d. Raises ValueError naming Q, K or V for empty or
    mismatched inputs (use check_inputs).
    """
    raise KataTodo('microflash.standard_attention: Compute softmax(QK^T/sqrt(d))V the standard way, round-tripping S and P through hbm.')


# === ONLINE SOFTMAX ===
#
# softmax(x)_j = exp(x_j - m) / l   with m = max(x), l = sum_j exp(x_j - m).
# Flash attention sees the scores of one row a block at a time, so it cannot
# know m in advance. It keeps, per query row, three running quantities:
#   m    the largest score seen so far
#   l    sum of exp(score - m) over scores seen so far
#   acc  sum of exp(score - m) * value over scores seen so far (unnormalised)
# When a new block raises the max from m to m', everything accumulated so far
# was measured against the old m and must be rescaled by exp(m - m') <= 1:
#   m' = max(m, max(block))
#   l' = exp(m - m') * l   + sum_j exp(s_j - m')
#   a' = exp(m - m') * acc + sum_j exp(s_j - m') * v_j
# After the last block, acc / l is exactly softmax(scores) @ values, whatever
# the block boundaries were. Intuition: (m, l, acc) is a fraction whose common
# factor exp(-m) we keep changing; rescaling keeps numerator and denominator in
# the same units.


def online_softmax_update(m, l, acc, scores, values):
    """Fold one block of scores (and their value rows) into the running (m, l, acc).

    m: running max (start with -math.inf); l: running sum of exp(score - m)
    (start with 0.0); acc: running sum of exp(score - m) * value, a list of d
    floats (start with zeros). scores: a non-empty list of floats for the
    block; values: one row of d floats per score. Returns the new (m, l, acc);
    acc stays unnormalised (divide by l once, after the last block).
    """
    raise KataTodo('microflash.online_softmax_update: Fold one block of scores (and their value rows) into the running (m, l, acc).')


# === FLASH ATTENTION (TILED FORWARD) ===
#
# FlashAttention-2's loop order: the outer loop walks query blocks Q_i, the
# inner loop streams key/value blocks K_j, V_j past them. For one query block
# the fast memory holds Q_i, K_j, V_j, the score tile S_ij, the accumulator
# and m, l: a working set that depends on B and d but not on N. HBM traffic:
#   reads:  each Q block once, plus every K and V block it streams
#   writes: each output block once, already normalised
# Causal, query block i only needs keys up to its last row, so key blocks
# entirely above the diagonal are skipped and never loaded.
# Signpost: real kernels pick B so the working set fills SRAM (B ~ 64-128 for
# d = 128), keep acc in registers, and also store logsumexp m + log(l) per row
# for the backward pass; FlashAttention-1 ran the loops the other way round,
# re-reading and re-writing O, m and l for every key block.


def flash_attention(Q, K, V, block_size, causal=False, hbm=None):
    """Compute attention tile by tile with the online softmax; the N x N matrix never exists.

    Q, K, V: N x d lists of lists; block_size: rows per tile (an int B >= 1,
    need not divide N; a bool or a float is refused). Load every tile with hbm.load and store each finished output
    block once with hbm.store. causal: skip key blocks entirely above the
    diagonal. Raises ValueError naming block_size when it is not an int >= 1,
    and naming Q, K or V for mismatched inputs (use check_inputs).
    Returns O, N x d.
    """
    raise KataTodo('microflash.flash_attention: Compute attention tile by tile with the online softmax; the N x N matrix never exists.')


# === ACCOUNTING: THE CLOSED FORMS ===
#
# These are the FlashAttention paper's IO counts made exact for this file's
# algorithms. Theorem 2 states them asymptotically: standard attention moves
# Theta(Nd + N^2) floats, flash attention Theta(N^2 d^2 / M) for SRAM size M.
# With B ~ M / (4d), the flash count 2 N^2 d / B below is exactly that shape.


def standard_hbm_traffic(N, d):
    """Return (reads, writes) in floats for standard_attention on N x d inputs."""
    raise KataTodo('microflash.standard_hbm_traffic: Return (reads, writes) in floats for standard_attention on N x d inputs.')


def flash_hbm_traffic(N, d, block_size, causal=False):
    """Return (reads, writes) in floats for flash_attention with this block size."""
    raise KataTodo('microflash.flash_hbm_traffic: Return (reads, writes) in floats for flash_attention with this block size.')


def flash_sram_floats(d, block_size):
    """Peak floats flash attention keeps in fast memory: Q, K, V tiles, score tile, acc, m, l."""
    raise KataTodo('microflash.flash_sram_floats: Peak floats flash attention keeps in fast memory: Q, K, V tiles, score tile, acc, m, l.')


# === DEMONSTRATION ===


def random_matrix(rng: random.Random, rows: int, cols: int, scale: float = 1.0) -> list[list[float]]:
    return [[rng.uniform(-scale, scale) for _ in range(cols)] for _ in range(rows)]


def max_difference(a: list[list[float]], b: list[list[float]]) -> float:
    return max(abs(x - y) for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))


def bar(value: float, largest: float, width: int = 40) -> str:
    return "#" * max(1, round(width * value / largest))


def demo_correctness(rng: random.Random) -> None:
    print("1. Flash equals standard, for any block size (N need not divide by B)")
    print(f"   {'N':>4} {'d':>3} {'B':>4} {'causal':>7} {'max |flash - standard|':>24}")
    for n, d, block in [(7, 4, 3), (16, 8, 4), (33, 8, 5), (33, 8, 1), (20, 4, 64)]:
        Q, K, V = (random_matrix(rng, n, d) for _ in range(3))
        for causal in (False, True):
            diff = max_difference(
                flash_attention(Q, K, V, block, causal), standard_attention(Q, K, V, causal)
            )
            assert diff < 1e-6, "flash attention disagrees with the spec"
            print(f"   {n:>4} {d:>3} {block:>4} {str(causal):>7} {diff:>24.2e}")
    Q, K, V = (random_matrix(rng, 12, 4, scale=30.0) for _ in range(3))
    diff = max_difference(flash_attention(Q, K, V, 5), standard_attention(Q, K, V))
    print(f"   logits up to ~{30 * 30 * 4 / 2:.0f}: still no overflow, max diff {diff:.2e}\n")


def demo_online_softmax() -> None:
    print("2. Online softmax: one row of scores, seen three blocks at a time")
    scores = [2.0, 0.5, 1.0, 3.0, 9.0, 8.5, -1.0]
    m, l, acc = -math.inf, 0.0, [0.0]
    for start in range(0, len(scores), 3):
        block = scores[start:start + 3]
        old_m = m
        m, l, acc = online_softmax_update(m, l, acc, block, [[s] for s in block])
        rescale = math.exp(old_m - m)
        print(
            f"   block {block!s:<18} running max m = {m:<5} running sum l = {l:.4f}"
            f"   old state rescaled by exp(m_old - m) = {rescale:.5f}"
        )
    exact = sum(s * math.exp(s - max(scores)) for s in scores) / sum(math.exp(s - max(scores)) for s in scores)
    print(f"   acc / l = {acc[0] / l:.12f}   softmax(scores) . scores = {exact:.12f}\n")


def demo_memory_and_traffic() -> None:
    d = 16
    print(f"3. Memory and HBM traffic (d = {d}; counted by running both on a simulated HBM)")
    print(
        f"   {'N':>5} {'B':>4} {'std reads+writes':>17} {'flash reads+writes':>19} {'saved':>6}"
        f" {'std N x N floats':>17} {'flash SRAM floats':>18}"
    )
    rng = random.Random(7)
    rows = []
    for n, block in [(32, 8), (64, 8), (64, 32), (128, 32), (256, 64)]:
        Q, K, V = (random_matrix(rng, n, d) for _ in range(3))
        standard, flash = HBM(), HBM()
        standard_attention(Q, K, V, hbm=standard)
        flash_attention(Q, K, V, block, hbm=flash)
        assert (standard.reads, standard.writes) == standard_hbm_traffic(n, d)
        assert (flash.reads, flash.writes) == flash_hbm_traffic(n, d, block)
        std_total, flash_total = standard.reads + standard.writes, flash.reads + flash.writes
        rows.append((n, block, std_total, flash_total))
        print(
            f"   {n:>5} {block:>4} {std_total:>17,} {flash_total:>19,} {std_total / flash_total:>5.1f}x"
            f" {n * n:>17,} {flash_sram_floats(d, block):>18,}"
        )
    print("\n   HBM floats moved, non-causal (bar length proportional):")
    largest = max(r[2] for r in rows)
    for n, block, std_total, flash_total in rows:
        print(f"   N={n:<4} B={block:<3} standard {bar(std_total, largest):<40} {std_total:,}")
        print(f"   {'':<10} flash    {bar(flash_total, largest):<40} {flash_total:,}")
    print()


def demo_causal() -> None:
    n, d, block = 64, 16, 16
    full = flash_hbm_traffic(n, d, block)
    causal = flash_hbm_traffic(n, d, block, causal=True)
    print(f"4. Causal flash skips key blocks above the diagonal (N={n}, d={d}, B={block})")
    print(f"   reads non-causal {full[0]:,}   reads causal {causal[0]:,}   ({causal[0] / full[0]:.0%})\n")


if __name__ == "__main__":
    random.seed(42)
    rng = random.Random(42)
    demo_correctness(rng)
    demo_online_softmax()
    demo_memory_and_traffic()
    demo_causal()
    print(
        "Pure Python shows WHAT flash attention does (tiles, online softmax, fewer HBM\n"
        "reads and writes), not WHY it is fast on a GPU: here every list lives in the\n"
        "same memory, so the tiled version is slower. On a GPU the tiles sit in SRAM\n"
        "and the HBM traffic saved above is the speed-up."
    )
