"""
PagedAttention, simulated: keep every sequence's KV cache in fixed-size pages
drawn from one shared pool, find them through a per-sequence block table, and
share pages between sequences until one of them writes.

A serving engine cannot know how long a request will run, so the obvious
design reserves max_len slots of KV cache per request up front. Most requests
stop far earlier, and the reserved-but-never-written slots are pure waste: the
vLLM paper measured only 20-38% of KV memory actually holding tokens in such
systems. Paging, borrowed from operating systems, fixes this:

    logical view (one sequence)        physical pool (all sequences)
    block 0: tokens 0..B-1    ----->   page 7
    block 1: tokens B..2B-1   ----->   page 2      any free page will do
    block 2: tokens 2B..      ----->   page 5      (partially filled)

Pages are taken only when a token needs one, so each sequence wastes at most
B-1 slots (its last page), and a page can appear in several block tables at
once: parallel samples of one prompt share the prompt's pages, and a
reference count says when a page may go back to the free list.

This file shows the bookkeeping (allocator, block tables, refcounts,
copy-on-write, preemption) and an attention that reads K/V through the table.
It does not show why it is fast: on a GPU the attention kernel gathers pages
from scattered HBM addresses, and the win is that more sequences fit in the
same memory, so the batch (and the throughput) grows.

Reference: Kwon et al., "Efficient Memory Management for Large Language Model
Serving with PagedAttention" (SOSP 2023), the paper behind vLLM.
"""

from __future__ import annotations

import math
import random

# === THE OUT-OF-PAGES SIGNAL ===
#
# Running out of KV memory is normal in a server: it is how the scheduler
# learns that it must preempt someone. So it must be a clear, catchable
# signal, and it must be raised BEFORE anything changes, so the caller can
# preempt a sequence and simply retry the same call.


class OutOfPages(RuntimeError):
    """No free page is left. Raised before any state changes, so a retry is safe."""


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


# === PAGE ARITHMETIC ===
#
# A sequence of n tokens in pages of B slots needs enough pages to hold all n
# tokens, the last one possibly partly filled. The gap between the slots those
# pages hold and n is the internal fragmentation: always less than one page.


