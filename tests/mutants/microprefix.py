"""Realistic microprefix mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "hash_ignores_parent",
        "hashes only the block's own tokens, so equal blocks after different prefixes collide",
        "payload = json.dumps([parent_hash, list(block_tokens)], separators=(\",\", \":\"))",
        "payload = json.dumps([None, list(block_tokens)], separators=(\",\", \":\"))",
    ),
    Mutant(
        "hash_concatenates_digits",
        "encodes the tokens by concatenating their digits, so [1, 23] and [12, 3] collide",
        "payload = json.dumps([parent_hash, list(block_tokens)], separators=(\",\", \":\"))",
        "payload = str(parent_hash) + \"\".join(str(t) for t in block_tokens)",
    ),
    Mutant(
        "hash_python_repr",
        "hashes repr() of the container, so a tuple and a list of the same ids differ",
        "payload = json.dumps([parent_hash, list(block_tokens)], separators=(\",\", \":\"))",
        "payload = repr((parent_hash, block_tokens))",
    ),
    Mutant(
        "hashes_partial_block",
        "also hashes the last, partly filled block",
        "for start in range(0, len(tokens) - block_size + 1, block_size):",
        "for start in range(0, len(tokens), block_size):",
    ),
    Mutant(
        "lookup_reuses_last_token",
        "lets the block holding the last prompt token be reused, so its logits are never computed",
        "for h in hash_blocks(tokens[:-1], self.block_size):",
        "for h in hash_blocks(tokens, self.block_size):",
    ),
    Mutant(
        "lookup_skips_misses",
        "keeps counting after a miss instead of stopping at the first broken link",
        "                break  # the chain is broken",
        "                continue  # the chain is broken",
    ),
    Mutant(
        "evict_most_recent",
        "takes the most recently freed block (end of the queue) instead of the least recently freed",
        "block = self.free_queue.pop(0)",
        "block = self.free_queue.pop()",
    ),
    Mutant(
        "evict_keeps_hash",
        "reuses a cached block without dropping its hash, so a later lookup hits overwritten KV",
        "        if old is not None:\n            # Eviction",
        "        if False:\n            # Eviction",
    ),
    Mutant(
        "hit_stays_in_queue",
        "reuses a free cached block without taking it out of the free queue",
        "                self.free_queue.remove(b)  # a hit revives",
        "                pass  # a hit revives",
    ),
    Mutant(
        "no_availability_check",
        "forgets that reused free blocks are not available as fresh ones",
        "available = len(self.free_queue) - sum(1 for b in reused if self.refcount[b] == 0)",
        "available = len(self.free_queue)",
    ),
    Mutant(
        "overwrite_registration",
        "registers a new block's hash even when that hash is already cached, orphaning the old block",
        "if i < len(hashes) and hashes[i] not in self.cached:",
        "if i < len(hashes):",
    ),
    Mutant(
        "free_forward_order",
        "releases a finished table from its first block, so shared prefixes are evicted first",
        "for b in reversed(self.tables.pop(seq_id)):",
        "for b in self.tables.pop(seq_id):",
    ),
    Mutant(
        "free_ignores_refcount",
        "puts every released block on the free queue, even one another request still uses",
        "            if self.refcount[b] == 0:\n                self.free_queue.append(b)",
        "            if self.refcount[b] >= 0:\n                self.free_queue.append(b)",
    ),
    Mutant(
        "gather_wrong_slot",
        "reads the reused positions from slot p // B of block p % B",
        "        block, slot = table[p // B], p % B\n        stored_k",
        "        block, slot = table[p % len(table)], p // B % B\n        stored_k",
    ),
    Mutant(
        "recompute_whole_prompt",
        "looks up the cache but still runs the network over the whole prompt",
        "rows = forward_chunk(model, list(tokens[c:]), keys, values, ops)",
        "rows = forward_chunk(model, list(tokens), *empty_kv(model), ops)[c:]",
    ),
    Mutant(
        "gather_trusts_cache_layers",
        "gathers reused positions without checking they hold one vector per layer of this model",
        "            if stored is None or len(stored) != n_layer:\n",
        "            if False:\n",
    ),
    Mutant(
        "checks_layers_after_allocate",
        "checks the stored vectors only after allocate: a rejected call leaves a table and hashed blocks with no KV",
        '    for h in hash_blocks(tokens, B)[: cache.lookup(tokens)]:\n        for stored in cache.k[cache.cached[h]]:\n            if stored is None or len(stored) != n_layer:\n                got = "no vectors" if stored is None else f"{len(stored)} layers"\n                raise ValueError(f"cache holds {got} for a reused position, the model has {n_layer} layers")\n    c = cache.allocate(seq_id, tokens)\n    table = cache.tables[seq_id]\n    keys, values = empty_kv(model)\n    for p in range(c):\n        block, slot = table[p // B], p % B\n        stored_k, stored_v = cache.k[block][slot], cache.v[block][slot]\n',
        '    c = cache.allocate(seq_id, tokens)\n    table = cache.tables[seq_id]\n    keys, values = empty_kv(model)\n    for p in range(c):\n        block, slot = table[p // B], p % B\n        stored_k, stored_v = cache.k[block][slot], cache.v[block][slot]\n        if len(stored_k) != n_layer:\n            raise ValueError(f"cache holds {len(stored_k)} layers per position, the model has {n_layer}")\n',
    ),
    Mutant(
        "hash_uses_python_hash",
        "builds the digest on Python's hash(), which is salted per process for str parents",
        "    return hashlib.sha256(payload.encode(\"utf-8\")).hexdigest()",
        "    return hashlib.sha256(str(hash((parent_hash, tuple(block_tokens)))).encode(\"utf-8\")).hexdigest()",
    ),
]
