"""Realistic microcheckpoint mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "forward_missing_bias",
        "forgets the bias in the layer's forward",
        "sum(w * v for w, v in zip(row, x)) + bias)",
        "sum(w * v for w, v in zip(row, x)))",
    ),
    Mutant(
        "tanh_derivative_from_input",
        "writes tanh' as 1 - x^2 with the layer's input instead of 1 - y^2 with its output",
        "grad_z = [g * (1.0 - v * v) for g, v in zip(grad_y, y)]",
        "grad_z = [g * (1.0 - v * v) for g, v in zip(grad_y, x)]",
    ),
    Mutant(
        "grad_W_transposed",
        "builds dL/dW as x dz^T (d_in rows) instead of dz x^T (the shape of W)",
        "grad_W = [[gz * xj for xj in x] for gz in grad_z]",
        "grad_W = [[gz * xj for gz in grad_z] for xj in x]",
    ),
    Mutant(
        "remainder_first",
        "puts the short remainder segment first instead of last",
        "return [k] * full + ([rest] if rest else [])",
        "return ([rest] if rest else []) + [k] * full",
    ),
    Mutant(
        "zero_size_segment",
        "appends the remainder even when k divides n, leaving a segment of size 0",
        "return [k] * full + ([rest] if rest else [])",
        "return [k] * full + [rest]",
    ),
    Mutant(
        "no_input_checkpoint",
        "saves the segment boundaries after each segment but forgets the input h_0 as the first checkpoint",
        "    h = list(x)\n    store.save(0, h)\n    for i, layer in enumerate(net):\n        h = layer_forward(layer, h)\n        if",
        "    h = list(x)\n    for i, layer in enumerate(net):\n        h = layer_forward(layer, h)\n        if",
    ),
    Mutant(
        "forward_saves_everything",
        "saves every activation in the checkpointed forward pass (no memory saved), then replays anyway",
        "        if i + 1 in checkpoints:\n            store.save(i + 1, h)",
        "        store.save(i + 1, h)",
    ),
    Mutant(
        "recompute_from_input",
        "replays every segment from the network input h_0 instead of from the segment's own checkpoint",
        "        h = store.load(start)\n        for j in range(start + 1, stop):\n"
        "            h = layer_forward(net[j - 1], h)\n            store.save(j, h)",
        "        h = store.load(0)\n        for j in range(1, stop):\n"
        "            h = layer_forward(net[j - 1], h)\n            if j > start:\n                store.save(j, h)",
    ),
    Mutant(
        "replay_includes_segment_end",
        "replays the segment through its last layer, recomputing h_e although it is held",
        "for j in range(start + 1, stop):",
        "for j in range(start + 1, stop + 1):",
    ),
    Mutant(
        "replay_one_short",
        "stops the replay one layer early, so h_{e-1} is never rebuilt",
        "for j in range(start + 1, stop):",
        "for j in range(start + 1, stop - 1):",
    ),
    Mutant(
        "frees_checkpoint_after_its_segment",
        "frees a segment's checkpoint h_s when the segment is done, though the segment before needs it as its output",
        "            store.free(i + 1)\n    store.free(0)\n    return loss, grads",
        "            store.free(i + 1)\n        if start:\n            store.free(start)\n    store.free(0)\n    return loss, grads",
    ),
    Mutant(
        "keeps_checkpoints_until_end",
        "frees only the replayed activations and keeps every checkpoint to the end of the backward pass",
        "            store.free(i + 1)\n    store.free(0)\n    return loss, grads",
        "            if i + 1 not in checkpoints:\n                store.free(i + 1)\n"
        "    for index in sorted(checkpoints):\n        store.free(index)\n    return loss, grads",
    ),
    Mutant(
        "never_frees_replays",
        "forgets to free h_{i+1} after layer i's backward in the checkpointed pass, so replays pile up",
        "            store.free(i + 1)\n    store.free(0)\n    return loss, grads",
        "    store.free(0)\n    return loss, grads",
    ),
    Mutant(
        "cost_chen_bound",
        "uses m + k (checkpoints + one full segment) for the peak, ignoring the short last segment",
        "peak = m + k - 1 + (1 if last == k else 0)",
        "peak = m + k",
    ),
    Mutant(
        "cost_floor_segments",
        "counts n // k segments (floor) for the replay work instead of ceil(n / k)",
        "extra = n - m",
        "extra = n - n // k",
    ),
    Mutant(
        "cost_no_clamp",
        "does not treat k > n as one segment of n layers in the closed form",
        "    k = min(k, n)\n    m = -(-n // k)",
        "    m = -(-n // k)",
    ),
    Mutant(
        "floor_sqrt",
        "uses floor(sqrt(n)) segments, which is not optimal for n = a^2 - 1",
        "k = math.isqrt(n - 1) + 1",
        "k = math.isqrt(n)",
    ),
]
