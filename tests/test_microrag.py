"""Graded tests for microrag: tokeniser, inverted index, BM25, top-k, context injection.

BM25 is graded against its closed form, written again below (Lucene/Robertson
IDF ln(1 + (N - df + 0.5) / (df + 0.5)), tf saturation with k1, length
normalisation with b), on small hand-built documents where each factor
matters. The inverted index must score only the documents that share a query
term: a grader-side index counts every document-length lookup.

The generation tests load the character MLP from tests/data/microrag/model.json,
trained by the solution's own code with

    python solutions/microrag/microrag.py --train-checkpoint tests/data/microrag/model.json

and the slow test re-runs that command, checks it reproduces the shipped
file, and that answers with retrieval beat answers without
(`pytest -m slow tests/test_microrag.py --solutions`).
"""

import itertools
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, call_each

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "tests" / "data" / "microrag" / "model.json"
VOCAB = "_.abcdefghijklmnopqrstuvwxyz "  # PAD, END, a-z, space: the documented alphabet
TOL = 1e-12

NAN = float("nan")

# === the independent spec ===


def spec_tokenize(text):
    return ["".join(g) for alnum, g in itertools.groupby(text.lower(), key=str.isalnum) if alnum]


def spec_index(docs):
    """(postings as {term: [(doc, tf), ...]}, lengths)."""
    postings, lengths = {}, []
    for d, text in enumerate(docs):
        terms = spec_tokenize(text)
        lengths.append(len(terms))
        for term in sorted(set(terms)):
            postings.setdefault(term, []).append((d, terms.count(term)))
    return postings, lengths


def given_index(kata, docs):
    """The kata's InvertedIndex (provided) filled from the spec index: later tasks are graded without build_index."""
    return kata.InvertedIndex(*spec_index(docs))


def spec_idf(n, df):
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def spec_term(tf, dl, avgdl, w, k1, b):
    if tf == 0:
        return 0.0  # absent term (also the 0/0 of k1 = 0)
    return w * (tf * (k1 + 1)) / (tf + k1 * (1 - b + b * dl / avgdl))


def spec_bm25(docs, query, k1=1.2, b=0.75):
    """Full scan: every document, every distinct query term; keep documents sharing a term."""
    doc_terms = [spec_tokenize(d) for d in docs]
    n, avgdl = len(docs), sum(map(len, doc_terms)) / len(docs)
    scores = {}
    for d, terms in enumerate(doc_terms):
        shared = [t for t in set(spec_tokenize(query)) if t in terms]
        if shared:
            scores[d] = math.fsum(
                spec_term(terms.count(t), len(terms), avgdl, spec_idf(n, sum(t in x for x in doc_terms)), k1, b)
                for t in shared
            )
    return scores


class CountingIndex:
    """The grader's own inverted index: counts document-length lookups."""

    __wire__ = {"n_docs": "r", "avgdl": "r"}  # isolated grading: what the kata may read (workbook/isolate.py, allowed)

    def __init__(self, docs):
        self._postings, self._lengths = spec_index(docs)
        self.n_docs = len(docs)
        self.avgdl = sum(self._lengths) / self.n_docs
        self.looked_up = []

    def postings(self, term):
        return list(self._postings.get(term, []))

    def doc_length(self, doc_id):
        self.looked_up.append(doc_id)
        return self._lengths[doc_id]


def as_dict(scores, what):
    if not isinstance(scores, dict):
        raise Mismatch(f"{what}: expected a dict doc_id -> score, got {type(scores).__name__}")
    return scores


def assert_scores(got, expected, what, hint=""):
    got = as_dict(got, what)
    assert_equal(sorted(got), sorted(expected), f"{what}: the scored documents",
                 hint="score exactly the documents that contain at least one query term")
    keys = sorted(expected)
    assert_close([got[d] for d in keys], [expected[d] for d in keys], 1e-9, f"{what} (documents {keys})", hint)


# Hand-built documents: each pair isolates one factor of BM25.
#   0 vs 1: same length, tf 1 vs tf 4 of "river" (saturation, k1)
#   2 vs 3: tf 1 of "river" in a short and in a long document (length, b)
#   "the" is in almost every document, "delta" in one (IDF)
HAND_DOCS = [
    "The river runs past the old mill near the delta.",
    "River river river river: the mill, the mill.",
    "A river.",
    "The grey river winds past farms and fields and hedges and quiet towns and mills all day.",
    "The mill grinds corn.",
    "",
    "Delta-9, the MILL's river; the Mill's wheel.",
]


