"""
Data parallelism and ZeRO stages 1-3, simulated: train one model on Nd
devices that are plain Python lists, move every float between them through a
counting Network, and prove that every stage takes exactly the step a single
device would take on the full batch, while each device holds less.

Data parallelism (DP) copies the whole model to every device and splits the
batch; an all-reduce sums the gradients so every replica takes the same Adam
step. That copies the model states Nd times. ZeRO (the Zero Redundancy
Optimizer) removes the copies in three stages:
  * stage 1 partitions the optimizer states (Adam's m and v): device k keeps
    and updates only shard k, then all-gathers the updated parameters;
  * stage 2 also partitions the gradients: a reduce-scatter leaves each
    device only the reduced gradient of its own shard;
  * stage 3 also partitions the parameters: a device gathers the full
    parameters just before the forward pass and again before the backward
    pass, and frees them after use.
What each device holds and sends is counted float by float, and set against
the paper's closed forms: the counts are the point of this file.

References: Rajbhandari, Rasley, Ruwase, He, "ZeRO: Memory Optimizations
Toward Training Trillion Parameter Models" (SC 2020), sections 3-7 and
Figure 1; Kingma & Ba, "Adam" (2015); Patarasuk & Yuan (2009) for the ring
collectives, which the microparallel kata builds (provided here).
"""

from __future__ import annotations

import math
import random

# === SIMULATED DEVICES AND THE NETWORK (PROVIDED, AS IN MICROPARALLEL) ===
#
# A device is a rank k in 0..Nd-1; whatever it holds is entry k of a Python
# list. Devices never read each other's entries: data crosses only through
# net.exchange, which counts every float its sender puts on the wire.
# Communication volume below always means FLOATS SENT PER DEVICE (equal on
# every device for the ring collectives on equal chunks).


class Network:
    """p simulated devices joined by point-to-point links; counts every float sent."""

    def __init__(self, p: int) -> None:
        if not isinstance(p, int) or isinstance(p, bool) or p <= 0:
            raise ValueError(f"p (the number of devices) must be a positive integer, got {p!r}")
        self.p = p
        self.sent = [0] * p
        self.received = [0] * p
        self.rounds = 0

    def exchange(self, messages):
        """Deliver one round of (src, dst, payload) messages; return the receivers' copies in order."""
        arrived = []
        for src, dst, payload in messages:
            copy = [float(x) for x in payload]
            self.sent[src] += len(copy)
            self.received[dst] += len(copy)
            arrived.append(copy)
        self.rounds += 1
        return arrived


# === RING COLLECTIVES (PROVIDED) ===
#
# On a ring, device k only sends to (k + 1) % p. With a vector cut into p
# equal chunks of S floats:
#   reduce-scatter: p-1 rounds, device k ends with the SUM of chunk k;
#   all-gather:     p-1 rounds, every device ends with every chunk;
#   all-reduce = reduce-scatter then all-gather.
# In every round each device sends one chunk to its neighbour. You wrote
# these in microparallel; here they are given.


