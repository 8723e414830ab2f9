from core.sparse import Bm25Encoder, term_id


def test_traditional_passage_shares_terms_with_simplified_query() -> None:
    enc = Bm25Encoder()
    passage = enc.encode_passage("請假須經主管核准，年假天數依年資計算。")
    query = enc.encode_query("请假需要谁核准")
    assert set(query.indices) & set(passage.indices)
    assert term_id("核准") in passage.indices


def test_passage_weights_saturate_and_query_weights_are_one() -> None:
    enc = Bm25Encoder()
    once = enc.encode_passage("vpn")
    many = enc.encode_passage("vpn " * 50)
    assert many.values[0] > once.values[0]
    assert many.values[0] < enc.k1 + 1  # BM25 term frequency saturates
    q = enc.encode_query("vpn vpn server")
    assert q.values == [1.0, 1.0]
    assert enc.encode_query("的 了 吗").indices == []
