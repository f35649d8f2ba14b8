"""The response pool and the BM25 first stage."""

from __future__ import annotations

import pytest

from personafuse.retrieval import Bm25Retriever, PoolError, pool_from_examples, read_pool
from personafuse.retrieval.pool import QUERIES, query_words

POOL = ["i like dogs .", "i have two cats .", "hiking is fun .", "dogs are the best pets ."]


def test_pool_file_one_response_a_line_duplicates_merged(tmp_path):
    path = tmp_path / "pool.txt"
    path.write_text("i like dogs .\nhiking is fun .\ni like dogs .\n")
    assert read_pool(path) == (["i like dogs .", "hiking is fun ."], 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [("a .\n\nb .\n", "pool.txt:2: a blank line"), ("", "pool.txt: empty")],
)
def test_bad_pool_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "pool.txt"
    path.write_text(text)
    with pytest.raises(PoolError, match=message):
        read_pool(path)
    with pytest.raises(PoolError, match="no such pool file"):
        read_pool(tmp_path / "missing.txt")


def test_pool_of_a_split_is_its_distinct_true_responses():
    from personafuse.data.schema import RankingExample

    def example(response):
        return RankingExample(0, 0, ("hi .",), (), (), (response,), 0, response)

    assert pool_from_examples([example("a ."), example("b ."), example("a .")]) == ["a .", "b ."]


def test_a_pool_without_indexable_words_is_refused():
    with pytest.raises(PoolError, match="no response of the pool has a word BM25 can index"):
        Bm25Retriever(["?", "!"])


def test_bm25_first_stage_finds_word_overlap_and_survives_saving(tmp_path):
    retriever = Bm25Retriever(POOL)
    assert retriever.top_k(["hello !", "do you like dogs ?"], 2) == [0, 3]
    assert sorted(retriever.top_k(["dogs"], 10)) == [0, 1, 2, 3]  # k above the pool size
    retriever.save(tmp_path)
    again = Bm25Retriever.load(tmp_path, POOL)
    assert again.top_k(["hello !", "do you like dogs ?"], 2) == [0, 3]


def test_first_stage_queries_read_what_their_names_say():
    context, persona = ["hi !", "what do you do ?"], ["i work as a nurse ."]
    expected = {
        "last_turn+persona": ["what do you do ?", "i work as a nurse ."],
        "last_turn": ["what do you do ?"],
        "dialogue+persona": ["hi !", "what do you do ?", "i work as a nurse ."],
        "dialogue": ["hi !", "what do you do ?"],
    }
    assert set(expected) == set(QUERIES)
    for name in QUERIES:
        assert query_words(name, context, persona) == expected[name]
        assert query_words(name, context, None) == [t for t in expected[name] if t in context]
    with pytest.raises(ValueError, match="query='turns': valid choices: last_turn\\+persona, "):
        query_words("turns", context)


def test_the_persona_in_the_query_finds_replies_about_the_persona():
    pool = ["hello there !", "i work as a nurse at the hospital .", "i like to do yoga ."]
    retriever = Bm25Retriever(pool)
    context = ["hello there !", "what is your job ?"]
    words = query_words("last_turn+persona", context, ["i work as a nurse ."])
    assert retriever.top_k(words, 1) == [1]
    assert retriever.top_k(query_words("dialogue", context), 1) == [0]
