"""
Decoding strategies, side by side: one language model, many ways to turn its
next-token distribution into text. Greedy takes the argmax; temperature, top-k
and top-p reshape the distribution before sampling; beam search keeps several
hypotheses alive and scores whole sequences; speculative decoding lets a small
draft model guess a few tokens that a large target model checks in one pass,
and a rejection-sampling rule keeps the output distributed exactly as the
target's.

Every decoder here is model-agnostic. A MODEL is any callable
    model(prefix: list[int]) -> list[float]
that maps the tokens so far to the LOGITS of the next token (one float per
vocabulary entry; -inf is allowed and means probability 0). Logits, not
probabilities, because temperature divides logits; softmax comes after.

The shipped models are two character n-grams trained on names (a bigram
draft, a trigram target that backs off to it): training an n-gram is
counting, so the checkpoint regenerates exactly in well under a second.
Nothing in the decoders knows that; a transformer would plug in unchanged.

References: Holtzman et al., "The Curious Case of Neural Text Degeneration"
(2020) for nucleus (top-p) sampling; Leviathan, Kalman and Matias, "Fast
Inference from Transformers via Speculative Decoding" (2023) and Chen et al.,
"Accelerating Large Language Model Decoding with Speculative Sampling" (2023)
for the modified rejection sampling.

Run `python solutions/microbeam/microbeam.py` for the demonstration and
`python solutions/microbeam/microbeam.py --train` to regenerate the shipped
checkpoint tests/data/microbeam/ngram_models.json from data/names.txt.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

# Kata skeleton generated from solutions/microbeam/microbeam.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microbeam`; stuck? `python -m workbook hint microbeam`.
from workbook import KataTodo

# === PROVIDED HELPERS ===
#
# Two tiny utilities every decoder needs. They are not tasks: the interesting
# decisions (ties, filtering, renormalising) live in the functions below.


def log_softmax(logits: list[float]) -> list[float]:
    """Stable log-softmax: log p_i = x_i - m - log(sum_j exp(x_j - m)), m = max(x).

    Subtracting the max keeps every exp() <= 1 (logits of 1e3 do not
    overflow); -inf logits give -inf log-probabilities.
    """
    peak = max(logits)
    if peak == -math.inf:
        raise ValueError("logits are all -inf: the model gives no token any probability")
    log_total = math.log(sum(math.exp(x - peak) for x in logits))
    return [x - peak - log_total for x in logits]


def argmax(values: list[float]) -> int:
    """Index of the largest value; ties go to the LOWEST index (the convention everywhere here)."""
    best = 0
    for index, value in enumerate(values):
        if value > values[best]:
            best = index
    return best


def ranked(probs: list[float]) -> list[int]:
    """Token ids ordered by probability, highest first; equal probabilities keep id order.

    This is the ranking both filters below use, so ties are broken the same
    way everywhere: between two equally likely tokens the lower id ranks first.
    """
    return sorted(range(len(probs)), key=lambda token: -probs[token])


def check_length(max_new_tokens) -> None:
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")


# === GREEDY DECODING ===
#
# Pick the single most likely token, append it, repeat. Cheap and
# deterministic, but myopic: the best first token can lead into a region where
# every continuation is unlikely, so the whole sequence scores lower than one
# that started with the runner-up. Beam search (below) looks further ahead.
#
# Conventions shared by all the decoders in this file:
#   * the model sees prompt + the tokens generated so far;
#   * only the NEW tokens are returned, never the prompt;
#   * generation stops after max_new_tokens tokens, or right after end_token
#     is generated (end_token is then the last returned token).


def greedy_decode(model, prompt: list[int], max_new_tokens: int, end_token: int) -> list[int]:
    """Generate by always taking the most likely next token (ties: lowest id, see ``argmax``).

    model: callable prefix -> logits. prompt: the tokens to continue.
    Returns the generated tokens (not the prompt): at most max_new_tokens of
    them, ending with end_token if it was generated. Raises ValueError
    naming max_new_tokens unless it is an int >= 0 (a bool or a float is
    refused).
    """
    raise KataTodo('microbeam.greedy_decode: Generate by always taking the most likely next token (ties: lowest id, see ``argmax``).')


# === TEMPERATURE ===
#
# p_i = exp(x_i / T) / sum_j exp(x_j / T). The temperature divides the
# LOGITS, before the softmax. T < 1 sharpens the distribution (T -> 0 is
# greedy), T > 1 flattens it (T -> inf is uniform). Dividing probabilities by
# T after the softmax does nothing useful: it only breaks the sum-to-one.
# Intuition: logits are log-odds; scaling them by 1/T raises every
# probability to the power 1/T before renormalising, p_i^(1/T) / Z.


def softmax_with_temperature(logits: list[float], temperature: float = 1.0) -> list[float]:
    """Return softmax(logits / temperature) as a list of probabilities summing to 1.

    Stable for logits of any size (subtract the max); -inf logits get
    probability 0. Raises ValueError naming temperature unless it is > 0
    (NaN is not).
    """
    raise KataTodo('microbeam.softmax_with_temperature: Return softmax(logits / temperature) as a list of probabilities summing to 1.')


# === TOP-K AND TOP-P FILTERS ===
#
# Both filters cut off the long tail of unlikely tokens (each individually
# rare, together often 10-30 % of the mass, and the source of gibberish), then
# RENORMALISE what is left so it sums to 1 again. Both rank tokens with
# ``ranked``: probability descending, ties by lower token id.
#
#   top-k: keep the first k tokens of the ranking. Exactly k, even when the
#          k-th and (k+1)-th are tied (the lower id wins).
#   top-p: keep the SHORTEST prefix of the ranking whose total mass is >= p
#          (the "nucleus"). The token that carries the running sum across p
#          is kept; a tie with the last kept token is broken by id, like top-k.
#
# Example, probs [0.1, 0.4, 0.2, 0.3] (ranking 1, 3, 2, 0): top-k with k = 2
# keeps tokens {1, 3}; top-p with p = 0.75 needs 0.4 + 0.3 + 0.2 = 0.9 >= 0.75,
# so it keeps {1, 3, 2}. The cut adapts: a confident model keeps 1-2 tokens, an
# unsure one keeps dozens, which fixed-k cannot do.
# Signpost: Hugging Face's TopKLogitsWarper keeps every token tied with the
# k-th value, and sort-based top-p in PyTorch breaks ties in whatever order
# the sort leaves them; here ties always go to the lower id, so the result is
# reproducible exactly.


def top_k_filter(probs: list[float], k: int) -> list[float]:
    """Keep the k most likely tokens (ties: lower id first), zero the rest, renormalise.

    probs: a distribution (non-negative, sums to 1). k >= len(probs) keeps
    everything. Returns a new list of the same length summing to 1. Raises
    ValueError naming k unless k is an int >= 1 (a bool or a float is
    refused).
    """
    raise KataTodo('microbeam.top_k_filter: Keep the k most likely tokens (ties: lower id first), zero the rest, renormalise.')


def top_p_filter(probs: list[float], p: float) -> list[float]:
    """Keep the shortest prefix of the ranking with mass >= p (the nucleus), zero the rest, renormalise.

    Ranking: probability descending, ties by lower id (see ``ranked``); the
    running mass is summed in ranking order, and the token that brings it to
    >= p is kept. If rounding keeps the total below p, everything is kept.
    Returns a new list summing to 1. Raises ValueError naming p unless
    0 < p <= 1 (NaN is not).
    """
    raise KataTodo('microbeam.top_p_filter: Keep the shortest prefix of the ranking with mass >= p (the nucleus), zero the rest, renormalise.')


# === SAMPLING ===
#
# Inverse-CDF sampling: draw u uniform in [0, 1) and walk the cumulative sum
# c_i = p_0 + ... + p_i; the first i with u < c_i is the sample. Token i wins
# exactly when u lands in [c_{i-1}, c_i), an interval of length p_i. A token
# with p_i = 0 owns an empty interval and can never be drawn.


def sample_token(probs: list[float], rng: random.Random) -> int:
    """Draw one token id with probability probs[id], using rng (a random.Random).

    Never returns a token of probability 0. If rounding leaves u above the
    total, return the last token of non-zero probability.
    """
    raise KataTodo('microbeam.sample_token: Draw one token id with probability probs[id], using rng (a random.Random).')


def sample_decode(
    model,
    prompt: list[int],
    max_new_tokens: int,
    end_token: int,
    rng: random.Random,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> list[int]:
    """Generate by sampling; each step applies temperature, then top-k, then top-p, then samples.

    The order is fixed (Hugging Face's too): probs = softmax(logits / T),
    then top_k_filter if top_k is not None, then top_p_filter if top_p is not
    None, then sample_token with rng. Stops like greedy_decode (max_new_tokens,
    or right after end_token). Returns the generated tokens only. Raises
    ValueError naming max_new_tokens unless it is an int >= 0 (a bool or a
    float is refused).
    """
    raise KataTodo('microbeam.sample_decode: Generate by sampling; each step applies temperature, then top-k, then top-p, then samples.')


# === BEAM SEARCH ===
#
# Score of a hypothesis = sum of the natural-log probabilities of its
# generated tokens (end token included when present):
#     score(y) = sum_t log p(y_t | prompt, y_<t)
# Beam search approximates argmax_y score(y) by keeping the beam_width best
# partial hypotheses. One step:
#   1. extend every live hypothesis by every vocabulary token (candidates);
#   2. keep the beam_width best candidates OVERALL (not the best few per
#      parent: two children of one strong parent may both belong);
#   3. a kept candidate that ends in end_token is finished: it is set aside
#      and never extended; the others are the next live hypotheses.
# Finished hypotheses use up beam slots, so the beam shrinks as they finish.
# After max_new_tokens steps the survivors count as finished too. The answer
# is the finished hypothesis with the best ranking score
#     score(y) / len(y) ** length_penalty        (len counts the end token)
# with length_penalty = 0 (the default: plain sum of log-probs). Pruning in
# step 2 always uses the plain sum. Ties, in pruning and in the final choice,
# go to the lexicographically smaller token list.
# With beam_width = 1 this is greedy; with a beam wide enough to keep every
# candidate it is exhaustive search. Sums of log-probs only fall as a sequence
# grows, so unnormalised scoring favours short outputs; length_penalty = 1
# ranks by average log-prob per token instead.
# Signpost: Hugging Face and fairseq keep beam_width LIVE hypotheses (they
# take the top 2 * beam_width candidates and refill) and stop early once no
# live beam can beat the finished ones; real systems reuse each parent's KV
# cache for its children instead of recomputing the prefix.


def beam_search(
    model,
    prompt: list[int],
    max_new_tokens: int,
    end_token: int,
    beam_width: int,
    length_penalty: float = 0.0,
) -> tuple[list[int], float]:
    """Return (tokens, logprob): the best finished hypothesis under the rule above.

    tokens: the generated tokens (not the prompt), ending with end_token if
    the hypothesis finished that way; logprob: the plain sum of their
    log-probabilities (natural log, before any length penalty). The model is
    called once per live hypothesis per step. Raises ValueError naming
    beam_width unless it is an int >= 1, naming max_new_tokens unless it is
    an int >= 0 (a bool or a float is refused for either).
    """
    raise KataTodo('microbeam.beam_search: Return (tokens, logprob): the best finished hypothesis under the rule above.')


# === SPECULATIVE SAMPLING: THE ACCEPTANCE RULE ===
#
# Draft model q (small, cheap), target model p (large, the one we want to
# sample from). The draft proposes x ~ q. Accept it with probability
#     min(1, p(x) / q(x)),
# otherwise reject it and sample a replacement from the RESIDUAL
#     r(x) = max(0, p(x) - q(x)) / sum_y max(0, p(y) - q(y)).
# Why the output is exactly p: the chance to emit x is
#   accept:  q(x) * min(1, p(x)/q(x)) = min(p(x), q(x))
#   reject:  (1 - sum_y min(p(y), q(y))) * r(x) = max(0, p(x) - q(x))
# (the rejection mass 1 - sum min(p, q) equals sum max(0, p - q), the
# residual's normaliser), and min(p, q) + max(0, p - q) = p. Where the draft
# is overconfident (q > p) it is sometimes rejected; the residual refills
# exactly the tokens it under-proposed (p > q).
# The acceptance probability of one draft token is
#   alpha = E_{x~q}[min(1, p(x)/q(x))]:
# the closer the draft is to the target, the more tokens each target pass yields.


def residual_distribution(p: list[float], q: list[float]) -> list[float]:
    """Return norm(max(0, p - q)), the distribution to resample from after a rejection.

    p: target probabilities; q: draft probabilities (same length). If p <= q
    everywhere (p == q up to rounding) there is nothing to refill: return a
    copy of p. Raises ValueError naming q if the lengths differ.
    """
    raise KataTodo('microbeam.residual_distribution: Return norm(max(0, p - q)), the distribution to resample from after a rejection.')


def acceptance_probability(p: list[float], q: list[float]) -> float:
    """Probability that one token drafted from q is accepted: E_{x~q}[min(1, p(x)/q(x))].

    p: target probabilities; q: draft probabilities. Tokens with q(x) = 0 are
    never drafted and contribute nothing.
    """
    raise KataTodo('microbeam.acceptance_probability: Probability that one token drafted from q is accepted: E_{x~q}[min(1, p(x)/q(x))].')


def speculative_verify(
    draft_tokens: list[int],
    draft_probs: list[list[float]],
    target_probs: list[list[float]],
    rng: random.Random,
) -> tuple[int, int]:
    """Run the modified rejection sampling over n drafted tokens; return (n_accepted, next_token).

    draft_tokens: the n tokens x_1..x_n the draft sampled; draft_probs[i]:
    the draft distribution x_{i+1} was drawn from; target_probs: n + 1
    target distributions, target_probs[i] for the same position as
    draft_probs[i], and target_probs[n] for the position after the last
    draft token. Walk i = 0, 1, ...: accept x_{i+1} when
    rng.random() < min(1, p(x)/q(x)); at the first rejection return
    (i, a token sampled from residual_distribution(p_i, q_i)). If all n are
    accepted return (n, the BONUS token sampled from target_probs[n]).
    Sample with sample_token. Raises ValueError naming target_probs unless
    it holds n + 1 distributions, naming draft_probs unless it holds n.
    """
    raise KataTodo('microbeam.speculative_verify: Run the modified rejection sampling over n drafted tokens; return (n_accepted, next_token).')


# === SPECULATIVE DECODING: THE LOOP ===
#
# One ROUND:
#   1. the draft proposes up to gamma tokens autoregressively (one cheap
#      draft call each), stopping early after it proposes end_token, and
#      never proposing more than (tokens still allowed - 1);
#   2. the target is evaluated on prompt + tokens + draft[:i] for every
#      i = 0..n (n + 1 evaluations; a transformer computes all of them in ONE
#      forward pass over the n drafted tokens, so the round costs one target
#      pass);
#   3. speculative_verify accepts a prefix of the draft and supplies one more
#      token (the residual resample, or the bonus token), so a round yields
#      accepted + 1 tokens. Exception: if the accepted draft ends in
#      end_token, generation is over and the extra token is dropped.
# The target pass is the expensive part; the draft is cheap. Speed-up comes
# from tokens per target pass > 1: with acceptance probability alpha it is
# (1 - alpha^(gamma+1)) / (1 - alpha) on average (Leviathan et al., eq. 1).
# Greedy mode replaces every distribution by the one-hot of its argmax
# (temperature -> 0): the same rule then accepts a draft token exactly when it
# is the target's argmax, and resamples the target's argmax otherwise, so the
# output is token for token the target's greedy output.
# Signpost: production systems (vLLM, TensorRT-LLM, Medusa, EAGLE) batch the
# verification, roll back the target's KV cache past rejected tokens, and
# tune gamma to the measured acceptance rate.


def speculative_decode(
    target,
    draft,
    prompt: list[int],
    max_new_tokens: int,
    end_token: int,
    gamma: int,
    rng: random.Random,
    temperature: float = 1.0,
    greedy: bool = False,
) -> tuple[list[int], dict]:
    """Generate with a draft proposing gamma tokens per round and the target verifying them.

    target, draft: callables prefix -> logits over the same vocabulary.
    Distributions are softmax(logits / temperature) for both models, or with
    greedy=True the one-hot of argmax(logits) (ties: lowest id). Draft tokens
    are drawn with sample_token; each round follows the comment above and
    calls speculative_verify once. Stops like greedy_decode (max_new_tokens,
    or right after end_token). Returns (tokens, stats), stats a dict of ints:
      "rounds": target passes (one per round);
      "target_calls": target evaluations, drafted + 1 per round;
      "draft_calls": draft evaluations, one per drafted token;
      "drafted": draft tokens proposed; "accepted": draft tokens accepted.
    Raises ValueError naming gamma unless it is an int >= 1, naming
    max_new_tokens unless it is an int >= 0 (a bool or a float is refused).
    """
    raise KataTodo('microbeam.speculative_decode: Generate with a draft proposing gamma tokens per round and the target verifying them.')


# === THE SHIPPED MODELS: TWO CHARACTER N-GRAMS ===
#
# Vocabulary: "." (token 0, both the start padding and the end of a name)
# then "a".."z". A prefix is the name so far WITHOUT a start token: the model
# pads its context on the left with ".", so prompt [] means "a new name".
#   draft  (bigram):   q(c | .. b)   = (N(b c) + alpha) / (N(b .) + alpha V)
#   target (trigram):  p(c | .. a b) = (N(a b c) + beta q(c | b)) / (N(a b .) + beta)
# N(.) are counts in the training names (padded "..name."), N(b .) the total
# count of context b. The target smooths toward the draft (a Dirichlet prior
# of strength beta), so it is a strictly richer model of the same data: a
# realistic draft/target pair. Their logits are log-probabilities.
# Training these models is counting: the maximum-likelihood estimate of an
# n-gram is a ratio of counts, so the checkpoint stores integer counts and
# regenerates bit for bit. Signpost: the seed trains two small transformers
# (n_embd 16 and 8) instead; the decoders above would not change.

CHECKPOINT_FORMAT = "microbeam n-gram checkpoint v1"
DRAFT_ALPHA = 0.1
TARGET_BETA = 3.0


class NGramModel:
    """A character n-gram as a decoding model: call it on a prefix, get next-token logits."""

    def __init__(self, vocab: str, order: int, counts: dict, smoothing: float, backoff=None) -> None:
        self.vocab = vocab
        self.order = order
        self.counts = counts  # context string -> {next char: count}
        self.smoothing = smoothing  # alpha (add-alpha) without backoff, beta with it
        self.backoff = backoff
        self.index = {ch: i for i, ch in enumerate(vocab)}
        self.calls = 0
        self.cache: dict[str, list[float]] = {}

    def context(self, prefix: list[int]) -> str:
        text = "".join(self.vocab[t] for t in prefix)
        return ("." * (self.order - 1) + text)[len(text):] if self.order > 1 else ""

    def probs(self, prefix: list[int]) -> list[float]:
        ctx = self.context(prefix)
        if ctx in self.cache:
            return self.cache[ctx]
        row = self.counts.get(ctx, {})
        total = sum(row.values())
        if self.backoff is None:
            size = len(self.vocab)
            out = [(row.get(ch, 0) + self.smoothing) / (total + self.smoothing * size) for ch in self.vocab]
        else:
            base = self.backoff.probs(prefix)
            out = [(row.get(ch, 0) + self.smoothing * b) / (total + self.smoothing) for ch, b in zip(self.vocab, base)]
        self.cache[ctx] = out
        return out

    def __call__(self, prefix: list[int]) -> list[float]:
        self.calls += 1
        return [math.log(max(p, 1e-10)) for p in self.probs(prefix)]

    def encode(self, text: str) -> list[int]:
        return [self.index[ch] for ch in text]

    def decode(self, tokens: list[int]) -> str:
        return "".join(self.vocab[t] for t in tokens)


def count_ngrams(names: list[str], order: int) -> dict:
    """{context: {next char: count}} over the padded names "." * (order-1) + name + "."."""
    counts: dict[str, dict[str, int]] = {}
    for name in names:
        text = "." * (order - 1) + name + "."
        for i in range(order - 1, len(text)):
            row = counts.setdefault(text[i - order + 1 : i], {})
            row[text[i]] = row.get(text[i], 0) + 1
    # Sorted keys: the JSON is byte-for-byte reproducible.
    return {ctx: dict(sorted(row.items())) for ctx, row in sorted(counts.items())}


def train_checkpoint(names_path) -> dict:
    """Train both models on the names file; return the checkpoint as a JSON-ready dict."""
    names = [line.strip() for line in Path(names_path).read_text(encoding="utf-8").splitlines() if line.strip()]
    vocab = "." + "".join(sorted(set("".join(names))))
    return {
        "format": CHECKPOINT_FORMAT,
        "trained_on": f"{len(names)} names",
        "vocab": vocab,
        "end_token": 0,
        "draft": {"order": 2, "alpha": DRAFT_ALPHA, "counts": count_ngrams(names, 2)},
        "target": {"order": 3, "beta": TARGET_BETA, "backoff": "draft", "counts": count_ngrams(names, 3)},
    }


def models_from_checkpoint(checkpoint: dict) -> tuple[NGramModel, NGramModel]:
    """(target, draft) models from a checkpoint dict."""
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint format {checkpoint.get('format')!r} is not {CHECKPOINT_FORMAT!r}")
    vocab = checkpoint["vocab"]
    d, t = checkpoint["draft"], checkpoint["target"]
    draft = NGramModel(vocab, d["order"], d["counts"], d["alpha"])
    target = NGramModel(vocab, t["order"], t["counts"], t["beta"], backoff=draft)
    return target, draft


def load_checkpoint(path) -> tuple[NGramModel, NGramModel]:
    """(target, draft) models from a checkpoint JSON file."""
    return models_from_checkpoint(json.loads(Path(path).read_text(encoding="utf-8")))


def write_checkpoint(checkpoint: dict, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(checkpoint, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")


# === DEMONSTRATION ===

ROOT = Path(__file__).resolve().parents[2]
NAMES_PATH = ROOT / "data" / "names.txt"
CHECKPOINT_PATH = ROOT / "tests" / "data" / "microbeam" / "ngram_models.json"


def sequence_logprob(model, prompt: list[int], tokens: list[int]) -> float:
    """Sum of log p(token | prompt + tokens before it) under model."""
    return sum(log_softmax(model(prompt + tokens[:i]))[t] for i, t in enumerate(tokens))


def bar(value: float, largest: float, width: int = 30) -> str:
    return "#" * max(1, round(width * value / largest)) if value > 0 else ""


def show(model, prompt: list[int], tokens: list[int]) -> str:
    return model.decode(prompt) + "|" + model.decode(tokens).rstrip(".")


def demo_models(target, draft, names: list[str]) -> None:
    print("1. The models: a bigram draft and a trigram target trained on the same names")
    for label, model in (("draft  (bigram) ", draft), ("target (trigram)", target)):
        nll = chars = 0
        for name in names:
            tokens = model.encode(name + ".")
            nll -= sequence_logprob(model, [], tokens)
            chars += len(tokens)
        print(f"   {label}: {len(model.counts):>4} contexts, {sum(len(r) for r in model.counts.values()):>5} "
              f"counts, loss {nll / chars:.3f} nats/char on the training names")
    print()


def demo_filters(target) -> None:
    prompt = target.encode("ma")
    probs = softmax_with_temperature(target(prompt))
    order = ranked(probs)
    print("2. One next-token distribution (after 'ma') and what each filter keeps")
    print(f"   {'token':>5} {'p':>7} {'cum':>6}   T=0.5    top-k=3  top-p=0.8")
    sharp = softmax_with_temperature(target(prompt), 0.5)
    k3, p8 = top_k_filter(probs, 3), top_p_filter(probs, 0.8)
    cumulative = 0.0
    for token in order[:8]:
        cumulative += probs[token]
        print(f"   {target.vocab[token]!r:>5} {probs[token]:>7.4f} {cumulative:>6.3f}   {sharp[token]:.4f}   "
              f"{k3[token]:.4f}   {p8[token]:.4f}")
    support = sum(1 for x in p8 if x > 0)
    print(f"   top-p=0.8 keeps {support} tokens: the shortest ranked prefix whose mass reaches 0.8\n")


def demo_strategies(target, draft, names_set: set[str]) -> None:
    end = 0
    print("3. Strategies from the same prompts (target model): output | log-prob of the continuation")
    prompts = ["", "a", "ka", "el", "mi", "jo", "z"]
    print(f"   {'prompt':<7} {'greedy':<15} {'beam B=4':<15} {'beam B=4, lp=1':<15} {'top-p 0.9':<15}")
    rng = random.Random(42)
    for text in prompts:
        prompt = target.encode(text)
        outs = [
            greedy_decode(target, prompt, 12, end),
            beam_search(target, prompt, 12, end, 4)[0],
            beam_search(target, prompt, 12, end, 4, length_penalty=1.0)[0],
            sample_decode(target, prompt, 12, end, rng, top_p=0.9),
        ]
        cells = [f"{show(target, prompt, t)} {sequence_logprob(target, prompt, t):.2f}" for t in outs]
        print(f"   {text!r:<7} " + " ".join(f"{c:<15}" for c in cells))
    print("   (lp = length_penalty: plain log-prob sums favour stopping early; lp=1 ranks by log-prob per token)")

    print("\n   50 names per strategy from the empty prompt (seed 42)")
    print(f"   {'strategy':<18} {'unique':>6} {'in corpus':>9} {'mean log-prob':>13} {'target calls/name':>17}")
    settings = [
        ("greedy", "greedy", {}),
        ("beam B=4", "beam", {}),
        ("sample T=1.0", "sample", {"temperature": 1.0}),
        ("sample T=0.7", "sample", {"temperature": 0.7}),
        ("top-k k=5", "sample", {"top_k": 5}),
        ("top-p p=0.9", "sample", {"top_p": 0.9}),
        ("speculative g=3", "speculative", {}),
    ]
    rng = random.Random(42)
    for label, kind, options in settings:
        outs, target_passes = [], 0
        target.calls = 0
        for _ in range(50):
            if kind == "greedy":
                outs.append(greedy_decode(target, [], 15, end))
            elif kind == "beam":
                outs.append(beam_search(target, [], 15, end, 4)[0])
            elif kind == "sample":
                outs.append(sample_decode(target, [], 15, end, rng, **options))
            else:
                tokens, stats = speculative_decode(target, draft, [], 15, end, 3, rng)
                outs.append(tokens)
                target_passes += stats["rounds"]
        # Speculative: count target PASSES (one per round), not per-position evaluations.
        calls = target_passes if kind == "speculative" else target.calls
        words = [target.decode(t).rstrip(".") for t in outs]
        mean_lp = sum(sequence_logprob(target, [], t) for t in outs) / len(outs)
        known = sum(1 for w in words if w in names_set)
        print(f"   {label:<18} {len(set(words)):>6} {known:>9} {mean_lp:>13.3f} {calls / 50:>17.2f}")
    print("   greedy and beam are deterministic (one name, 50 times); speculative samples from the\n"
          "   same distribution as T=1.0 with fewer target passes\n")


def demo_beam_vs_greedy(target) -> None:
    end = 0
    print("4. Beam search vs greedy: log-prob of the continuation, 26 one-letter prompts")
    print(f"   {'width':>5} {'mean log-prob':>13} {'beats greedy':>12} {'ties':>5} {'worse':>5}")
    greedy = {}
    for letter in target.vocab[1:]:
        prompt = target.encode(letter)
        greedy[letter] = sequence_logprob(target, prompt, greedy_decode(target, prompt, 12, end))
    for width in (1, 2, 3, 5, 8):
        better = ties = worse = 0
        total = 0.0
        for letter in target.vocab[1:]:
            _, lp = beam_search(target, target.encode(letter), 12, end, width)
            total += lp
            better += lp > greedy[letter] + 1e-12
            worse += lp < greedy[letter] - 1e-12
            ties += abs(lp - greedy[letter]) <= 1e-12
        print(f"   {width:>5} {total / 26:>13.3f} {better:>12} {ties:>5} {worse:>5}")
    print(f"   greedy mean log-prob {sum(greedy.values()) / 26:.3f}\n")


def demo_speculative(target, draft) -> None:
    end = 0
    print("5. Speculative decoding: bigram drafts, trigram verifies (200 names per row, seed 42)")
    print(f"   {'gamma':>5} {'accept rate':>11} {'tokens/target pass':>18} {'target passes':>13} "
          f"{'plain passes':>12} {'saved':>6}")
    rows = []
    for gamma in (1, 2, 3, 4, 6):
        rng = random.Random(42)
        totals = {"rounds": 0, "drafted": 0, "accepted": 0}
        produced = 0
        for _ in range(200):
            tokens, stats = speculative_decode(target, draft, [], 15, end, gamma, rng)
            produced += len(tokens)
            for key in totals:
                totals[key] += stats[key]
        rate = totals["accepted"] / totals["drafted"]
        per_pass = produced / totals["rounds"]
        rows.append((gamma, per_pass))
        print(f"   {gamma:>5} {rate:>11.3f} {per_pass:>18.3f} {totals['rounds']:>13} {produced:>12} "
              f"{1 - totals['rounds'] / produced:>6.0%}")
    # Expected acceptance of one draft token, averaged over the contexts that
    # generation actually visits (measured on target samples).
    rng = random.Random(7)
    alphas = []
    for _ in range(200):
        prefix: list[int] = []
        for token in sample_decode(target, [], 15, end, rng):
            p = softmax_with_temperature(target(prefix))
            q = softmax_with_temperature(draft(prefix))
            alphas.append(acceptance_probability(p, q))
            prefix.append(token)
    alpha = sum(alphas) / len(alphas)
    print(f"   expected acceptance sum_x min(p, q) on target samples: {alpha:.3f}; "
          f"Leviathan's tokens/pass (1 - a^(g+1)) / (1 - a) for g = 3: {(1 - alpha ** 4) / (1 - alpha):.2f}")
    print("   accept rate = accepted / drafted: drafts after the first rejection are wasted, so it falls\n"
          "   as gamma grows while tokens per target pass still rises; names that end mid-round keep the\n"
          "   measured tokens/pass below the formula's, which assumes an endless sequence")
    print("   tokens per target pass (bars):")
    for gamma, per_pass in rows:
        print(f"   gamma={gamma}  {bar(per_pass, max(r[1] for r in rows)):<30} {per_pass:.2f}")

    # Same distribution as the target: compare first letters of 3000 names.
    counts_spec, counts_plain = [0] * len(target.vocab), [0] * len(target.vocab)
    rng_s, rng_p = random.Random(1), random.Random(2)
    n = 3000
    for _ in range(n):
        counts_spec[speculative_decode(target, draft, [], 1, end, 3, rng_s)[0][0]] += 1
        counts_plain[sample_decode(target, [], 1, end, rng_p)[0]] += 1
    exact = softmax_with_temperature(target([]))
    tv_spec = 0.5 * sum(abs(c / n - e) for c, e in zip(counts_spec, exact))
    tv_plain = 0.5 * sum(abs(c / n - e) for c, e in zip(counts_plain, exact))
    print(f"   first letter of {n} names, total variation from the target's exact p: "
          f"speculative {tv_spec:.3f}, plain sampling {tv_plain:.3f} (same noise level)")

    same = 0
    for letter in target.vocab[1:]:
        prompt = target.encode(letter)
        spec, _ = speculative_decode(target, draft, prompt, 12, end, 3, random.Random(0), greedy=True)
        same += spec == greedy_decode(target, prompt, 12, end)
    print(f"   greedy speculative == target greedy on {same}/26 one-letter prompts\n")


def main() -> None:
    if "--train" in sys.argv[1:]:
        started = time.perf_counter()
        write_checkpoint(train_checkpoint(NAMES_PATH), CHECKPOINT_PATH)
        print(f"wrote {CHECKPOINT_PATH.relative_to(ROOT)} in {time.perf_counter() - started:.2f} s")
        return
    random.seed(42)
    target, draft = load_checkpoint(CHECKPOINT_PATH)
    names = [line.strip() for line in NAMES_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    demo_models(target, draft, names)
    demo_filters(target)
    demo_strategies(target, draft, set(names))
    demo_beam_vs_greedy(target)
    demo_speculative(target, draft)


if __name__ == "__main__":
    main()