def chunk_bounds(n, p):
    """Cut range(n) into p contiguous chunks [start, stop); the first n % p are one longer."""
    base, extra = divmod(n, p)
    bounds, start = [], 0
    for k in range(p):
        stop = start + base + (1 if k < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def ring_reduce_scatter(net, vectors):
    """p vectors of n floats in; entry k of the result is sum_j vectors[j][chunk k]."""
    p, n = net.p, len(vectors[0])
    bounds = chunk_bounds(n, p)
    running = [list(v) for v in vectors]
    for step in range(p - 1):
        outgoing = []
        for k in range(p):
            start, stop = bounds[(k - 1 - step) % p]
            outgoing.append((k, (k + 1) % p, running[k][start:stop]))
        arrived = net.exchange(outgoing)
        for (src, dst, _), payload in zip(outgoing, arrived):
            start, _ = bounds[(src - 1 - step) % p]
            for offset, value in enumerate(payload):
                running[dst][start + offset] += value
    return [running[k][start:stop] for k, (start, stop) in enumerate(bounds)]


def ring_all_gather(net, shards):
    """p shards in; every device gets shards[0] + shards[1] + ... + shards[p-1]."""
    p = net.p
    held = [{k: list(shards[k])} for k in range(p)]
    for step in range(p - 1):
        outgoing = [(k, (k + 1) % p, held[k][(k - step) % p]) for k in range(p)]
        arrived = net.exchange(outgoing)
        for k, payload in enumerate(arrived):
            held[(k + 1) % p][(k - step) % p] = payload
    return [[x for owner in range(p) for x in held[k][owner]] for k in range(p)]


def ring_all_reduce(net, vectors):
    """Every device gets the elementwise sum of all vectors (reduce-scatter + all-gather)."""
    return ring_all_gather(net, ring_reduce_scatter(net, vectors))


# === THE MODEL (PROVIDED) ===
#
# The parameters are ONE flat vector w of Psi floats: ZeRO works on the flat
# buffer (DeepSpeed flattens every parameter into contiguous fp16/fp32 groups),
# so the model behind it does not matter. Ours is a tanh regression:
#     prediction = tanh(w . x),   loss = 1/2 (prediction - y)^2
#     d loss / d w = (prediction - y) (1 - prediction^2) x
# An example is a pair (x, y) with x a list of Psi floats. Both functions
# return SUMS over the examples given; dividing by the GLOBAL batch size is
# the caller's job (a device only sees its own micro-batch).


def forward(params, batch):
    """Sum over (x, y) in batch of 1/2 (tanh(params . x) - y)^2."""
    total = 0.0
    for x, y in batch:
        pred = math.tanh(sum(w * xi for w, xi in zip(params, x)))
        total += 0.5 * (pred - y) ** 2
    return total


def backward(params, batch):
    """Sum over (x, y) in batch of the gradient of 1/2 (tanh(params . x) - y)^2: Psi floats."""
    grad = [0.0] * len(params)
    for x, y in batch:
        pred = math.tanh(sum(w * xi for w, xi in zip(params, x)))
        delta = (pred - y) * (1.0 - pred * pred)
        for i, xi in enumerate(x):
            grad[i] += delta * xi
    return grad


def make_data(rng, psi, count):
    """``count`` examples (x, y) from a hidden teacher w*: y = tanh(w* . x) + small noise."""
    teacher = [rng.gauss(0.0, 1.0) / math.sqrt(psi) for _ in range(psi)]
    data = []
    for _ in range(count):
        x = [rng.gauss(0.0, 1.0) for _ in range(psi)]
        y = math.tanh(sum(w * xi for w, xi in zip(teacher, x))) + rng.gauss(0.0, 0.05)
        data.append((x, y))
    return data


# === ADAM, THE SINGLE-DEVICE STEP EVERY STAGE MUST REPRODUCE ===
#
#   m_t = beta1 m_{t-1} + (1 - beta1) g
#   v_t = beta2 v_{t-1} + (1 - beta2) g^2
#   w_t = w_{t-1} - lr * (m_t / (1 - beta1^t)) / (sqrt(v_t / (1 - beta2^t)) + eps)
# Adam is ELEMENTWISE: entry i of the new w, m, v depends only on entry i of
# w, g, m, v. That one fact is what makes ZeRO exact: device k can update
# shard k alone and get the same floats the full update would give there.


def adam_step(params, grads, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step with bias correction on equally long flat lists; returns (params, m, v), new lists.

    params, grads, m, v: lists of the same length (any length, a shard or the
    whole model). t: the step number, an int >= 1 (the first step is t = 1).
    Uses exactly the three equations in the comment above. The inputs are not
    changed. Raises ValueError naming ``t`` when it is not a positive int,
    ``beta1`` / ``beta2`` when outside [0, 1), and ``grads`` / ``m`` / ``v``
    when their length differs from len(params).
    """
    # BEGIN SOLUTION
    if not isinstance(t, int) or isinstance(t, bool) or t < 1:
        raise ValueError(f"t (the step number) must be an integer >= 1, got {t!r}")
    for name, beta in (("beta1", beta1), ("beta2", beta2)):
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 <= beta < 1.0:
            raise ValueError(f"{name} must be a number in [0, 1), got {beta!r}")
    for name, values in (("grads", grads), ("m", m), ("v", v)):
        if len(values) != len(params):
            raise ValueError(f"{name} has {len(values)} entries, params has {len(params)}")
    # The bias corrections undo the zero initialisation of m and v: after one
    # step m = (1 - beta1) g, and dividing by 1 - beta1^1 gives back g.
    c1, c2 = 1.0 - beta1 ** t, 1.0 - beta2 ** t
    new_params, new_m, new_v = [], [], []
    for w, g, mi, vi in zip(params, grads, m, v):
        mi = beta1 * mi + (1.0 - beta1) * g
        vi = beta2 * vi + (1.0 - beta2) * g * g
        new_m.append(mi)
        new_v.append(vi)
        new_params.append(w - lr * (mi / c1) / (math.sqrt(vi / c2) + eps))
    return new_params, new_m, new_v
    # END SOLUTION


# === PARTITIONING THE FLAT BUFFER ===
#
# ZeRO cuts the flat vector of Psi floats into Nd equal shards of
#     S = ceil(Psi / Nd)
# floats, padding the end with zeros to Nd * S (DeepSpeed pads its flat
# buffers the same way). Shard k is [k S, (k+1) S) of the padded vector.
# Padding is harmless for Adam: a padded entry has gradient 0, so m and v
# stay 0 and its update is lr * 0 / (0 + eps) = 0: it stays 0 forever.
# Equal shards make every ring chunk S floats, so the communication closed
# forms below are exact for every Psi, divisible by Nd or not.


def shard_size(psi, nd):
    """S = ceil(psi / nd), the floats in one shard. Raises ValueError naming ``nd`` (not a positive int) or ``psi``."""
    # BEGIN SOLUTION
    if not isinstance(nd, int) or isinstance(nd, bool) or nd < 1:
        raise ValueError(f"nd (the number of devices) must be a positive integer, got {nd!r}")
    if not isinstance(psi, int) or isinstance(psi, bool) or psi < 1:
        raise ValueError(f"psi (the number of parameters) must be a positive integer, got {psi!r}")
    return -(-psi // nd)
    # END SOLUTION


def partition(flat, nd):
    """Pad ``flat`` with zeros to nd * S floats (S = shard_size(len(flat), nd)) and cut it into nd shards.

    Returns a list of nd new lists of S floats each; shard k is
    padded[k S:(k+1) S]. ``flat`` is not changed. Raises ValueError naming
    ``nd`` when it is not a positive integer.
    """
    # BEGIN SOLUTION
    size = shard_size(len(flat), nd)
    padded = list(flat) + [0.0] * (nd * size - len(flat))
    return [padded[k * size:(k + 1) * size] for k in range(nd)]
    # END SOLUTION


# === WHAT EACH DEVICE HOLDS: THE MODEL STATES ===
#
# A device's state is a dict of four flat float lists:
#   "params"  the parameters        "grads"  the gradient buffer
#   "m", "v"  Adam's two moments
# Each stage PARTITIONS some of the four buffers; a partitioned buffer holds
# only device k's shard of S floats, an unpartitioned one all Psi floats
# (copied on every device):
#   stage 0 (DP)  partitions nothing
#   stage 1       partitions m and v (the optimizer states, P_os)
#   stage 2       partitions m, v and grads (P_os+g)
#   stage 3       partitions m, v, grads and params (P_os+g+p)
# Memory below means these model states only: the full gradient a ZeRO-2
# backward produces and the full parameters a ZeRO-3 device gathers are
# working buffers, freed at once (in DeepSpeed they stream bucket by bucket),
# and the paper counts them apart.


def init_states(params, nd, stage):
    """The nd per-device states before the first step: dicts with "params", "grads", "m", "v".

    params: the initial flat parameter list (Psi floats). stage: 0 (plain
    data parallelism), 1, 2 or 3. Lengths follow the partition rule above: full
    entries hold all Psi floats (params copied, grads/m/v zeros); sharded
    entries hold device k's shard of S floats (for stage 3 "params" is
    partition(params, nd)[k], the rest zeros). Every list is new. Raises
    ValueError naming ``nd``, ``stage`` (not 0..3) or ``params`` (empty).
    """
    # BEGIN SOLUTION
    if not isinstance(stage, int) or isinstance(stage, bool) or stage not in (0, 1, 2, 3):
        raise ValueError(f"stage must be 0, 1, 2 or 3, got {stage!r}")
    if len(params) == 0:
        raise ValueError("params is empty: a model needs at least one parameter")
    psi = len(params)
    size = shard_size(psi, nd)
    shards = partition(params, nd)
    # Which buffers are full and which are one shard: the whole of ZeRO's
    # memory saving is in these four lengths.
    moments = psi if stage == 0 else size
    grads = size if stage >= 2 else psi
    states = []
    for k in range(nd):
        states.append({
            "params": list(shards[k]) if stage == 3 else list(params),
            "grads": [0.0] * grads,
            "m": [0.0] * moments,
            "v": [0.0] * moments,
        })
    return states
    # END SOLUTION


def resident_floats(state):
    """Floats of model state one device holds: the lengths of its four buffers added up."""
    return sum(len(state[key]) for key in ("params", "grads", "m", "v"))


def check_step_args(net, states, batches):
    """Shared argument checks of the step functions; returns the global batch size."""
    if len(states) != net.p:
        raise ValueError(f"states has {len(states)} entries but the network has {net.p} devices")
    if len(batches) != net.p:
        raise ValueError(f"batches has {len(batches)} entries but the network has {net.p} devices")
    total = sum(len(batch) for batch in batches)
    if total == 0:
        raise ValueError("batches holds no examples at all: the mean gradient is undefined")
    return total


# === STAGE 0: PLAIN DATA PARALLELISM ===
#
# Device k holds the full model and a micro-batch batches[k]; the global
# batch is their concatenation, of B examples. The full-batch gradient is
#     g = (1/B) sum over all examples = sum_k [ (1/B) sum over batches[k] ]
# so each device computes its bracket and an all-reduce adds them up.
# Micro-batches may differ in size: divide by the GLOBAL B, never by
# len(batches[k]), or a small micro-batch would weigh as much as a big one.


def data_parallel_step(net, states, batches, t, lr):
    """One data-parallel Adam step: local gradients, ring all-reduce, identical full Adam step on every device.

    net: a Network (use only net.p and net.exchange, through the provided
    ring collectives). states: nd stage-0 states (init_states(..., 0)).
    batches: nd lists of examples (x, y); batches[k] is device k's
    micro-batch. t, lr: as in adam_step. Every collective runs on the flat
    vector zero-padded to nd * S floats (as partition pads); the padding is
    dropped afterwards. "grads" of the new state is the reduced full-batch
    gradient. Returns (new_states, losses): losses[k] = forward(params,
    batches[k]) / B with the parameters before the step, so sum(losses) is
    the full-batch mean loss. Inputs are not changed. Raises ValueError
    naming ``states`` or ``batches`` (wrong length, or no examples at all).
    """
    # BEGIN SOLUTION
    total = check_step_args(net, states, batches)
    psi = len(states[0]["params"])
    losses, padded = [], []
    for state, batch in zip(states, batches):
        losses.append(forward(state["params"], batch) / total)
        grad = [g / total for g in backward(state["params"], batch)]
        padded.append([x for shard in partition(grad, net.p) for x in shard])
    reduced = ring_all_reduce(net, padded)
    new_states = []
    for state, full in zip(states, reduced):
        grads = full[:psi]
        params, m, v = adam_step(state["params"], grads, state["m"], state["v"], t, lr)
        new_states.append({"params": params, "grads": grads, "m": m, "v": v})
    return new_states, losses
    # END SOLUTION


# === STAGES 1 AND 2: PARTITIONED OPTIMIZER STATE (AND GRADIENTS) ===
#
# Device k owns shard k of m and v, so it can update only shard k of the
# parameters. It needs only the reduced gradient of shard k: a reduce-scatter
# (half an all-reduce) delivers exactly that. After the local Adam step an
# all-gather of the updated parameter shards gives everyone the new model.
#     DP:      all-reduce = reduce-scatter + all-gather     of gradients
#     ZeRO-1/2: reduce-scatter of gradients + all-gather of parameters
# Same two collectives, same floats on the wire: the memory is free.
# The only difference between stage 1 and 2 is what stays resident: stage 1
# keeps the full local gradient buffer, stage 2 keeps just the reduced shard.


def zero12_step(net, states, batches, t, lr, stage):
    """One ZeRO-1 or ZeRO-2 step: local gradient, reduce-scatter, Adam on shard k only, all-gather of parameters.

    stage: 1 or 2. states: nd states of that stage (init_states(..., stage):
    full params; stage 1 full grads, stage 2 grads of S floats; m and v of S
    floats). batches, t, lr: as in data_parallel_step. Device k pads its
    parameters like partition, updates shard k with its own m and v and the
    reduced gradient shard (reduce-scatter of the zero-padded local
    gradients), then an all-gather of the updated shards, trimmed to Psi,
    gives every device its new "params". Exactly two collectives. "grads" of
    the new state: stage 1, device k's own full local gradient already
    divided by B (the buffer backward wrote into, before reduction); stage 2,
    the reduced full-batch gradient of shard k (S floats, padding included).
    Returns (new_states, losses) as in data_parallel_step. Raises ValueError
    naming ``stage`` (not 1 or 2), ``states`` or ``batches``.
    """
    # BEGIN SOLUTION
    if not isinstance(stage, int) or isinstance(stage, bool) or stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2 for zero12_step, got {stage!r}")
    total = check_step_args(net, states, batches)
    psi = len(states[0]["params"])
    losses, local, padded = [], [], []
    for state, batch in zip(states, batches):
        losses.append(forward(state["params"], batch) / total)
        grad = [g / total for g in backward(state["params"], batch)]
        local.append(grad)
        padded.append([x for shard in partition(grad, net.p) for x in shard])
    # After the reduce-scatter, device k holds sum_j (local gradient j)[shard k]:
    # the full-batch gradient of exactly the entries its m and v belong to.
    reduced = ring_reduce_scatter(net, padded)
    updated = []
    for k, state in enumerate(states):
        own = partition(state["params"], net.p)[k]
        params, m, v = adam_step(own, reduced[k], state["m"], state["v"], t, lr)
        updated.append((params, m, v))
    gathered = ring_all_gather(net, [params for params, _, _ in updated])
    new_states = []
    for k, (_, m, v) in enumerate(updated):
        # The one line where stage 2 saves memory: keep S floats, not Psi.
        grads = local[k] if stage == 1 else reduced[k]
        new_states.append({"params": gathered[k][:psi], "grads": grads, "m": m, "v": v})
    return new_states, losses
    # END SOLUTION


# === STAGE 3: PARTITIONED PARAMETERS ===
#
# Now device k keeps only shard k of the parameters too. The forward pass
# needs all of them: all-gather, compute, free. The backward pass needs them
# again (they were freed to save memory): all-gather again. The gradients
# are reduce-scattered as in stage 2, and the updated shard simply stays put:
# no final all-gather. One more collective per step than DP: that is the
# price of holding 1/Nd of every model state.
# Signpost: DeepSpeed and PyTorch FSDP gather layer by layer and prefetch
# the next layer's shards during the current layer's compute, so the full
# model is never resident at once; here the "layer" is the whole model.


def zero3_step(net, states, batches, psi, t, lr):
    """One ZeRO-3 step: all-gather for forward, all-gather again for backward, reduce-scatter, Adam on shard k.

    states: nd stage-3 states (params, grads, m, v all shards of S floats).
    psi: the true number of parameters (the gathered nd * S floats are
    trimmed to psi before forward and backward). batches, t, lr: as in
    data_parallel_step. Exactly three collectives, in this order: all-gather
    of the parameter shards (then losses[k] = forward(full, batches[k]) / B),
    all-gather of the parameter shards again (then the local gradient from
    backward, divided by B), reduce-scatter of the zero-padded local
    gradients. "params" of the new state is device k's updated shard, "grads"
    its reduced gradient shard. Returns (new_states, losses). Raises
    ValueError like data_parallel_step.
    """
    # BEGIN SOLUTION
    total = check_step_args(net, states, batches)
    shards = [state["params"] for state in states]
    full = ring_all_gather(net, shards)
    losses = [forward(full[k][:psi], batch) / total for k, batch in enumerate(batches)]
    del full  # freed after the forward pass: ZeRO-3 never keeps the full model
    full = ring_all_gather(net, shards)
    padded = []
    for k, batch in enumerate(batches):
        grad = [g / total for g in backward(full[k][:psi], batch)]
        padded.append([x for shard in partition(grad, net.p) for x in shard])
    reduced = ring_reduce_scatter(net, padded)
    new_states = []
    for k, state in enumerate(states):
        params, m, v = adam_step(state["params"], reduced[k], state["m"], state["v"], t, lr)
        new_states.append({"params": params, "grads": reduced[k], "m": m, "v": v})
    return new_states, losses
    # END SOLUTION


# === THE CLOSED FORMS ===
#
# Write down, as formulas in Psi, Nd and S = ceil(Psi / Nd), what the code
# above holds and sends per device; the tests count both and compare.


def memory_floats(psi, nd, stage):
    """Floats of model state per device at ``stage`` (0..3), with S = ceil(psi / nd).

    The lengths of params, grads, m and v that init_states gives (and every
    step keeps), added up. Raises ValueError naming ``nd`` (not a positive int), ``psi`` or ``stage``.
    """
    # BEGIN SOLUTION
    size = shard_size(psi, nd)
    if not isinstance(stage, int) or isinstance(stage, bool) or stage not in (0, 1, 2, 3):
        raise ValueError(f"stage must be 0, 1, 2 or 3, got {stage!r}")
    # Lengths per device, in floats:
    #                 params   grads   m, v        total
    #   stage 0 (DP)  Psi      Psi     Psi, Psi    4 Psi
    #   stage 1       Psi      Psi     S,   S      2 Psi + 2 S
    #   stage 2       Psi      S       S,   S      Psi + 3 S
    #   stage 3       S        S       S,   S      4 S
    # This is the paper's (2 + 2 + K) Psi, (2 + 2) Psi + K Psi/Nd,
    # 2 Psi + (2 + K) Psi/Nd and (2 + 2 + K) Psi/Nd with each 2-byte term
    # replaced by one float, K = 2 (m and v; the params are the fp32 master
    # copy here) and Psi/Nd made exact as S.
    return (4 * psi, 2 * psi + 2 * size, psi + 3 * size, 4 * size)[stage]
    # END SOLUTION


def comm_floats(psi, nd, stage):
    """Floats each device sends in one training step at ``stage`` (0..3), with S = ceil(psi / nd).

    Counts what the step functions above send through net.exchange. Raises
    ValueError naming ``nd``, ``psi`` or ``stage``.
    """
    # BEGIN SOLUTION
    size = shard_size(psi, nd)
    if not isinstance(stage, int) or isinstance(stage, bool) or stage not in (0, 1, 2, 3):
        raise ValueError(f"stage must be 0, 1, 2 or 3, got {stage!r}")
    # A ring collective on Nd chunks of S floats runs Nd - 1 rounds, and in
    # each round every device sends one chunk: (Nd - 1) S floats. DP's
    # all-reduce is two collectives, as are ZeRO-1/2's reduce-scatter plus
    # all-gather: the memory saving is free. ZeRO-3 adds the second gather.
    # As Nd grows, (Nd - 1) S -> Psi: the paper's 2 Psi and 3 Psi.
    collectives = 3 if stage == 3 else 2
    return collectives * (nd - 1) * size
    # END SOLUTION


def paper_bytes(psi, nd, stage, k=12):
    """The paper's model-state bytes per device with mixed-precision Adam, as in its Figure 1.

    Per parameter the paper counts 2 bytes of fp16 params, 2 bytes of fp16
    grads and k bytes of optimizer state (k = 12: fp32 master copy, m, v).
    A term the stage partitions is divided by nd (the paper's Psi / Nd, not
    rounded up); the others count whole. Returns a float. Raises
    ValueError naming ``nd``, ``psi`` or ``stage``.
    """
    # BEGIN SOLUTION
    shard_size(psi, nd)  # validates nd and psi
    if not isinstance(stage, int) or isinstance(stage, bool) or stage not in (0, 1, 2, 3):
        raise ValueError(f"stage must be 0, 1, 2 or 3, got {stage!r}")
    # 2 bytes of fp16 params and 2 of fp16 grads, then k of optimizer state:
    # each stage moves one more of these terms under the "/ nd".
    forms = (
        (2 + 2 + k) * psi,
        (2 + 2) * psi + k * psi / nd,
        2 * psi + (2 + k) * psi / nd,
        (2 + 2 + k) * psi / nd,
    )
    return float(forms[stage])
    # END SOLUTION


# === DEMONSTRATION ===


def single_device_step(params, m, v, batch, t, lr):
    """The reference: one full-batch Adam step on one device."""
    grads = [g / len(batch) for g in backward(params, batch)]
    return adam_step(params, grads, m, v, t, lr)


def gather_params(states, stage, psi):
    """The full parameter vector a stage's states describe (stage 3: the shards concatenated, trimmed)."""
    if stage == 3:
        return [x for state in states for x in state["params"]][:psi]
    return states[0]["params"]




def run_stage(stage, params, batches, steps, lr):
    """Train ``steps`` steps of one stage; return (params, network, per-step losses, resident floats)."""
    nd, psi = len(batches), len(params)
    net = Network(nd)
    states = init_states(params, nd, stage)
    losses = []
    for t in range(1, steps + 1):
        if stage == 0:
            states, local = data_parallel_step(net, states, batches, t, lr)
        elif stage == 3:
            states, local = zero3_step(net, states, batches, psi, t, lr)
        else:
            states, local = zero12_step(net, states, batches, t, lr, stage)
        losses.append(sum(local))
    return gather_params(states, stage, psi), net, losses, [resident_floats(s) for s in states]


def main():
    random.seed(42)
    rng = random.Random(42)
    psi, nd, steps, lr = 26, 4, 30, 0.05
    data = make_data(rng, psi, 42)
    # Uneven micro-batches on purpose: 13 + 11 + 10 + 8 = 42 examples.
    sizes = [13, 11, 10, 8]
    batches, start = [], 0
    for size in sizes:
        batches.append(data[start:start + size])
        start += size
    init = [rng.gauss(0.0, 0.1) for _ in range(psi)]
    size = shard_size(psi, nd)
    print(f"1. Psi = {psi} parameters on Nd = {nd} devices (shard S = ceil({psi}/{nd}) = {size},"
          f" {nd * size - psi} padding floats); micro-batches {sizes}, B = {sum(sizes)}\n")

    params, m, v = list(init), [0.0] * psi, [0.0] * psi
    reference = []
    for t in range(1, steps + 1):
        reference.append(forward(params, data) / len(data))
        params, m, v = single_device_step(params, m, v, data, t, lr)
    print(f"2. {steps} Adam steps, lr {lr}: single device vs every stage")
    print(f"   {'step':>4} {'single device':>14} " + " ".join(f"{'stage ' + str(s):>10}" for s in range(4)))
    results = {stage: run_stage(stage, init, batches, steps, lr) for stage in range(4)}
    for t in (0, 1, 2, 4, 9, 19, steps - 1):
        row = " ".join(f"{results[s][2][t]:>10.6f}" for s in range(4))
        print(f"   {t + 1:>4} {reference[t]:>14.6f} {row}")
    for stage in range(4):
        diff = max(abs(a - b) for a, b in zip(results[stage][0], params))
        print(f"   stage {stage}: max |params - single device| after {steps} steps = {diff:.2e}"
              f" (criterion 1e-12: {'yes' if diff <= 1e-12 else 'NO'})")
    print()

    print("3. Model-state floats per device (counted) vs the closed form")
    print(f"   {'stage':>5} {'counted':>18} {'closed form':>12}   layout (params, grads, m, v)")
    layouts = ["Psi, Psi, Psi, Psi", "Psi, Psi, S, S", "Psi, S, S, S", "S, S, S, S"]
    for stage in range(4):
        counted = results[stage][3]
        print(f"   {stage:>5} {str(counted):>18} {memory_floats(psi, nd, stage):>12}   {layouts[stage]}")
    print()

    print(f"4. Floats sent per device over {steps} steps (counted) vs the closed form x steps")
    print(f"   {'stage':>5} {'counted':>22} {'closed form':>12} {'rounds':>7} {'per step':>9}"
          "  the paper's limit (Nd -> infinity)")
    for stage in range(4):
        net = results[stage][1]
        # The limit from the closed form itself: Nd devices on Nd * Psi parameters.
        big = 10 ** 6
        limit = round(comm_floats(big * psi, big, stage) / big)
        print(f"   {stage:>5} {str(net.sent):>22} {steps * comm_floats(psi, nd, stage):>12}"
              f" {net.rounds:>7} {net.sent[0] // steps:>9}  {limit // psi} Psi = {limit}")
    print()

    print("5. The paper's Figure 1: a 7.5B-parameter model, K = 12, Nd = 64, bytes per device")
    for stage, name in enumerate(["baseline DP", "P_os (ZeRO-1)", "P_os+g (ZeRO-2)", "P_os+g+p (ZeRO-3)"]):
        print(f"   {name:<18} {paper_bytes(7_500_000_000, 64, stage) / 1e9:>8.2f} GB")
    print("   (the paper: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB)\n")
    print("ZeRO-1 and -2 cut memory at no extra communication because an all-reduce is a\n"
          "reduce-scatter plus an all-gather anyway; ZeRO-3 pays one more all-gather\n"
          "per step to keep only 1/Nd of every model state on each device.")


if __name__ == "__main__":
    main()
