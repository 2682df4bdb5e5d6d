"""Realistic microparallel mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "strided_column_split",
        "deals the columns out round-robin (k, k+p, k+2p, ...) instead of in contiguous blocks",
        "return [[list(row[k * width:(k + 1) * width]) for row in W] for k in range(p)]",
        "return [[list(row[k::p]) for row in W] for k in range(p)]",
    ),
    Mutant(
        "no_divisibility_check",
        "forgets to check that p divides the width, so the last columns silently vanish",
        "    if cols % p:\n        raise ValueError",
        "    if False:\n        raise ValueError",
    ),
    Mutant(
        "reduce_scatter_overwrites",
        "the receiver in reduce-scatter replaces its chunk with the incoming one instead of adding",
        "running[dst][start + offset] += value",
        "running[dst][start + offset] = value",
    ),
    Mutant(
        "all_gather_arrival_order",
        "all-gather concatenates the shards in the order they arrived, not in rank order",
        "return [[x for owner in range(p) for x in held[k][owner]] for k in range(p)]",
        "return [[x for owner in held[k] for x in held[k][owner]] for k in range(p)]",
    ),
    Mutant(
        "all_reduce_sums_neighbours",
        "all-reduce in one round: every device adds only its two ring neighbours' vectors to its own",
        "    return ring_all_gather(net, ring_reduce_scatter(net, vectors))",
        "    p = net.p\n"
        "    if p == 1:\n"
        "        return [list(vectors[0])]\n"
        "    msgs = [(k, (k + 1) % p, vectors[k]) for k in range(p)]\n"
        "    msgs += [(k, (k - 1) % p, vectors[k]) for k in range(p)]\n"
        "    got = net.exchange(msgs)\n"
        "    out = [list(v) for v in vectors]\n"
        "    for (src, dst, _), payload in zip(msgs, got):\n"
        "        out[dst] = [x + y for x, y in zip(out[dst], payload)]\n"
        "    return out",
    ),
    Mutant(
        "all_reduce_through_root",
        "all-reduce by gathering everything on device 0 and sending the sum back (correct sums, root is a hot spot)",
        "    return ring_all_gather(net, ring_reduce_scatter(net, vectors))",
        "    p = net.p\n"
        "    if p == 1:\n"
        "        return [list(vectors[0])]\n"
        "    got = net.exchange([(k, 0, vectors[k]) for k in range(1, p)])\n"
        "    total = [sum(xs) for xs in zip(vectors[0], *got)]\n"
        "    back = net.exchange([(0, k, total) for k in range(1, p)])\n"
        "    return [total] + back",
    ),
    Mutant(
        "column_bias_from_shard_zero",
        "every device adds the first bias slice b_shards[0] instead of its own b_shards[k]",
        "blocks = [add_bias(matmul(X, W_shards[k]), b_shards[k]) for k in range(net.p)]",
        "blocks = [add_bias(matmul(X, W_shards[k]), b_shards[0]) for k in range(net.p)]",
    ),
    Mutant(
        "row_bias_on_every_shard",
        "row-parallel adds the full bias on every device before the all-reduce, so it is summed p times",
        "    partials = [matmul(X_shards[k], W_shards[k]) for k in range(net.p)]\n"
        "    summed = ring_all_reduce(net, [flatten(Z) for Z in partials])\n",
        "    partials = [add_bias(matmul(X_shards[k], W_shards[k]), b) for k in range(net.p)]\n"
        "    summed = ring_all_reduce(net, [flatten(Z) for Z in partials])\n"
        "    b = [0.0] * len(b)\n",
    ),
    Mutant(
        "megatron_missing_all_reduce",
        "the Megatron MLP returns each device's partial product H_k B_k + b: the all-reduce is missing",
        "    return row_parallel_linear(net, activated, B_shards, b)",
        "    return [add_bias(matmul(activated[k], B_shards[k]), b) for k in range(p)]",
    ),
    Mutant(
        "megatron_column_split_second_linear",
        "splits B by columns too, so H must be all-gathered first and the output gathered after",
        "    H = column_parallel_linear(net, X, A_shards, a_shards)\n"
        "    activated = [[[gelu(v) for v in row] for row in block] for block in H]\n"
        "    return row_parallel_linear(net, activated, B_shards, b)",
        "    H = column_parallel_linear(net, X, A_shards, a_shards, gather_output=True)\n"
        "    activated = [[[gelu(v) for v in row] for row in block] for block in H]\n"
        "    B_cols = split_columns(B, p)\n"
        "    b_cols = [block[0] for block in split_columns([b], p)]\n"
        "    return column_parallel_linear(net, activated[0], B_cols, b_cols, gather_output=True)",
    ),
    Mutant(
        "stage_starts_before_previous_finishes",
        "a stage starts micro-batch i when the previous stage STARTS it, not when it finishes",
        "ready = forward_done[s - 1][i] if s > 0 else 0",
        "ready = forward_done[s - 1][i] - forward_ticks if s > 0 else 0",
    ),
    Mutant(
        "backward_from_first_stage",
        "runs the backward wave from stage 0 upward, like the forward, so gradients arrive from nowhere",
        "    for s in reversed(range(p)):\n        for i in range(m):\n            ready = backward_done",
        "    for s in range(p):\n        for i in range(m):\n            ready = backward_done",
    ),
    Mutant(
        "bubble_idle_over_busy",
        "measures the bubble as idle cells over busy cells (Megatron-LM's (p-1)/m ratio)",
        "return sum(1 for cell in cells if cell is None) / len(cells)",
        "return sum(1 for cell in cells if cell is None) / sum(1 for cell in cells if cell is not None)",
    ),
    Mutant(
        "bubble_formula_over_m",
        "writes the bubble closed form as (p-1)/m",
        "return (p - 1) / (m + p - 1)",
        "return (p - 1) / m",
    ),
]