# === tokenize ===


@pytest.mark.task("tokenize")
@pytest.mark.parametrize("text", [
    "The Capital of Velonia, 2nd.",
    "  leading and   trailing  ",
    "don't-stop--me now!!",
    "",
    "...",
    "ALL CAPS and MiXeD 42x",
    "café au lait",
])
def test_tokenize_splits_at_non_alphanumerics(kata, text):
    assert_equal(kata.tokenize(text), spec_tokenize(text), f"tokenize({text!r})",
                 hint="terms are maximal runs of str.isalnum() characters, lowercased")


@pytest.mark.task("tokenize")
def test_tokenize_docstring_example(kata):
    assert_equal(kata.tokenize("The Capital of Velonia, 2nd."), ["the", "capital", "of", "velonia", "2nd"],
                 "tokenize('The Capital of Velonia, 2nd.')")


# === build_index ===


@pytest.mark.task("build_index")
def test_index_postings_and_lengths(kata):
    index = kata.build_index(HAND_DOCS)
    postings, lengths = spec_index(HAND_DOCS)
    assert_equal(index.n_docs, len(HAND_DOCS), "build_index(...).n_docs")
    assert_close(index.avgdl, sum(lengths) / len(lengths), TOL, "build_index(...).avgdl",
                 hint="average length in terms over every document, the empty one included")
    for d, n in enumerate(lengths):
        assert_equal(index.doc_length(d), n, f"doc_length({d}) of {HAND_DOCS[d]!r}")
    for term, expected in postings.items():
        got = [tuple(p) for p in index.postings(term)]
        assert_equal(got, expected, f"postings({term!r})",
                     hint="one (doc_id, tf) per document holding the term, doc_id increasing, tf = its count")
    assert_equal(list(index.postings("zebra")), [], "postings('zebra') for a term in no document")


@pytest.mark.task("build_index")
def test_index_counts_repeats_once_per_document(kata):
    index = kata.build_index(["b a b b", "a", "c b"])
    assert_equal([tuple(p) for p in index.postings("b")], [(0, 3), (2, 1)], "postings('b') of ['b a b b', 'a', 'c b']",
                 hint="a term repeated in one document is one posting with tf = the count, not several postings")
    assert_equal([tuple(p) for p in index.postings("a")], [(0, 1), (1, 1)], "postings('a')")


@pytest.mark.task("build_index")
def test_index_rejects_no_documents(kata):
    with pytest.raises(ValueError, match="docs"):
        kata.build_index([])


# === idf ===


@pytest.mark.task("idf")
def test_idf_closed_form(kata):
    for n, df in [(1, 0), (1, 1), (7, 1), (7, 3), (7, 4), (7, 7), (125, 5), (125, 50), (1000, 999)]:
        assert_close(kata.idf(n, df), spec_idf(n, df), TOL, f"idf(n_docs={n}, df={df})",
                     hint="ln(1 + (N - df + 0.5) / (df + 0.5)): the Lucene variant, with 1 + inside the log")


@pytest.mark.task("idf")
def test_idf_is_positive_and_falls_with_df(kata):
    values = [kata.idf(11, df) for df in range(12)]
    for df, v in enumerate(values):
        if not v > 0:
            raise Mismatch(f"idf(11, {df}) = {v!r}; the Lucene IDF is positive even for a term in every document"
                           "\n  hint: the classic ln((N - df + 0.5)/(df + 0.5)) goes negative; add 1 inside the log")
    for df in range(11):
        if not values[df] > values[df + 1]:
            raise Mismatch(f"idf(11, {df}) = {values[df]} is not above idf(11, {df + 1}) = {values[df + 1]}")


@pytest.mark.task("idf")
@pytest.mark.parametrize("n_docs, df, bad", [(0, 0, "n_docs"), (-3, 0, "n_docs"), (5, -1, "df"), (5, 6, "df"),
                                             (2.5, 1, "n_docs"), (5.0, 1, "n_docs"), (True, 0, "n_docs"),
                                             (float("nan"), 0, "n_docs"), (5, 2.5, "df"), (5, 1.0, "df"), (5, True, "df"),
                                             (5, float("nan"), "df")],
                         ids=["n_docs=0", "n_docs<0", "df<0", "df>n_docs", "n_docs=2.5", "n_docs=5.0", "n_docs=True",
                              "n_docs=nan", "df=2.5", "df=1.0", "df=True", "df=nan"])
