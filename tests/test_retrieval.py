"""The response pool and the BM25 first stage."""

from __future__ import annotations

import pytest

from personafuse.retrieval import Bm25Retriever, PoolError, pool_from_examples, read_pool

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
