"""Graded tests for microvae: reparameterisation, closed-form KL, ELBO with beta, gradients, latent space.

The closed-form KL is compared with a Monte-Carlo estimate of
E_q[log q(z) - log p(z)] drawn here (seeded, 10000 draws, tolerance 5
standard errors); it is 0 at the prior and positive anywhere else. The
reparameterised gradients are compared with central finite differences of
the loss for a fixed eps. beta must scale the KL term and nothing else.

The model tests load tests/data/microvae/model.json (initial and trained
parameters), made by

    python solutions/microvae/microvae.py --train-checkpoint tests/data/microvae/model.json

and run them with the encoder/decoder written below from the documented layout.
"""

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, call_each

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "tests" / "data" / "microvae" / "model.json"


# === the independent spec ===


def spec_kl(mu, logvar):
    return math.fsum(0.5 * (m * m + math.exp(lv) - 1 - lv) for m, lv in zip(mu, logvar))


def log_normal(z, mean, var):
    return -0.5 * (math.log(2 * math.pi * var) + (z - mean) ** 2 / var)


def checkpoint():
    return json.loads(CHECKPOINT.read_text())


def spec_dense(W, b, v):
    return [math.fsum(w * a for w, a in zip(row, v)) + c for row, c in zip(W, b[0])]


def spec_encode(p, x, latent):
    h = [math.tanh(a) for a in spec_dense(p["We"], p["be"], x)]
    out = spec_dense(p["Wm"], p["bm"], h)
    return out[:latent], out[latent:]


def spec_decode(p, z):
    return spec_dense(p["Wo"], p["bo"], [math.tanh(a) for a in spec_dense(p["Wd"], p["bd"], z)])