def test_idf_rejects_bad_counts(kata, n_docs, df, bad):
    with pytest.raises(ValueError, match=rf"\b{bad}\b"):
        kata.idf(n_docs, df)


# === bm25_term ===


@pytest.mark.task("bm25_term")
def test_bm25_term_closed_form(kata):
    rng = random.Random(5)
    for _ in range(60):
        tf, dl = rng.randint(0, 9), rng.randint(1, 40)
        avgdl, w = rng.uniform(3.0, 17.0), rng.uniform(0.1, 4.0)
        k1, b = rng.choice([0.0, 0.5, 1.2, 2.0, 3.7]), rng.choice([0.0, 0.3, 0.75, 1.0])
        assert_close(kata.bm25_term(tf, dl, avgdl, w, k1, b), spec_term(tf, dl, avgdl, w, k1, b), 1e-12,
                     f"bm25_term(tf={tf}, doc_len={dl}, avgdl={avgdl:.4f}, idf={w:.4f}, k1={k1}, b={b})",
                     hint="idf * tf (k1 + 1) / (tf + k1 (1 - b + b doc_len / avgdl))")


@pytest.mark.task("bm25_term")
@pytest.mark.parametrize("avgdl, doc_len", [(0.5, 0), (1.0, 2), (0.25, 1)])
def test_bm25_term_short_average_documents(kata, avgdl, doc_len):
    """avgdl only has to be positive: a corpus of mostly empty documents has avgdl < 1."""
    assert_close(kata.bm25_term(2, doc_len, avgdl, 1.3, 1.2, 0.75), spec_term(2, doc_len, avgdl, 1.3, 1.2, 0.75), 1e-12,
                 f"bm25_term(tf=2, doc_len={doc_len}, avgdl={avgdl}, idf=1.3)", hint="only avgdl <= 0 is an error")


@pytest.mark.task("bm25_term")
def test_bm25_term_saturates_in_tf(kata):
    w, k1 = 1.7, 1.2
    gains = [kata.bm25_term(tf + 1, 9, 9.0, w, k1, 0.75) - kata.bm25_term(tf, 9, 9.0, w, k1, 0.75) for tf in range(8)]
    for tf in range(7):
        if not gains[tf] > gains[tf + 1] > 0:
            raise Mismatch(f"bm25_term: going from tf {tf} to {tf + 1} adds {gains[tf]}, from {tf + 1} to {tf + 2}"
                           f" adds {gains[tf + 1]}: each extra occurrence must add less, but still something"
                           "\n  hint: tf saturation is tf (k1 + 1) / (tf + k1 * norm), not tf itself")
    assert_close(kata.bm25_term(10 ** 9, 9, 9.0, w, k1, 0.75), w * (k1 + 1), 1e-6,
                 "bm25_term(tf=1e9): the saturation limit idf * (k1 + 1)")
    assert_close(kata.bm25_term(1, 9, 9.0, w, k1, 0.75), w, 1e-12, "bm25_term(tf=1) of an average-length document",
                 hint="at tf = 1 and doc_len = avgdl the tf factor is exactly 1")
    assert_equal(kata.bm25_term(0, 9, 9.0, w, k1, 0.75), 0.0, "bm25_term(tf=0)")


@pytest.mark.task("bm25_term")
def test_bm25_term_length_normalisation(kata):
    w = 2.0
    short, average, long_ = (kata.bm25_term(2, dl, 10.0, w, 1.2, 0.75) for dl in (4, 10, 25))
    if not short > average > long_:
        raise Mismatch(f"bm25_term(tf=2, doc_len 4 / 10 / 25, avgdl 10) = {short}, {average}, {long_}: a longer"
                       " document must score the same tf lower\n  hint: b * doc_len / avgdl in the denominator")
    for dl in (0, 4, 25):
        assert_close(kata.bm25_term(2, dl, 10.0, w, 1.2, 0.0), kata.bm25_term(2, 10, 10.0, w, 1.2, 0.0), 1e-12,
                     f"bm25_term(doc_len={dl}, b=0)", hint="b = 0 switches length normalisation off")
    assert_close(kata.bm25_term(3, 5, 10.0, w, 0.0, 0.75), w, 1e-12, "bm25_term(k1=0)",
                 hint="k1 = 0: the term counts once, whatever tf and length")


