"""Graded tests for micropaged: a paged KV cache with block tables, refcounts and copy-on-write.

Expected values come from the grader's own pieces, written independently of
the kata: a naive contiguous attention (math.fsum, explicit loops), a model
cache with abstract pages and its own refcounts, counting loops for pages and
slots, and closed forms derived here. The physical layout the docstrings pin
down (token p at k_pages[table[p // B]][p % B]; allocate pops the END of
free_list, release pushes onto it) lets the grader scatter, poison and
relabel physical pages.

Isolated (``--isolate``, ``workbook grade``) every attribute read of a kata
object, every call and every write into one of its lists is a round trip to
the worker. The helpers below read what they need once, the cache's
attributes right after each other and then its allocator's, check local
copies, and write each list in one go; a run of appends that no check looks
between goes in one ``call_each``.
"""

import copy
import itertools
import math
import random
from fractions import Fraction

import pytest
from pytest_check import check

from workbook.checks import Mismatch, assert_close, assert_equal, call_each, call_each_in_order, kata_list, vector

TOL = 1e-9
NAN = float("nan")


# === the grader's own pieces ===


def spec_attention(keys, values, query):
    """softmax(q . k_j / sqrt(d)) weighted sum of v_j, over contiguous keys, the obvious way."""
    d = len(query)
    logits = [math.fsum(a * b for a, b in zip(query, k)) / math.sqrt(d) for k in keys]
    top = max(logits)
    weights = [math.exp(x - top) for x in logits]
    total = math.fsum(weights)
    return [math.fsum(w * v[c] for w, v in zip(weights, values)) / total for c in range(d)]


def count_pages(num_tokens, page_size):
    """Pages needed, by counting where each page starts (no ceiling formula)."""
    return sum(1 for _ in range(0, num_tokens, page_size))


def make_cache(kata, num_pages, page_size, head_dim, seed=None):
    """A cache whose free list is shuffled by `seed` (None: the allocator's own order)."""
    cache = kata.PagedKVCache(num_pages, page_size, head_dim)
    if seed is not None:
        order = list(cache.allocator.free_list)  # shuffled here, written back once (isolated: one round trip)
        random.Random(seed).shuffle(order)
        cache.allocator.free_list[:] = order
    return cache


def poison(cache):
    """Fill every slot of the pool with NaN: reading a slot a sequence never wrote shows up as NaN."""
    k_pages, v_pages, d = cache.k_pages, cache.v_pages, cache.head_dim
    for pages in (k_pages, v_pages):
        pages[:] = [[[NAN] * d for _ in page] for page in pages]  # every page of the pool, in one write


def tokens(rng, n, d, scale=1.0):
    return [(vector(rng, d, scale), vector(rng, d, scale)) for _ in range(n)]


def fill(kata, cache, seq_id, kvs):
    """cache.append(seq_id, k, v) for each token, in order (isolated: one round trip for the run).

    An exception (OutOfPages) stops the run where it is raised, as a loop would.
    """
    call_each(kata.PagedKVCache.append, [(cache, seq_id, k, v) for k, v in kvs])


# The grader's own allocate / append / free, writing the documented state directly, so that a task's
# tests give a signal before the tasks they would otherwise lean on are written.


def take(allocator):
    """Allocate by hand: pop the end of free_list, refcount 1 (what PageAllocator.allocate must do)."""
    page = allocator.free_list.pop()
    allocator.refcount[page] = 1
    return page


