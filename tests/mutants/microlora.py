"""Realistic microlora mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "random_B",
        "initialises B randomly too, so the adapted model does not start as the base",
        "B = [[0.0] * rank for _ in range(d_out)]",
        "B = [[rng.gauss(0.0, sigma) for _ in range(rank)] for _ in range(d_out)]",
    ),
    Mutant(
        "zero_A",
        "initialises A to zero as well: no gradient ever reaches B",
        "A = [[rng.gauss(0.0, sigma) for _ in range(d_in)] for _ in range(rank)]",
        "A = [[0.0] * d_in for _ in range(rank)]",
    ),
    Mutant(
        "rank_zero_allowed",
        "validates rank >= 0 instead of >= 1",
        "not 1 <= rank <= min(d_out, d_in)",
        "not 0 <= rank <= min(d_out, d_in)",
    ),
    Mutant(
        "scale_alpha_not_over_r",
        "scales the adapter by alpha instead of alpha / r in the forward pass",
        "    scale = alpha / len(A)\n    down = linear(A, x)",
        "    scale = alpha\n    down = linear(A, x)",
    ),
    Mutant(
        "merge_without_scale",
        "merges W + A B, forgetting alpha / r",
        "    scale = alpha / len(A)\n    rank = len(A)",
        "    scale = 1.0\n    rank = len(A)",
    ),
    Mutant(
        "merge_subtracts",
        "merges W - (alpha / r) B A",
        "[w + scale * sum(B[i][k] * A[k][j]",
        "[w - scale * sum(B[i][k] * A[k][j]",
    ),
    Mutant(
        "count_full_delta",
        "counts the adapter as d_out x d_in (the size of B A) instead of A and B",
        "adapter = sum(len(A) * len(A[0]) + len(B) * len(B[0]) for A, B in adapters.values())",
        "adapter = sum(len(B) * len(A[0]) for A, B in adapters.values())",
    ),
    Mutant(
        "count_forgets_biases",
        "counts only the matrices of the base model, not the bias vectors",
        "if isinstance(t[0], list) else len(t) for t in params.values())",
        "if isinstance(t[0], list) else 0 for t in params.values())",
    ),
    Mutant(
        "summed_loss",
        "sums the batch loss instead of averaging it",
        "loss = -sum(log_prob(forward(params, c, live, alpha), t) for c, t in batch) * (1.0 / len(batch))",
        "loss = -sum(log_prob(forward(params, c, live, alpha), t) for c, t in batch)",
    ),
    Mutant(
        "gradient_ascent_sign",
        "minimises the log-likelihood instead of the negative log-likelihood",
        "loss = -sum(log_prob(forward(params, c, live, alpha), t) for c, t in batch) * (1.0 / len(batch))",
        "loss = sum(log_prob(forward(params, c, live, alpha), t) for c, t in batch) * (1.0 / len(batch))",
    ),
    Mutant(
        "trains_in_place",
        "trains the caller's adapters in place instead of a copy",
        "current = {name: ([list(r) for r in A], [list(r) for r in B]) for name, (A, B) in adapters.items()}",
        "current = {name: (A, B) for name, (A, B) in adapters.items()}",
    ),
    Mutant(
        "A_transposed",
        "draws A as d_in x rank (the shape of A^T) instead of the paper's rank x d_in down-projection",
        "A = [[rng.gauss(0.0, sigma) for _ in range(d_in)] for _ in range(rank)]",
        "A = [[rng.gauss(0.0, sigma) for _ in range(rank)] for _ in range(d_in)]",
    ),
    Mutant(
        "only_B_trained",
        "updates B only (A stays at its random init)",
        "for M, G, (m, v) in zip(pair, grads[name], moments[name]):",
        "for M, G, (m, v) in zip(pair[1:], grads[name][1:], moments[name][1:]):",
    ),
    Mutant(
        "no_lr_check",
        "accepts a learning rate of 0 or below",
        "    if not lr > 0:\n        raise ValueError(f\"lr must be > 0, got {lr!r}\")\n",
        "",
    ),
    Mutant(
        "loss_after_update",
        "records the loss as a stale value (0.0 on the first step) instead of the batch loss",
        "        losses.append(loss)\n",
        "        losses.append(losses[-1] if losses else 0.0)\n",
    ),
    Mutant(
        "lora_alpha_unchecked",
        "lora_linear accepts alpha <= 0 (an adapter that does nothing, or flips its sign)",
        "    if not alpha > 0:\n        raise ValueError(f\"alpha (the adapter scale) must be > 0, got {alpha!r}\")\n",
        "",
    ),
    Mutant(
        "merge_shape_unchecked",
        "merge_adapter does not check that B is d_out x r: zip silently drops the extra rank column",
        "        raise ValueError(f\"B is {len(B)} x {len(B[0])}: merge needs d_out x r = {len(W)} x {len(A)}\")",
        "        pass",
    ),
]