@pytest.mark.task("bm25_term")
@pytest.mark.parametrize("kwargs, bad", [
    ({"k1": -0.1}, "k1"), ({"b": -0.01}, "b"), ({"b": 1.5}, "b"), ({"avgdl": 0.0}, "avgdl"),
    ({"avgdl": -2.0}, "avgdl"), ({"tf": -1}, "tf"), ({"doc_len": -4}, "doc_len"), ({"doc_len": -1}, "doc_len"),
    ({"k1": NAN}, "k1"), ({"b": NAN}, "b"), ({"avgdl": NAN}, "avgdl"), ({"tf": NAN}, "tf"), ({"doc_len": NAN}, "doc_len"),
    ({"k1": -0.1, "tf": 0}, "k1"), ({"b": 1.5, "tf": 0}, "b"), ({"doc_len": -1, "tf": 0}, "doc_len"),
], ids=["k1<0", "b<0", "b>1", "avgdl=0", "avgdl<0", "tf<0", "doc_len<0", "doc_len=-1", "k1=nan", "b=nan", "avgdl=nan",
        "tf=nan", "doc_len=nan", "k1<0-tf=0", "b>1-tf=0", "doc_len<0-tf=0"])
def test_bm25_term_rejects_bad_arguments(kata, kwargs, bad):
    args = {"tf": 2, "doc_len": 5, "avgdl": 6.0, "idf_value": 1.3, "k1": 1.2, "b": 0.75}
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"\b{bad}\b"):  # the argument's name as a word ("be" is not "b")
        kata.bm25_term(**args)


# === bm25_scores ===


@pytest.mark.task("bm25_scores")
@pytest.mark.parametrize("query", [
    "river mill",
    "the delta river",
    "mill",
    "corn wheel farms",
    "Which RIVER, which mill?",
])
def test_bm25_scores_equal_the_closed_form(kata, query):
    index = given_index(kata, HAND_DOCS)
    assert_scores(kata.bm25_scores(index, query), spec_bm25(HAND_DOCS, query), f"bm25_scores(HAND_DOCS, {query!r})",
                  hint="sum over distinct query terms of idf(N, df) * tf (k1 + 1) / (tf + k1 (1 - b + b |D| / avgdl))")


@pytest.mark.task("bm25_scores")
@pytest.mark.parametrize("k1, b", [(0.0, 0.75), (2.0, 0.0), (0.9, 1.0), (1.6, 0.4)])
def test_bm25_scores_pass_k1_and_b_through(kata, k1, b):
    index = given_index(kata, HAND_DOCS)
    query = "the river mill delta"
    assert_scores(kata.bm25_scores(index, query, k1=k1, b=b), spec_bm25(HAND_DOCS, query, k1, b),
                  f"bm25_scores(HAND_DOCS, {query!r}, k1={k1}, b={b})")


@pytest.mark.task("bm25_scores")
def test_repeated_query_terms_count_once(kata):
    index = given_index(kata, HAND_DOCS)
    assert_scores(kata.bm25_scores(index, "river river mill river"), spec_bm25(HAND_DOCS, "river mill"),
                  "bm25_scores(HAND_DOCS, 'river river mill river')",
                  hint="the query is a set of terms: a repeated term adds its score once")


@pytest.mark.task("bm25_scores")
def test_bm25_scores_only_documents_sharing_a_term(kata):
    rng = random.Random(11)
    words = [f"w{i}" for i in range(40)]
    docs = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(57)]
    docs[13] += " needle"
    docs[41] += " needle haystack"
    docs[50] += " haystack haystack"
    for query in ("needle", "haystack needle", "needle needle w7", "absent"):
        index = CountingIndex(docs)
        scores = as_dict(kata.bm25_scores(index, query), f"bm25_scores(counting index, {query!r})")
        terms = set(spec_tokenize(query))
        sharing = {d for t in terms for d, _ in index.postings(t)}
        postings_total = sum(len(index.postings(t)) for t in terms)
        assert_equal(sorted(scores), sorted(sharing), f"bm25_scores({query!r}): the scored documents")
        if set(index.looked_up) != sharing or len(index.looked_up) > postings_total:
            raise Mismatch(
                f"bm25_scores({query!r}) called doc_length {len(index.looked_up)} times for"
                f" {len(set(index.looked_up))} documents; {len(sharing)} documents share a query term and their"
                f" postings hold {postings_total} entries (the most lookups an inverted index needs)"
                "\n  hint: walk the postings of the query's terms; never loop over all documents"
            )
        expected = spec_bm25(docs, query)
        keys = sorted(expected)
        assert_close([scores[d] for d in keys], [expected[d] for d in keys], 1e-9, f"bm25_scores({query!r})")


