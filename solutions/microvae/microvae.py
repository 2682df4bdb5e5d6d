"""
A variational autoencoder, from scratch: an encoder that maps a point to a
Gaussian over a latent code, the reparameterisation trick that lets gradients
flow through the sampling, a decoder back to data space, and the ELBO with a
closed-form KL term, trained with hand-written gradients on a 2-D ring.

An autoencoder squeezes data through a small code and back. A VAE makes the
code a distribution: the encoder outputs a mean and a log-variance, a code is
sampled from that Gaussian, and a KL penalty keeps every such Gaussian close
to the prior N(0, I). The payoff: codes drawn from the prior decode to new,
plausible data, and the straight line between two codes decodes to a smooth
path between two data points.

Sampling is not differentiable, so the trick rewrites it: z = mu + sigma *
eps with eps ~ N(0, I) drawn outside the network. For a fixed eps, z is an
ordinary function of mu and log-variance, and the chain rule goes through.

References: Kingma & Welling, "Auto-Encoding Variational Bayes" (2014);
Rezende, Mohamed & Wierstra, "Stochastic Backpropagation and Approximate
Inference in Deep Generative Models" (2014); Higgins et al., "beta-VAE" (2017).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from operator import mul
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "tests" / "data" / "microvae" / "model.json"

# === THE REPARAMETERISATION TRICK ===
#
# q(z | x) = N(mu, diag(exp(logvar))). The encoder predicts logvar, not the
# variance: any real number is a valid log-variance, so no constraint is
# needed, and sigma = exp(0.5 * logvar) is always positive.
#   z = mu + exp(0.5 * logvar) * eps,   eps ~ N(0, I)
# The randomness lives in eps, a constant as far as gradients are concerned:
# for a fixed eps, z is an ordinary function of mu and logvar.
# Signpost: discrete latents cannot be reparameterised this way; they use
# Gumbel-softmax relaxations or score-function (REINFORCE) estimators.


def reparameterize(mu, logvar, eps):
    """Sample z = mu + exp(0.5 * logvar) * eps elementwise; return a new list.

    mu, logvar, eps: equal-length lists of floats (eps standard-normal noise
    drawn by the caller). Raises ValueError naming ``logvar`` or ``eps`` when
    its length differs from mu's.
    """
    # BEGIN SOLUTION
    for name, v in (("logvar", logvar), ("eps", eps)):
        if len(v) != len(mu):
            raise ValueError(f"{name} must have the length of mu ({len(mu)}), got {len(v)}")
    # exp(0.5 * logvar) is the standard deviation: the square root of exp(logvar).
    return [m + math.exp(0.5 * lv) * e for m, lv, e in zip(mu, logvar, eps)]
    # END SOLUTION


# === THE ELBO ===
#
# log p(x) >= E_q[log p(x | z)] - KL(q(z | x) || p(z))        (the ELBO)
# The loss is its negative, with a weight beta on the KL term:
#   loss = recon + beta * KL
#   recon = sum_d (x_d - x_hat_d)^2      (a Gaussian decoder of fixed variance
#                                         1/2, up to a constant)
#   KL = KL(q(z | x) || N(0, I)), in closed form for two Gaussians
# The KL is >= 0 and is 0 only at mu = 0, logvar = 0: only the prior itself
# has no KL cost. beta = 1 is the true ELBO; beta > 1
# (beta-VAE) buys a tidier latent space with blurrier reconstructions, beta < 1
# the reverse.


def kl_divergence(mu, logvar):
    """Closed-form KL(N(mu, diag(exp(logvar))) || N(0, I)), exact (no sampling).

    mu, logvar: equal-length lists of floats, the mean and log-variance of
    each independent dimension of q. Returns a float >= 0, 0 exactly at
    mu = 0, logvar = 0, and never negative from rounding, not even for
    |logvar| ~ 1e-8 (where exp(lv) - 1 - lv cancels: use math.expm1). Raises ValueError naming ``logvar`` when its length
    differs from mu's.
    """
    # BEGIN SOLUTION
    if len(logvar) != len(mu):
        raise ValueError(f"logvar must have the length of mu ({len(mu)}), got {len(logvar)}")
    # Per dimension, E_q[log q(z) - log p(z)] for two 1-D Gaussians:
    #   KL = 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2),  sigma^2 = exp(logvar)
    # Each summand is >= 0 because e^a >= 1 + a, with equality only at a = 0.
    # In floats, exp(lv) - 1.0 - lv cancels for tiny lv and can come out
    # negative (-3e-17 at lv = 1e-8); expm1(lv) is accurate there and, being
    # >= lv even after rounding, keeps every term >= 0.
    return 0.5 * sum(m * m + (math.expm1(lv) - lv) for m, lv in zip(mu, logvar))
    # END SOLUTION


def elbo_loss(x, x_recon, mu, logvar, beta=1.0):
    """The negative ELBO with a KL weight: return (loss, recon, kl), three floats.

    recon = sum_d (x[d] - x_recon[d])^2; kl = kl_divergence(mu, logvar);
    loss = recon + beta * kl. beta: a float >= 0 (it weights the KL term
    only). Raises ValueError naming ``beta`` when negative or NaN,
    ``x_recon`` when its length differs from x's.
    """
    # BEGIN SOLUTION
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    if len(x_recon) != len(x):
        raise ValueError(f"x_recon must have the length of x ({len(x)}), got {len(x_recon)}")
    recon = sum((a - b) ** 2 for a, b in zip(x, x_recon))
    kl = kl_divergence(mu, logvar)
    return recon + beta * kl, recon, kl
    # END SOLUTION


def latent_gradients(mu, logvar, eps, dz, beta=1.0):
    """Gradients of loss = f(z) + beta * KL(mu, logvar) with z = reparameterize(mu, logvar, eps), eps fixed.

    dz: the list df/dz (how the reconstruction loss changes with z, from the
    decoder's backward pass). Returns (dmu, dlogvar), two new lists: the
    partial derivatives of the loss with respect to mu[i] and logvar[i],
    eps held fixed (the path through z plus beta times the KL's own
    gradient; KL as in kl_divergence). Raises ValueError naming ``beta``
    when negative or NaN, and ``logvar``, ``eps`` or ``dz`` when its length
    differs from mu's.
    """
    # BEGIN SOLUTION
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    for name, v in (("logvar", logvar), ("eps", eps), ("dz", dz)):
        if len(v) != len(mu):
            raise ValueError(f"{name} must have the length of mu ({len(mu)}), got {len(v)}")
    # Through z: dz/dmu = 1 and dz/dlogvar = 0.5 sigma eps (chain rule on
    # exp(0.5 lv)); through KL: d/dmu 0.5 mu^2 = mu, d/dlv 0.5 (e^lv - lv) = 0.5 (e^lv - 1).
    dmu = [g + beta * m for g, m in zip(dz, mu)]
    dlogvar = [g * 0.5 * math.exp(0.5 * lv) * e + beta * 0.5 * (math.exp(lv) - 1.0)
               for g, lv, e in zip(dz, logvar, eps)]
    return dmu, dlogvar
    # END SOLUTION


# === ENCODER AND DECODER (provided) ===
#
#   encoder: h = tanh(We x + be);  [mu, logvar] = Wm h + bm   (2 * LATENT outputs)
#   decoder: g = tanh(Wd z + bd);  x_hat = Wo g + bo
# Tiny on purpose: the VAE machinery, not the networks, is the lesson.
# Signpost: image VAEs (and Stable Diffusion's autoencoder) use convolutional
# encoders/decoders and a per-pixel likelihood; the ELBO is the same.

DATA_DIM, LATENT, HIDDEN = 2, 2, 24
PARAM_NAMES = ("We", "be", "Wm", "bm", "Wd", "bd", "Wo", "bo")


def init_params(rng):
    def layer(n_out, n_in, gain=1.0):
        return [[rng.gauss(0, 1) * gain / math.sqrt(n_in) for _ in range(n_in)] for _ in range(n_out)]

    return {"We": layer(HIDDEN, DATA_DIM), "be": [[0.0] * HIDDEN], "Wm": layer(2 * LATENT, HIDDEN, 0.1),
            "bm": [[0.0] * (2 * LATENT)], "Wd": layer(HIDDEN, LATENT), "bd": [[0.0] * HIDDEN],
            "Wo": layer(DATA_DIM, HIDDEN), "bo": [[0.0] * DATA_DIM]}


def dense(W, b, v):
    return [sum(map(mul, row, v)) + c for row, c in zip(W, b[0])]


def encode(params, x):
    """(h, mu, logvar) of the encoder for one point."""
    h = [math.tanh(a) for a in dense(params["We"], params["be"], x)]
    out = dense(params["Wm"], params["bm"], h)
    return h, out[:LATENT], out[LATENT:]


def decode(params, z):
    """(g, x_hat) of the decoder for one latent code."""
    g = [math.tanh(a) for a in dense(params["Wd"], params["bd"], z)]
    return g, dense(params["Wo"], params["bo"], g)


def loss_and_grads(params, batch, beta=1.0):
    """Mean (loss, recon, kl) over a batch of (x, eps) pairs and the gradient of the mean loss.

    Forward: encode, reparameterize, decode, elbo_loss. Backward by hand, with
    latent_gradients carrying the gradient through the sampling step.
    """
    grads = {k: [[0.0] * len(r) for r in v] for k, v in params.items()}
    n = len(batch)
    totals = [0.0, 0.0, 0.0]

    def accumulate(W, b, d, inputs):
        for k, dk in enumerate(d):
            b[0][k] += dk
            row = W[k]
            for i, v in enumerate(inputs):
                row[i] += dk * v

    def back_through(W, d):
        return [sum(d[k] * W[k][i] for k in range(len(d))) for i in range(len(W[0]))]

    for x, eps in batch:
        h, mu, logvar = encode(params, x)
        z = reparameterize(mu, logvar, eps)
        g, x_hat = decode(params, z)
        for i, v in enumerate(elbo_loss(x, x_hat, mu, logvar, beta)):
            totals[i] += v / n
        # recon = sum (x - x_hat)^2  ->  d x_hat = 2 (x_hat - x) / n (mean over the batch)
        d_xhat = [2.0 * (b - a) / n for a, b in zip(x, x_hat)]
        accumulate(grads["Wo"], grads["bo"], d_xhat, g)
        d_g = [dv * (1.0 - gv * gv) for dv, gv in zip(back_through(params["Wo"], d_xhat), g)]
        accumulate(grads["Wd"], grads["bd"], d_g, z)
        dz = back_through(params["Wd"], d_g)
        # The KL term is per example too: scale beta by 1/n like the rest.
        dmu, dlogvar = latent_gradients(mu, logvar, eps, dz, beta / n)
        d_out = dmu + dlogvar
        accumulate(grads["Wm"], grads["bm"], d_out, h)
        d_h = [dv * (1.0 - hv * hv) for dv, hv in zip(back_through(params["Wm"], d_out), h)]
        accumulate(grads["We"], grads["be"], d_h, x)
    return totals[0], totals[1], totals[2], grads


# === LATENT SPACE: INTERPOLATION AND GENERATION ===
#
# Interpolating the codes and decoding shows what the decoder does between
# two data points: for points the encoder placed close together the path
# stays on the data. A ring is a closed curve, though: its codes form a
# closed loop too, and the straight line between the codes of two opposite
# points crosses the inside of that loop, where no data point was encoded.
# The demo's path from (2.5, 0) to (-2.5, 0) duly passes near the centre;
# image VAEs show the same thing as blurry in-between images. The means
# are used, not samples: interpolation is about the map, not its noise.


def interpolate(params, x_a, x_b, steps):
    """Decode ``steps`` evenly spaced codes on the line from mu(x_a) to mu(x_b), both ends included.

    mu(x) is the encoder mean (encode(params, x)[1]); code s is
    mu_a + (mu_b - mu_a) * s / (steps - 1) for s = 0..steps-1, decoded with
    decode(params, z)[1]. Returns a list of ``steps`` points. Raises
    ValueError naming ``steps`` unless it is an int >= 2, ``x_b`` when its
    length differs from x_a's.
    """
    # BEGIN SOLUTION
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
    if len(x_b) != len(x_a):
        raise ValueError(f"x_b must have the length of x_a ({len(x_a)}), got {len(x_b)}")
    mu_a, mu_b = encode(params, x_a)[1], encode(params, x_b)[1]
    path = []
    for s in range(steps):
        w = s / (steps - 1)
        path.append(decode(params, [a + (b - a) * w for a, b in zip(mu_a, mu_b)])[1])
    return path
    # END SOLUTION


def sample_prior(params, n, rng):
    """Generate n points: for each, z = [rng.gauss(0, 1) for each of LATENT dims], return decode(params, z)[1].

    Raises ValueError naming ``n`` unless it is a positive int.
    """
    # BEGIN SOLUTION
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    # The KL term is what makes this work: it kept every q(z | x) near N(0, I),
    # so prior draws land where the decoder was trained.
    return [decode(params, [rng.gauss(0, 1) for _ in range(LATENT)])[1] for _ in range(n)]
    # END SOLUTION


# === DATA AND TRAINING (provided) ===


def make_ring(n, seed=0):
    """n points on a noisy ring of radius 2.5 (a 1-D curve in 2-D)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = rng.uniform(0, 2 * math.pi)
        r = 2.5 + rng.gauss(0, 0.12)
        out.append([r * math.cos(a), r * math.sin(a)])
    return out


N_DATA, DATA_SEED = 600, 0
STEPS, BATCH, LEARNING_RATE, TRAIN_SEED, BETA = 1500, 16, 0.01, 42, 1.0


def evaluate(params, data, beta=BETA, seed=123):
    """Mean (loss, recon, kl) over the data with eps from a fixed seed."""
    rng = random.Random(seed)
    batch = [(x, [rng.gauss(0, 1) for _ in range(LATENT)]) for x in data]
    return loss_and_grads(params, batch, beta)[:3]


def train(steps=STEPS, seed=TRAIN_SEED, beta=BETA, log=None):
    """Adam on random minibatches; returns (initial params, trained params, history of (step, recon, kl))."""
    rng = random.Random(seed)
    data = make_ring(N_DATA, DATA_SEED)
    params = init_params(rng)
    initial = json.loads(json.dumps(params))
    m = {k: [[0.0] * len(r) for r in v] for k, v in params.items()}
    v2 = {k: [[0.0] * len(r) for r in v] for k, v in params.items()}
    history = []
    for step in range(1, steps + 1):
        batch = [(data[rng.randrange(N_DATA)], [rng.gauss(0, 1) for _ in range(LATENT)]) for _ in range(BATCH)]
        loss, recon, kl, grads = loss_and_grads(params, batch, beta)
        lr = LEARNING_RATE * (1.0 - (step - 1) / steps)
        c1, c2 = 1.0 - 0.9 ** step, 1.0 - 0.999 ** step
        for key in PARAM_NAMES:
            for p_row, g_row, m_row, v_row in zip(params[key], grads[key], m[key], v2[key]):
                for i, g in enumerate(g_row):
                    m_row[i] = 0.9 * m_row[i] + 0.1 * g
                    v_row[i] = 0.999 * v_row[i] + 0.001 * g * g
                    p_row[i] -= lr * (m_row[i] / c1) / (math.sqrt(v_row[i] / c2) + 1e-8)
        if step == 1 or step % 250 == 0:
            history.append((step, recon, kl))
            if log:
                log(f"   step {step:>5}/{steps}  loss {loss:8.4f}  recon {recon:8.4f}  kl {kl:7.4f}")
    return initial, params, history


# === CHECKPOINT (tests/data/microvae/model.json) ===
#
#   python solutions/microvae/microvae.py --train-checkpoint tests/data/microvae/model.json
# Holds the initial and the trained parameters; a slow test re-runs the
# command and checks the file is reproduced.

COMMAND = "python solutions/microvae/microvae.py --train-checkpoint tests/data/microvae/model.json"


def write_checkpoint(initial, params, path):
    head = {"format": "microvae-v1", "command": COMMAND,
            "config": {"data_dim": DATA_DIM, "latent": LATENT, "hidden": HIDDEN},
            "data": {"n": N_DATA, "seed": DATA_SEED},
            "training": {"steps": STEPS, "batch": BATCH, "learning_rate": LEARNING_RATE, "seed": TRAIN_SEED,
                         "beta": BETA},
            "layout": "h = tanh(We x + be); [mu, logvar] = Wm h + bm; g = tanh(Wd z + bd); x_hat = Wo g + bo"}
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    for which, p in (("initial", initial), ("params", params)):
        lines.append(f"  {json.dumps(which)}: {{")
        for i, name in enumerate(PARAM_NAMES):
            lines.append(f"    {json.dumps(name)}: {json.dumps(p[name])}" + ("," if i < len(PARAM_NAMES) - 1 else ""))
        lines.append("  }" + ("," if which == "initial" else ""))
    lines.append("}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# === DEMONSTRATION ===


def scatter(points, width=30, height=15, box=3.5):
    grid = [[0] * width for _ in range(height)]
    for x, y in points:
        c, r = int((x + box) / (2 * box) * width), int((box - y) / (2 * box) * height)
        if 0 <= c < width and 0 <= r < height:
            grid[r][c] += 1
    return ["".join(" .:*#"[min(4, v)] for v in row) for row in grid]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--train-checkpoint", metavar="PATH", help="train the VAE and write its checkpoint")
    args = parser.parse_args(argv)
    random.seed(42)

    if args.train_checkpoint:
        start = time.time()
        initial, params, _ = train(log=print)
        write_checkpoint(initial, params, args.train_checkpoint)
        print(f"wrote {args.train_checkpoint} in {time.time() - start:.1f}s")
        return

    data = make_ring(N_DATA, DATA_SEED)
    print("1. The reparameterisation trick, by hand")
    mu, logvar, eps = [0.4, -1.1], [-0.7, 0.3], [1.2, -0.5]
    print(f"   mu {mu}  logvar {logvar}  eps {eps}")
    print(f"   z = mu + exp(0.5 logvar) eps = {[round(v, 4) for v in reparameterize(mu, logvar, eps)]}")
    print(f"   KL(q || N(0, I)) = {kl_divergence(mu, logvar):.4f}   (0 only at mu = 0, logvar = 0:"
          f" {kl_divergence([0.0, 0.0], [0.0, 0.0])})\n")

    print(f"2. Training on {N_DATA} points of a noisy ring ({STEPS} Adam steps, batch {BATCH}, beta {BETA})")
    start = time.time()
    initial, params, history = train(log=print)
    print(f"   trained in {time.time() - start:.1f}s")
    _, r0, k0 = evaluate(initial, data)
    _, r1, k1 = evaluate(params, data)
    print(f"   full data: recon {r0:.4f} -> {r1:.4f} (falls: {'yes' if r1 < r0 else 'NO'});"
          f" KL {k0:.4f} -> {k1:.4f} (positive and finite: {'yes' if 0 < k1 < float('inf') else 'NO'})\n")

    print("3. beta weights only the KL term (the trained model, same data, same eps); training with a larger\n"
          "   beta would trade reconstruction for codes closer to the prior")
    for beta in (0.0, 1.0, 4.0):
        loss, recon, kl = evaluate(params, data, beta)
        print(f"   beta {beta:>3}: loss {loss:8.4f} = recon {recon:.4f} + {beta} * KL {kl:.4f}")
    print()

    rng = random.Random(5)
    generated = sample_prior(params, 300, rng)
    print("4. Data vs 300 decoded prior samples z ~ N(0, I)")
    for a, b in zip(scatter(data[:300]), scatter(generated)):
        print(f"   |{a}|   |{b}|")
    radii = [math.hypot(*p) for p in generated]
    print(f"   generated radius: mean {sum(radii) / len(radii):.3f} (data 2.5)\n")

    print("5. Latent interpolation (7 decoded codes per path; the data ring has radius 2.5)")
    near = [2.5 * math.cos(0.6), 2.5 * math.sin(0.6)]
    for label, x_b in (("to a nearby point (0.6 rad along the ring)", near), ("to the opposite point", [-2.5, 0.0])):
        path = interpolate(params, [2.5, 0.0], x_b, 7)
        print(f"   (+2.5, +0.0) {label}:")
        print("     " + "  ".join(f"({x:+.2f}, {y:+.2f})" for x, y in path))
        print("     radius " + "  ".join(f"{math.hypot(x, y):.2f}" for x, y in path))
    print("   nearby codes decode to a smooth walk along the ring; the straight line between opposite\n"
          "   codes crosses the inside of the loop the ring's codes form, and its decoding cuts the hole")


if __name__ == "__main__":
    main(sys.argv[1:])
