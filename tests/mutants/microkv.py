"""Realistic microkv mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "uncached_no_causal_mask",
        "lets every position of the full forward pass attend to the whole sequence (no causal mask)",
        "attend(q, keys[: i + 1], values[: i + 1], config.n_head, ops), ops)",
        "attend(q, keys, values, config.n_head, ops), ops)",
    ),
    Mutant(
        "uncached_forgets_to_append",
        "never appends the chosen token, so every step re-reads the same sequence",
        "        step_logits.append(logits)\n        tokens.append(token)\n",
        "        step_logits.append(logits)\n",
    ),
    Mutant(
        "cache_shared_across_layers",
        "builds the per-layer lists with [[]] * n_layer, so every layer shares one cache",
        "self.keys: list[list[list[float]]] = [[] for _ in range(n_layer)]\n"
        "        self.values: list[list[list[float]]] = [[] for _ in range(n_layer)]",
        "self.keys: list[list[list[float]]] = [[]] * n_layer\n"
        "        self.values: list[list[list[float]]] = [[]] * n_layer",
    ),
    Mutant(
        "append_stores_reference",
        "stores the caller's k and v lists themselves, so a later change to them rewrites the cache",
        "self.keys[layer].append(list(k))\n        self.values[layer].append(list(v))",
        "self.keys[layer].append(k)\n        self.values[layer].append(v)",
    ),
    Mutant(
        "attend_before_append",
        "attends over the cache before appending the current token, so it never sees itself",
        "        cache.append(layer, k, v)\n"
        "        attn = attend(q, cache.keys[layer], cache.values[layer], config.n_head, ops)\n",
        "        attn = attend(q, cache.keys[layer] or [k], cache.values[layer] or [v], config.n_head, ops)\n"
        "        cache.append(layer, k, v)\n",
    ),
    Mutant(
        "stale_position",
        "uses the last cached index as the new token's position (position embedding off by one)",
        "position = len(cache)  # tokens",
        "position = max(len(cache) - 1, 0)  # tokens",
    ),
    Mutant(
        "prefill_no_causal_mask",
        "lets prefill's chunk tokens attend to the whole cached chunk, later tokens included",
        "attend(q, keys[: start + i + 1], values[: start + i + 1], config.n_head, ops)",
        "attend(q, keys, values, config.n_head, ops)",
    ),
    Mutant(
        "chunk_positions_restart",
        "embeds a later prefill chunk at positions 0.. instead of continuing at len(cache)",
        "xs = [embed(model, token, start + i) for i, token in enumerate(tokens)]",
        "xs = [embed(model, token, i) for i, token in enumerate(tokens)]",
    ),
    Mutant(
        "chunk_forgets_earlier_cache",
        "masks a prefill chunk with chunk-local indices, so it cannot see what was cached before it",
        "attend(q, keys[: start + i + 1], values[: start + i + 1], config.n_head, ops)",
        "attend(q, keys[start: start + i + 1], values[start: start + i + 1], config.n_head, ops)",
    ),
    Mutant(
        "refeed_last_prompt_token",
        "feeds the prompt's last token through decode_step after prefill, caching it twice",
        "    logits = prefill(model, prompt, cache, ops)[-1]\n",
        "    prefill(model, prompt, cache, ops)\n    logits = decode_step(model, prompt[-1], cache, ops)\n",
    ),
    Mutant(
        "recompute_prefix_each_step",
        "rebuilds the cache from the whole sequence every step instead of decoding one token",
        "        logits = decode_step(model, new_tokens[-1], cache, ops)\n",
        "        cache = KVCache(model.config.n_layer, model.config.d_model)\n"
        "        logits = prefill(model, prompt + new_tokens, cache, ops)[-1]\n",
    ),
    Mutant(
        "feeds_last_new_token",
        "also feeds the last generated token back, one decode step too many",
        "    while len(new_tokens) < n_new:\n"
        "        logits = decode_step(model, new_tokens[-1], cache, ops)\n"
        "        new_tokens.append(argmax(logits))\n"
        "        step_logits.append(logits)\n",
        "    while len(new_tokens) < n_new:\n"
        "        logits = decode_step(model, new_tokens[-1], cache, ops)\n"
        "        new_tokens.append(argmax(logits))\n"
        "        step_logits.append(logits)\n"
        "    decode_step(model, new_tokens[-1], cache, ops)\n",
    ),
    Mutant(
        "step_mults_forgets_own_key",
        "counts a cached step's query against the position earlier keys only, not its own",
        "return per_position, 2 * d * layers * (position + 1)",
        "return per_position, 2 * d * layers * position",
    ),
    Mutant(
        "step_mults_scores_only",
        "counts the attention scores but not the weighted sum of values in an uncached step",
        "return n * per_position, layers * d * n * (n + 1)",
        "return n * per_position, layers * d * n * (n + 1) // 2",
    ),
    Mutant(
        "step_mults_logits_once",
        "counts lm_head once per uncached step, though forward_full makes logits for every position",
        "return n * per_position, layers * d * n * (n + 1)",
        "return n * per_position - (n - 1) * vocab * d, layers * d * n * (n + 1)",
    ),
    Mutant(
        "kv_floats_keys_only",
        "counts only the keys in the cache size, forgetting the values",
        "return 2 * n_layer * d_model * n_positions",
        "return n_layer * d_model * n_positions",
    ),
]
