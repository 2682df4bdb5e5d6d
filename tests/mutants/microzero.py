"""Realistic microzero mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "no_bias_correction",
        "forgets Adam's bias correction of m",
        "new_params.append(w - lr * (mi / c1) / (math.sqrt(vi / c2) + eps))",
        "new_params.append(w - lr * mi / (math.sqrt(vi / c2) + eps))",
    ),
    Mutant(
        "v_not_squared",
        "accumulates g instead of g^2 in the second moment",
        "vi = beta2 * vi + (1.0 - beta2) * g * g",
        "vi = beta2 * vi + (1.0 - beta2) * abs(g)",
    ),
    Mutant(
        "floor_shard",
        "rounds the shard size down, so the last parameters belong to no device",
        "return -(-psi // nd)",
        "return max(1, psi // nd)",
    ),
    Mutant(
        "dp_local_mean",
        "divides each device's gradient by its own micro-batch size instead of the global batch",
        "        losses.append(forward(state[\"params\"], batch) / total)\n"
        "        grad = [g / total for g in backward(state[\"params\"], batch)]\n"
        "        padded.append(",
        "        losses.append(forward(state[\"params\"], batch) / total)\n"
        "        grad = [g / max(1, len(batch)) / len(batches) for g in backward(state[\"params\"], batch)]\n"
        "        padded.append(",
    ),
    Mutant(
        "dp_no_all_reduce",
        "each replica steps with its own local gradient: replicas drift apart",
        "reduced = ring_all_reduce(net, padded)",
        "reduced = [list(x) for x in padded]",
    ),
    Mutant(
        "zero1_full_moments",
        "stage 1 still keeps full-size m and v (no optimizer-state partition)",
        "moments = psi if stage == 0 else size",
        "moments = psi if stage <= 1 else size",
    ),
    Mutant(
        "zero2_keeps_full_grads",
        "stage 2 keeps the full local gradient buffer instead of the reduced shard",
        "grads = local[k] if stage == 1 else reduced[k]",
        "grads = local[k]",
    ),
    Mutant(
        "zero12_unreduced_shard",
        "updates shard k with its own unreduced local gradient slice instead of the reduce-scatter result",
        "params, m, v = adam_step(own, reduced[k], state[\"m\"], state[\"v\"], t, lr)",
        "params, m, v = adam_step(own, padded[k][k * len(own):(k + 1) * len(own)], state[\"m\"], state[\"v\"], t, lr)",
    ),
    Mutant(
        "zero12_wrong_shard",
        "device k updates the first shard of the parameters whatever its rank",
        "own = partition(state[\"params\"], net.p)[k]",
        "own = partition(state[\"params\"], net.p)[0]",
    ),
    Mutant(
        "zero3_single_gather",
        "ZeRO-3 keeps the gathered parameters from the forward pass for backward (no second all-gather)",
        "    del full  # freed after the forward pass: ZeRO-3 never keeps the full model\n"
        "    full = ring_all_gather(net, shards)\n",
        "",
    ),
    Mutant(
        "comm_zero3_two_collectives",
        "counts ZeRO-3 like DP: two collectives per step",
        "collectives = 3 if stage == 3 else 2",
        "collectives = 2",
    ),
    Mutant(
        "memory_stage2_formula",
        "stage 2 memory: counts the gradients full and the parameters sharded",
        "(4 * psi, 2 * psi + 2 * size, psi + 3 * size, 4 * size)[stage]",
        "(4 * psi, 2 * psi + 2 * size, 2 * psi + 2 * size, 4 * size)[stage]",
    ),
    Mutant(
        "paper_k_not_sharded",
        "the paper's ZeRO-1 bytes without dividing the optimizer state by Nd",
        "(2 + 2) * psi + k * psi / nd,",
        "(2 + 2) * psi + k * psi,",
    ),
    Mutant(
        "init_params_shared",
        "hands every device the caller's params list instead of a copy",
        "\"params\": list(shards[k]) if stage == 3 else list(params),",
        "\"params\": list(shards[k]) if stage == 3 else params,",
    ),
    Mutant(
        "paper_rounds_shards_up",
        "the paper's bytes with the shard rounded up like S instead of Psi / Nd",
        "(2 + 2) * psi + k * psi / nd,",
        "(2 + 2) * psi + k * -(-psi // nd),",
    ),
]