def ring(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = rng.uniform(0, 2 * math.pi)
        r = 2.5 + rng.gauss(0, 0.12)
        out.append([r * math.cos(a), r * math.sin(a)])
    return out


MU = [0.4, -1.1, 0.05]
LOGVAR = [-0.7, 0.3, 1.2]
EPS = [1.2, -0.5, 0.8]


# === reparameterize ===


@pytest.mark.task("reparameterize")
def test_reparameterize_closed_form(kata):
    rng = random.Random(2)
    for n in (1, 3, 5):
        mu = [rng.uniform(-2, 2) for _ in range(n)]
        lv = [rng.uniform(-3, 2) for _ in range(n)]
        eps = [rng.gauss(0, 1) for _ in range(n)]
        args = (list(mu), list(lv), list(eps))
        assert_close(list(kata.reparameterize(*args)), [m + math.exp(0.5 * v) * e for m, v, e in zip(mu, lv, eps)],
                     1e-12, f"reparameterize({n}-dim)", hint="the standard deviation is exp(0.5 * logvar), not exp(logvar)")
        assert_equal(args, (mu, lv, eps), f"reparameterize({n}-dim): mu, logvar, eps afterwards (must not change)")


@pytest.mark.task("reparameterize")
def test_reparameterized_samples_have_the_right_moments(kata):
    rng = random.Random(9)
    mu, lv, n = [0.7, -1.2], [-1.0, 0.6], 4000
    zs = call_each(kata.reparameterize, [(mu, lv, [rng.gauss(0, 1), rng.gauss(0, 1)]) for _ in range(n)])
    for d in range(2):
        mean = sum(z[d] for z in zs) / n
        var = sum((z[d] - mean) ** 2 for z in zs) / n
        sd = math.exp(0.5 * lv[d])
        # Standard errors: sd / sqrt(n) for the mean, ~ var * sqrt(2 / n) for the variance; 5 of each.
        if abs(mean - mu[d]) > 5 * sd / math.sqrt(n) or abs(var - sd * sd) > 5 * sd * sd * math.sqrt(2 / n):
            raise Mismatch(f"reparameterize: coordinate {d} of 4000 samples has mean {mean:.4f} and variance"
                           f" {var:.4f}; expected {mu[d]} and exp(logvar) = {sd * sd:.4f}")


@pytest.mark.task("reparameterize")
@pytest.mark.parametrize("which", ["logvar", "eps"])
def test_reparameterize_rejects_mismatched_dimensions(kata, which):
    args = {"mu": [0.1, 0.2], "logvar": [0.0, 0.0], "eps": [1.0, 1.0]}
    args[which] = [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=rf"\b{which}\b"):
        kata.reparameterize(**args)


# === kl_divergence ===


@pytest.mark.task("kl_divergence")
def test_kl_closed_form(kata):
    assert_close(kata.kl_divergence(MU, LOGVAR), spec_kl(MU, LOGVAR), 1e-12, "kl_divergence(3-dim)",
                 hint="0.5 * sum(mu^2 + exp(logvar) - 1 - logvar)")
    assert_close(kata.kl_divergence([2.0], [-4.0]), spec_kl([2.0], [-4.0]), 1e-12, "kl_divergence([2.0], [-4.0])")


@pytest.mark.task("kl_divergence")
def test_kl_equals_a_monte_carlo_estimate(kata):
    rng = random.Random(17)
    n = 10000
    samples = []
    for _ in range(n):
        total = 0.0
        for m, lv in zip(MU, LOGVAR):
            z = m + math.exp(0.5 * lv) * rng.gauss(0, 1)
            total += log_normal(z, m, math.exp(lv)) - log_normal(z, 0.0, 1.0)
        samples.append(total)
    mc = sum(samples) / n
    se = math.sqrt(sum((s - mc) ** 2 for s in samples) / (n - 1) / n)
    kl = kata.kl_divergence(MU, LOGVAR)
    if abs(kl - mc) > 5 * se:
        raise Mismatch(f"kl_divergence(MU, LOGVAR) = {kl!r}, but a Monte-Carlo estimate of E_q[log q - log p] with"
                       f" {n} draws (seed 17) is {mc:.5f} +- {se:.5f}; they differ by more than 5 standard errors")


@pytest.mark.task("kl_divergence")
def test_kl_is_zero_only_at_the_prior(kata):
    assert_close(kata.kl_divergence([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]), 0.0, 1e-15, "kl_divergence at the prior")
    for mu, lv in [([1e-3, 0, 0], [0, 0, 0]), ([0, 0, 0], [0, -1e-2, 0]), ([0, 0, 0], [0, 0, 0.05]),
                   ([-0.3, 0, 0], [0, 0, 0]), ([0, 0], [2.0, -2.0])]:
        kl = kata.kl_divergence(mu, lv)
        if not kl > 0:
            raise Mismatch(f"kl_divergence({mu}, {lv}) = {kl!r}; away from the prior the KL is strictly positive"
                           "\n  hint: each term mu^2 + exp(lv) - 1 - lv is > 0 unless mu = lv = 0")


@pytest.mark.task("kl_divergence")
def test_kl_is_never_negative_near_the_prior(kata):
    # exp(lv) - 1 - lv cancels catastrophically here: -3.0e-17 at lv = 1e-8, -1.5e-17 at 5e-9
    for lv in [1e-8, -3e-9, 5e-9, -7e-9, 2e-8, -1e-8, 1e-12]:
        kl = kata.kl_divergence([0.0, 0.0], [lv, 0.0])
        if not kl >= 0:
            raise Mismatch(f"kl_divergence([0.0, 0.0], [{lv!r}, 0.0]) = {kl!r}; a KL is never negative"
                           "\n  hint: exp(lv) - 1 - lv loses everything to rounding for tiny lv; math.expm1(lv) - lv"
                           " keeps the term >= 0")
    assert_close(kata.kl_divergence([0.0], [40.0]), spec_kl([0.0], [40.0]), 1e-12 * math.exp(40.0),
                 "kl_divergence([0.0], [40.0])", hint="exp(40) = 2.35e17: no clipping of logvar")
    assert_close(kata.kl_divergence([0.0], [-40.0]), 19.5, 1e-12, "kl_divergence([0.0], [-40.0])",
                 hint="0.5 * (exp(-40) - 1 + 40) = 19.5")


@pytest.mark.task("kl_divergence")
def test_kl_rejects_mismatched_dimensions(kata):
    with pytest.raises(ValueError, match="logvar"):
        kata.kl_divergence([0.1, 0.2], [0.0])


# === elbo_loss ===


@pytest.mark.task("elbo_loss")
@pytest.mark.parametrize("beta", [0.0, 0.25, 1.0, 3.5])
def test_elbo_closed_form_and_beta_scales_only_kl(kata, beta):
    x, x_hat = [1.5, -0.2, 0.7], [1.1, 0.3, 0.75]
    recon = math.fsum((a - b) ** 2 for a, b in zip(x, x_hat))
    kl = spec_kl(MU, LOGVAR)
    loss, got_recon, got_kl = kata.elbo_loss(x, x_hat, MU, LOGVAR, beta)
    assert_close(got_recon, recon, 1e-12, f"elbo_loss(beta={beta}) recon", hint="sum of squared errors")
    assert_close(got_kl, kl, 1e-12, f"elbo_loss(beta={beta}) kl", hint="the unweighted KL: beta is applied in the loss")
    assert_close(loss, recon + beta * kl, 1e-12, f"elbo_loss(beta={beta}) loss", hint="recon + beta * kl")


@pytest.mark.task("elbo_loss")
@pytest.mark.parametrize("args, bad", [
    (([1.0, 2.0], [1.0, 2.0], [0.0], [0.0], -0.5), "beta"),
    (([1.0, 2.0], [1.0], [0.0], [0.0], 1.0), "x_recon"),
    (([1.0, 2.0], [1.0, 2.0], [0.0], [0.0], float("nan")), "beta"),
    (([], [], [], [], -0.5), "beta"),
    (([1.0, 2.0], [1.0, 2.0, 3.0], [0.0], [0.0], 1.0), "x_recon"),
], ids=["beta<0", "x_recon length", "beta=nan", "beta<0-empty", "x_recon too long"])
def test_elbo_rejects_bad_arguments(kata, args, bad):
    with pytest.raises(ValueError, match=rf"\b{bad}\b"):
        kata.elbo_loss(*args)


# === latent_gradients ===


def f_of_z(z):
    """A stand-in reconstruction loss of z with a known gradient."""
    return math.fsum(c * v + 0.5 * v ** 3 for c, v in zip([0.3, -1.1, 0.7], z))


def df_dz(z):
    return [c + 1.5 * v * v for c, v in zip([0.3, -1.1, 0.7], z)]


@pytest.mark.task("latent_gradients")
@pytest.mark.parametrize("beta", [0.0, 1.0, 2.5])
def test_latent_gradients_equal_finite_differences(kata, beta):
    def total(mu, lv):
        z = [m + math.exp(0.5 * v) * e for m, v, e in zip(mu, lv, EPS)]
        return f_of_z(z) + beta * spec_kl(mu, lv)

    z = [m + math.exp(0.5 * v) * e for m, v, e in zip(MU, LOGVAR, EPS)]
    args = (list(MU), list(LOGVAR), list(EPS), df_dz(z))
    dmu, dlv = kata.latent_gradients(*args, beta)
    assert_equal(args, (MU, LOGVAR, EPS, df_dz(z)), "latent_gradients: its inputs afterwards (must not change)")
    h = 1e-6
    for name, vec, got in (("dmu", MU, dmu), ("dlogvar", LOGVAR, dlv)):
        fd = []
        for i in range(len(vec)):
            up, down = list(vec), list(vec)
            up[i] += h
            down[i] -= h
            args_up = (up, LOGVAR) if name == "dmu" else (MU, up)
            args_down = (down, LOGVAR) if name == "dmu" else (MU, down)
            fd.append((total(*args_up) - total(*args_down)) / (2 * h))
        assert_close(list(got), fd, 1e-6, f"latent_gradients(beta={beta}) {name} vs central finite differences",
                     hint="through z: dz/dmu = 1, dz/dlogvar = 0.5 exp(0.5 logvar) eps; plus beta times the KL gradient")


@pytest.mark.task("latent_gradients")
def test_beta_scales_only_the_kl_gradient(kata):
    dz = [0.4, -0.9, 1.3]
    base_mu, base_lv = kata.latent_gradients(MU, LOGVAR, EPS, dz, 0.0)
    assert_close([list(base_mu), list(base_lv)],
                 [dz, [g * 0.5 * math.exp(0.5 * v) * e for g, v, e in zip(dz, LOGVAR, EPS)]], 1e-12,
                 "latent_gradients(beta=0): only the path through z")
    for beta in (0.5, 3.0):
        dmu, dlv = kata.latent_gradients(MU, LOGVAR, EPS, dz, beta)
        assert_close([a - b for a, b in zip(dmu, base_mu)], [beta * m for m in MU], 1e-12,
                     f"latent_gradients(beta={beta}) - latent_gradients(beta=0), dmu", hint="d KL / d mu = mu, times beta")
        assert_close([a - b for a, b in zip(dlv, base_lv)], [beta * 0.5 * (math.exp(v) - 1) for v in LOGVAR], 1e-12,
                     f"latent_gradients(beta={beta}) - latent_gradients(beta=0), dlogvar",
                     hint="d KL / d logvar = 0.5 (exp(logvar) - 1), times beta")


@pytest.mark.task("latent_gradients")
def test_network_gradients_equal_finite_differences(kata):
    """The full VAE (provided backward + your latent_gradients) against finite differences, eps fixed."""
    params = checkpoint()["params"]
    rng = random.Random(4)
    batch = [([rng.uniform(-3, 3), rng.uniform(-3, 3)], [rng.gauss(0, 1), rng.gauss(0, 1)]) for _ in range(3)]
    beta = 1.7
    _, _, _, grads = kata.loss_and_grads(params, batch, beta)

    def loss(p):
        total = 0.0
        for x, eps in batch:
            mu, lv = spec_encode(p, x, 2)
            z = [m + math.exp(0.5 * v) * e for m, v, e in zip(mu, lv, eps)]
            total += math.fsum((a - b) ** 2 for a, b in zip(x, spec_decode(p, z))) + beta * spec_kl(mu, lv)
        return total / len(batch)

    h = 1e-6
    for name, r, c in [("Wm", 0, 3), ("Wm", 2, 5), ("Wm", 3, 0), ("bm", 0, 1), ("bm", 0, 3), ("We", 4, 1),
                       ("be", 0, 7), ("Wd", 2, 1), ("Wo", 1, 6)]:
        p = json.loads(json.dumps(params))
        p[name][r][c] += h
        up = loss(p)
        p[name][r][c] -= 2 * h
        fd = (up - loss(p)) / (2 * h)
        assert_close(grads[name][r][c], fd, 1e-5 * max(1.0, abs(fd)), f"d loss / d {name}[{r}][{c}] (beta {beta})",
                     hint="mu's and logvar's gradients come from latent_gradients: check both paths")


@pytest.mark.task("latent_gradients")
@pytest.mark.parametrize("which, value", [("beta", -1.0), ("beta", float("nan")), ("logvar", [0.0]), ("eps", [0.0]),
                                          ("dz", [0.0]), ("logvar", [0.0, 0.1, 0.2]), ("eps", [1.0, -1.0, 0.0]),
                                          ("dz", [0.5, 0.5, 0.5])],
                         ids=["beta<0", "beta=nan", "logvar short", "eps short", "dz short", "logvar long", "eps long",
                              "dz long"])
def test_latent_gradients_reject_bad_arguments(kata, which, value):
    args = {"mu": [0.1, 0.2], "logvar": [0.0, 0.1], "eps": [1.0, -1.0], "dz": [0.5, 0.5], "beta": 1.0}
    args[which] = value
    with pytest.raises(ValueError, match=rf"\b{which}\b"):
        kata.latent_gradients(**args)


# === the checkpoint: reconstruction falls, KL positive and finite ===


@pytest.mark.task("elbo_loss")
def test_checkpoint_reconstruction_falls_and_kl_stays_positive(kata):
    ck = checkpoint()
    data = ring(60, 3)
    rng = random.Random(6)
    eps_list = [[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in data]
    results = {}
    for which in ("initial", "params"):
        p = ck[which]
        recon = kl = 0.0
        for x, eps in zip(data, eps_list):
            mu, lv = spec_encode(p, x, 2)
            z = [m + math.exp(0.5 * v) * e for m, v, e in zip(mu, lv, eps)]
            _, r, k = kata.elbo_loss(x, spec_decode(p, z), mu, lv, 1.0)
            recon, kl = recon + r / len(data), kl + k / len(data)
        results[which] = (recon, kl)
    (r0, _), (r1, k1) = results["initial"], results["params"]
    assert r1 < 0.5 * r0, f"reconstruction error {r0:.3f} at initialisation, {r1:.3f} after training: it must fall"
    assert 0 < k1 < 100 and math.isfinite(k1), f"trained KL is {k1!r}: it must stay positive and finite"


# === interpolate and sample_prior ===


@pytest.mark.task("interpolate")
@pytest.mark.parametrize("steps", [2, 3, 7])
def test_interpolate_decodes_the_line_between_means(kata, steps):
    p = checkpoint()["params"]
    a, b = [2.4, 0.3], [-1.0, -2.2]
    mu_a, mu_b = spec_encode(p, a, 2)[0], spec_encode(p, b, 2)[0]
    expected = [spec_decode(p, [u + (v - u) * s / (steps - 1) for u, v in zip(mu_a, mu_b)]) for s in range(steps)]
    assert_close([list(q) for q in kata.interpolate(p, a, b, steps)], expected, 1e-9, f"interpolate(steps={steps})",
                 hint="interpolate the encoder MEANS (no sampling), both ends included, then decode each code")


@pytest.mark.task("interpolate")
@pytest.mark.parametrize("args, bad", [(([1.0, 0.0], [0.0, 1.0], 1), "steps"), (([1.0, 0.0], [0.0, 1.0], 0), "steps"),
                                       (([1.0, 0.0], [0.0, 1.0], 3.0), "steps"),
                                       (([1.0, 0.0], [0.0, 1.0], 2.5), "steps"),
                                       (([1.0, 0.0], [0.0, 1.0], True), "steps"),
                                       (([1.0, 0.0], [0.0, 1.0], float("nan")), "steps"),
                                       (([1.0, 0.0], [0.0, 1.0, 2.0], 4), "x_b"),
                                       (([1.0, 0.0], [0.0], 4), "x_b")],
                         ids=["steps=1", "steps=0", "steps=3.0", "steps=2.5", "steps=True", "steps=nan", "x_b dim",
                              "x_b short"])
def test_interpolate_rejects_bad_arguments(kata, args, bad):
    with pytest.raises(ValueError, match=rf"\b{bad}\b"):
        kata.interpolate(checkpoint()["params"], *args)


@pytest.mark.task("sample_prior")
def test_sample_prior_decodes_prior_draws(kata):
    p = checkpoint()["params"]
    rng = random.Random(31)
    expected = [spec_decode(p, [rng.gauss(0, 1), rng.gauss(0, 1)]) for _ in range(5)]
    assert_close([list(q) for q in kata.sample_prior(p, 5, random.Random(31))], expected, 1e-9,
                 "sample_prior(checkpoint, 5, seed 31)", hint="z = [rng.gauss(0, 1) per latent dim], then decode")
    for n in (0, -3, 2.0, 2.5, True, float("nan")):
        with pytest.raises(ValueError, match=r"\bn\b"):  # n as a word: "must" does not name it
            kata.sample_prior(p, n, random.Random(0))
    rng = random.Random(5)
    expected_one = [spec_decode(p, [rng.gauss(0, 1), rng.gauss(0, 1)])]
    assert_close([list(q) for q in kata.sample_prior(p, 1, random.Random(5))], expected_one, 1e-9,
                 "sample_prior(checkpoint, 1, seed 5)", hint="n = 1 is a positive int: one sample, no error")


@pytest.mark.task("sample_prior")
def test_prior_samples_resemble_the_ring(kata):
    p = checkpoint()["params"]
    radii = [math.hypot(*q) for q in kata.sample_prior(p, 200, random.Random(8))]
    mean = sum(radii) / len(radii)
    assert 1.5 < mean < 3.5, f"decoded prior samples have mean radius {mean:.3f}; the data ring has radius 2.5"


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.task("latent_gradients")
def test_regenerated_checkpoint_reproduces_the_shipped_one(kata, tmp_path):
    out = tmp_path / "model.json"
    done = subprocess.run([sys.executable, kata.__file__, "--train-checkpoint", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, f"--train-checkpoint failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    fresh, shipped = json.loads(out.read_text()), checkpoint()
    assert_equal({k: v for k, v in fresh.items() if k not in ("params", "initial")},
                 {k: v for k, v in shipped.items() if k not in ("params", "initial")}, "checkpoint metadata")
    for which in ("initial", "params"):
        for name, W in shipped[which].items():
            assert_close(fresh[which][name], W, 1e-6, f"regenerated {which} tensor {name}")
