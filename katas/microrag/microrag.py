"""
Retrieval-augmented generation, from scratch: look the answer up with BM25 over
an inverted index, paste the best document into the input of a tiny
character-level MLP, and let the model copy the answer out of it.

A language model keeps knowledge in two places. Parametric knowledge lives in
its weights: it was trained in and is frozen there. Non-parametric knowledge
lives in documents that are fetched at question time. RAG joins the two: a
retriever (here BM25, the sparse ranking function behind Lucene and
Elasticsearch) picks the documents that share rare words with the question,
and the generator reads them as extra input. A fact the model never trained
on can still be answered if it can be retrieved; a fact it cannot retrieve is
left to its memory, which for a model this small is almost nothing.

The corpus is generated from a seed: invented countries with a capital, a
language, a currency and a longest river, plus one "known for" document each.
The MLP is trained on the facts of some countries and asked about all of
them; with retrieval it answers the unseen countries too, without retrieval
it cannot.

References: Robertson & Zaragoza, "The Probabilistic Relevance Framework:
BM25 and Beyond" (2009); Lewis et al., "Retrieval-Augmented Generation for
Knowledge-Intensive NLP Tasks" (2020); Bengio et al., "A Neural Probabilistic
Language Model" (2003) for the character MLP.
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

# Kata skeleton generated from solutions/microrag/microrag.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microrag`; stuck? `python -m workbook hint microrag`.
from workbook import KataTodo

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "tests" / "data" / "microrag" / "model.json"

# === TOKENISER ===
#
# BM25 works on terms, not characters. The simplest honest tokeniser: lower-
# case the text and cut it at every character that is not a letter or digit.
# Signpost: production engines add stemming ("spoken" -> "speak"), stop-word
# lists and Unicode folding; BM25 itself is unchanged by any of them.


def tokenize(text):
    """Split text into lowercase terms: maximal runs of letters and digits, in order.

    "The Capital of Velonia, 2nd." -> ["the", "capital", "of", "velonia", "2nd"].
    Every other character (spaces, punctuation, "-", "'") separates terms;
    letters are lowercased with str.lower(); letters and digits are what
    str.isalnum() accepts. Returns a new list of strings (empty for "").
    """
    raise KataTodo('microrag.tokenize: Split text into lowercase terms: maximal runs of letters and digits, in order.')


# === INVERTED INDEX ===
#
# Scoring a query against every document costs O(N) per query; an inverted
# index stores, for every term, the list of documents that contain it (its
# "postings") with the term's count in each (its term frequency, tf). A query
# then touches only the postings of its own terms: for a query of rare words
# over a million documents that is a handful of documents, not a million.
# The postings list's length is the term's document frequency df, which is
# exactly what IDF needs, so the index also stores the ingredients of BM25:
# every document's length and the average length.


class InvertedIndex:
    """Postings and document lengths (provided; build_index fills it).

    postings: dict term -> list of (doc_id, tf) with doc_id increasing and
    tf >= 1. lengths: list of document lengths in terms, one per document.
    """

    def __init__(self, postings, lengths):
        self._postings = postings
        self._lengths = list(lengths)
        self.n_docs = len(self._lengths)
        self.avgdl = sum(self._lengths) / self.n_docs if self.n_docs else 0.0

    def postings(self, term):
        """The (doc_id, tf) pairs of ``term``, doc_id increasing; [] for a term in no document."""
        return list(self._postings.get(term, []))

    def doc_length(self, doc_id):
        """Length of document ``doc_id`` in terms."""
        return self._lengths[doc_id]

    def terms(self):
        """Every indexed term, sorted."""
        return sorted(self._postings)


def build_index(docs):
    """Build the inverted index of a list of document strings; return an InvertedIndex.

    Document ids are list positions 0..len(docs)-1. Each document is split by
    tokenize(); postings[term] lists (doc_id, tf) for every document holding
    the term, doc_id increasing, tf = how often the term occurs there;
    lengths[d] = number of terms of document d. An empty document is allowed
    (length 0, in no postings). Raises ValueError naming ``docs`` when it is
    empty.
    """
    raise KataTodo('microrag.build_index: Build the inverted index of a list of document strings; return an InvertedIndex.')


# === BM25 ===
#
# BM25 (Okapi "Best Match 25") scores a document D for a query Q as a sum over
# the distinct query terms t that D contains:
#
#   score(D, Q) = sum_t IDF(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |D| / avgdl))
#
# Three ideas, one factor each:
#   * IDF: a term in every document ("the", "of") says nothing about which
#     document is relevant; a term in three documents says a lot. This file
#     uses the Robertson-Sparck Jones IDF with Lucene's "+1" inside the log,
#         IDF(t) = ln(1 + (N - df + 0.5) / (df + 0.5)),
#     which is always positive (the classic ln((N - df + 0.5) / (df + 0.5))
#     goes negative for terms in more than half the documents).
#   * tf saturation (k1): the 5th "velonia" in a document is worth far less
#     than the 1st. tf (k1 + 1) / (tf + k1) rises from 0, is 1 at tf = 1 and
#     levels off at k1 + 1; k1 = 0 reduces BM25 to "does the term occur".
#   * length normalisation (b): a long document contains every word by luck,
#     so its tf is discounted as if k1 were k1 * |D| / avgdl. b = 0 switches
#     that off, b = 1 normalises fully; 0.75 is the customary middle.
# Signpost: Lucene/Elasticsearch default to k1 = 1.2, b = 0.75 and this IDF.
# The Python package rank_bm25 differs: BM25Okapi defaults to k1 = 1.5 and
# uses the classic IDF ln((N - df + 0.5) / (df + 0.5)) without the +1, and
# replaces each negative IDF (df > N / 2) by epsilon * (mean IDF over the
# vocabulary), epsilon = 0.25; so its scores and even its order differ from
# this file's. Its get_top_n ranks by a reversed numpy argsort, so equal
# scores do not come out lowest doc_id first as top_k's do here.
# Dense retrievers (DPR, embeddings + ANN search) replace the sum over shared
# terms with a dot product of learned vectors, and hybrids use both.

K1, B = 1.2, 0.75


def idf(n_docs, df):
    """Inverse document frequency, Lucene/Robertson variant: ln(1 + (n_docs - df + 0.5) / (df + 0.5)).

    n_docs: number of documents N (an int >= 1); df: number of documents
    containing the term (an int, 0 <= df <= n_docs). Returns a float > 0.
    Raises ValueError naming ``n_docs`` or ``df`` when out of range.
    """
    raise KataTodo('microrag.idf: Inverse document frequency, Lucene/Robertson variant: ln(1 + (n_docs - df + 0.5) / (df + 0.5)).')


def bm25_term(tf, doc_len, avgdl, idf_value, k1=K1, b=B):
    """One term's BM25 contribution: idf_value * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avgdl)).

    tf: the term's count in the document (>= 0; 0 gives 0.0); doc_len: the
    document's length in terms (>= 0); avgdl: average document length (> 0);
    idf_value: the term's IDF. Raises ValueError naming ``k1`` (negative),
    ``b`` (outside [0, 1]), ``avgdl`` (not positive), ``tf`` or ``doc_len``
    (negative); NaN is out of range for each of them.
    """
    raise KataTodo("microrag.bm25_term: One term's BM25 contribution: idf_value * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avgdl)).")


def bm25_scores(index, query, k1=K1, b=B):
    """BM25 score of every document that shares a term with ``query``; return a dict doc_id -> score.

    index: an InvertedIndex (or any object with n_docs, avgdl, postings(term)
    and doc_length(doc_id)). query: a string, split by tokenize(); repeated
    query terms count once (the query is a set of terms). The score of a
    document is the sum of bm25_term over the distinct query terms it
    contains, with idf(n_docs, df) and df = len(postings(term)). Documents
    that share no query term are absent from the dict (not present with 0):
    walk the postings of the query's terms, and call doc_length only for
    documents found there. A query with no indexed term gives {}. Raises
    ValueError naming ``k1`` or ``b`` when out of range (as bm25_term).
    """
    raise KataTodo('microrag.bm25_scores: BM25 score of every document that shares a term with ``query``; return a dict doc_id -> score.')


def top_k(scores, k):
    """The k best (doc_id, score) pairs of a dict doc_id -> score, best first.

    Sorted by score descending; equal scores by doc_id ascending. Returns a
    list of min(k, len(scores)) tuples. Raises ValueError naming ``k`` unless
    it is a positive integer.
    """
    raise KataTodo('microrag.top_k: The k best (doc_id, score) pairs of a dict doc_id -> score, best first.')


# === THE FACTS CORPUS (provided, generated from a seed) ===
#
# Invented names, so no prior knowledge can help: every country gets a
# capital, a language, a currency and a longest river, each stated in one
# short document that puts the answer FIRST ("tarsk is the capital city of
# velonia."), plus a "known for" document that mentions the country but
# answers nothing (a distractor that shares the country's name). Questions
# are phrased differently from the documents ("which language do people
# speak in ..." vs "... is the language spoken in ..."), so retrieval has to
# work through partial word overlap, as it does in real life.

SYLLABLES = ["ba", "ko", "ri", "ta", "mel", "dor", "vin", "sa", "lu", "ne", "gar", "pol",
             "zu", "fe", "mi", "tor", "an", "vel", "ki", "ro", "shu", "le", "bo", "nim"]
PRODUCTS = ["copper", "silk", "olives", "horses", "glass", "salt", "timber", "wool", "tea",
            "pearls", "honey", "marble"]
RELATIONS = [
    # (relation, document template, question template); {a} answer, {c} country
    ("capital", "{a} is the capital city of {c}.", "which city is the capital of {c}"),
    ("language", "{a} is the language spoken in {c}.", "which language do people speak in {c}"),
    ("currency", "{a} is the currency used in {c}.", "what currency does {c} use"),
    ("river", "{a} is the longest river flowing through {c}.", "what is the longest river of {c}"),
]
N_COUNTRIES, N_TRAIN_COUNTRIES, FACTS_SEED = 25, 18, 7


def make_facts(seed=FACTS_SEED, n_countries=N_COUNTRIES):
    """(docs, questions) of the generated corpus.

    docs: list of strings. questions: list of dicts with "question", "answer",
    "doc" (the id of the one document that answers it), "country" (its index)
    and "relation". Deterministic for a seed.
    """
    rng = random.Random(seed)
    used = set()

    def fresh_name(parts, suffix=""):
        while True:  # 24^2 + 24^3 names: a fresh one turns up within a few draws
            name = "".join(rng.choice(SYLLABLES) for _ in range(parts)) + suffix
            if name not in used and 3 <= len(name) <= 11:
                used.add(name)
                return name

    docs, questions = [], []
    for c in range(n_countries):
        country = fresh_name(2, "ia")
        for relation, doc_template, question_template in RELATIONS:
            answer = fresh_name(rng.choice((2, 2, 3)))
            questions.append({"question": question_template.format(c=country), "answer": answer,
                              "doc": len(docs), "country": c, "relation": relation})
            docs.append(doc_template.format(a=answer, c=country))
        docs.append(f"{country} is a country known for its {rng.choice(PRODUCTS)}.")
    # Shuffle the documents so ids say nothing about countries.
    order = list(range(len(docs)))
    rng.shuffle(order)
    new_id = {old: new for new, old in enumerate(order)}
    for q in questions:
        q["doc"] = new_id[q["doc"]]
    return [docs[old] for old in order], questions


# === CONTEXT INJECTION INTO A CHARACTER MLP ===
#
# The generator writes the answer one character at a time. At every step it
# sees four pieces, embedded and concatenated into one input vector:
#   [ mean of the query's character embeddings     (what is asked: a bag)
#   , E[context[i]], E[context[i + 1]]             (the retrieved document,
#                                                   read where it is writing)
#   , E[answer[-2]], E[answer[-1]] ]               (what it wrote so far)
# with i = the number of characters written so far. The documents put the
# answer first, so a model that learned "copy context[i]; stop at a space"
# answers any retrievable fact, seen in training or not. With no retrieved
# document the context slots hold PAD and the model must answer from the
# query alone: from its weights. A bigram model could not do this at all: it
# has no input through which a document could enter.
# Signpost: a transformer does the same thing with attention instead of a
# fixed window: it can read the answer wherever it sits in the prompt.

PAD, END = "_", "."
VOCAB = PAD + END + "abcdefghijklmnopqrstuvwxyz "  # 29 symbols; "." ends an answer and starts the history
CHAR_ID = {ch: i for i, ch in enumerate(VOCAB)}
EMBED, HIDDEN, SLOTS = 8, 32, 4
MAX_ANSWER = 16


def encode_input(query, context, answer_so_far):
    """The generator's input for the next character: (query_ids, slot_ids), lists of VOCAB indices.

    query_ids: CHAR_ID of every character of query.lower() that is a letter
    a-z, in order (spaces and other characters dropped; may be empty).
    slot_ids: 4 ids. With i = len(answer_so_far):
      [context[i], context[i + 1]] as CHAR_ID, PAD where the context is too
      short (so an empty context gives [PAD, PAD]); characters of the
      context outside VOCAB also count as PAD;
      then the last two characters of END + answer_so_far (so [END, END]
      padding before any character: "" -> [END, END], "t" -> [END, "t"],
      "tars" -> ["r", "s"]).
    """
    raise KataTodo("microrag.encode_input: The generator's input for the next character: (query_ids, slot_ids), lists of VOCAB indices.")


# === THE MLP (provided: forward, manual backward, Adam) ===
#
#   x      = [mean_q E[q], E[s0], E[s1], E[s2], E[s3]]     (5 * EMBED floats)
#   h      = tanh(W1 x + b1)                               (HIDDEN)
#   logits = W2 h + b2                                     (len(VOCAB))
#   loss   = -log softmax(logits)[next char]
PARAM_NAMES = ("E", "W1", "b1", "W2", "b2")
STEPS, BATCH, LEARNING_RATE, TRAIN_SEED = 600, 32, 0.01, 42


def init_params(rng):
    fan_in = (1 + SLOTS) * EMBED
    V = len(VOCAB)
    return {
        "E": [[rng.gauss(0, 1) for _ in range(EMBED)] for _ in range(V)],
        "W1": [[rng.gauss(0, 1) / math.sqrt(fan_in) for _ in range(fan_in)] for _ in range(HIDDEN)],
        "b1": [[0.0] * HIDDEN],
        "W2": [[rng.gauss(0, 1) * 0.5 / math.sqrt(HIDDEN) for _ in range(HIDDEN)] for _ in range(V)],
        "b2": [[0.0] * V],
    }


def features(params, query_ids, slot_ids):
    E = params["E"]
    if query_ids:
        bag = [sum(E[q][e] for q in query_ids) / len(query_ids) for e in range(EMBED)]
    else:
        bag = [0.0] * EMBED  # no letters in the query: an all-zero bag
    return bag + [v for s in slot_ids for v in E[s]]


def forward(params, query_ids, slot_ids):
    """(x, h, logits) of the MLP for one input."""
    x = features(params, query_ids, slot_ids)
    h = [math.tanh(sum(map(mul, row, x)) + b) for row, b in zip(params["W1"], params["b1"][0])]
    logits = [sum(map(mul, row, h)) + b for row, b in zip(params["W2"], params["b2"][0])]
    return x, h, logits


def softmax(logits):
    top = max(logits)  # stable softmax: exp(x - max) never overflows
    weights = [math.exp(v - top) for v in logits]
    total = sum(weights)
    return [w / total for w in weights]


def gradients(params, batch):
    """Mean cross-entropy of a batch of ((query_ids, slot_ids), target) and its gradients (manual backprop).

    d logits = softmax - one_hot; d W2 = d logits h^T; d h = W2^T d logits;
    d pre = d h * (1 - h^2); d W1 = d pre x^T; d x = W1^T d pre; d x is then
    scattered back into the embedding rows it was read from (the query bag
    shares its slice equally among the query's characters).
    """
    W1_t, W2_t = list(zip(*params["W1"])), list(zip(*params["W2"]))
    n = len(batch)
    grads = {k: [[0.0] * len(r) for r in v] for k, v in params.items()}
    gW1, gb1, gW2, gb2, gE = grads["W1"], grads["b1"][0], grads["W2"], grads["b2"][0], grads["E"]
    loss = 0.0
    for (query_ids, slot_ids), target in batch:
        x, h, logits = forward(params, query_ids, slot_ids)
        probs = softmax(logits)
        loss -= math.log(max(probs[target], 1e-10))  # clipped log
        d = [p / n for p in probs]
        d[target] -= 1.0 / n
        for k, dk in enumerate(d):
            gb2[k] += dk
            row = gW2[k]
            for j, hj in enumerate(h):
                row[j] += dk * hj
        dpre = [sum(map(mul, d, col)) * (1.0 - hj * hj) for col, hj in zip(W2_t, h)]
        for j, dj in enumerate(dpre):
            gb1[j] += dj
            row = gW1[j]
            for i, xi in enumerate(x):
                row[i] += dj * xi
        dx = [sum(map(mul, dpre, col)) for col in W1_t]
        if query_ids:
            share = 1.0 / len(query_ids)
            for q in query_ids:
                for e in range(EMBED):
                    gE[q][e] += dx[e] * share
        for s_index, s in enumerate(slot_ids):
            offset = (1 + s_index) * EMBED
            for e in range(EMBED):
                gE[s][e] += dx[offset + e]
    return loss / n, grads


def make_examples(pairs):
    """Teacher-forced examples ((query_ids, slot_ids), next char id) from (question, context, answer) triples."""
    examples = []
    for question, context, answer in pairs:
        for i in range(len(answer) + 1):
            target = CHAR_ID[answer[i]] if i < len(answer) else CHAR_ID[END]
            examples.append((encode_input(question, context, answer[:i]), target))
    return examples


def train(facts, steps=STEPS, seed=TRAIN_SEED, log=None):
    """Train the MLP on the questions of the first N_TRAIN_COUNTRIES countries (Adam, manual gradients).

    Each training question appears twice: once with its gold document as
    context and once with no context, so the same model also learns to answer
    from the query alone (the "without retrieval" path it is compared with)
    and gets every chance to memorise the training facts in its weights.
    """
    docs, questions = facts
    rng = random.Random(seed)
    params = init_params(rng)
    pairs = []
    for q in questions:
        if q["country"] < N_TRAIN_COUNTRIES:
            pairs.append((q["question"], docs[q["doc"]], q["answer"]))
            pairs.append((q["question"], "", q["answer"]))
    examples = make_examples(pairs)
    m = {k: [[0.0] * len(r) for r in v] for k, v in params.items()}
    v2 = {k: [[0.0] * len(r) for r in v] for k, v in params.items()}
    for step in range(1, steps + 1):
        batch = [examples[rng.randrange(len(examples))] for _ in range(BATCH)]
        loss, grads = gradients(params, batch)
        # Adam with bias correction and a linearly decaying learning rate.
        lr = LEARNING_RATE * (1.0 - (step - 1) / steps)
        c1, c2 = 1.0 - 0.9 ** step, 1.0 - 0.999 ** step
        for key in PARAM_NAMES:
            for p_row, g_row, m_row, v_row in zip(params[key], grads[key], m[key], v2[key]):
                for i, g in enumerate(g_row):
                    m_row[i] = 0.9 * m_row[i] + 0.1 * g
                    v_row[i] = 0.999 * v_row[i] + 0.001 * g * g
                    p_row[i] -= lr * (m_row[i] / c1) / (math.sqrt(v_row[i] / c2) + 1e-8)
        if log and (step == 1 or step % 200 == 0):
            log(f"   step {step:>5}/{steps}  batch loss {loss:.4f}")
    return params


def generate(params, query, context, limit=MAX_ANSWER):
    """Greedy answer: the most likely next character (lowest index on ties) until END or ``limit`` chars."""
    answer = ""
    while len(answer) < limit:
        logits = forward(params, *encode_input(query, context, answer))[2]
        best = max(range(len(logits)), key=lambda i: (logits[i], -i))
        if VOCAB[best] in (END, PAD):
            break
        answer += VOCAB[best]
    return answer


# === RETRIEVE, THEN GENERATE ===


def rag_answer(params, index, docs, query, k1=K1, b=B):
    """Answer ``query`` with retrieval: return (answer, doc_id).

    Score the documents with bm25_scores(index, query, k1, b), take the best
    one by top_k(scores, 1) (ties: lowest doc_id), and generate the answer
    with generate(params, query, docs[doc_id]). When no document shares a
    term with the query, answer without context: generate(params, query, "")
    and doc_id None.
    """
    raise KataTodo('microrag.rag_answer: Answer ``query`` with retrieval: return (answer, doc_id).')


# === CHECKPOINT (tests/data/microrag/model.json) ===
#
# The graded tests never train: they load this file, produced by
#   python solutions/microrag/microrag.py --train-checkpoint tests/data/microrag/model.json
# and a slow test checks that running the command again reproduces it.

COMMAND = "python solutions/microrag/microrag.py --train-checkpoint tests/data/microrag/model.json"


def write_checkpoint(params, path):
    """JSON with one matrix row per line (short diffs; repr floats round-trip exactly)."""
    head = {"format": "microrag-mlp-v1", "command": COMMAND, "vocab": VOCAB,
            "config": {"embed": EMBED, "hidden": HIDDEN, "slots": SLOTS},
            "training": {"steps": STEPS, "batch": BATCH, "learning_rate": LEARNING_RATE, "seed": TRAIN_SEED,
                         "facts_seed": FACTS_SEED,
                         "train_countries": N_TRAIN_COUNTRIES, "countries": N_COUNTRIES}}
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()] + ['  "params": {']
    for t, name in enumerate(PARAM_NAMES):
        rows = params[name]
        lines.append(f"    {json.dumps(name)}: [")
        lines.extend(f"      {json.dumps(row)}{',' if r < len(rows) - 1 else ''}" for r, row in enumerate(rows))
        lines.append("    ]" + ("," if t < len(PARAM_NAMES) - 1 else ""))
    lines += ["  }", "}"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_params(path=CHECKPOINT):
    return json.loads(Path(path).read_text(encoding="utf-8"))["params"]


# === DEMONSTRATION ===


def accuracy(params, index, docs, questions, retrieval):
    """Exact-match accuracy of the answers, with or without retrieval."""
    hits = 0
    for q in questions:
        answer = rag_answer(params, index, docs, q["question"])[0] if retrieval else generate(params, q["question"], "")
        hits += answer == q["answer"]
    return hits / len(questions)


def recall_at(index, questions, k):
    return sum(q["doc"] in [d for d, _ in top_k(bm25_scores(index, q["question"]), k)] for q in questions) / len(questions)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--train-checkpoint", metavar="PATH", help="train the MLP and write its JSON checkpoint")
    args = parser.parse_args(argv)
    random.seed(42)
    facts = make_facts()
    docs, questions = facts

    if args.train_checkpoint:
        start = time.time()
        write_checkpoint(train(facts, log=print), args.train_checkpoint)
        print(f"wrote {args.train_checkpoint} in {time.time() - start:.1f}s")
        return

    print(f"1. The corpus: {len(docs)} generated documents, {len(questions)} questions (seed {FACTS_SEED})")
    for d in docs[:4]:
        print(f"   doc: {d}")
    index = build_index(docs)
    print(f"   index: {len(index.terms())} terms, avgdl {index.avgdl:.2f} terms\n")

    print("2. BM25 by hand for one question (Lucene IDF ln(1 + (N - df + 0.5)/(df + 0.5)), k1 1.2, b 0.75)")
    q = questions[1]
    print(f"   question: {q['question']!r}")
    for term in dict.fromkeys(tokenize(q["question"])):
        df = len(index.postings(term))
        # A term in no document has no postings to walk: it scores nothing.
        weight = f"idf {idf(index.n_docs, df):6.3f}" if df else "in no document: not scored"
        print(f"   {term:>10}: df {df:>3}  {weight}")
    scores = bm25_scores(index, q["question"])
    print(f"   scored {len(scores)} of {index.n_docs} documents (only those sharing a term)")
    for doc_id, score in top_k(scores, 3):
        print(f"   {score:7.3f}  [{doc_id:>3}] {docs[doc_id]}{'   <- gold' if doc_id == q['doc'] else ''}")
    work = sum(len(bm25_scores(index, x["question"])) for x in questions)
    print(f"   over all questions: {work} document scorings vs {len(questions) * index.n_docs} for a full scan\n")

    r1, r3 = recall_at(index, questions, 1), recall_at(index, questions, 3)
    print(f"3. Retrieval recall: recall@1 {r1:.0%}, recall@3 {r3:.0%} (criterion >= 80%: "
          f"{'yes' if r3 >= 0.8 else 'NO'})\n")

    print(f"4. Training the character MLP on the facts of {N_TRAIN_COUNTRIES} of {N_COUNTRIES} countries")
    start = time.time()
    params = train(facts, log=print)
    print(f"   trained in {time.time() - start:.1f}s\n")

    seen = [x for x in questions if x["country"] < N_TRAIN_COUNTRIES]
    unseen = [x for x in questions if x["country"] >= N_TRAIN_COUNTRIES]
    print("5. Exact-match accuracy of the generated answers")
    print(f"   {'questions':<28} {'with retrieval':>15} {'without':>8}")
    results = {}
    for label, group in (("seen in training", seen), ("unseen countries", unseen), ("all", questions)):
        results[label] = (accuracy(params, index, docs, group, True), accuracy(params, index, docs, group, False))
        print(f"   {label + f' ({len(group)})':<28} {results[label][0]:>15.0%} {results[label][1]:>8.0%}")
    with_r, without_r = results["all"]
    print(f"   criterion: with retrieval beats without: {'yes' if with_r > without_r else 'NO'}\n")

    print("6. The same questions, with and without retrieval")
    for x in unseen[:3] + seen[:3]:
        answer, doc_id = rag_answer(params, index, docs, x["question"])
        print(f"   {x['question']!r:<46} gold {x['answer']!r:<11} rag {answer!r:<11} no-rag "
              f"{generate(params, x['question'], '')!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