def hand_fill(cache, seq_id, kvs):
    """Append tokens by hand to an unshared sequence: a page whenever a token finds no room.

    The state appending one token at a time leaves (pages popped off the end
    of free_list in turn, refcount 1, token p at slot p % B of block p // B),
    written with one write per list.
    """
    B, tables, lengths = cache.page_size, cache.block_tables, cache.lengths
    k_pages, v_pages, allocator = cache.k_pages, cache.v_pages, cache.allocator
    free, refcount = allocator.free_list, allocator.refcount
    table, length = tables[seq_id], lengths[seq_id]
    positions = range(length, length + len(kvs))
    needed = sum(1 for p in positions if p % B == 0)
    if needed > len(free):
        raise IndexError(f"hand_fill: {needed} pages needed, {len(free)} free")
    if needed:
        taken = [free[-1 - i] for i in range(needed)]  # what popping the end of free_list gives, in turn
        del free[len(free) - needed:]
        refs = list(refcount)
        for page in taken:
            refs[page] = 1
        refcount[:] = refs
        table.extend(taken)
    for pages, which in ((k_pages, 0), (v_pages, 1)):
        written = {}  # physical page -> its new slots
        for p, kv in zip(positions, kvs):
            page = table[p // B]
            row = written.setdefault(page, list(pages[page]))
            row[p % B] = list(kv[which])
        if written:
            pages[:] = [written.get(page, pages[page]) for page in range(len(pages))]
    lengths[seq_id] = length + len(kvs)


def hand_free(cache, seq_id):
    """Free an unshared sequence by hand: every page back on the end of free_list."""
    tables, lengths, allocator = cache.block_tables, cache.lengths, cache.allocator
    free, refcount = allocator.free_list, allocator.refcount
    pages = tables.pop(seq_id)
    refs = list(refcount)
    for page in pages:
        refs[page] = 0
    refcount[:] = refs
    free.extend(pages)
    del lengths[seq_id]


def read_back(cache, seq_id, page_size=None):
    """The sequence's (key, value) pairs read straight from the pool through its block table.

    ``page_size``: the one the test built the cache with (default: read ``cache.page_size``).
    """
    tables, lengths, k_pages, v_pages = cache.block_tables, cache.lengths, cache.k_pages, cache.v_pages
    B = cache.page_size if page_size is None else page_size
    table = tables[seq_id]
    return [(k_pages[table[p // B]][p % B], v_pages[table[p // B]][p % B]) for p in range(lengths[seq_id])]


def assert_kv(got, expected, what, hint=""):
    """Compare lists of (key, value) pairs, naming the first token that differs."""
    if got == expected:
        return
    hint_line = f"\n  hint: {hint}" if hint else ""
    if len(got) != len(expected):
        raise Mismatch(f"{what}: expected {len(expected)} tokens, got {len(got)}{hint_line}")
    bad = [p for p, (a, b) in enumerate(zip(got, expected)) if a != b]
    p = bad[0]
    raise Mismatch(
        f"{what}: {len(bad)} of {len(expected)} tokens differ; first at position {p}: "
        f"expected (key, value) {expected[p]!r}, got {got[p]!r}{hint_line}"
    )


def snapshot(cache, allocator=None):
    """A deep copy of the cache's whole state. ``allocator``: cache.allocator if the test read it already."""
    tables, lengths, k_pages, v_pages, copies = (
        cache.block_tables, cache.lengths, cache.k_pages, cache.v_pages, cache.copies)
    a = cache.allocator if allocator is None else allocator
    free, refcount = a.free_list, a.refcount
    return copy.deepcopy((list(tables.items()), dict(lengths), free, refcount, k_pages, v_pages, copies))


def check_allocator(allocator, what):
    """free + used == total, a page is free iff its refcount is 0, and free at most once."""
    free, refcount, num_pages = allocator.free_list, allocator.refcount, allocator.num_pages
    check_pool(free, refcount, num_pages, what)


def check_pool(free, refcount, num_pages, what):
    """check_allocator on a free list and refcounts already read."""
    if len(set(free)) != len(free):
        dup = sorted(p for p in set(free) if free.count(p) > 1)
        raise Mismatch(f"{what}: pages {dup} are on the free list twice (a double free)")
    unreferenced = [p for p in range(num_pages) if refcount[p] == 0]
    assert_equal(
        sorted(free), unreferenced, f"{what}: free list vs pages with refcount 0",
        hint="a page goes back on the free list exactly when its refcount drops to 0",
    )
    if any(r < 0 for r in refcount):
        raise Mismatch(f"{what}: negative refcounts {refcount}")


def relabel(cache, perm):
    """Move physical page p to perm[p] everywhere: pool, block tables, refcounts, free list."""
    tables, k_pages, v_pages, allocator = cache.block_tables, cache.k_pages, cache.v_pages, cache.allocator
    n, refcount, free = allocator.num_pages, allocator.refcount, allocator.free_list
    for pages in (k_pages, v_pages):
        moved = [None] * n
        for p in range(n):
            moved[perm[p]] = pages[p]
        pages[:] = moved
    refs = [0] * n
    for p in range(n):
        refs[perm[p]] = refcount[p]
    refcount[:] = refs
    free[:] = [perm[p] for p in free]
    for table in tables.values():
        table[:] = [perm[p] for p in table]


class ModelCache:
    """The grader's paged cache: abstract pages (fresh integers), its own refcounts, no pool."""

    def __init__(self, num_pages, page_size):
        self.capacity, self.B = num_pages, page_size
        self.tables, self.tokens, self.refs = {}, {}, {}
        self.copies = 0
        self.fresh = itertools.count()

    def free_pages(self):
        return self.capacity - len(self.refs)

    def _drop(self, page):
        self.refs[page] -= 1
        if self.refs[page] == 0:
            del self.refs[page]

    def add(self, seq):
        self.tables[seq], self.tokens[seq] = [], []

    def append(self, seq, kv):
        """Append or return False (out of pages) without changing anything."""
        n, table = len(self.tokens[seq]), self.tables[seq]
        partial_and_shared = n % self.B != 0 and self.refs[table[-1]] > 1
        if n % self.B == 0 or partial_and_shared:
            if self.free_pages() == 0:
                return False
            new = next(self.fresh)
            self.refs[new] = 1
            if partial_and_shared:
                self._drop(table[-1])
                table[-1] = new
                self.copies += 1
            else:
                table.append(new)
        self.tokens[seq].append(kv)
        return True

    def fork(self, parent, child):
        self.tables[child] = list(self.tables[parent])
        self.tokens[child] = list(self.tokens[parent])
        for page in self.tables[child]:
            self.refs[page] += 1

    def free(self, seq):
        for page in self.tables.pop(seq):
            self._drop(page)
        del self.tokens[seq]

    def newest(self):
        return list(self.tables)[-1] if self.tables else None


def assert_matches_model(cache, allocator, model, what):
    """The cache against the model. ``allocator``: cache.allocator, read once by the test (the given
    __init__ sets it; no task rebinds it)."""
    # Read once, the cache's attributes and then its allocator's, and checked here (isolated: no call in
    # between, so each is one read). Free pages are counted on the free list read here: the leak check.
    tables, lengths, copies = cache.block_tables, cache.lengths, cache.copies
    free, refcount = allocator.free_list, allocator.refcount
    assert_equal(list(tables), list(model.tables), f"{what}: sequences, in arrival order",
                 hint="fork adds the child as the newest sequence; free and preempt remove one")
    assert_equal(dict(lengths), {s: len(t) for s, t in model.tokens.items()}, f"{what}: lengths")
    physical = {}
    for seq, table in model.tables.items():
        got = tables[seq]
        assert_equal(len(got), len(table), f"{what}: pages in the block table of sequence {seq}",
                     hint="a page on demand when length % page_size == 0; a copy replaces, never adds;"
                     " fork gives the child its own copy of the table list")
        for block, (abstract, page) in enumerate(zip(table, got)):
            if physical.setdefault(abstract, page) != page:
                raise Mismatch(
                    f"{what}: logical block {block} of sequence {seq} should share page "
                    f"{physical[abstract]} with another sequence but is page {page}"
                    "\n  hint: fork shares every page; only a write to a shared partial page copies it"
                )
    if len(set(physical.values())) != len(physical):
        raise Mismatch(f"{what}: two different pages of the model map to one physical page: {physical}"
                       "\n  hint: a page is shared only through fork; copy-on-write must take a fresh page")
    for abstract, page in physical.items():
        assert_equal(refcount[page], model.refs[abstract], f"{what}: refcount of page {page}",
                     hint="fork shares each page once; free releases each page of the table once")
    check_pool(free, refcount, model.capacity, what)
    assert_equal(len(free), model.free_pages(), f"{what}: free pages",
                 hint="a page whose last owner released it goes back on the free list (a leak otherwise)")
    assert_equal(copies, model.copies, f"{what}: copy-on-write copies",
                 hint="copy only when writing into a partial last page whose refcount is > 1")
    for seq, kvs in model.tokens.items():
        assert_kv(read_back(cache, seq, model.B), kvs, f"{what}: K/V of sequence {seq} read through its block table",
                     hint="token p goes to block table entry p // page_size, slot p % page_size; a write into a"
                     " shared page shows up in every sequence sharing it (copy it first),"
                     " and a copy must carry the filled slots")


# === task 1: pages_needed ===


@pytest.mark.task("pages_needed")
def test_pages_needed_counts_partial_pages(kata):
    for n, b in [(0, 1), (0, 7), (1, 1), (1, 16), (7, 7), (8, 7), (13, 4), (16, 4),
                 (17, 16), (100, 1), (100, 101), (1000, 16)]:
        assert_equal(kata.pages_needed(n, b), count_pages(n, b), f"pages_needed({n}, {b})",
                     hint="a partly filled last page is still a page; 0 tokens need 0 pages (ceiling, not floor)")


@pytest.mark.task("pages_needed")
def test_pages_needed_rejects_bad_input(kata):
    for bad in (0, -4):
        with pytest.raises(ValueError, match="page_size"):
            kata.pages_needed(10, bad)
    with pytest.raises(ValueError, match="num_tokens"):
        kata.pages_needed(-1, 4)


# === task 2: the allocator ===


@pytest.mark.task("PageAllocator.allocate")
def test_allocate_pops_the_end_of_the_free_list(kata):
    allocator = kata.PageAllocator(7)
    order = [4, 0, 6, 2, 5, 1, 3]
    allocator.free_list[:] = order
    got = [allocator.allocate() for _ in range(7)]
    assert_equal(got, order[::-1], "pages handed out by allocate() from free_list [4, 0, 6, 2, 5, 1, 3]",
                 hint="the free list is a stack: take its last element")
    assert_equal(allocator.refcount, [1] * 7, "refcounts after allocating every page",
                 hint="a freshly allocated page has exactly one owner")
    assert_equal(allocator.free_list, [], "free list after allocating every page")


@pytest.mark.task("PageAllocator.allocate")
def test_allocate_signals_out_of_pages_without_changes(kata):
    allocator = kata.PageAllocator(3)
    for _ in range(3):
        allocator.allocate()
    before = copy.deepcopy((allocator.free_list, allocator.refcount))
    with pytest.raises(kata.OutOfPages):
        allocator.allocate()
    assert_equal((allocator.free_list, allocator.refcount), before, "allocator state after OutOfPages",
                 hint="raise before touching the free list or any refcount")


@pytest.mark.task("PageAllocator.share")
def test_share_adds_a_reference(kata):
    allocator = kata.PageAllocator(5)
    page = take(allocator)
    allocator.share(page)
    allocator.share(page)
    assert_equal(allocator.refcount[page], 3, f"refcount of page {page} after allocate + 2 shares")
    assert_equal(allocator.num_free(), 4, "free pages after sharing one page twice", hint="sharing allocates nothing")


@pytest.mark.task("PageAllocator.share")
def test_share_rejects_free_or_unknown_pages(kata):
    allocator = kata.PageAllocator(4)
    with pytest.raises(ValueError, match="page"):
        allocator.share(2)  # never allocated
    for bad in (-1, 4):
        with pytest.raises(ValueError, match="page"):
            allocator.share(bad)


@pytest.mark.task("PageAllocator.share")
def test_share_rejects_negative_page_when_every_page_is_in_use(kata):
    # With every page in use, a negative index would silently hit the last page.
    allocator = kata.PageAllocator(3)
    for _ in range(3):
        take(allocator)
    with pytest.raises(ValueError, match="page"):
        allocator.share(-1)


@pytest.mark.task("PageAllocator.release")
def test_release_frees_only_at_zero(kata):
    allocator = kata.PageAllocator(6)
    page = take(allocator)
    allocator.share(page)
    allocator.release(page)
    assert_equal(allocator.refcount[page], 1, f"refcount of shared page {page} after one release")
    if page in allocator.free_list:
        raise Mismatch(f"page {page} is back on the free list while another owner still uses it"
                       "\n  hint: only the release that brings the refcount to 0 frees the page")
    allocator.release(page)
    assert_equal(allocator.refcount[page], 0, f"refcount of page {page} after its last release")
    assert_equal(allocator.free_list[-1], page, "the end of the free list after the last release",
                 hint="push the freed page onto the END of free_list")
    assert_equal(allocator.num_free(), 6, "free pages once everything is released")


@pytest.mark.task("PageAllocator.release")
def test_double_free_is_refused(kata):
    allocator = kata.PageAllocator(4)
    page = take(allocator)
    allocator.release(page)
    before = copy.deepcopy((allocator.free_list, allocator.refcount))
    with pytest.raises(ValueError, match="page"):
        allocator.release(page)
    assert_equal((allocator.free_list, allocator.refcount), before, "allocator state after a refused double free")
    for bad in (-1, 4):
        with pytest.raises(ValueError, match="page"):
            allocator.release(bad)


@pytest.mark.task("PageAllocator.release")
def test_release_rejects_negative_page_when_every_page_is_in_use(kata):
    allocator = kata.PageAllocator(3)
    for _ in range(3):
        take(allocator)
    with pytest.raises(ValueError, match="page"):
        allocator.release(-1)
    assert_equal(allocator.refcount, [1, 1, 1], "refcounts after a refused release(-1)")


@pytest.mark.task("PageAllocator.release")
@pytest.mark.parametrize("seed", range(2))
def test_allocator_random_operations_never_leak(kata, seed):
    rng = random.Random(seed)
    allocator = kata.PageAllocator(9)
    owners = {}  # the grader's refcounts
    for step in range(150):
        op = rng.random()
        if op < 0.4:
            if len(owners) == 9:
                with pytest.raises(kata.OutOfPages):
                    allocator.allocate()
            else:
                page = allocator.allocate()
                assert page not in owners, f"step {step}: allocate handed out page {page}, which is in use"
                owners[page] = 1
        elif owners and op < 0.6:
            page = rng.choice(sorted(owners))
            allocator.share(page)
            owners[page] += 1
        elif owners:
            page = rng.choice(sorted(owners))
            allocator.release(page)
            owners[page] -= 1
            if owners[page] == 0:
                del owners[page]
        what = f"seed {seed}, after step {step}"
        free, refcount = allocator.free_list, allocator.refcount  # read once (isolated: one read each)
        assert_equal(refcount, [owners.get(p, 0) for p in range(9)], f"{what}: refcounts")
        check_pool(free, refcount, 9, what)
        assert_equal(len(free) + len(owners), 9, f"{what}: free + used pages")
    assert_equal(allocator.num_free() + len(owners), 9, f"seed {seed}, after 150 steps: num_free() + used pages")


# === task 3: slot_of ===


def hand_made_sequence(cache, seq_id, length):
    """Give seq_id `length` tokens' worth of pages straight from the allocator (no append needed)."""
    cache.add_sequence(seq_id)
    B, tables, lengths, allocator = cache.page_size, cache.block_tables, cache.lengths, cache.allocator
    free, refcount = allocator.free_list, allocator.refcount
    pages = count_pages(length, B)
    taken = [free[-1 - i] for i in range(pages)]  # what take() gives, in turn: one write per list
    del free[len(free) - pages:]
    refcount[:] = [1 if page in taken else r for page, r in enumerate(refcount)]
    tables[seq_id].extend(taken)
    lengths[seq_id] = length
    return list(tables[seq_id])


@pytest.mark.task("PagedKVCache.slot_of")
@pytest.mark.parametrize("length,b", [(9, 1), (13, 4), (12, 4), (23, 5), (7, 16)])
def test_slot_of_goes_through_the_block_table(kata, length, b):
    cache = make_cache(kata, count_pages(length, b) + 4, b, 2, seed=length * 10 + b)
    table = hand_made_sequence(cache, "s", length)
    got = [tuple(slot) for slot in call_each(kata.PagedKVCache.slot_of, [(cache, "s", p) for p in range(length)])]
    expected = [(table[p // b], p % b) for p in range(length)]
    assert_equal(got, expected, f"slot_of for {length} tokens in pages of {b}, block table {table}",
                 hint="logical block = position // page_size, looked up in the block table; slot = position % page_size")


@pytest.mark.task("PagedKVCache.slot_of")
def test_slot_of_rejects_bad_positions(kata):
    cache = make_cache(kata, 4, 3, 2)
    hand_made_sequence(cache, 0, 5)
    for bad in (-1, 5):
        with pytest.raises(ValueError, match="position"):
            cache.slot_of(0, bad)
    with pytest.raises(ValueError, match="seq_id"):
        cache.slot_of(1, 0)


# === task 4: fork ===


@pytest.mark.task("PagedKVCache.fork")
def test_fork_shares_every_page(kata):
    cache = make_cache(kata, 8, 4, 2, seed=5)
    parent = hand_made_sequence(cache, "p", 10)
    cache.fork("p", "c")
    assert_equal(list(cache.block_tables), ["p", "c"], "sequences after fork('p', 'c')",
                 hint="the child is a new entry of block_tables, added last (it arrives now)")
    assert_equal(cache.block_tables["c"], parent, "the child's block table", hint="the child points at the parent's pages")
    if cache.block_tables["c"] is cache.block_tables["p"]:
        raise Mismatch("fork gave the child the parent's block table object itself"
                       "\n  hint: copy the list; the tables diverge as soon as one sequence writes")
    assert_equal(cache.lengths["c"], 10, "the child's length")
    assert_equal([cache.allocator.refcount[p] for p in parent], [2, 2, 2], "refcounts of the shared pages",
                 hint="each page of the parent's table gains one reference")
    assert_equal(cache.allocator.num_used(), 3, "pages in use after fork", hint="fork allocates nothing")
    cache.fork("c", "g")
    assert_equal([cache.allocator.refcount[p] for p in parent], [3, 3, 3], "refcounts after forking the child too")


@pytest.mark.task("PagedKVCache.fork")
def test_fork_rejects_bad_ids(kata):
    cache = make_cache(kata, 4, 2, 2)
    cache.add_sequence(0)
    cache.add_sequence(1)
    with pytest.raises(ValueError, match="parent_id"):
        cache.fork(7, 8)
    with pytest.raises(ValueError, match="child_id"):
        cache.fork(0, 1)


# === task 5: append, pages on demand and copy-on-write ===


@pytest.mark.task("PagedKVCache.append")
@pytest.mark.parametrize("b", [1, 3, 4, 7])
def test_append_takes_pages_on_demand(kata, b):
    length = 17
    cache = make_cache(kata, 20, b, 3, seed=b)
    cache.add_sequence("s")
    kvs = tokens(random.Random(b), length, 3)
    buffers = [(kata_list(kata, k), kata_list(kata, v)) for k, v in kvs]  # lists the kata gets as themselves
    for position, (k, v) in enumerate(buffers):
        slot = cache.append("s", k, v)
        table = cache.block_tables["s"]
        what = f"after appending token {position} with page_size {b}"
        assert_equal(len(table), count_pages(position + 1, b), f"{what}: pages in the block table",
                     hint="take a page exactly when the sequence's length is a multiple of page_size")
        assert_equal(cache.allocator.num_used(), len(table), f"{what}: pages in use")
        assert_equal(tuple(slot), (table[position // b], position % b), f"{what}: (page, slot) returned",
                     hint="token p goes to logical block p // page_size, slot p % page_size")
        k[0], v[0] = 1e9, 1e9  # the caller reuses its buffers: the cache must hold copies
    assert_equal(cache.lengths["s"], length, "lengths['s'] after 17 appends")
    assert_kv(read_back(cache, "s"), kvs, "K/V read through the block table",
                 hint="token p goes to k_pages[table[p // B]][p % B]; store copies of the vectors")
    assert_equal(cache.copies, 0, "copies made by a sequence that shares nothing",
                 hint="a last page with refcount 1 is written in place")


@pytest.mark.task("PagedKVCache.append")
def test_append_rejects_bad_input(kata):
    cache = make_cache(kata, 4, 3, 2)
    cache.add_sequence(0)
    with pytest.raises(ValueError, match="seq_id"):
        cache.append(1, [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="key"):
        cache.append(0, [0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="value"):
        cache.append(0, [0.0, 0.0], [0.0, 0.0, 0.0])
    assert_equal((cache.lengths[0], cache.allocator.num_used()), (0, 0), "length and pages after refused appends")


@pytest.mark.task("PagedKVCache.append")
def test_out_of_pages_is_a_clean_signal(kata):
    cache = make_cache(kata, 3, 4, 2, seed=3)
    cache.add_sequence("a")
    cache.add_sequence("b")
    rng = random.Random(3)
    fill(kata, cache, "a", tokens(rng, 7, 2))  # 2 pages, the second one 3/4 full
    fill(kata, cache, "b", tokens(rng, 4, 2))  # 1 full page: the pool is now empty
    before = snapshot(cache)
    with pytest.raises(kata.OutOfPages):
        cache.append("b", [1.0, 2.0], [3.0, 4.0])
    assert_equal(snapshot(cache), before, "cache state after OutOfPages",
                 hint="allocate before changing anything: no length, table or refcount may move")
    cache.append("a", [1.0, 2.0], [3.0, 4.0])  # fits in a's last page: needs no new page
    assert_equal(cache.lengths["a"], 8, "length of 'a' after filling its last page with no page free")


@pytest.mark.task("PagedKVCache.append")
@pytest.mark.parametrize("prompt,b", [(10, 4), (9, 3), (7, 8), (1, 1), (5, 1), (12, 5)])
def test_fork_then_write_copies_only_the_partial_page(kata, prompt, b):
    d = 3
    rng = random.Random(prompt * 10 + b)
    cache = make_cache(kata, 12, b, d, seed=b)
    poison(cache)
    cache.add_sequence("p")
    prefix = tokens(rng, prompt, d)
    fill(kata, cache, "p", prefix)
    shared = list(cache.block_tables["p"])
    cache.fork("p", "c")
    child_token = tokens(rng, 1, d)
    cache.append("c", *child_token[0])
    partial = prompt % b != 0
    full = prompt // b
    child = cache.block_tables["c"]
    what = f"prompt of {prompt} tokens, pages of {b}, child appended one token"
    # Soft checks (pytest-check): which of these fail tells the learner whether
    # the copy is missing, incomplete, or made for the wrong page.
    checks = [
        (read_back(cache, "p"), prefix, "the parent's K/V",
         "the child must not write into a page the parent still uses: copy it first"),
        (read_back(cache, "c"), prefix + child_token, "the child's K/V",
         "copy the filled slots of the shared page into the new page before writing"),
        (child[:full], shared[:full], "the child's full prompt pages",
         "full pages are never written again: they stay shared"),
        ([cache.allocator.refcount[p] for p in shared[:full]], [2] * full, "refcounts of the full prompt pages", ""),
        (cache.block_tables["p"], shared, "the parent's block table", ""),
        (cache.copies, 1 if partial else 0, "copies",
         "copy only a PARTIAL last page that is shared; a full one needs a new page, not a copy"),
        (cache.allocator.num_used(), len(shared) + 1, "pages in use", ""),
    ]
    for got, expected, name, hint in checks:
        with check:
            (assert_kv if name.endswith("K/V") else assert_equal)(got, expected, f"{what}: {name}", hint=hint)
    if partial:
        assert_equal(cache.allocator.refcount[shared[-1]], 1, f"{what}: refcount of the old shared partial page",
                     hint="release the shared page once after copying it")
        # The parent now owns its partial page alone: it writes in place, to
        # the very slot the child wrote its token to in its own copy.
        parent_token = tokens(rng, 1, d)
        cache.append("p", *parent_token[0])
        assert_kv(read_back(cache, "c"), prefix + child_token, f"{what}: the child's K/V after the parent writes too",
                  hint="both sequences wrote slot p % B of the same page: the child needed its own copy")
        assert_kv(read_back(cache, "p"), prefix + parent_token, f"{what}: the parent's K/V after it writes too")
        assert_equal((cache.copies, cache.block_tables["p"]), (1, shared),
                     f"{what}: copies and parent's table after the parent writes too",
                     hint="a last page with refcount 1 is written in place")


@pytest.mark.task("PagedKVCache.append")
def test_copy_on_write_out_of_pages_is_clean(kata):
    cache = make_cache(kata, 3, 4, 2)
    cache.add_sequence("p")
    fill(kata, cache, "p", tokens(random.Random(4), 10, 2))  # 3 pages, the last one half full
    cache.fork("p", "c")
    before = snapshot(cache)
    with pytest.raises(kata.OutOfPages):
        cache.append("c", [1.0, 2.0], [3.0, 4.0])  # must copy the shared last page: no page free
    assert_equal(snapshot(cache), before, "cache state after OutOfPages during copy-on-write",
                 hint="allocate the private copy first; release the shared page only once that succeeded")


# === task 6: free ===


@pytest.mark.task("PagedKVCache.free")
def test_free_returns_every_page(kata):
    cache = make_cache(kata, 6, 3, 2, seed=6)
    cache.add_sequence("a")
    cache.add_sequence("b")
    fill(kata, cache, "a", tokens(random.Random(6), 8, 2))
    fill(kata, cache, "b", tokens(random.Random(7), 4, 2))
    b_pages = set(cache.block_tables["b"])
    cache.free("a")
    assert_equal(list(cache.block_tables), ["b"], "sequences after free('a')")
    assert_equal(cache.allocator.num_free(), 4, "free pages after freeing a 3-page sequence")
    check_allocator(cache.allocator, "after free('a')")
    cache.free("b")
    assert_equal((cache.allocator.num_free(), cache.allocator.refcount), (6, [0] * 6),
                 "free pages and refcounts once every sequence is freed", hint="no page may leak")
    assert b_pages <= set(cache.allocator.free_list)
    with pytest.raises(ValueError, match="seq_id"):
        cache.free("b")


@pytest.mark.task("PagedKVCache.free")
def test_free_keeps_pages_a_sibling_still_uses(kata):
    cache = make_cache(kata, 8, 4, 2, seed=8)
    cache.add_sequence("p")
    prefix = tokens(random.Random(8), 9, 2)
    fill(kata, cache, "p", prefix)
    cache.fork("p", "c")
    cache.free("p")
    assert_equal(cache.allocator.num_used(), 3, "pages in use after freeing the parent of a fork",
                 hint="release drops one reference; the child still holds the pages")
    assert_equal([cache.allocator.refcount[p] for p in cache.block_tables["c"]], [1, 1, 1], "the child's refcounts")
    # The child now owns its partial page alone, so it writes in place, no copy.
    cache.append("c", [5.0, 5.0], [6.0, 6.0])
    assert_equal((cache.copies, cache.allocator.num_used()), (0, 3), "copies and pages after the child writes")
    assert_kv(read_back(cache, "c"), prefix + [([5.0, 5.0], [6.0, 6.0])], "the child's K/V")
    cache.free("c")
    assert_equal(cache.allocator.num_free(), 8, "free pages at the end")
    check_allocator(cache.allocator, "after freeing everything")


# === task 7: preempt ===


@pytest.mark.task("PagedKVCache.preempt")
def test_preempt_evicts_the_newest_arrival(kata):
    cache = make_cache(kata, 12, 2, 2)
    rng = random.Random(9)
    for seq_id, n in ((30, 3), (10, 5), (20, 2)):
        cache.add_sequence(seq_id)
        fill(kata, cache, seq_id, tokens(rng, n, 2))
    cache.fork(10, 5)  # arrives last, though its id is the smallest
    evicted = cache.preempt()
    assert_equal(evicted, 5, "first preempt() after adding 30, 10, 20 and forking 10 -> 5",
                 hint="evict the sequence that arrived last (block_tables keeps arrival order), not the largest id")
    assert_equal(list(cache.block_tables), [30, 10, 20], "sequences after preempting 5")
    assert_equal(cache.allocator.num_used(), 2 + 3 + 1, "pages in use: 5 shared all its pages with 10")
    assert_equal([cache.preempt(), cache.preempt()], [20, 10], "the next two preemptions")
    assert_equal(cache.allocator.num_used(), 2, "pages in use with only sequence 30 left")
    assert_equal(cache.preempt(), 30, "preempting the last sequence")
    assert_equal(cache.preempt(), None, "preempt() on an empty cache")
    assert_equal(cache.allocator.num_free(), 12, "free pages at the end")


@pytest.mark.task("PagedKVCache.preempt")
def test_preempt_then_retry_succeeds(kata):
    cache = make_cache(kata, 4, 3, 2, seed=10)
    rng = random.Random(10)
    for seq_id in ("old", "new"):
        cache.add_sequence(seq_id)
        fill(kata, cache, seq_id, tokens(rng, 6, 2))
    old = read_back(cache, "old")
    with pytest.raises(kata.OutOfPages):
        cache.append("old", [1.0, 1.0], [1.0, 1.0])
    assert_equal(cache.preempt(), "new", "the sequence preempted to make room")
    cache.append("old", [1.0, 1.0], [1.0, 1.0])  # the same call, retried
    assert_kv(read_back(cache, "old"), old + [([1.0, 1.0], [1.0, 1.0])], "the survivor's K/V after the retry")
    assert_equal(cache.allocator.num_used(), 3, "pages in use after the retry")


# === the whole cache against the grader's model ===


@pytest.mark.task("PagedKVCache.free")
@pytest.mark.parametrize("b", [1, 3, 4])
@pytest.mark.parametrize("seed", range(3))
def test_random_operations_match_the_model(kata, seed, b):
    rng = random.Random(1000 * seed + b)
    num_pages, d = 9, 2
    cache = make_cache(kata, num_pages, b, d, seed=seed)
    model = ModelCache(num_pages, b)
    allocator = cache.allocator
    next_id = itertools.count()
    for step in range(160):
        op = rng.random()
        live = list(model.tables)
        if not live or (op < 0.12 and len(live) < 6):
            seq = next(next_id)
            cache.add_sequence(seq)
            model.add(seq)
            action = f"add_sequence({seq})"
        elif op < 0.70:
            seq = rng.choice(live)
            kv = tokens(rng, 1, d)[0]
            action = f"append({seq})"
            if model.append(seq, kv):
                cache.append(seq, *kv)
            else:
                before = snapshot(cache, allocator)
                with pytest.raises(kata.OutOfPages):
                    cache.append(seq, *kv)
                assert_equal(snapshot(cache, allocator), before, f"seed {seed}, step {step}: state after OutOfPages")
                action += " -> OutOfPages"
        elif op < 0.82:
            parent, child = rng.choice(live), next(next_id)
            cache.fork(parent, child)
            model.fork(parent, child)
            action = f"fork({parent}, {child})"
        elif op < 0.94:
            seq = rng.choice(live)
            cache.free(seq)
            model.free(seq)
            action = f"free({seq})"
        else:
            expected = model.newest()
            assert_equal(cache.preempt(), expected, f"seed {seed}, step {step}: preempt()")
            model.free(expected)
            action = "preempt()"
        assert_matches_model(cache, allocator, model, f"page_size {b}, seed {seed}, step {step} ({action})")
    for seq in list(model.tables):
        cache.free(seq)
    assert_equal(cache.allocator.num_free(), num_pages, "free pages after freeing every sequence",
                 hint="a page leaked: some release never brought its refcount to 0")


# === task 8: paged attention ===


@pytest.mark.task("paged_attention")
@pytest.mark.parametrize("b", [1, 2, 3, 5, 7, 16, 40])
def test_paged_equals_contiguous(kata, b):
    d = 5
    for length in (1, 6, 13, 23, 40):
        rng = random.Random(length * 100 + b)
        cache = make_cache(kata, count_pages(length, b) + 5, b, d, seed=length + b)
        poison(cache)
        cache.add_sequence("s")
        kvs = tokens(rng, length, d)
        hand_fill(cache, "s", kvs)
        keys, values = [k for k, _ in kvs], [v for _, v in kvs]
        queries = [vector(rng, d, 2.0) for _ in range(3)]
        outputs = call_each_in_order(kata.paged_attention, [(cache, "s", query) for query in queries])
        for query, output in zip(queries, outputs):
            assert_close(
                output,
                spec_attention(keys, values, query), TOL,
                f"paged_attention over {length} tokens in pages of {b} (scattered physical pages)",
                hint="walk the block table; the last page holds only length - i*B of the sequence's tokens"
                " (NaN = a slot the sequence never wrote was read)",
            )


@pytest.mark.task("paged_attention")
@pytest.mark.parametrize("b", [1, 3, 4])
def test_any_physical_permutation_gives_the_same_output(kata, b):
    d, length, num_pages = 3, 11, 24
    rng = random.Random(b)
    cache = make_cache(kata, num_pages, b, d)
    cache.add_sequence("x")
    cache.add_sequence("y")
    x, y = tokens(rng, length, d), tokens(rng, 5, d)
    hand_fill(cache, "x", x)
    hand_fill(cache, "y", y)
    query = vector(rng, d, 2.0)
    for trial in range(4):
        perm = list(range(num_pages))
        random.Random(trial).shuffle(perm)
        relabel(cache, perm)
        for name, kvs in (("x", x), ("y", y)):
            assert_close(
                kata.paged_attention(cache, name, query),
                spec_attention([k for k, _ in kvs], [v for _, v in kvs], query), TOL,
                f"paged_attention of {name} after moving physical pages by {perm}",
                hint="find keys only through block_tables[seq_id]; never assume pages are consecutive",
            )
        extra = tokens(rng, 1, d)[0]  # the relabelled cache keeps working
        hand_fill(cache, "x", [extra])
        x.append(extra)


@pytest.mark.task("paged_attention")
def test_attention_ignores_a_reused_page_stale_slots(kata):
    d, b = 4, 6
    rng = random.Random(11)
    cache = make_cache(kata, 3, b, d)
    cache.add_sequence("gone")
    hand_fill(cache, "gone", tokens(rng, 18, d, scale=5.0))  # every slot of the pool now holds data
    hand_free(cache, "gone")
    cache.add_sequence("s")
    kvs = tokens(rng, 8, d)  # reuses two pages; the second keeps 4 stale slots
    hand_fill(cache, "s", kvs)
    query = vector(rng, d)
    assert_close(
        kata.paged_attention(cache, "s", query), spec_attention([k for k, _ in kvs], [v for _, v in kvs], query), TOL,
        "paged_attention on a sequence whose last page was used before",
        hint="freed pages are not cleared: read only the first length - i*B slots of the last page",
    )


@pytest.mark.task("paged_attention")
def test_attention_after_fork_sees_each_sequence_own_tokens(kata):
    d, b = 3, 4
    rng = random.Random(12)
    cache = make_cache(kata, 10, b, d, seed=12)
    cache.add_sequence("p")
    prefix = tokens(rng, 6, d)
    fill(kata, cache, "p", prefix)
    cache.fork("p", "c")
    mine, theirs = tokens(rng, 5, d), tokens(rng, 3, d)
    fill(kata, cache, "c", mine)
    fill(kata, cache, "p", theirs)
    query = vector(rng, d, 2.0)
    for name, kvs in (("p", prefix + theirs), ("c", prefix + mine)):
        assert_close(
            kata.paged_attention(cache, name, query), spec_attention([k for k, _ in kvs], [v for _, v in kvs], query),
            TOL, f"paged_attention of {name} after fork and divergent appends",
        )


@pytest.mark.task("paged_attention")
def test_attention_survives_large_logits(kata):
    d, b = 4, 3
    rng = random.Random(13)
    cache = make_cache(kata, 6, b, d, seed=13)
    cache.add_sequence(0)
    kvs = tokens(rng, 10, d, scale=30.0)
    query = [30.0, -20.0, 25.0, 10.0]
    kvs[4] = ([30.0, -30.0, 30.0, 30.0], kvs[4][1])  # logit (900 + 600 + 750 + 300) / 2 = 1275
    kvs[8] = ([29.0, -30.0, 28.0, 30.0], kvs[8][1])  # logit 1245: exp() of either overflows
    hand_fill(cache, 0, kvs)
    assert_close(
        kata.paged_attention(cache, 0, query), spec_attention([k for k, _ in kvs], [v for _, v in kvs], query),
        1e-6, "paged_attention with logits ~1e3", hint="subtract the max score before exp() (stable softmax)",
    )


@pytest.mark.task("paged_attention")
def test_attention_rejects_bad_input(kata):
    cache = make_cache(kata, 3, 2, 2)
    cache.add_sequence(0)
    with pytest.raises(ValueError, match="seq_id"):
        kata.paged_attention(cache, 0, [1.0, 1.0])  # no tokens yet
    hand_fill(cache, 0, [([1.0, 0.0], [0.0, 1.0])])
    with pytest.raises(ValueError, match="seq_id"):
        kata.paged_attention(cache, 9, [1.0, 1.0])
    with pytest.raises(ValueError, match="query"):
        kata.paged_attention(cache, 0, [1.0, 1.0, 1.0])


# === task 9: utilisation ===

# A request mix with most requests short and a few long; max_len = 256.
MIX = [37, 5, 101, 64, 1, 17, 250, 33, 90, 12, 128, 77, 3, 44]
MAX_LEN = 256


def paged_slots_by_counting(lengths, b):
    """Slots reserved when pages come on demand: one page whenever a token finds no room."""
    slots = 0
    for n in lengths:
        for position in range(n):
            if position % b == 0:
                slots += b
    return slots


@pytest.mark.task("reservation_slots")
@pytest.mark.parametrize("b", [1, 7, 16, 50])
def test_reservation_slots_on_a_request_mix(kata, b):
    paged, naive = kata.reservation_slots(MIX, b, MAX_LEN)
    expected = paged_slots_by_counting(MIX, b), len(MIX) * MAX_LEN
    assert_equal((paged, naive), expected, f"reservation_slots(MIX, page_size={b}, max_len={MAX_LEN})",
                 hint="paged: whole pages per request (a partial last page counts); naive: max_len per request")
    used = Fraction(sum(MIX))
    paged_util, naive_util = used / paged, used / naive
    assert paged_util > naive_util, f"paged utilisation {paged_util} should beat naive {naive_util}"
    waste = paged - sum(MIX)
    assert waste < len(MIX) * b, f"paging wasted {waste} slots: at most page_size - 1 per request"


@pytest.mark.task("reservation_slots")
def test_reservation_slots_edge_cases(kata):
    assert_equal(tuple(kata.reservation_slots([], 4, 10)), (0, 0), "reservation_slots([], 4, 10)")
    assert_equal(tuple(kata.reservation_slots([0, 10, 4], 4, 10)), (16, 30), "reservation_slots([0, 10, 4], 4, 10)",
                 hint="paged: 0 tokens need no page, a full max_len request ceil(max_len / page_size) pages;"
                 " naive: max_len slots per request, whatever it uses")
    with pytest.raises(ValueError, match="page_size"):
        kata.reservation_slots([3], 0, 10)
    with pytest.raises(ValueError, match="max_len"):
        kata.reservation_slots([3], 4, 0)
    with pytest.raises(ValueError, match="lengths"):
        kata.reservation_slots([11], 4, 10)
    assert_equal(tuple(kata.reservation_slots([1, 0], 3, 1)), (3, 2), "reservation_slots([1, 0], 3, max_len=1)",
                 hint="max_len = 1 is a valid (if tiny) limit")


@pytest.mark.task("reservation_slots")
@pytest.mark.parametrize("lengths,page_size,max_len,name", [
    ([], 0, 10, "page_size"), ([], -2, 10, "page_size"), ([], 4.0, 10, "page_size"),
    ([], 4, 0, "max_len"), ([], 4, -1, "max_len"), ([], 4, 10.0, "max_len"),
    ([-1], 4, 10, "lengths"), ([2.0], 4, 10, "lengths"),
])
def test_reservation_slots_rejects_each_bad_argument(kata, lengths, page_size, max_len, name):
    # Each argument is checked for itself, even when no request would use it.
    with pytest.raises(ValueError, match=name):
        kata.reservation_slots(lengths, page_size, max_len)


@pytest.mark.task("reservation_slots")
@pytest.mark.parametrize("b", [7, 16])
def test_the_cache_fits_the_mix_in_exactly_the_paged_slots(kata, b):
    d = 1
    num_pages = paged_slots_by_counting(MIX, b) // b
    cache = make_cache(kata, num_pages, b, d, seed=b)
    for i, n in enumerate(MIX):
        cache.add_sequence(i)
        fill(kata, cache, i, [([float(t)], [float(i)]) for t in range(n)])
    assert_equal(cache.allocator.num_free(), 0, f"free pages after the mix in a pool of exactly {num_pages} pages")
    slots = cache.allocator.num_used() * b
    assert_equal(Fraction(sum(MIX), slots), Fraction(sum(MIX), paged_slots_by_counting(MIX, b)),
                 "utilisation of the cache holding the mix")
    paged, _ = kata.reservation_slots(MIX, b, MAX_LEN)
    assert_equal(paged, slots, "reservation_slots vs the slots the cache really holds")
    # The same memory with max_len reserved per request admits only this many requests:
    naive_admitted = slots // MAX_LEN
    assert naive_admitted < len(MIX), f"naive reservation would admit {naive_admitted} of {len(MIX)} requests"


@pytest.mark.task("reservation_slots")
def test_a_small_pool_admits_the_requests_that_fit(kata):
    b, num_pages = 8, 40
    cache = make_cache(kata, num_pages, b, 1)
    admitted = 0
    for i, n in enumerate(MIX):
        cache.add_sequence(i)
        try:
            fill(kata, cache, i, [([1.0], [2.0])] * n)
        except kata.OutOfPages:
            cache.free(i)
            break
        admitted += 1
    expected, pages = 0, 0
    for n in MIX:  # admitted in arrival order while their pages fit
        pages += count_pages(n, b)
        if pages > num_pages:
            break
        expected += 1
    assert_equal(admitted, expected, f"requests of MIX admitted into {num_pages} pages of {b}")
    assert admitted > num_pages * b // MAX_LEN, "paging should admit more requests than max_len reservation"
    paged, _ = kata.reservation_slots(MIX[:admitted], b, MAX_LEN)
    assert_equal(cache.allocator.num_used() * b, paged, "slots in use vs reservation_slots of the admitted requests")


# === task 10: parallel sampling ===


def expected_parallel(prompt, gen, n, b):
    """Full prompt pages shared by all n; each sample owns the rest: the prompt's tail and its tokens."""
    if gen == 0:
        return count_pages(prompt, b), 0
    full = prompt // b
    tail = prompt - full * b + gen
    copies = (n - 1) if prompt % b else 0
    return full + n * count_pages(tail, b), copies


PARALLEL_CASES = [(10, 5, 4, 4), (8, 3, 3, 4), (7, 1, 2, 3), (1, 1, 5, 1), (0, 6, 3, 4), (13, 0, 4, 5),
                  (25, 9, 6, 8), (5, 20, 1, 16), (31, 2, 7, 16)]


@pytest.mark.task("parallel_sampling_pages")
def test_parallel_sampling_closed_form(kata):
    for prompt, gen, n, b in PARALLEL_CASES:
        assert_equal(
            tuple(kata.parallel_sampling_pages(prompt, gen, n, b)), expected_parallel(prompt, gen, n, b),
            f"parallel_sampling_pages(prompt_len={prompt}, gen_len={gen}, num_samples={n}, page_size={b})",
            hint="full prompt pages stay shared; the partial one is copied by every writer but the last;"
            " with gen_len = 0 nobody writes",
        )


@pytest.mark.task("parallel_sampling_pages")
@pytest.mark.parametrize("prompt,gen,n,b", PARALLEL_CASES)
def test_parallel_sampling_in_the_cache(kata, prompt, gen, n, b):
    expected = expected_parallel(prompt, gen, n, b)
    for order in ("one_after_another", "round_robin", "random"):
        rng = random.Random(prompt + 7 * gen + 31 * n + b)
        cache = make_cache(kata, 64, b, 1, seed=3)
        cache.add_sequence(0)
        fill(kata, cache, 0, [([float(t)], [0.0]) for t in range(prompt)])
        for child in range(1, n):
            cache.fork(0, child)
        writes = [s for s in range(n) for _ in range(gen)]
        if order == "round_robin":
            writes = [s for _ in range(gen) for s in range(n)]
        elif order == "random":
            rng.shuffle(writes)
        call_each(kata.PagedKVCache.append, [(cache, s, [float(s)], [1.0]) for s in writes])
        assert_equal((cache.allocator.num_used(), cache.copies), expected,
                     f"(pages, copies) in the cache: {n} samples of a {prompt}-token prompt, {gen} tokens each, "
                     f"written {order.replace('_', ' ')}",
                     hint="full prompt pages stay shared; a shared partial page is copied by every writer but the last")
        check_allocator(cache.allocator, "after parallel sampling")
    assert_equal(tuple(kata.parallel_sampling_pages(prompt, gen, n, b)), expected,
                 f"parallel_sampling_pages({prompt}, {gen}, {n}, {b}) vs the cache")


@pytest.mark.task("parallel_sampling_pages")
def test_parallel_sampling_rejects_bad_input(kata):
    for args, name in (((4, 2, 3, 0), "page_size"), ((4, 2, 0, 4), "num_samples"),
                       ((-1, 2, 3, 4), "prompt_len"), ((4, -2, 3, 4), "gen_len")):
        with pytest.raises(ValueError, match=name):
            kata.parallel_sampling_pages(*args)


# === validation, completely: both sides of every bound, NaN, 2.5 and True where an int is documented ===


@pytest.mark.task("pages_needed")
def test_pages_needed_rejects_every_bad_argument(kata):
    for bad in (0, -1, 2.5, math.nan, True):
        with pytest.raises(ValueError, match="page_size"):
            kata.pages_needed(0, bad)  # 0 tokens: the shortcut answer 0 must not skip the check
    for bad in (-1, 2.5, math.nan, True):
        with pytest.raises(ValueError, match="num_tokens"):
            kata.pages_needed(bad, 1)


@pytest.mark.parametrize("method", [pytest.param(name, marks=pytest.mark.task(f"PageAllocator.{name}"), id=name)
                                    for name in ("share", "release")])
def test_allocator_refuses_a_page_that_is_not_an_int_index(kata, method):
    # Every page in use: True (== 1), 1.0 and the neighbours of the range would hit a real page.
    allocator = kata.PageAllocator(3)
    for _ in range(3):
        take(allocator)
    for bad in (True, 1.0, 2.5, math.nan, -1, 3):
        with pytest.raises(ValueError, match="page"):
            getattr(allocator, method)(bad)
    assert_equal(allocator.refcount, [1, 1, 1], f"refcounts after refused {method} calls",
                 hint="validate the page before touching its refcount")


@pytest.mark.task("PagedKVCache.slot_of")
def test_slot_of_refuses_a_position_that_is_not_an_int(kata):
    cache = make_cache(kata, 4, 3, 2)
    hand_made_sequence(cache, 0, 5)
    for bad in (True, 1.0, 2.5, math.nan):
        with pytest.raises(ValueError, match="position"):
            cache.slot_of(0, bad)


@pytest.mark.task("reservation_slots")
def test_reservation_slots_refuses_bools_nan_and_fractions(kata):
    for page_size in (True, 2.5, math.nan):
        with pytest.raises(ValueError, match="page_size"):
            kata.reservation_slots([], page_size, 10)
    for max_len in (True, 2.5, math.nan):
        with pytest.raises(ValueError, match="max_len"):
            kata.reservation_slots([], 4, max_len)
    for length in (True, 2.5, math.nan, 11):
        with pytest.raises(ValueError, match="lengths"):
            kata.reservation_slots([3, length], 4, 10)


@pytest.mark.task("parallel_sampling_pages")
def test_parallel_sampling_rejects_every_bad_argument(kata):
    good = {"prompt_len": 0, "gen_len": 0, "num_samples": 1, "page_size": 1}  # the shortcut: nothing to store
    for name, lowest in (("page_size", 1), ("num_samples", 1), ("prompt_len", 0), ("gen_len", 0)):
        for bad in (lowest - 1, 2.5, math.nan, True):
            with pytest.raises(ValueError, match=name):
                kata.parallel_sampling_pages(**{**good, name: bad})
    assert_equal(tuple(kata.parallel_sampling_pages(**good)), (0, 0), "parallel_sampling_pages(0, 0, 1, 1)",
                 hint="no prompt and no generation: no page and no copy")