@pytest.mark.task("bm25_scores")
def test_bm25_scores_of_a_query_with_no_indexed_term(kata):
    index = given_index(kata, HAND_DOCS)
    assert_equal(dict(kata.bm25_scores(index, "zebra? unicorn!")), {}, "bm25_scores(HAND_DOCS, 'zebra? unicorn!')")
    assert_equal(dict(kata.bm25_scores(index, "")), {}, "bm25_scores(HAND_DOCS, '')")


@pytest.mark.task("bm25_scores")
@pytest.mark.parametrize("kwargs, bad", [({"k1": -1.0}, "k1"), ({"b": 1.01}, "b"), ({"b": -0.5}, "b"),
                                         ({"k1": NAN}, "k1"), ({"b": NAN}, "b")],
                         ids=["k1<0", "b>1", "b<0", "k1=nan", "b=nan"])
def test_bm25_scores_reject_bad_parameters(kata, kwargs, bad):
    index = given_index(kata, HAND_DOCS)
    with pytest.raises(ValueError, match=rf"\b{bad}\b"):
        kata.bm25_scores(index, "river", **kwargs)


@pytest.mark.task("bm25_scores")
@pytest.mark.parametrize("kwargs, bad", [({"k1": -0.5}, "k1"), ({"k1": -1.5}, "k1"), ({"b": 1.5}, "b"),
                                         ({"b": -0.5}, "b")], ids=["k1=-0.5", "k1=-1.5", "b=1.5", "b=-0.5"])
def test_bm25_scores_check_parameters_even_when_no_document_matches(kata, kwargs, bad):
    """No query term is indexed, so bm25_term is never called: bm25_scores itself must raise."""
    index = given_index(kata, HAND_DOCS)
    with pytest.raises(ValueError, match=rf"\b{bad}\b"):
        kata.bm25_scores(index, "qqqq", **kwargs)


@pytest.mark.task("bm25_scores")
def test_retrieval_recall_on_the_generated_facts(kata):
    docs, questions = kata.make_facts()
    index = given_index(kata, docs)
    hits = 0
    for q in questions:
        expected = spec_bm25(docs, q["question"]) if q is questions[0] else None
        scores = kata.bm25_scores(index, q["question"])
        if expected is not None:
            assert_scores(scores, expected, f"bm25_scores(facts, {q['question']!r})")
        best = sorted(scores, key=lambda d: (-scores[d], d))[:3]
        hits += q["doc"] in best
    recall = hits / len(questions)
    assert recall >= 0.8, f"BM25 recall@3 on the generated facts is {recall:.0%}, below the 80 % criterion"


# === top_k ===


def ranked(scores):
    return [(d, s) for d, s in sorted(scores.items(), key=lambda x: (-x[1], x[0]))]


def as_pairs(result, what):
    try:
        return [(int(d), float(s)) for d, s in result]
    except (TypeError, ValueError):
        raise Mismatch(f"{what}: expected a list of (doc_id, score) pairs, got {result!r}") from None


@pytest.mark.task("top_k")
@pytest.mark.parametrize("k", [1, 2, 3, 5, 9])
def test_top_k_orders_best_first(kata, k):
    scores = {4: 0.5, 9: 2.25, 2: -0.75, 17: 1.125, 6: 3.0, 0: 0.0625}
    assert_equal(as_pairs(kata.top_k(scores, k), f"top_k(scores, {k})"), ranked(scores)[:k], f"top_k(scores, {k})",
                 hint="sort by score descending and keep the first k (all of them when k > len(scores))")


@pytest.mark.task("top_k")
def test_top_k_breaks_ties_by_doc_id(kata):
    scores = {12: 1.5, 3: 1.5, 7: 2.0, 5: 1.5, 1: 0.5}
    assert_equal(as_pairs(kata.top_k(scores, 4), "top_k(ties, 4)"), [(7, 2.0), (3, 1.5), (5, 1.5), (12, 1.5)],
                 "top_k({12: 1.5, 3: 1.5, 7: 2.0, 5: 1.5, 1: 0.5}, 4)", hint="equal scores: lower doc_id first")
    assert_equal(as_pairs(kata.top_k({}, 3), "top_k({}, 3)"), [], "top_k({}, 3)")


