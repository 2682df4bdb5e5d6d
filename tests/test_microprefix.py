"""Graded tests for microprefix: chained block hashes, prefix-cache lookup, refcounts, LRU eviction.

Expected values come from pieces written here, independently of the kata: a
naive transformer (math.fsum, full causal attention) for logits and K/V, a
model cache (SpecCache) that follows the docstrings' rules with its own data
structures, closed forms (floor(c / B) blocks reused, (n - c) positions of
weight work), and properties of the hash (determinism, canonical encoding,
no collision of equal blocks after different prefixes).

The work is counted by this file's CountingOps; tests that grade logits but
not work pass the kata's given Ops instead (under isolated grading every
call of a CountingOps is a round trip back to the grader).
"""

import json
import math
import os
import random
import re
import subprocess
import sys

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal

TOL = 1e-9

# (vocab, d_model, n_layer, n_head, d_ff, max_len, seed)
CONFIG = (11, 6, 2, 2, 10, 40, 3)


def make_model(kata):
    vocab, d, layers, heads, d_ff, max_len, seed = CONFIG
    return kata.init_model(kata.Config(vocab, d, layers, heads, d_ff, max_len), seed=seed)


# === the grader's naive transformer ===


def _rms(x):
    return [v / math.sqrt(math.fsum(u * u for u in x) / len(x) + 1e-5) for v in x]


def _mat(W, x):
    return [math.fsum(w * v for w, v in zip(row, x)) for row in W]


def spec_forward(model, tokens):
    """(logits per position, K[layer][pos], V[layer][pos]) by the obvious full causal pass."""
    cfg = model.config
    d, heads = cfg.d_model, cfg.n_head
    hd = d // heads
    X = [[model.wte[t][c] + model.wpe[p][c] for c in range(d)] for p, t in enumerate(tokens)]
    all_k, all_v = [], []
    for w in model.layers:
        H = [_rms(x) for x in X]
        Q, K, V = [_mat(w["wq"], h) for h in H], [_mat(w["wk"], h) for h in H], [_mat(w["wv"], h) for h in H]
        all_k.append(K)
        all_v.append(V)
        A = []
        for i in range(len(X)):
            row = []
            for h in range(heads):
                cols = range(h * hd, (h + 1) * hd)
                s = [math.fsum(Q[i][c] * K[j][c] for c in cols) / math.sqrt(hd) for j in range(i + 1)]
                top = max(s)
                e = [math.exp(x - top) for x in s]
                z = math.fsum(e)
                row += [math.fsum(e[j] * V[j][c] for j in range(i + 1)) / z for c in cols]
            A.append(row)
        X = [[a + b for a, b in zip(x, _mat(w["wo"], a_))] for x, a_ in zip(X, A)]
        X = [[a + b for a, b in zip(x, _mat(w["w2"], [max(0.0, u) for u in _mat(w["w1"], _rms(x))]))] for x in X]
    return [_mat(model.lm_head, _rms(x)) for x in X], all_k, all_v


class CountingOps:
    def __init__(self):
        self.weight_mults = 0
        self.attention_mults = 0

    @property
    def mults(self):
        return self.weight_mults + self.attention_mults

    def matvec(self, W, x):
        self.weight_mults += len(W) * len(x)
        return [sum(w * v for w, v in zip(row, x)) for row in W]

    def dot(self, a, b):
        self.attention_mults += len(a)
        return sum(x * y for x, y in zip(a, b))

    def weighted_sum(self, weights, rows):
        self.attention_mults += len(weights) * len(rows[0])
        return [sum(w * row[c] for w, row in zip(weights, rows)) for c in range(len(rows[0]))]


def per_position_weight_mults(model):
    cfg = model.config
    return cfg.n_layer * (4 * cfg.d_model ** 2 + 2 * cfg.d_model * cfg.d_ff) + cfg.vocab_size * cfg.d_model


# === the grader's model of the cache ===


