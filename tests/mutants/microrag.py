"""Realistic microrag mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "classic_idf",
        "uses the classic Robertson IDF ln((N - df + 0.5)/(df + 0.5)), negative for common terms",
        "return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))",
        "return math.log((n_docs - df + 0.5) / (df + 0.5))",
    ),
    Mutant(
        "idf_no_smoothing",
        "drops the 0.5 smoothing: ln(1 + (N - df) / df)",
        "return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))",
        "return math.log(1.0 + (n_docs - df) / max(df, 1))",
    ),
    Mutant(
        "no_saturation",
        "forgets the (k1 + 1) numerator factor, so one occurrence in an average document is not worth idf",
        "return idf_value * tf * (k1 + 1.0) / (tf + k1 * norm)",
        "return idf_value * tf / (tf + k1 * norm)",
    ),
    Mutant(
        "length_ratio_inverted",
        "divides avgdl by the document length instead of the other way round",
        "norm = 1.0 - b + b * doc_len / avgdl",
        "norm = 1.0 - b + b * avgdl / max(doc_len, 1)",
    ),
    Mutant(
        "b_on_wrong_side",
        "blends with b the wrong way: b + (1 - b) * |D| / avgdl",
        "norm = 1.0 - b + b * doc_len / avgdl",
        "norm = b + (1.0 - b) * doc_len / avgdl",
    ),
    Mutant(
        "repeated_query_terms",
        "scores every query token, so a repeated query term counts twice",
        "for term in dict.fromkeys(tokenize(query)):",
        "for term in tokenize(query):",
    ),
    Mutant(
        "df_from_collection",
        "uses the number of documents instead of the postings length as df",
        "weight = idf(index.n_docs, len(postings))",
        "weight = idf(index.n_docs, index.n_docs)",
    ),
    Mutant(
        "tie_by_higher_id",
        "breaks score ties by the higher document id",
        "ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))",
        "ranked = sorted(scores.items(), key=lambda item: (-item[1], -item[0]))",
    ),
    Mutant(
        "top_k_ascending",
        "sorts the scores ascending, returning the worst documents",
        "ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))",
        "ranked = sorted(scores.items(), key=lambda item: (item[1], item[0]))",
    ),
    Mutant(
        "top_k_off_by_one",
        "keeps k - 1 documents",
        "for doc_id, score in ranked[:k]]",
        "for doc_id, score in ranked[:k - 1]]",
    ),
    Mutant(
        "tf_counts_documents",
        "records tf = 1 for every posting (presence, not the count)",
        "            postings.setdefault(term, []).append((doc_id, tf))",
        "            postings.setdefault(term, []).append((doc_id, 1))",
    ),
    Mutant(
        "window_off_by_one",
        "reads the context one character ahead of the answer (context[i + 1], context[i + 2])",
        "for j in (i, i + 1)]",
        "for j in (i + 1, i + 2)]",
    ),
    Mutant(
        "tokenize_keeps_case",
        "forgets to lowercase, so 'River' and 'river' are different terms",
        "for ch in text.lower():",
        "for ch in text:",
    ),
    Mutant(
        "rag_ignores_context",
        "retrieves but never injects the document into the model's input",
        "return generate(params, query, docs[doc_id]), doc_id",
        "return generate(params, query, \"\"), doc_id",
    ),
    Mutant(
        "rag_tie_to_highest_id",
        "picks the best document with max over (score, doc_id), so a tie goes to the highest doc_id",
        "    doc_id = best[0][0]\n",
        "    scores = bm25_scores(index, query, k1, b)\n    doc_id = max(scores, key=lambda d: (scores[d], d))\n",
    ),
]