@pytest.mark.task("top_k")
@pytest.mark.parametrize("k", [0, -2, 1.5, 2.0, True, NAN], ids=["k=0", "k<0", "k=1.5", "k=2.0", "k=True", "k=nan"])
@pytest.mark.parametrize("scores", [{1: 1.0}, {}], ids=["one", "empty"])  # nothing to rank: k is still checked
def test_top_k_rejects_bad_k(kata, k, scores):
    with pytest.raises(ValueError, match=r"\bk\b"):
        kata.top_k(scores, k)


# === encode_input ===


def spec_encode(query, context, answer):
    ids = {c: i for i, c in enumerate(VOCAB)}
    i = len(answer)
    window = [ids.get(context[j], 0) if j < len(context) else 0 for j in (i, i + 1)]
    history = [ids[c] for c in (".." + answer)[-2:]]
    return [ids[c] for c in query.lower() if "a" <= c <= "z"], window + history


@pytest.mark.task("encode_input")
@pytest.mark.parametrize("query, context, answer", [
    ("which city is the capital of velonia", "tarsk is the capital city of velonia.", ""),
    ("which city is the capital of velonia", "tarsk is the capital city of velonia.", "t"),
    ("which city is the capital of velonia", "tarsk is the capital city of velonia.", "tars"),
    ("What, 2 Currency?", "kiko is the currency used in garmelia.", "kiko"),
    ("what currency", "", ""),
    ("what currency", "", "ab"),
    ("what currency", "ab", "a"),
    ("what currency", "ab", "ab"),
    ("42 !!", "x, y", "x"),
    ("Zany zebra quiz", "", ""),
])
def test_encode_input_slots(kata, query, context, answer):
    q, s = kata.encode_input(query, context, answer)
    expected_q, expected_s = spec_encode(query, context, answer)
    assert_equal(list(q), expected_q, f"encode_input({query!r}, ...) query_ids",
                 hint="the ids of the query's letters a-z, in order, lowercased; everything else dropped")
    assert_equal(list(s), expected_s, f"encode_input({query!r}, {context!r}, {answer!r}) slot_ids",
                 hint="[context[i], context[i+1], last two of END + answer] with i = len(answer); PAD past the end")


# === rag_answer, on the shipped checkpoint ===


def checkpoint_params():
    return json.loads(CHECKPOINT.read_text())["params"]


def spec_best(docs, query):
    scores = spec_bm25(docs, query)
    return min(scores, key=lambda d: (-scores[d], d)) if scores else None


@pytest.mark.task("rag_answer")
def test_rag_answer_retrieves_then_generates(kata):
    docs, questions = kata.make_facts()
    index = given_index(kata, docs)
    params = checkpoint_params()
    for q in questions[::17]:
        best = spec_best(docs, q["question"])
        answer, doc_id = kata.rag_answer(params, index, docs, q["question"])
        assert_equal(doc_id, best, f"rag_answer({q['question']!r}) document",
                     hint="take the best BM25 document: top_k(bm25_scores(...), 1)")
        assert_equal(answer, kata.generate(params, q["question"], docs[best]), f"rag_answer({q['question']!r}) answer",
                     hint="the retrieved document's text is the context: generate(params, query, docs[doc_id])")


@pytest.mark.task("rag_answer")
def test_rag_answer_breaks_a_score_tie_by_the_lowest_doc_id(kata):
    # Documents 1 and 3 have the same length and the same query terms: an exact BM25 tie.
    docs = ["tarsk is the capital city of velonia.", "kiko is the currency used in velonia.",
            "velonia is a country known for its salt.", "ruta is the currency used in velonia."]
    query = "what currency does velonia use"
    scores = spec_bm25(docs, query)
    assert scores[1] == scores[3] and max(scores.values()) == scores[1], "fixture: documents 1 and 3 must tie for best"
    params = checkpoint_params()
    answer, doc_id = kata.rag_answer(params, given_index(kata, docs), docs, query)
    assert_equal(doc_id, 1, f"rag_answer({query!r}) document when documents 1 and 3 tie for the best score",
                 hint="the documented tie rule: equal scores go to the lowest doc_id (as top_k orders them)")
    assert_equal(answer, kata.generate(params, query, docs[1]), f"rag_answer({query!r}) answer")