class SpecCache:
    """The docstrings' rules with independent structures; hashes come from a caller-given function."""

    def __init__(self, num_blocks, B, hasher):
        self.N, self.B, self.hasher = num_blocks, B, hasher
        self.ref = [0] * num_blocks
        self.queue = list(range(num_blocks))
        self.name = {}  # block -> hash
        self.where = {}  # hash -> block
        self.tables = {}
        self.hits = self.evictions = 0
        # block_hash is documented deterministic: each (parent, block) is hashed once (isolated, a call of
        # the kata's block_hash is a round trip; lookup and allocate rehash the same prompts' blocks).
        self.known = {}

    def chain(self, tokens):
        out, parent = [], None
        for i in range(len(tokens) // self.B):
            key = (parent, tuple(tokens[i * self.B:(i + 1) * self.B]))
            if key not in self.known:
                self.known[key] = self.hasher(*key)
            parent = self.known[key]
            out.append(parent)
        return out

    def lookup(self, tokens):
        count = 0
        for h in self.chain(tokens)[: (len(tokens) - 1) // self.B]:
            if h not in self.where:
                break
            count += 1
        return count

    def allocate(self, seq_id, tokens):
        c = self.lookup(tokens)
        hashes = self.chain(tokens)
        reused = [self.where[h] for h in hashes[:c]]
        n = -(-len(tokens) // self.B)
        if n - c > len([b for b in self.queue if b not in reused]):
            return None
        for b in reused:
            if self.ref[b] == 0:
                self.queue.remove(b)
            self.ref[b] += 1
        self.hits += c
        table = list(reused)
        for i in range(c, n):
            b = self.queue.pop(0)
            if b in self.name:
                del self.where[self.name.pop(b)]
                self.evictions += 1
            self.ref[b] = 1
            table.append(b)
            if i < len(hashes) and hashes[i] not in self.where:
                self.name[b], self.where[hashes[i]] = hashes[i], b
        self.tables[seq_id] = table
        return c * self.B

    def free(self, seq_id):
        for b in self.tables.pop(seq_id)[::-1]:
            self.ref[b] -= 1
            if self.ref[b] == 0:
                self.queue.append(b)

    def state(self):
        return {
            "tables": dict(self.tables), "refcount": list(self.ref), "free_queue": list(self.queue),
            "hashes": [self.name.get(b) for b in range(self.N)], "hits": self.hits, "evictions": self.evictions,
        }


def kata_state(cache):
    return {
        "tables": {k: list(v) for k, v in cache.tables.items()}, "refcount": list(cache.refcount),
        "free_queue": list(cache.free_queue), "hashes": list(cache.block_hash),
        "hits": cache.hits, "evictions": cache.evictions,
    }


def check_invariants(cache, what, num_blocks=None):
    """Queue = blocks with refcount 0 (each once); refcount = table memberships; hash table consistent.

    ``num_blocks``: the one the test built the cache with (default: read ``cache.num_blocks``). The
    cache's attributes are read once, right after each other (isolated: each read is a round trip).
    """
    tables, refcount, free_queue, block_hash, cached = (
        cache.tables, cache.refcount, cache.free_queue, cache.block_hash, cache.cached)
    N = cache.num_blocks if num_blocks is None else num_blocks
    holders = [0] * N
    for table in tables.values():
        for b in table:
            holders[b] += 1
    assert_equal(list(refcount), holders, f"{what}: refcounts vs block-table memberships")
    assert_equal(sorted(free_queue), [b for b in range(N) if holders[b] == 0],
                 f"{what}: free_queue vs blocks no table holds",
                 hint="a block in use must never be in the free queue (it could be evicted)")
    for b, h in enumerate(block_hash):
        if h is not None and cached.get(h) != b:
            raise Mismatch(f"{what}: block {b} carries hash {h[:10]}.. but cached maps it to {cached.get(h)}")
    assert_equal(len(cached), sum(1 for h in block_hash if h is not None),
                 f"{what}: entries in cached vs blocks with a hash")


def spec_chain(kata, tokens, B):
    """h_0 = block_hash(None, block 0), h_i = block_hash(h_{i-1}, block i): only block_hash is used."""
    out, parent = [], None
    for i in range(len(tokens) // B):
        parent = kata.block_hash(parent, list(tokens[i * B:(i + 1) * B]))
        out.append(parent)
    return out


def plant(kata, cache, tokens, blocks, skip=()):
    """Register tokens' full-block chain hashes in the given blocks, as an earlier allocate would have.

    Sets block_hash and cached directly (no later task is called), so the
    tests of lookup, take_free_block, allocate and free give a signal on
    their own. Chain positions in ``skip`` are left unregistered.
    """
    block_hash, cached, B = cache.block_hash, cache.cached, cache.block_size
    hashes, names = list(block_hash), {}
    for i, (b, h) in enumerate(zip(blocks, spec_chain(kata, tokens, B))):
        if i not in skip:
            hashes[b], names[h] = h, b
    block_hash[:] = hashes  # each written once (isolated: a round trip per write)
    cached.update(names)


def set_tables(cache, tables, free_queue):
    """Block tables, refcounts and free queue set directly (refcount = table memberships)."""
    cache.tables = {k: list(v) for k, v in tables.items()}
    cache.refcount = [sum(t.count(b) for t in tables.values()) for b in range(cache.num_blocks)]
    cache.free_queue = list(free_queue)


def prompt_from(rng, prefix, extra, vocab=11):
    return list(prefix) + [rng.randrange(vocab) for _ in range(extra)]


# === block_hash ===

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.mark.task("block_hash")
def test_block_hash_is_a_deterministic_canonical_sha256_hex(kata):
    h = kata.block_hash(None, [3, 1, 4])
    assert isinstance(h, str) and HEX64.match(h), f"block_hash(None, [3, 1, 4]) = {h!r}, not a 64-char hex digest"
    assert_equal(kata.block_hash(None, [3, 1, 4]), h, "block_hash(None, [3, 1, 4]) called twice")
    assert_equal(kata.block_hash(None, (3, 1, 4)), h, "block_hash of a tuple vs the same list",
                 hint="encode the token ids canonically, whatever the container")
    child = kata.block_hash(h, [1, 5])
    assert HEX64.match(child)
    assert_equal(kata.block_hash(h, (1, 5)), child, "block_hash(parent, tuple) vs list")


PROCESS_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("kata_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["kata_under_test"] = module  # dataclasses look their module up while the file runs
spec.loader.exec_module(module)
root = module.block_hash(None, [3, 1, 4])
print(json.dumps([root, module.block_hash(root, (1, 5)), module.block_hash("a parent", [0, 26])]))
"""


@pytest.mark.task("block_hash")
def test_block_hash_is_the_same_in_any_process(kata):
    # The docstring promises equal hashes "in any process": Python's hash() of a
    # str is salted per process (PYTHONHASHSEED), so a name built on it differs.
    root = kata.block_hash(None, [3, 1, 4])
    here = [root, kata.block_hash(root, (1, 5)), kata.block_hash("a parent", [0, 26])]
    assert all(isinstance(h, str) and HEX64.match(h) for h in here) and len(set(here)) == 3, (
        f"block_hash returned {here!r}: three different 64-character sha256 hex digests expected")
    path = getattr(kata, "__file__", None)
    if not path or not os.path.isfile(path):
        pytest.skip("the kata's file is not importable from a subprocess in this mode")
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", PROCESS_PROBE, path], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, f"running block_hash in a fresh process failed:\n{done.stderr[-800:]}"
        assert_equal(json.loads(done.stdout.strip().splitlines()[-1]), here,
                     f"block_hash in a process with PYTHONHASHSEED={seed} vs this process",
                     hint="hash() of a str changes from process to process: use hashlib.sha256 of a canonical encoding")


@pytest.mark.task("block_hash")
def test_block_hash_separates_parents_and_tokens(kata):
    p1, p2 = kata.block_hash(None, [1]), kata.block_hash(None, [2])
    cases = {
        "parent None vs a parent": (kata.block_hash(None, [7, 8]), kata.block_hash(p1, [7, 8])),
        "two different parents": (kata.block_hash(p1, [7, 8]), kata.block_hash(p2, [7, 8])),
        "[1, 23] vs [12, 3]": (kata.block_hash(None, [1, 23]), kata.block_hash(None, [12, 3])),
        "[1, 2] vs [2, 1]": (kata.block_hash(None, [1, 2]), kata.block_hash(None, [2, 1])),
        "[1, 2] vs [1, 2, 0]": (kata.block_hash(None, [1, 2]), kata.block_hash(None, [1, 2, 0])),
    }
    for name, (a, b) in cases.items():
        assert a != b, f"block_hash collides for {name} (hint: hash the parent and every token, delimited)"


@pytest.mark.task("block_hash")
def test_block_hash_rejects_bad_arguments(kata):
    for bad in (0, 1.5, ["ab"], True, math.nan, b"ab"):
        with pytest.raises(ValueError, match="parent_hash"):
            kata.block_hash(bad, [1, 2])
    for bad in ([], (), "12", [1, -1], [1, 2.0], [2.5], [True], [math.nan], None):
        with pytest.raises(ValueError, match="block_tokens"):
            kata.block_hash(None, bad)
    assert HEX64.match(kata.block_hash(None, [0])), "block_hash(None, [0]): token 0 is a valid id (the bound is >= 0)"


# === hash_blocks ===


@pytest.mark.task("hash_blocks")
@pytest.mark.parametrize("n,b", [(0, 3), (2, 3), (7, 3), (9, 3), (5, 1), (13, 4), (4, 8)])
def test_hash_blocks_chains_full_blocks_only(kata, n, b):
    # Every case also checks a prompt of 2B + 1 tokens: no block at all (n < B)
    # is not the whole test.
    for size in (n, 2 * b + 1):
        tokens = [(5 * i + 2) % 11 for i in range(size)]
        assert_equal(list(kata.hash_blocks(tokens, b)), spec_chain(kata, tokens, b), f"hash_blocks(n={size}, B={b})",
                     hint="one hash per FULL block, each chained through the previous block's hash")


@pytest.mark.task("hash_blocks")
def test_equal_blocks_after_different_prefixes_never_collide(kata):
    a = [1, 2, 3, 7, 8, 9, 4, 4, 4]
    b = [5, 5, 5, 7, 8, 9, 4, 4, 4]
    ha, hb = kata.hash_blocks(a, 3), kata.hash_blocks(b, 3)
    for i in range(3):
        assert ha[i] != hb[i], f"block {i} of {a} and of {b} got the same hash: the parent is not in the chain"
    common = [4, 0, 2, 9, 9, 1, 3]
    hc, hd = kata.hash_blocks(common + [5, 6], 3), kata.hash_blocks(common + [6, 5], 3)
    assert_equal(hc[:2], hd[:2], "hashes of the two full blocks both prompts share")
    assert hc[2] != hd[2], "the third blocks differ in tokens but got the same hash"


@pytest.mark.task("hash_blocks")
def test_hash_blocks_rejects_bad_arguments(kata):
    for tokens in ([1, 2, 3], []):  # [] would return [] before any block: validate first
        for bad in (0, -2, 1.5, 2.5, True, math.nan, None):
            with pytest.raises(ValueError, match="block_size"):
                kata.hash_blocks(tokens, bad)
    for bad in (None, 7, "123"):
        with pytest.raises(ValueError, match="tokens"):
            kata.hash_blocks(bad, 2)
    assert_equal(len(kata.hash_blocks([1, 2, 3], 1)), 3, "hash_blocks(3 tokens, block_size=1): 1 is allowed")


# === PrefixCache.lookup ===


@pytest.mark.task("PrefixCache.lookup")
@pytest.mark.parametrize("b", [1, 3, 4])
def test_lookup_counts_the_cached_leading_blocks(kata, b):
    rng = random.Random(b)
    base = prompt_from(rng, [], 14)
    cache = kata.PrefixCache(40, b)
    plant(kata, cache, base, range(len(base) // b))  # as if "base" had been allocated
    for shared in (0, 1, 2, 3, 5, 8, 11, 14):
        for extra in (0, 1, 4):
            query = prompt_from(rng, base[:shared], extra)
            if not query:
                continue
            if shared < len(base) and extra:
                query[shared] = (base[shared] + 1) % 11  # diverge right after the shared prefix
            expected = min(shared // b, (len(query) - 1) // b, len(base) // b)
            before = kata_state(cache)
            assert_equal(cache.lookup(query), expected,
                         f"lookup(prompt sharing {shared} tokens, {len(query)} long, B={b})",
                         hint="count hashes in cached from block 0; the last prompt token's block never counts")
            assert_equal(kata_state(cache), before, "cache state after lookup", hint="lookup must not change anything")


@pytest.mark.task("PrefixCache.lookup")
def test_lookup_always_leaves_the_last_token_to_compute(kata):
    cache = kata.PrefixCache(10, 3)
    prompt = [1, 2, 3, 4, 5, 6]
    plant(kata, cache, prompt, [0, 1])
    assert_equal(cache.lookup(prompt), 1, "lookup of a cached 6-token prompt with B = 3",
                 hint="the block holding the last prompt token is recomputed: its logits are needed")
    assert_equal(cache.lookup(prompt + [7]), 2, "lookup of the same prompt plus one token")
    for bad in ([], (), None, "123", 5):
        with pytest.raises(ValueError, match="tokens"):
            cache.lookup(bad)
    assert_equal(cache.lookup((1, 2, 3, 4)), 1, "lookup of a tuple prompt", hint="a list or a tuple of ids is a prompt")


# === PrefixCache.take_free_block ===


@pytest.mark.task("PrefixCache.take_free_block")
def test_take_free_block_pops_the_front_and_evicts_its_hash(kata):
    cache = kata.PrefixCache(4, 2)
    assert_equal([cache.take_free_block() for _ in range(2)], [0, 1], "take_free_block on a fresh cache, twice",
                 hint="the FRONT of free_queue goes first")
    assert_equal(cache.refcount[:2], [1, 1], "refcounts of taken blocks")
    cache = kata.PrefixCache(4, 2)
    plant(kata, cache, [1, 2, 3, 4, 5], [0, 1])  # blocks 0, 1 free but cached
    set_tables(cache, {}, [3, 2, 1, 0])
    hashed = cache.block_hash[1]
    assert_equal([cache.take_free_block(), cache.take_free_block(), cache.evictions], [3, 2, 0],
                 "two takes from [3, 2, 1, 0]: no hashed block touched yet")
    assert_equal(cache.take_free_block(), 1, "third take")
    assert_equal((cache.evictions, cache.block_hash[1], hashed in cache.cached), (1, None, False),
                 "(evictions, block_hash[1], its old hash still cached) after evicting block 1",
                 hint="drop the hash from cached and from block_hash, and count the eviction")
    cache.take_free_block()
    with pytest.raises(kata.OutOfBlocks):
        cache.take_free_block()


# === PrefixCache.allocate and free ===


def workload(seed, n_ops):
    """Prompts built from a few shared prefixes; a mix of allocations and frees."""
    rng = random.Random(seed)
    prefixes = [[rng.randrange(11) for _ in range(rng.randrange(4, 12))] for _ in range(3)]
    ops = []
    live = []
    for i in range(n_ops):
        if live and rng.random() < 0.45:
            ops.append(("free", live.pop(rng.randrange(len(live)))))
        else:
            base = rng.choice(prefixes + [[]])
            cut = rng.randrange(len(base) + 1)
            ops.append(("allocate", i, prompt_from(rng, base[:cut], rng.randrange(1, 6))))
            live.append(i)
    return ops


def run_workload(kata, seed, blocks, b, real_free):
    """Replay a workload on the kata's cache and on SpecCache, comparing the whole state after each step.

    With real_free=False the frees are done by the spec and copied into the
    kata's cache (tables, refcounts, free queue): only allocate is graded.
    """
    cache, spec = kata.PrefixCache(blocks, b), SpecCache(blocks, b, kata.block_hash)
    refused = 0
    for step, op in enumerate(workload(seed, 40)):
        what = f"step {step}: {op[0]}({op[1]!r})"
        if op[0] == "free":
            if op[1] not in spec.tables:
                continue
            spec.free(op[1])
            if real_free:
                cache.free(op[1])
                what += " (PrefixCache.free is wrong: allocate agreed with the spec up to here)"
            else:
                set_tables(cache, spec.tables, spec.queue)
        else:
            expected = spec.allocate(op[1], op[2])
            if expected is None:
                before = kata_state(cache)
                with pytest.raises(kata.OutOfBlocks):
                    cache.allocate(op[1], op[2])
                assert_equal(kata_state(cache), before, f"{what}: state after OutOfBlocks",
                             hint="check that enough blocks are free before changing anything")
                refused += 1
                continue
            assert_equal(cache.allocate(op[1], op[2]), expected, f"{what}: tokens reused")
        check_invariants(cache, what, blocks)
        got, want = kata_state(cache), spec.state()
        for key in want:
            assert_equal(got[key], want[key], f"{what}: {key}",
                         hint={"free_queue": "free releases the table from its last block; a hit leaves the queue",
                               "evictions": "only blocks taken from the queue's front lose their hash"}.get(key, ""))
    assert refused or blocks >= 20, "fixture should exercise OutOfBlocks"


@pytest.mark.task("PrefixCache.allocate")
@pytest.mark.parametrize("seed,blocks,b", [(1, 12, 3), (2, 9, 2), (3, 20, 4), (4, 30, 1)])
def test_allocate_follows_the_rules_exactly(kata, seed, blocks, b):
    run_workload(kata, seed, blocks, b, real_free=False)


@pytest.mark.task("PrefixCache.free")
@pytest.mark.parametrize("seed,blocks,b", [(1, 12, 3), (2, 9, 2), (3, 20, 4), (4, 30, 1)])
def test_allocate_and_free_follow_the_rules_exactly(kata, seed, blocks, b):
    # Graded with free: allocate's own test above passes first, so a failure
    # after a free step names free.
    run_workload(kata, seed, blocks, b, real_free=True)


@pytest.mark.task("PrefixCache.allocate")
@pytest.mark.parametrize("c,b", [(0, 3), (2, 3), (3, 3), (8, 3), (11, 4), (12, 4), (9, 1), (5, 7)])
def test_a_shared_prefix_reuses_floor_c_over_b_blocks(kata, c, b):
    rng = random.Random(c * 10 + b)
    first = prompt_from(rng, [], 14)
    second = prompt_from(rng, first[:c], 5)
    second[c] = (first[c] + 3) % 11
    cache = kata.PrefixCache(30, b)
    cache.allocate("first", first)
    hits = cache.hits
    reused = cache.allocate("second", second)
    assert_equal((reused, cache.hits - hits), (b * (c // b), c // b),
                 f"(tokens reused, blocks reused) for a shared prefix of {c} tokens, B = {b}")
    table1, table2 = cache.tables["first"], cache.tables["second"]
    assert_equal(table2[: c // b], table1[: c // b], "the reused blocks are the first request's blocks")
    assert not set(table2[c // b:]) & set(table1), "a block the second request writes is shared with the first"


@pytest.mark.task("PrefixCache.allocate")
def test_allocate_counts_reused_free_blocks_as_unavailable(kata):
    cache = kata.PrefixCache(4, 2)
    plant(kata, cache, [1, 2, 3, 4, 5], [0, 1])  # as after allocate("a", ...) and free("a")
    set_tables(cache, {}, [3, 2, 1, 0])  # all free, 0 and 1 still cached
    before = kata_state(cache)
    with pytest.raises(kata.OutOfBlocks):
        cache.allocate("b", [1, 2, 3, 4, 9, 9, 9, 9, 7])  # reuses 0, 1; needs 3 more, only 2 others are free
    assert_equal(kata_state(cache), before, "state after the refused allocation",
                 hint="the reused blocks leave the queue, so they cannot also be handed out as new blocks")
    assert_equal(cache.allocate("c", [1, 2, 3, 4, 9, 9, 7]), 4, "tokens reused when the prompt fits")
    assert_equal(cache.tables["c"], [0, 1, 3, 2], "c's table")


@pytest.mark.task("PrefixCache.allocate")
def test_allocate_keeps_the_existing_block_for_an_already_cached_hash(kata):
    cache = kata.PrefixCache(10, 3)
    prompt = [1, 2, 3, 4, 5, 6]  # two full blocks; the second holds the last token
    cache.allocate("a", prompt)
    assert_equal(cache.allocate("b", prompt), 3, "tokens reused by the same prompt again")
    a, b = cache.tables["a"], cache.tables["b"]
    assert_equal((b[0], b[1] != a[1]), (a[0], True), "(b's first block, b's second block is new)")
    assert_equal(cache.block_hash[b[1]], None, "hash of b's recomputed second block",
                 hint="its hash is already cached by a's block: keep that one, register nothing")
    check_invariants(cache, "after allocating the same prompt twice")


@pytest.mark.task("PrefixCache.lookup")
def test_lookup_stops_at_the_first_missing_block(kata):
    cache = kata.PrefixCache(10, 2)
    prompt = [1, 2, 3, 4, 5, 6, 7]
    # As if block 0's hash had been dropped while the later blocks stayed cached.
    plant(kata, cache, prompt, [0, 1, 2], skip={0})
    assert_equal(cache.lookup(prompt), 0, "lookup when block 0's hash is gone but blocks 1, 2 are cached",
                 hint="a chain with a missing link reuses nothing after it")


@pytest.mark.task("PrefixCache.allocate")
def test_allocate_rejects_bad_arguments(kata):
    cache = kata.PrefixCache(6, 2)
    cache.allocate("a", [1, 2, 3])
    with pytest.raises(ValueError, match="seq_id"):
        cache.allocate("a", [4, 5])
    with pytest.raises(ValueError, match="tokens"):
        cache.allocate("b", [])


@pytest.mark.task("PrefixCache.free")
def test_free_releases_backwards_and_keeps_hashes(kata):
    cache = kata.PrefixCache(8, 2)
    # As after allocate("a", [1..7]) (blocks 0..3; 0..2 full) and
    # allocate("b", [1, 2, 3, 4, 9]) (reuses 0, 1; takes 4).
    plant(kata, cache, [1, 2, 3, 4, 5, 6, 7], [0, 1, 2])
    set_tables(cache, {"a": [0, 1, 2, 3], "b": [0, 1, 4]}, [5, 6, 7])
    hashes = list(cache.block_hash)
    cache.free("a")
    assert_equal(list(cache.free_queue), [5, 6, 7, 3, 2], "free_queue after freeing a",
                 hint="walk the table from its last block; blocks still used by b stay out of the queue")
    assert_equal(list(cache.refcount), [1, 1, 0, 0, 1, 0, 0, 0], "refcounts after freeing a")
    assert_equal(list(cache.block_hash), hashes, "block hashes after free", hint="a freed block stays cached")
    cache.free("b")
    assert_equal(list(cache.free_queue), [5, 6, 7, 3, 2, 4, 1, 0], "free_queue after freeing b")
    with pytest.raises(ValueError, match="seq_id"):
        cache.free("b")


@pytest.mark.task("PrefixCache.free")
def test_a_block_in_use_is_never_evicted(kata):
    cache = kata.PrefixCache(5, 2)
    shared = [3, 1, 4, 1]
    cache.allocate("a", shared + [5])  # blocks 0, 1 (hashed), 2
    cache.allocate("b", shared + [9, 2])  # reuses 0, 1; takes 3 (hashed)
    cache.free("a")  # only block 2 becomes free
    assert_equal(list(cache.free_queue), [4, 2], "free_queue while b still uses the shared blocks",
                 hint="a block with refcount > 0 after the release stays out of the queue")
    with pytest.raises(kata.OutOfBlocks):
        cache.allocate("e", [8] * 7)  # 4 blocks needed, only 2 free: blocks 0, 1 are b's
    assert_equal((cache.evictions, cache.lookup(shared + [9, 2])), (0, 2),
                 "(evictions, lookup of b's prompt) after a refused allocation")
    cache.free("b")  # queue: 4, 2, 3, 1, 0
    cache.allocate("c", [7] * 7)  # needs 4 blocks: takes 4, 2, 3, 1
    assert_equal(cache.tables["c"], [4, 2, 3, 1], "c's table")
    assert_equal(cache.evictions, 2, "evictions when c takes blocks 3 and 1 (both hashed)")
    assert_equal(cache.lookup(shared + [0]), 1, "lookup of the shared prompt after block 1 was evicted")
    check_invariants(cache, "after evictions")
    for b in cache.tables["c"]:
        assert b not in cache.free_queue, f"block {b} of live sequence c sits in the free queue"


# === cached_prefill ===


@pytest.mark.task("cached_prefill")
def test_cached_prefill_gives_identical_logits_and_counts_the_saved_work(kata):
    model = make_model(kata)
    rng = random.Random(5)
    B = 3
    cache = kata.PrefixCache(40, B)
    system = prompt_from(rng, [], 10)
    prompts = [system + prompt_from(rng, [], k) for k in (3, 1, 6)] + [prompt_from(rng, [], 8), system[:7] + [4, 4]]
    seen = []
    C = per_position_weight_mults(model)
    for i, prompt in enumerate(prompts):
        shared = max((next((j for j, (x, y) in enumerate(zip(prompt, s)) if x != y), min(len(prompt), len(s)))
                      for s in seen), default=0)
        ops = CountingOps()
        rows, c = kata.cached_prefill(model, cache, i, prompt, ops)
        assert_equal(c, B * min(shared // B, (len(prompt) - 1) // B), f"request {i}: tokens reused")
        logits, K, V = spec_forward(model, prompt)
        assert_close([list(r) for r in rows], logits[c:], TOL, f"request {i}: logits of positions {c}..{len(prompt) - 1}",
                     hint="gather the reused positions' k, v from the blocks, then run forward_chunk on the rest")
        assert_equal(ops.weight_mults, (len(prompt) - c) * C, f"request {i}: weight multiplications",
                     hint="only the positions after the reused prefix go through the network")
        table = cache.tables[i]
        stored = [[cache.k[table[p // B]][p % B][layer] for p in range(len(prompt))] for layer in range(2)]
        assert_close(stored, K, TOL, f"request {i}: keys stored in the blocks (block table[p // B], slot p % B)")
        stored = [[cache.v[table[p // B]][p % B][layer] for p in range(len(prompt))] for layer in range(2)]
        assert_close(stored, V, TOL, f"request {i}: values stored in the blocks")
        seen.append(prompt)


@pytest.mark.task("cached_prefill")
def test_cached_prefill_matches_a_full_prefill_bit_for_bit(kata):
    model = make_model(kata)
    ops = kata.Ops()  # logits graded, not work: the kata's given Ops runs where the kata does
    cache = kata.PrefixCache(20, 4)
    first = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2]
    kata.cached_prefill(model, cache, "a", first, ops)
    second = first[:9] + [0, 10, 3]
    rows, c = kata.cached_prefill(model, cache, "b", second, ops)
    keys, values = kata.empty_kv(model)
    full = kata.forward_chunk(model, second, keys, values, ops)
    assert_equal(c, 8, "tokens reused by the second prompt")
    assert_close([list(r) for r in rows], [list(r) for r in full[c:]], 0.0,
                 "cached_prefill vs forward_chunk from scratch (the same floats)")


@pytest.mark.task("cached_prefill")
def test_cached_prefill_never_reuses_equal_blocks_after_different_prefixes(kata):
    model = make_model(kata)
    ops = kata.Ops()  # logits graded, not work: the kata's given Ops runs where the kata does
    cache = kata.PrefixCache(12, 3)
    a = [1, 2, 3, 7, 8, 9, 4]
    b = [5, 5, 5, 7, 8, 9, 4]
    kata.cached_prefill(model, cache, "a", a, ops)
    rows, c = kata.cached_prefill(model, cache, "b", b, ops)
    assert_equal(c, 0, "tokens reused by a prompt whose second block equals another's after a different first block")
    assert_close([list(r) for r in rows], spec_forward(model, b)[0], TOL, "logits of b")


@pytest.mark.task("cached_prefill")
def test_cached_prefill_rejects_bad_arguments(kata):
    model = make_model(kata)
    ops = kata.Ops()  # logits graded, not work: the kata's given Ops runs where the kata does
    cache = kata.PrefixCache(20, 3)
    # vocab 11: ids 0..10; max_len 40: at most 40 tokens
    for bad in ([1, 99], [1, 11], [-1, 2], [2.5], [True, 1], [math.nan], [], None):
        with pytest.raises(ValueError, match="tokens"):
            kata.cached_prefill(model, cache, "x", bad, ops)
        assert_equal(dict(cache.tables), {}, f"block tables after rejecting the prompt {bad!r}", hint="validate before allocating")
    with pytest.raises(ValueError, match="tokens"):
        kata.cached_prefill(model, cache, "x", [1] * 41, ops)
    rows, c = kata.cached_prefill(model, cache, "edge", [0, 10] * 20, ops)  # ids 0 and 10, 40 tokens: all valid
    assert_equal((len(rows), c), (40, 0), "(rows, tokens reused) for a valid 40-token prompt of ids 0 and 10")
    kata.cached_prefill(model, cache, "x", [1, 2], ops)
    with pytest.raises(ValueError, match="seq_id"):
        kata.cached_prefill(model, cache, "x", [1, 2], ops)


@pytest.mark.task("cached_prefill")
def test_cached_prefill_rejects_a_cache_filled_by_another_model(kata):
    model = make_model(kata)
    ops = kata.Ops()  # logits graded, not work: the kata's given Ops runs where the kata does
    vocab, d, layers, heads, d_ff, max_len, seed = CONFIG
    prompt = [4, 1, 7, 2, 9, 3, 5]
    for other_layers in (layers + 1, layers - 1):
        other = kata.init_model(kata.Config(vocab, d, other_layers, heads, d_ff, max_len), seed=seed)
        cache = kata.PrefixCache(20, 3)
        kata.cached_prefill(model, cache, "first", prompt, ops)
        before = kata_state(cache)
        # the second request reuses two blocks whose positions hold one vector per layer of `model`
        with pytest.raises(ValueError, match="cache"):
            kata.cached_prefill(other, cache, "second", prompt + [6, 6, 6], ops)
        assert_equal(kata_state(cache), before, "cache state after a call rejected for the model's layer count",
                     hint="check the reused positions before allocate: a rejected call must change nothing")
        # the right model with the same seq_id now succeeds and reads good KV
        rows, c = kata.cached_prefill(model, cache, "second", prompt + [6, 6, 6], ops)
        assert_equal(c, 6, "tokens reused after the rejected call")
        assert_close([list(r) for r in rows], spec_forward(model, prompt + [6, 6, 6])[0][c:], TOL,
                     "logits of the retried request")