def pages_needed(num_tokens, page_size):
    """Return how many pages of page_size slots hold num_tokens tokens (0 tokens need 0 pages).

    num_tokens: an int >= 0; page_size: an int >= 1 (a bool or a float is
    refused). Raises ValueError naming page_size or num_tokens when it is out
    of range.
    """
    # BEGIN SOLUTION
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size <= 0:
        raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
    if not isinstance(num_tokens, int) or isinstance(num_tokens, bool) or num_tokens < 0:
        raise ValueError(f"num_tokens must be an integer >= 0, got {num_tokens!r}")
    # Ceiling division without floats: -(-n // B). Floor division would drop
    # the last, partly filled page; n // B + 1 would add a page too many
    # whenever B divides n.
    return -(-num_tokens // page_size)
    # END SOLUTION


# === THE PAGE ALLOCATOR ===
#
# The pool has num_pages physical pages, named 0 .. num_pages-1. The allocator
# owns two things:
#   free_list   the pages nobody uses, a stack: allocate pops from its END,
#               release pushes onto its END (the most recently freed page is
#               handed out first, as in vLLM's block allocator)
#   refcount    per page, how many block tables point at it (0 = free)
# The invariant that catches every bookkeeping bug:
#   a page is on the free list  <=>  its refcount is 0, and it is there once;
#   so num_pages == len(free_list) + (pages with refcount > 0), always.
# A page freed twice sits on the free list twice and will be handed to two
# sequences, which then overwrite each other's keys: silent corruption, the
# worst kind. Hence release refuses a page whose refcount is already 0.


class PageAllocator:
    """A fixed pool of physical pages: a free list (a stack) and a refcount per page."""

    def __init__(self, num_pages: int) -> None:
        if not isinstance(num_pages, int) or isinstance(num_pages, bool) or num_pages <= 0:
            raise ValueError(f"num_pages must be a positive integer, got {num_pages!r}")
        self.num_pages = num_pages
        # Reversed so that a fresh pool hands out pages 0, 1, 2, ... in order.
        self.free_list: list[int] = list(range(num_pages - 1, -1, -1))
        self.refcount: list[int] = [0] * num_pages

    def num_free(self) -> int:
        return len(self.free_list)

    def num_used(self) -> int:
        return self.num_pages - len(self.free_list)

    def allocate(self) -> int:
        """Take the page at the END of free_list, set its refcount to 1 and return it.

        Raises OutOfPages when free_list is empty, changing nothing.
        """
        # BEGIN SOLUTION
        if not self.free_list:
            raise OutOfPages(f"all {self.num_pages} pages are in use; free or preempt a sequence")
        page = self.free_list.pop()
        self.refcount[page] = 1
        return page
        # END SOLUTION

    def share(self, page: int) -> None:
        """Add one reference to a page that is in use (a second block table now points at it).

        Raises ValueError naming the page when it is not an int in
        0..num_pages-1 (a bool or a float is refused) or free (refcount 0):
        sharing a free page would resurrect it behind the allocator's back.
        """
        # BEGIN SOLUTION
        if not isinstance(page, int) or isinstance(page, bool) or not 0 <= page < self.num_pages:
            raise ValueError(f"page must be in 0..{self.num_pages - 1}, got {page!r}")
        if self.refcount[page] == 0:
            raise ValueError(f"page {page} is free: only a page in use can be shared")
        self.refcount[page] += 1
        # END SOLUTION

    def release(self, page: int) -> None:
        """Drop one reference to page; when none is left, push it onto the END of free_list.

        Raises ValueError naming the page when it is not an int in
        0..num_pages-1 (a bool or a float is refused) or already free
        (refcount 0): that would be a double free.
        """
        # BEGIN SOLUTION
        if not isinstance(page, int) or isinstance(page, bool) or not 0 <= page < self.num_pages:
            raise ValueError(f"page must be in 0..{self.num_pages - 1}, got {page!r}")
        if self.refcount[page] == 0:
            raise ValueError(f"page {page} is already free: double free")
        self.refcount[page] -= 1
        # Only the last owner gives the page back; while others still read it
        # it must stay off the free list.
        if self.refcount[page] == 0:
            self.free_list.append(page)
        # END SOLUTION


# === THE PAGED KV CACHE ===
#
# Physical memory: k_pages[page][slot] and v_pages[page][slot] hold one
# token's key and value vector (head_dim floats each). Pages are NOT cleared
# when freed: a reused page still holds its previous owner's vectors in the
# slots the new owner has not written yet, exactly like GPU memory. Reading a
# slot beyond a sequence's length therefore reads someone else's data.
#
# Per sequence:
#   block_tables[seq_id]  the physical pages of its logical blocks 0, 1, 2, ...
#   lengths[seq_id]       how many tokens it holds
# Token p of a sequence lives in logical block p // B, at slot p % B of that
# block's page. block_tables is a dict, and dicts keep insertion order: its
# keys list the sequences in order of arrival (add_sequence or fork), oldest
# first. The scheduler's preemption policy relies on that order.
#
# Copy-on-write (why only the LAST page): a full page is never written again,
# so sharing it is free forever. Only the last, partly filled page receives
# new tokens. If it is shared, the writer must first make a private copy of
# the filled slots, else its token would appear in its siblings' sequences.
# Signpost: vLLM's block manager does the same, returning (src, dst) copy
# pairs that the GPU worker executes as a batched block copy before the step.


class PagedKVCache:
    """Block tables over a shared pool of KV pages, with refcounted sharing."""

    def __init__(self, num_pages: int, page_size: int, head_dim: int) -> None:
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size <= 0:
            raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
        if not isinstance(head_dim, int) or isinstance(head_dim, bool) or head_dim <= 0:
            raise ValueError(f"head_dim must be a positive integer, got {head_dim!r}")
        self.allocator = PageAllocator(num_pages)
        self.page_size = page_size
        self.head_dim = head_dim
        self.k_pages: list[list] = [[None] * page_size for _ in range(num_pages)]
        self.v_pages: list[list] = [[None] * page_size for _ in range(num_pages)]
        self.block_tables: dict = {}
        self.lengths: dict = {}
        self.copies = 0  # pages duplicated by copy-on-write

    def add_sequence(self, seq_id) -> None:
        """Register a new, empty sequence (no pages yet: they come on demand)."""
        if seq_id in self.block_tables:
            raise ValueError(f"seq_id {seq_id!r} is already in the cache")
        self.block_tables[seq_id] = []
        self.lengths[seq_id] = 0

    def slot_of(self, seq_id, position: int) -> tuple[int, int]:
        """Return (physical page, slot) where token `position` of sequence seq_id is stored.

        Token p lives in logical block p // page_size at slot p % page_size;
        the block table maps the logical block to its physical page. Raises
        ValueError naming seq_id when the sequence is unknown, and naming
        position unless it is an int (a bool or a float is refused) with
        0 <= position < the sequence's length.
        """
        # BEGIN SOLUTION
        if seq_id not in self.block_tables:
            raise ValueError(f"seq_id {seq_id!r} is not in the cache")
        length = self.lengths[seq_id]
        if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position < length:
            raise ValueError(f"position must be in 0..{length - 1} for seq_id {seq_id!r}, got {position!r}")
        # divmod splits an absolute position into (which block, where in it);
        # only the block goes through the table: offsets are the same in the
        # logical and the physical page.
        block, slot = divmod(position, self.page_size)
        return self.block_tables[seq_id][block], slot
        # END SOLUTION

    def fork(self, parent_id, child_id) -> None:
        """Make child_id a new sequence sharing all of parent_id's pages: no page is allocated.

        The child gets the parent's length and its own copy of the parent's
        block table (a new list holding the same pages); every page in it
        gains one reference. The child arrives now: it becomes the newest
        sequence. Raises ValueError naming parent_id when the parent is
        unknown, and naming child_id when that id is already in use.
        """
        # BEGIN SOLUTION
        if parent_id not in self.block_tables:
            raise ValueError(f"parent_id {parent_id!r} is not in the cache")
        if child_id in self.block_tables:
            raise ValueError(f"child_id {child_id!r} is already in the cache")
        # A new list: the two tables hold the same pages today but diverge as
        # soon as either sequence takes a page or copies one on write.
        table = list(self.block_tables[parent_id])
        for page in table:
            self.allocator.share(page)
        self.block_tables[child_id] = table
        self.lengths[child_id] = self.lengths[parent_id]
        # END SOLUTION

    def append(self, seq_id, key: list[float], value: list[float]) -> tuple[int, int]:
        """Store one more token's key and value for seq_id, taking a page only when needed.

        The token goes to position p = lengths[seq_id]: slot p % page_size of
        logical block p // page_size. When p % page_size == 0 the sequence has
        no room left, so allocate a page and append it to the block table.
        Otherwise, when the last page is shared (refcount > 1), copy on write:
        allocate a page, copy slots 0 .. p % page_size - 1 into it (keys and
        values), point the last table entry at it, release the shared page
        once, and add 1 to self.copies. A last page with refcount 1 is written
        in place. Store copies of key and value (lists of head_dim floats).
        Returns (page, slot) written. Raises OutOfPages (from allocate) before
        changing anything, ValueError naming seq_id when it is unknown, and
        naming key or value when its length is not head_dim.
        """
        # BEGIN SOLUTION
        if seq_id not in self.block_tables:
            raise ValueError(f"seq_id {seq_id!r} is not in the cache; add_sequence it first")
        for name, vector in (("key", key), ("value", value)):
            if len(vector) != self.head_dim:
                raise ValueError(f"{name} has {len(vector)} entries, expected head_dim = {self.head_dim}")
        table = self.block_tables[seq_id]
        length = self.lengths[seq_id]
        slot = length % self.page_size
        if slot == 0:
            # Every page so far is full (or there is none): page on demand.
            # allocate() raises before touching anything, so an OutOfPages
            # here leaves table, length and pool exactly as they were.
            table.append(self.allocator.allocate())
        elif self.allocator.refcount[table[-1]] > 1:
            shared = table[-1]
            # Allocate FIRST, release LAST: releasing the shared page before
            # a failed allocate would drop a reference we still hold.
            private = self.allocator.allocate()
            for s in range(slot):
                self.k_pages[private][s] = list(self.k_pages[shared][s])
                self.v_pages[private][s] = list(self.v_pages[shared][s])
            table[-1] = private
            self.allocator.release(shared)
            self.copies += 1
        page = table[length // self.page_size]
        self.k_pages[page][slot] = list(key)
        self.v_pages[page][slot] = list(value)
        self.lengths[seq_id] = length + 1
        return page, slot
        # END SOLUTION

    def free(self, seq_id) -> None:
        """Remove sequence seq_id, releasing one reference to each page of its block table.

        Pages still referenced by other sequences stay in use. Raises
        ValueError naming seq_id when the sequence is unknown.
        """
        # BEGIN SOLUTION
        if seq_id not in self.block_tables:
            raise ValueError(f"seq_id {seq_id!r} is not in the cache")
        for page in self.block_tables.pop(seq_id):
            self.allocator.release(page)
        del self.lengths[seq_id]
        # END SOLUTION

    def preempt(self):
        """Evict the newest sequence (the last to arrive): free its pages and return its id.

        Returns None when the cache holds no sequence. The caller keeps the
        evicted request's tokens and recomputes its KV cache later.
        """
        # BEGIN SOLUTION
        # vLLM's default policy is first-come-first-served, so the request
        # that arrived last has the lowest priority and is evicted first; its
        # KV is recomputed from its tokens when memory frees up ("recompute"
        # preemption; vLLM v0 could also swap pages to CPU memory instead).
        if not self.block_tables:
            return None
        newest = next(reversed(self.block_tables))
        self.free(newest)
        return newest
        # END SOLUTION


# === PAGED ATTENTION ===
#
# One decode step: the newest query attends to every cached token of its
# sequence, o = sum_j softmax_j(q . k_j / sqrt(d)) v_j. The keys are not in
# one contiguous array: the kernel walks the block table, logical block by
# logical block, and reads only the filled slots of each page (all B of a full
# page, length - i*B of the last one). Because softmax is a sum over tokens,
# the order in which pages sit in memory cannot change the result: any
# physical permutation gives the same output as contiguous attention.
# Signpost: vLLM's CUDA kernel gives each thread group one block at a time
# and merges per-block partial softmaxes (the flash-attention rescale);
# FlashInfer and FlashAttention-2 also accept block tables today.


def paged_attention(cache: PagedKVCache, seq_id, query: list[float]) -> list[float]:
    """Return softmax(q . k_j / sqrt(head_dim)) weighted sum of v_j over all tokens j of seq_id.

    Read K and V only through the block table: logical block i is page
    cache.block_tables[seq_id][i], and only its filled slots belong to the
    sequence. Use a stable softmax (subtract the max score). query: head_dim
    floats. Returns head_dim floats. Raises ValueError naming seq_id when the
    sequence is unknown or empty, and naming query when its length is not
    head_dim.
    """
    # BEGIN SOLUTION
    if seq_id not in cache.block_tables:
        raise ValueError(f"seq_id {seq_id!r} is not in the cache")
    length = cache.lengths[seq_id]
    if length == 0:
        raise ValueError(f"seq_id {seq_id!r} holds no tokens: nothing to attend to")
    d = cache.head_dim
    if len(query) != d:
        raise ValueError(f"query has {len(query)} entries, expected head_dim = {d}")
    scale = 1.0 / math.sqrt(d)
    B = cache.page_size
    scores, values = [], []
    for block, page in enumerate(cache.block_tables[seq_id]):
        # The last page is only partly ours: slots past the length hold stale
        # vectors of the page's previous owner.
        filled = min(B, length - block * B)
        for slot in range(filled):
            scores.append(dot(query, cache.k_pages[page][slot]) * scale)
            values.append(cache.v_pages[page][slot])
    peak = max(scores)
    weights = [math.exp(s - peak) for s in scores]
    total = sum(weights)
    return [sum(w * v[c] for w, v in zip(weights, values)) / total for c in range(d)]
    # END SOLUTION


# === ACCOUNTING: WHY PAGING PAYS ===
#
# Utilisation = tokens actually stored / KV slots reserved. A naive server
# reserves max_len slots per request when it is admitted; paging reserves
# whole pages only as tokens arrive. Parallel sampling (n continuations of one
# prompt) shares the prompt's pages through fork, so most of the prompt is
# stored once instead of n times.


def reservation_slots(lengths, page_size, max_len):
    """Return (paged_slots, naive_slots): KV slots reserved for requests of these lengths.

    lengths: final token counts of the requests, each 0 <= L <= max_len.
    Paged: every request holds whole pages of page_size slots. Naive: every
    request reserves max_len slots up front. Raises ValueError naming
    page_size, max_len or lengths when out of range (page_size, max_len: ints
    >= 1; each length an int; a bool or a float is refused).
    """
    # BEGIN SOLUTION
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size <= 0:
        raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
    if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len <= 0:
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    for length in lengths:
        if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= max_len:
            raise ValueError(f"lengths must lie in 0..max_len = {max_len}, got {length!r}")
    # Paged waste per request is < page_size (its last page); naive waste is
    # max_len - L, which is most of max_len for a typical short request.
    paged = page_size * sum(pages_needed(length, page_size) for length in lengths)
    return paged, len(lengths) * max_len
    # END SOLUTION


def parallel_sampling_pages(prompt_len, gen_len, num_samples, page_size):
    """Return (pages in use, copy-on-write copies) for parallel sampling with shared prompt pages.

    A parent sequence holds prompt_len tokens; it is forked num_samples - 1
    times; then each of the num_samples sequences appends gen_len tokens, in
    any interleaving. Counts follow PagedKVCache.append's rules. Raises
    ValueError naming page_size, num_samples, prompt_len or gen_len when out
    of range (ints: page_size, num_samples >= 1; prompt_len, gen_len >= 0; a
    bool or a float is refused).
    """
    # BEGIN SOLUTION
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size <= 0:
        raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
    if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    for name, value in (("prompt_len", prompt_len), ("gen_len", gen_len)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    if gen_len == 0:
        # Nobody writes, so nobody copies: all samples share every page.
        return pages_needed(prompt_len, page_size), 0
    # The full prompt pages stay shared by all samples. From the partial
    # prompt page on, each sample owns its pages: its copy of the prompt's
    # tail plus its own gen_len tokens.
    shared = prompt_len // page_size
    own = pages_needed(prompt_len + gen_len, page_size) - shared
    # The partial prompt page starts with refcount num_samples. Each writer
    # that finds it shared copies it and drops one reference, so the last
    # writer finds refcount 1 and writes in place: num_samples - 1 copies,
    # whatever the interleaving. A prompt ending on a page boundary has no
    # partial page, and nothing is copied.
    copies = num_samples - 1 if prompt_len % page_size else 0
    return shared + num_samples * own, copies
    # END SOLUTION


# === DEMONSTRATION ===


def random_vector(rng: random.Random, d: int, scale: float = 1.0) -> list[float]:
    return [rng.uniform(-scale, scale) for _ in range(d)]


def contiguous_attention(keys, values, query):
    """The spec: plain attention over contiguous lists of keys and values."""
    d = len(query)
    logits = [dot(query, k) / math.sqrt(d) for k in keys]
    top = max(logits)
    unnormalised = [math.exp(x - top) for x in logits]
    total = sum(unnormalised)
    return [sum(u * v[c] for u, v in zip(unnormalised, values)) / total for c in range(d)]


def bar(value: float, largest: float, width: int = 40) -> str:
    return "#" * max(1, round(width * value / largest)) if value > 0 else ""


def pool_map(cache: PagedKVCache) -> str:
    """One character per physical page: the owner's id (first char), '*' if shared, '.' if free."""
    owners: dict[int, list] = {}
    for seq_id, table in cache.block_tables.items():
        for page in table:
            owners.setdefault(page, []).append(seq_id)
    cells = []
    for page in range(cache.allocator.num_pages):
        who = owners.get(page, [])
        cells.append("." if not who else "*" if len(who) > 1 else str(who[0])[0])
    return "".join(cells)


def demo_block_table(rng: random.Random) -> None:
    B, d = 4, 3
    cache = PagedKVCache(num_pages=12, page_size=B, head_dim=d)
    # Scatter the free list, as it is after a server has run for a while.
    rng.shuffle(cache.allocator.free_list)
    print(f"1. A block table maps logical blocks to scattered physical pages (B = {B})")
    for seq_id, length in (("a", 11), ("b", 6), ("c", 3)):
        cache.add_sequence(seq_id)
        for _ in range(length):
            cache.append(seq_id, random_vector(rng, d), random_vector(rng, d))
        slots = [cache.slot_of(seq_id, p) for p in range(length)]
        print(f"   seq {seq_id}: {length:>2} tokens  block table {cache.block_tables[seq_id]!s:<12}"
              f" token {length - 1} -> page {slots[-1][0]}, slot {slots[-1][1]}")
    print(f"   pool (one char per page, '.' = free): {pool_map(cache)}"
          f"   used {cache.allocator.num_used()} of {cache.allocator.num_pages}\n")


def demo_attention(rng: random.Random) -> None:
    print("2. Paged attention equals contiguous attention, whatever the page size")
    print(f"   {'tokens':>6} {'B':>3} {'pages':>5} {'max |paged - contiguous|':>26}")
    d = 8
    for length, B in [(1, 1), (13, 1), (13, 4), (29, 5), (29, 16), (40, 64)]:
        cache = PagedKVCache(num_pages=pages_needed(length, B) + 3, page_size=B, head_dim=d)
        rng.shuffle(cache.allocator.free_list)
        cache.add_sequence(0)
        keys = [random_vector(rng, d) for _ in range(length)]
        values = [random_vector(rng, d) for _ in range(length)]
        for k, v in zip(keys, values):
            cache.append(0, k, v)
        query = random_vector(rng, d, scale=3.0)
        diff = max(abs(a - b) for a, b in zip(paged_attention(cache, 0, query), contiguous_attention(keys, values, query)))
        assert diff < 1e-12, "paged attention disagrees with the spec"
        print(f"   {length:>6} {B:>3} {len(cache.block_tables[0]):>5} {diff:>26.2e}")
    print()


def demo_fork() -> None:
    B, d, prompt, gen, n = 4, 2, 10, 5, 4
    cache = PagedKVCache(num_pages=32, page_size=B, head_dim=d)
    cache.add_sequence(0)
    for t in range(prompt):
        cache.append(0, [float(t), 0.0], [float(t), 1.0])
    for child in range(1, n):
        cache.fork(0, child)
    print(f"3. Parallel sampling: {n} samples of a {prompt}-token prompt, pages of {B}")
    print(f"   after forking:   pool {pool_map(cache)}  ('*' = shared)  used {cache.allocator.num_used()}"
          f"  refcounts {[cache.allocator.refcount[p] for p in cache.block_tables[0]]}")
    for step in range(gen):
        for seq_id in range(n):
            cache.append(seq_id, [100.0 + seq_id, step], [float(step), 2.0])
    used = cache.allocator.num_used()
    assert (used, cache.copies) == parallel_sampling_pages(prompt, gen, n, B)
    unshared = n * pages_needed(prompt + gen, B)
    print(f"   after {gen} tokens each: pool {pool_map(cache)}  used {used}, copy-on-write copies {cache.copies}")
    print(f"   without sharing: {unshared} pages; sharing saves {unshared - used} "
          f"({1 - used / unshared:.0%}); the prompt's full pages are still shared by all {n}\n")


def demo_utilisation(rng: random.Random) -> None:
    B, max_len, n = 16, 2048, 200
    # Request lengths in a real trace are skewed: most are short, a few long.
    lengths = [min(max_len, max(1, int(rng.expovariate(1 / 180)))) for _ in range(n)]
    tokens = sum(lengths)
    paged, naive = reservation_slots(lengths, B, max_len)
    print(f"4. Utilisation on {n} requests (mean length {tokens / n:.0f}, max_len {max_len}, B = {B})")
    print(f"   {'scheme':<22} {'slots reserved':>15} {'utilisation':>12} {'wasted':>10}")
    for name, slots in (("naive max_len", naive), ("paged", paged)):
        print(f"   {name:<22} {slots:>15,} {tokens / slots:>11.1%} {slots - tokens:>10,}")
    assert paged - tokens < n * B, "paging wastes less than one page per request"
    budget = 8 * max_len  # room for 8 naive reservations
    fit, used = 0, 0
    for length in lengths:
        used += pages_needed(length, B) * B
        if used > budget:
            break
        fit += 1
    print(f"   in memory for {budget:,} slots: naive admits {budget // max_len} requests at once,"
          f" paged admits {fit} (in arrival order)")
    print(f"   naive {bar(budget // max_len, fit):<40} {budget // max_len}")
    print(f"   paged {bar(fit, fit):<40} {fit}\n")


def demo_preemption(rng: random.Random) -> None:
    B, d, pages = 4, 2, 10
    cache = PagedKVCache(num_pages=pages, page_size=B, head_dim=d)
    print(f"5. Out of pages: {pages} pages of {B}, four sequences decoding round-robin")
    waiting: list = []
    for seq_id in "wxyz":
        cache.add_sequence(seq_id)
    for step in range(12):
        for seq_id in list(cache.block_tables):
            if seq_id not in cache.block_tables:
                continue  # preempted earlier in this step
            while True:
                try:
                    cache.append(seq_id, random_vector(rng, d), random_vector(rng, d))
                    break
                except OutOfPages:
                    # Nothing changed, so: evict the newest sequence, retry.
                    victim = cache.preempt()
                    waiting.append(victim)
                    print(f"   step {step:>2}: OutOfPages appending to {seq_id}; preempted {victim}"
                          f" (its tokens will be recomputed), free pages now {cache.allocator.num_free()}")
                    if victim == seq_id:
                        break
    lengths = {s: cache.lengths[s] for s in cache.block_tables}
    print(f"   running {lengths}, waiting {waiting}, pool {pool_map(cache)}")
    for seq_id in list(cache.block_tables):
        cache.free(seq_id)
    assert cache.allocator.num_free() == pages and not any(cache.allocator.refcount)
    print(f"   after freeing everything: {cache.allocator.num_free()} of {pages} pages free, no leak\n")


if __name__ == "__main__":
    random.seed(42)
    rng = random.Random(42)
    demo_block_table(rng)
    demo_attention(rng)
    demo_fork()
    demo_utilisation(rng)
    demo_preemption(rng)
    print(
        "Paging changes no number attention computes; it changes how many sequences fit\n"
        "in the same memory. vLLM reports under 4% KV waste and 2-4x the throughput of\n"
        "servers that reserve max_len per request."
    )