@pytest.mark.task("rag_answer")
@pytest.mark.parametrize("query, kwargs, default_doc, doc", [
    ("river", {"k1": 0.0}, 1, 0),         # k1 = 0: only "does the term occur" counts; the tie goes to doc 0
    ("corn grey", {"b": 0.0}, 4, 3),      # b = 0: the long document 3 is no longer discounted
    ("and corn", {"b": 1.0}, 3, 4),       # b = 1: full length normalisation favours the short document 4
], ids=["k1=0", "b=0", "b=1"])
def test_rag_answer_passes_k1_and_b_to_the_retriever(kata, query, kwargs, default_doc, doc):
    best = lambda scores: min(scores, key=lambda d: (-scores[d], d))
    assert best(spec_bm25(HAND_DOCS, query)) == default_doc and best(spec_bm25(HAND_DOCS, query, **{
        "k1": 1.2, "b": 0.75, **kwargs})) == doc, "fixture: the parameters must change the best document"
    params, index = checkpoint_params(), given_index(kata, HAND_DOCS)
    assert_equal(kata.rag_answer(params, index, HAND_DOCS, query)[1], default_doc,
                 f"rag_answer({query!r}) document with the default k1 = 1.2, b = 0.75")
    answer, doc_id = kata.rag_answer(params, index, HAND_DOCS, query, **kwargs)
    assert_equal(doc_id, doc, f"rag_answer({query!r}, {kwargs}) document",
                 hint="pass k1 and b on to bm25_scores: they change which document scores best")
    assert_equal(answer, kata.generate(params, query, HAND_DOCS[doc]), f"rag_answer({query!r}, {kwargs}) answer")


@pytest.mark.task("rag_answer")
def test_rag_answer_without_any_shared_term(kata):
    docs, _ = kata.make_facts()
    params = checkpoint_params()
    answer, doc_id = kata.rag_answer(params, given_index(kata, docs), docs, "zzz qqq")
    assert_equal(doc_id, None, "rag_answer('zzz qqq') document (no document shares a term)")
    assert_equal(answer, kata.generate(params, "zzz qqq", ""), "rag_answer('zzz qqq') answer",
                 hint="nothing retrieved: answer from the query alone, with an empty context")


@pytest.mark.task("rag_answer")
def test_retrieval_answers_unseen_facts(kata):
    docs, questions = kata.make_facts()
    index = given_index(kata, docs)
    params = checkpoint_params()
    unseen = [q for q in questions if q["country"] >= kata.N_TRAIN_COUNTRIES]
    answers = call_each(kata.rag_answer, [(params, index, docs, q["question"]) for q in unseen])
    bare = call_each(kata.generate, [(params, q["question"], "") for q in unseen])
    with_r = sum(a[0] == q["answer"] for a, q in zip(answers, unseen)) / len(unseen)
    without = sum(a == q["answer"] for a, q in zip(bare, unseen)) / len(unseen)
    assert with_r >= 0.8 and with_r > without, (
        f"on {len(unseen)} questions about countries the model never trained on, exact-match accuracy is"
        f" {with_r:.0%} with retrieval and {without:.0%} without; expected >= 80 % and better than without"
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.task("rag_answer")
def test_regenerated_checkpoint_reproduces_and_retrieval_wins(kata, tmp_path):
    out = tmp_path / "model.json"
    done = subprocess.run([sys.executable, kata.__file__, "--train-checkpoint", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, f"--train-checkpoint failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    fresh, shipped = json.loads(out.read_text()), json.loads(CHECKPOINT.read_text())
    assert_equal({k: v for k, v in fresh.items() if k != "params"},
                 {k: v for k, v in shipped.items() if k != "params"}, "checkpoint metadata")
    for name, W in shipped["params"].items():
        assert_close(fresh["params"][name], W, 1e-6, f"regenerated tensor {name}")
    docs, questions = kata.make_facts()
    index = given_index(kata, docs)
    params = fresh["params"]
    with_r = sum(kata.rag_answer(params, index, docs, q["question"])[0] == q["answer"] for q in questions)
    without = sum(kata.generate(params, q["question"], "") == q["answer"] for q in questions)
    print(f"exact match over {len(questions)} questions: {with_r} with retrieval, {without} without")
    assert with_r > without, f"answers with retrieval ({with_r}) do not beat answers without ({without})"
