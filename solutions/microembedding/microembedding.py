"""
Contrastive embeddings, from scratch: learn a map from strings to unit vectors
in which similar strings point the same way, with no labels at all.

The recipe is the one behind SimCLR, CLIP and modern sentence embedders, at
toy scale: a name becomes a bag of hashed character n-grams, one linear layer
projects it to a small vector, and L2 normalisation puts that vector on the
unit sphere, so a dot product IS the cosine similarity. Training shows the
model two randomly edited copies of each name in a batch (a character deleted,
two characters swapped) and asks it, with the InfoNCE loss, to pick each copy's
partner out of the batch: positives are pulled together, every other name in
the batch is pushed away. After a few hundred steps, nearest neighbours in the
embedding space are names that look and sound alike.

Gradients are written by hand (no autograd): the encoder is one matrix, and
the three backward steps (InfoNCE, L2 normalisation, the linear layer) are
short closed forms. That keeps training to ~10 s in pure Python.

References: van den Oord et al., "Representation Learning with Contrastive
Predictive Coding" (2018), InfoNCE; Chen et al., "A Simple Framework for
Contrastive Learning of Visual Representations" (SimCLR, 2020), augmentations
and temperature; Radford et al., "Learning Transferable Visual Models From
Natural Language Supervision" (CLIP, 2021), the symmetric loss used here;
Bojanowski et al., "Enriching Word Vectors with Subword Information"
(fastText, 2017), hashed character n-grams.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMES_FILE = ROOT / "data" / "names.txt"
CHECKPOINT = ROOT / "tests" / "data" / "microembedding" / "encoder.json"
COMMAND = "python solutions/microembedding/microembedding.py --train-checkpoint tests/data/microembedding/encoder.json"

FEATURES = 256  # hashed n-gram buckets (input dimension D)
EMBED = 16  # embedding dimension E
NGRAMS = (1, 2, 3)
BATCH, STEPS, LEARNING_RATE, TEMPERATURE, SEED = 48, 300, 0.02, 0.3, 42

# === FEATURES: HASHED CHARACTER N-GRAMS ===
#
# "anna" and "anne" share most of their character n-grams: <a an nn n> ...
# (with < and > marking the start and the end of the name). A bag of n-grams
# needs no tokenizer and is robust to typos: one edit changes at most n of
# the n-grams of each length, the rest stay.
#
# There are ~28^3 possible trigrams; instead of a vocabulary we HASH each
# n-gram into one of D buckets (the "hashing trick", as fastText does).
# Collisions merge unrelated n-grams into one bucket; with a few thousand
# distinct n-grams and D = 256 that is a small price for a fixed, tiny input.
# Python's hash() is salted per process, so we use FNV-1a, a fixed 32-bit hash:
#   h = 2166136261;  for each UTF-8 byte b: h = ((h XOR b) * 16777619) mod 2^32


def bucket(gram, dim):
    """The feature index of one n-gram: FNV-1a (32-bit) of its UTF-8 bytes, modulo dim."""
    h = 2166136261
    for byte in gram.encode("utf-8"):
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h % dim


def ngram_features(name, dim, n_values=NGRAMS):
    """Bag of hashed character n-grams of "<" + name + ">": a list of dim float counts.

    For each n in n_values, every substring of length n of the marked text
    t = "<" + name + ">" (there are max(0, len(t) - n + 1) of them) adds 1.0
    at index bucket(gram, dim). The name is used as given (no lowercasing).
    Raises ValueError naming dim when it is not a positive int, and naming
    n_values when it is empty or holds an n < 1.
    """
    # BEGIN SOLUTION
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    if not n_values or any(n < 1 for n in n_values):
        raise ValueError(f"n_values must be non-empty n-gram lengths >= 1, got {n_values!r}")
    text = "<" + name + ">"
    features = [0.0] * dim
    for n in n_values:
        for start in range(len(text) - n + 1):
            features[bucket(text[start:start + n], dim)] += 1.0
    return features
    # END SOLUTION


# === THE ENCODER: LINEAR MAP + L2 NORMALISATION ===
#
#   z = W x          W is E x D, x the D feature counts, z in R^E
#   e = z / ||z||    a point on the unit sphere
# After normalisation the dot product of two embeddings is their cosine
# similarity, in [-1, 1], and the loss can no longer cheat by making vectors
# longer: only directions matter. Feature vectors are sparse (a name has ~20
# n-grams out of D = 256 buckets), so the product only visits nonzero x_j.
#
# Signpost: real sentence embedders replace W x by a transformer over
# subword tokens, but keep exactly this head: pool, project, normalise.


def encode(W, features):
    """Embed one feature vector: e = W x / ||W x||, a list of E floats (unit length).

    W: E x D list of rows; features: list of D floats. When W x is the zero
    vector the result is E zeros (the norm is clipped at 1e-12, never divided
    by 0). Raises ValueError naming features when its length is not D.
    """
    # BEGIN SOLUTION
    if len(features) != len(W[0]):
        raise ValueError(f"features has {len(features)} entries but W has {len(W[0])} columns")
    active = [(j, x) for j, x in enumerate(features) if x]
    z = [sum(row[j] * x for j, x in active) for row in W]
    norm = max(math.sqrt(sum(v * v for v in z)), 1e-12)
    return [v / norm for v in z]
    # END SOLUTION


# === AUGMENTATIONS: WHAT "THE SAME" MEANS ===
#
# Contrastive learning has no labels; the augmentations define similarity.
# Two random edits of "katherine" ("kathrine", "kahterine") must land close
# together, so the model learns to ignore a dropped or transposed letter,
# the commonest typos. Pick the edits badly (e.g. reversing the string) and
# the model learns invariances nobody wants.


def augment(name, rng):
    """Return name with one random edit: delete one character, or swap two adjacent ones.

    rng: a random.Random; the only source of randomness (the global random
    module is not touched). With probability 1/2 each (via rng), delete the
    character at a uniform position, or swap the characters at a uniform
    position i and i + 1. Names shorter than 2 characters come back unchanged.
    """
    # BEGIN SOLUTION
    if len(name) < 2:
        return name
    if rng.random() < 0.5:
        i = rng.randrange(len(name))
        return name[:i] + name[i + 1:]
    i = rng.randrange(len(name) - 1)
    return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    # END SOLUTION


# === THE INFONCE LOSS ===
#
# A batch holds B names, each seen twice: U[i] and V[i] are the embeddings of
# two augmentations of name i. The similarity matrix, divided by a
# temperature T, is a table of logits:
#   S[i][j] = (U[i] . V[j]) / T
# Row i asks "which V is the partner of U[i]?": a B-way classification whose
# right answer is j = i, scored by cross-entropy. Column j asks the same
# question the other way. This file uses the symmetric (CLIP) form, the mean
# of both directions:
#   L = (1 / 2B) sum_i [ -log softmax(S[i, :])_i  - log softmax(S[:, i])_i ]
# Intuition: the numerator pulls the positive pair together, the softmax's
# denominator pushes all B - 1 negatives away. If every embedding were the
# same, every logit would be equal and L = log B: chance level.
#
# The temperature sets how sharply negatives are penalised: with T = 0.3 a
# cosine gap of 0.6 is a logit gap of 2. Too high and nothing is pushed
# apart; too low and training chases the single hardest negative.
# Cosines are at most 1, but logits reach 1/T: subtract the max (stable
# softmax) before exponentiating.


def check_batch(U, V, temperature):
    """Validate InfoNCE inputs (provided): B >= 2 rows each, equal shapes, temperature > 0."""
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if len(U) < 2:
        raise ValueError(f"U must hold a batch of at least 2 rows (one positive, >= 1 negative), got {len(U)}")
    if len(V) != len(U):
        raise ValueError(f"V has {len(V)} rows but U has {len(U)}: one partner per row")
    width = len(U[0])
    for name, rows in (("U", U), ("V", V)):
        for i, row in enumerate(rows):
            if len(row) != width:
                raise ValueError(f"{name}[{i}] has {len(row)} entries, expected {width}")


def log_softmax(logits):
    """log softmax of one list, stable: subtract the max before exp."""
    top = max(logits)
    log_total = top + math.log(sum(math.exp(x - top) for x in logits))
    return [x - log_total for x in logits]


def info_nce(U, V, temperature):
    """Symmetric InfoNCE loss of a batch: mean cross-entropy of S = U V^T / T over rows and columns.

    U, V: B x E lists (B >= 2), row i of V is the positive partner of row i of
    U. S[i][j] = dot(U[i], V[j]) / temperature. Returns the float
    L = (1/2B) * sum_i ( -log softmax(S[i, :])[i] - log softmax(S[:, i])[i] ).
    Must be stable for logits of any size (e.g. +-1e3). The rows need not be
    unit vectors. Raises ValueError naming temperature (<= 0), U (fewer than 2
    rows) or V (a different number of rows, or rows of another width).
    """
    # BEGIN SOLUTION
    check_batch(U, V, temperature)
    B = len(U)
    S = [[sum(a * b for a, b in zip(u, v)) / temperature for v in V] for u in U]
    rows = sum(-log_softmax(S[i])[i] for i in range(B))
    columns = sum(-log_softmax([S[j][i] for j in range(B)])[i] for i in range(B))
    return (rows + columns) / (2 * B)
    # END SOLUTION


# === ITS GRADIENT ===
#
# Cross-entropy's gradient with respect to its logits is softmax - one_hot.
# Each logit S[i][j] sits in row i's softmax AND column j's, so
#   dL/dS[i][j] = ( P_row[i][j] + P_col[i][j] - 2 [i == j] ) / (2B)
# with P_row = softmax over each row, P_col = softmax over each column. Then,
# since S = U V^T / T:
#   dL/dU[i] = sum_j dL/dS[i][j] V[j] / T
#   dL/dV[j] = sum_i dL/dS[i][j] U[i] / T


def info_nce_grad(U, V, temperature):
    """Gradients of info_nce with respect to U and V: returns (dU, dV), each B x E.

    Same arguments, conventions and ValueErrors as info_nce.
    """
    # BEGIN SOLUTION
    check_batch(U, V, temperature)
    B, E = len(U), len(U[0])
    S = [[sum(a * b for a, b in zip(u, v)) / temperature for v in V] for u in U]
    P_row = [[math.exp(x) for x in log_softmax(row)] for row in S]
    P_col_t = [[math.exp(x) for x in log_softmax([S[i][j] for i in range(B)])] for j in range(B)]
    G = [[(P_row[i][j] + P_col_t[j][i] - 2.0 * (i == j)) / (2 * B) for j in range(B)] for i in range(B)]
    dU = [[sum(G[i][j] * V[j][e] for j in range(B)) / temperature for e in range(E)] for i in range(B)]
    dV = [[sum(G[i][j] * U[i][e] for i in range(B)) / temperature for e in range(E)] for j in range(B)]
    return dU, dV
    # END SOLUTION


# === BACKWARD THROUGH L2 NORMALISATION ===
#
# e = z / ||z||. Moving z along itself only rescales it, which e ignores, so
# the gradient has no component along e: it is the incoming gradient g with
# its e-component removed, scaled by 1/||z||:
#   dL/dz = (g - e (e . g)) / ||z||
# (the Jacobian of z/||z|| is (I - e e^T) / ||z||, symmetric).


def normalize_backward(z, grad_e):
    """Given z and dL/de for e = z / ||z||, return dL/dz (a list like z).

    Raises ValueError naming z when it is the zero vector (the direction is undefined).
    """
    # BEGIN SOLUTION
    norm = math.sqrt(sum(v * v for v in z))
    if norm == 0.0:
        raise ValueError("z is the zero vector: z / ||z|| has no gradient there")
    e = [v / norm for v in z]
    along = sum(a * b for a, b in zip(e, grad_e))
    return [(g - a * along) / norm for g, a in zip(grad_e, e)]
    # END SOLUTION


# === THE WHOLE BACKWARD PASS ===
#
# Chain the three pieces for one batch of feature vectors:
#   z = W x,  e = z / ||z||,  L = info_nce(E_a, E_b, T)
#   dL/de from info_nce_grad, dL/dz from normalize_backward, and, because
#   z_k = sum_j W[k][j] x_j:   dL/dW[k][j] = sum over encoded vectors of dL/dz_k * x_j
# W is shared by both views, so the two views' contributions add up.


def loss_and_grad(W, feats_a, feats_b, temperature):
    """InfoNCE loss of a batch and its gradient with respect to W: returns (loss, dW), dW shaped like W.

    feats_a, feats_b: B lists of D feature counts; feats_a[i] and feats_b[i]
    are two views of the same name. Embeddings are encode(W, x) for each
    vector, U from feats_a and V from feats_b; loss = info_nce(U, V, temperature).
    Every W x must be nonzero. ValueErrors as in encode and info_nce.
    """
    # BEGIN SOLUTION
    E = len(W)
    zs, xs = [], []
    for x in list(feats_a) + list(feats_b):
        if len(x) != len(W[0]):
            raise ValueError(f"features has {len(x)} entries but W has {len(W[0])} columns")
        active = [(j, v) for j, v in enumerate(x) if v]
        zs.append([sum(row[j] * v for j, v in active) for row in W])
        xs.append(active)
    embeddings = []
    for z in zs:
        norm = max(math.sqrt(sum(v * v for v in z)), 1e-12)
        embeddings.append([v / norm for v in z])
    B = len(feats_a)
    U, V = embeddings[:B], embeddings[B:]
    loss = info_nce(U, V, temperature)
    dU, dV = info_nce_grad(U, V, temperature)
    dW = [[0.0] * len(W[0]) for _ in range(E)]
    for z, active, g in zip(zs, xs, dU + dV):
        dz = normalize_backward(z, g)
        # outer product dz x^T, visiting only the nonzero features
        for k in range(E):
            row, dk = dW[k], dz[k]
            for j, v in active:
                row[j] += dk * v
    return loss, dW
    # END SOLUTION


# === NEAREST NEIGHBOURS ===
#
# Inference is a search: embed the query, score it against every stored
# embedding, keep the best k. Production systems (FAISS, ScaNN, HNSW) use
# approximate indexes to avoid scoring all N vectors; the brute-force scan
# below is the exact answer they approximate.


def cosine(a, b):
    """Cosine similarity of two vectors (0.0 when either is zero)."""
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return sum(x * y for x, y in zip(a, b)) / (na * nb)


def nearest_neighbours(query, embeddings, k):
    """Indices of the k embeddings most cosine-similar to query, most similar first.

    query: list of E floats; embeddings: list of N such lists (need not be
    unit length: use cosine similarity, 0 for a zero vector). Ties go to the
    smaller index. Returns min(k, N) indices. Raises ValueError naming k when
    it is not an int >= 1, and naming embeddings when a row's length differs
    from the query's.
    """
    # BEGIN SOLUTION
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    for i, row in enumerate(embeddings):
        if len(row) != len(query):
            raise ValueError(f"embeddings[{i}] has {len(row)} entries, the query has {len(query)}")
    scores = [(-cosine(query, row), i) for i, row in enumerate(embeddings)]
    return [i for _, i in sorted(scores)[:k]]
    # END SOLUTION


# === TRAINING (PROVIDED) ===
#
# Minibatch Adam on W. Each step: draw B distinct names, augment each twice,
# featurise, and follow loss_and_grad. One random.Random(seed) drives the
# initial W, the batches and the augmentations, so seed + corpus fix every
# float of the result (the checkpoint test relies on it).


def load_names(path=NAMES_FILE):
    """The names in a one-name-per-line file, blank lines dropped."""
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def init_encoder(rng, embed=EMBED, dim=FEATURES):
    """Gaussian W with std 1/sqrt(20): a name has ~20 active n-grams, so z starts at unit scale."""
    return [[rng.gauss(0.0, 1.0 / math.sqrt(20)) for _ in range(dim)] for _ in range(embed)]


def train(names, steps=STEPS, batch=BATCH, temperature=TEMPERATURE, lr=LEARNING_RATE, seed=SEED, log=None):
    """Train the encoder W with InfoNCE on augmented pairs of names; returns W (E x D)."""
    rng = random.Random(seed)
    W = init_encoder(rng)
    m = [[0.0] * FEATURES for _ in range(EMBED)]
    v = [[0.0] * FEATURES for _ in range(EMBED)]
    for step in range(1, steps + 1):
        chosen = rng.sample(names, batch)
        feats_a = [ngram_features(augment(n, rng), FEATURES) for n in chosen]
        feats_b = [ngram_features(augment(n, rng), FEATURES) for n in chosen]
        loss, dW = loss_and_grad(W, feats_a, feats_b, temperature)
        # Adam (beta1 0.9, beta2 0.999): bias-corrected running means of g and g^2;
        # the rate decays linearly to 0 so the last steps settle instead of jitter.
        rate = lr * (1.0 - (step - 1) / steps)
        c1, c2 = 1.0 - 0.9 ** step, 1.0 - 0.999 ** step
        for w_row, g_row, m_row, v_row in zip(W, dW, m, v):
            for j, g in enumerate(g_row):
                if g == 0.0 and m_row[j] == 0.0:
                    continue  # a bucket no name has touched yet: nothing to update
                m_row[j] = 0.9 * m_row[j] + 0.1 * g
                v_row[j] = 0.999 * v_row[j] + 0.001 * g * g
                w_row[j] -= rate * (m_row[j] / c1) / (math.sqrt(v_row[j] / c2) + 1e-8)
        if log and (step == 1 or step % 50 == 0):
            log(f"   step {step:>4}/{steps}  InfoNCE {loss:.4f}  (chance log B = {math.log(batch):.4f})")
    return W


# === CHECKPOINT (tests/data/microembedding/encoder.json) ===
#
# The graded tests never train: they load this file, produced from
# data/names.txt only by
#   python solutions/microembedding/microembedding.py --train-checkpoint tests/data/microembedding/encoder.json
# and a slow test checks that running the command again reproduces it.
# Weights are rounded to 9 decimals to keep the file small (~45 KB).


def make_checkpoint(W):
    return {
        "format": "microembedding-linear-v1",
        "command": COMMAND,
        "corpus": "data/names.txt",
        "features": {"dim": FEATURES, "n_values": list(NGRAMS), "text": "'<' + name + '>'", "hash": "FNV-1a 32-bit mod dim"},
        "training": {"steps": STEPS, "batch": BATCH, "learning_rate": LEARNING_RATE,
                     "temperature": TEMPERATURE, "seed": SEED, "optimizer": "adam", "loss": "symmetric InfoNCE"},
        "W": [[round(w, 9) for w in row] for row in W],
    }


def write_checkpoint(checkpoint, path):
    """JSON with one row of W per line."""
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in checkpoint.items() if k != "W"]
    lines.append('  "W": [')
    rows = checkpoint["W"]
    lines += [f"    {json.dumps(row)}{',' if r < len(rows) - 1 else ''}" for r, row in enumerate(rows)]
    lines += ["  ]", "}"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# === DEMONSTRATION ===


def edit_distance(a, b):
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def evaluate(W, names, rng, pairs=400):
    """Mean cosine of positive pairs (two augmentations) and of random pairs of distinct names."""
    embed = lambda s: encode(W, ngram_features(s, len(W[0])))
    positive = [sum(a * b for a, b in zip(embed(augment(n, rng)), embed(augment(n, rng))))
                for n in rng.sample(names, pairs)]
    random_pairs = [rng.sample(names, 2) for _ in range(pairs)]
    negative = [sum(a * b for a, b in zip(embed(x), embed(y))) for x, y in random_pairs]
    return sum(positive) / pairs, sum(negative) / pairs


def histogram(values, lo=-1.0, hi=1.0, bins=10, width=40):
    counts = [0] * bins
    for x in values:
        counts[min(bins - 1, max(0, int((x - lo) / (hi - lo) * bins)))] += 1
    top = max(counts)
    return [f"   [{lo + b * (hi - lo) / bins:+.1f},{lo + (b + 1) * (hi - lo) / bins:+.1f}) "
            f"{'#' * round(c / top * width)} {c}" for b, c in enumerate(counts)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--train-checkpoint", metavar="PATH", help="train on data/names.txt and write the JSON checkpoint to PATH")
    args = parser.parse_args(argv)
    random.seed(SEED)
    names = load_names()

    if args.train_checkpoint:
        start = time.time()
        W = train(names, log=print)
        write_checkpoint(make_checkpoint(W), args.train_checkpoint)
        print(f"wrote {args.train_checkpoint} in {time.time() - start:.1f}s")
        return

    rng = random.Random(7)
    print("Augmentations (one deletion or one adjacent swap each):")
    for name in ("katherine", "anna", "christopher"):
        print(f"   {name:12} -> {', '.join(augment(name, rng) for _ in range(4))}")
    print()

    start = time.time()
    print(f"Training a {EMBED} x {FEATURES} linear encoder on {len(names):,} names "
          f"(batch {BATCH}, T = {TEMPERATURE}, {STEPS} Adam steps, manual gradients)")
    W0 = init_encoder(random.Random(SEED))
    W = train(names, log=print)
    print(f"   trained in {time.time() - start:.1f}s\n")

    eval_rng = random.Random(123)
    before = evaluate(W0, names, random.Random(123))
    positive, negative = evaluate(W, names, eval_rng)
    print("Mean cosine similarity        positive pairs   random pairs")
    print(f"   random init                    {before[0]:+.3f}          {before[1]:+.3f}")
    print(f"   trained                        {positive:+.3f}          {negative:+.3f}\n")

    embed = lambda s: encode(W, ngram_features(s, FEATURES))
    pool = names[::3]
    table = [embed(n) for n in pool]
    print(f"Nearest neighbours among {len(pool):,} names (cosine):")
    distances_nn, distances_random = [], []
    for query in ("anna", "john", "katherine", "michael", "zachary", "sophia", "brandon", "elizabeth"):
        e = embed(query)
        found = [i for i in nearest_neighbours(e, table, 6) if pool[i] != query][:4]
        print(f"   {query:10} -> {', '.join(f'{pool[i]} ({cosine(e, table[i]):.2f})' for i in found)}")
    sample_rng = random.Random(99)
    for query in sample_rng.sample(pool, 200):
        e = embed(query)
        best = [i for i in nearest_neighbours(e, table, 2) if pool[i] != query][0]
        distances_nn.append(edit_distance(query, pool[best]))
        distances_random.append(edit_distance(query, sample_rng.choice(pool)))
    nn_mean, random_mean = sum(distances_nn) / 200, sum(distances_random) / 200
    print(f"\n   mean edit distance to the nearest neighbour {nn_mean:.2f}, to a random name {random_mean:.2f}\n")

    print("Cosine of random pairs of names, trained:")
    pair_rng = random.Random(5)
    sims = [cosine(embed(a), embed(b)) for a, b in (pair_rng.sample(names, 2) for _ in range(400))]
    print("\n".join(histogram(sims)))
    print()

    print("Success criteria (seed 003)")
    print(f"   positive-pair cosine {positive:.3f} > 0.8 (upstream 0.815)   {'PASS' if positive > 0.8 else 'FAIL'}")
    print(f"   random-pair cosine   {negative:+.3f} < 0.3 (upstream -0.048)  {'PASS' if negative < 0.3 else 'FAIL'}")
    print(f"   neighbours closer in edit distance than random: {nn_mean:.2f} < {random_mean:.2f}   "
          f"{'PASS' if nn_mean < random_mean else 'FAIL'}")
    print(f"   runtime {time.time() - start:.1f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
