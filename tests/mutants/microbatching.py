"""Realistic microbatching mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "static_extra_step",
        "runs a static batch for n_new decode steps after the prefill (one step too many)",
        "for s in range(1, longest):",
        "for s in range(1, longest + 1):",
    ),
    Mutant(
        "static_decodes_finished",
        "keeps decoding every member of a static batch, finished or not",
        "schedule.append([(i, \"decode\", 1) for i in members if requests[i][1] > s])",
        "schedule.append([(i, \"decode\", 1) for i in members])",
    ),
    Mutant(
        "admit_skips_blocked_head",
        "lets a later request overtake a head of the queue that does not fit (not FCFS)",
        "        while waiting and len(running) < max_batch and need[waiting[0]] <= free_pages:\n"
        "            i = waiting.pop(0)\n",
        "        for i in [w for w in waiting if need[w] <= free_pages][:max_batch - len(running)]:\n"
        "            if need[i] > free_pages:\n                continue\n            waiting.remove(i)\n",
    ),
    Mutant(
        "pages_for_prompt_only",
        "reserves pages for the prompt only, so decoding runs past the budget",
        "need = [pages_needed(p + n - 1, page_size) for p, n in requests]",
        "need = [pages_needed(p, page_size) for p, n in requests]",
    ),
    Mutant(
        "pages_off_by_one",
        "reserves pages for P + n_new positions, counting the never-fed last token",
        "need = [pages_needed(p + n - 1, page_size) for p, n in requests]",
        "need = [pages_needed(p + n, page_size) for p, n in requests]",
    ),
    Mutant(
        "pages_never_returned",
        "forgets to return a finished request's pages to the budget",
        "            free_pages += need[i]  # returned at the END of the step",
        "            pass  # returned at the END of the step",
    ),
    Mutant(
        "prefill_first_in_chunks",
        "gives prompt chunks the step's budget before the running decodes",
        "            for i in running:\n                if fed[i] == requests[i][0]:\n                    step.append((i, \"decode\", 1))\n                    budget -= 1\n            for i in running:\n                if fed[i] < requests[i][0] and budget > 0:\n                    n = min(requests[i][0] - fed[i], budget)\n                    step.append((i, \"prefill\", n))\n                    budget -= n\n",
        "            for i in running:\n                if fed[i] < requests[i][0] and budget > len(running):\n                    n = min(requests[i][0] - fed[i], budget - len(running))\n                    step.append((i, \"prefill\", n))\n                    budget -= n\n            for i in running:\n                if fed[i] == requests[i][0] and all(e[0] != i for e in step):\n                    step.append((i, \"decode\", 1))\n                    budget -= 1\n",
    ),
    Mutant(
        "chunk_ignores_budget",
        "gives every prefilling request a full chunk, ignoring what the step already spent",
        "n = min(requests[i][0] - fed[i], budget)",
        "n = min(requests[i][0] - fed[i], chunk_size)",
    ),
    Mutant(
        "chunk_restarts_prompt",
        "feeds every prompt chunk from the start of the prompt",
        "rows = forward_chunk(model, list(prompt[fed[i]:fed[i] + n]), *kv[i], ops)",
        "rows = forward_chunk(model, list(prompt[:n]), *kv[i], ops)",
    ),
    Mutant(
        "token_from_every_chunk",
        "emits a token after every prompt chunk, not only the one that completes the prompt",
        "                if fed[i] == len(prompt):\n                    outputs[i].append(argmax(rows[-1]))",
        "                if True:\n                    outputs[i].append(argmax(rows[-1]))",
    ),
    Mutant(
        "shared_kv",
        "gives all requests one shared KV cache",
        "kv = [empty_kv(model) for _ in requests]",
        "kv = [empty_kv(model)] * len(requests)",
    ),
    Mutant(
        "shallow_transfer",
        "copies only the per-layer lists, so both machines share the position vectors",
        "new_keys = [[list(vector) for vector in layer] for layer in keys]",
        "new_keys = [list(layer) for layer in keys]",
    ),
    Mutant(
        "transfer_counts_positions",
        "counts transferred vectors instead of floats",
        "moved = sum(len(vector) for layer in (*keys, *values) for vector in layer)",
        "moved = sum(len(layer) for layer in (*keys, *values))",
    ),
    Mutant(
        "transfer_keys_only",
        "counts only the keys as transferred",
        "moved = sum(len(vector) for layer in (*keys, *values) for vector in layer)",
        "moved = sum(len(vector) for layer in keys for vector in layer)",
    ),
    Mutant(
        "disagg_feeds_prompt_token",
        "starts decoding by feeding the prompt's last token again",
        "tokens.append(argmax(forward_chunk(model, [tokens[-1]], remote_keys, remote_values, ops)[-1]))",
        "tokens.append(argmax(forward_chunk(model, [tokens[-1] if len(tokens) > 1 else prompt[-1]], remote_keys, remote_values, ops)[-1]))",
    ),
    Mutant(
        "decode_on_local_cache",
        "ships the KV with transfer_kv but keeps decoding on the prefill machine's lists",
        "        tokens.append(argmax(forward_chunk(model, [tokens[-1]], remote_keys, remote_values, ops)[-1]))",
        "        tokens.append(argmax(forward_chunk(model, [tokens[-1]], keys, values, ops)[-1]))",
    ),
]
