"""A llama-index node parser that packs whole sentences into chunks with exact offsets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, Document, NodeRelationship, TextNode
from pydantic import Field

from core.sentences import sentence_spans


def pack(spans: Sequence[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Greedily pack sentence spans into chunks of at most `size` characters.

    A sentence longer than `size` is cut into `size` pieces. Each chunk after the first starts
    with the last sentences of the previous one that fit within `overlap` characters.
    """
    pieces: list[tuple[int, int]] = []
    for s, e in spans:
        while e - s > size:
            pieces.append((s, s + size))
            s += size
        pieces.append((s, e))
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(pieces):
        start, j = pieces[i][0], i
        while j + 1 < len(pieces) and pieces[j + 1][1] - start <= size:
            j += 1
        chunks.append((start, pieces[j][1]))
        if j + 1 >= len(pieces):
            break
        k = j + 1
        while k - 1 > i and pieces[j][1] - pieces[k - 1][0] <= overlap:
            k -= 1
        i = k
    return chunks


class SentenceChunker(NodeParser):
    """Chinese/English sentence-aware chunking whose nodes carry exact `start_char_idx` /
    `end_char_idx` into the document text, and the document title for embedding."""

    chunk_size: int = Field(default=350, gt=0)
    chunk_overlap: int = Field(default=60, ge=0)

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        out: list[BaseNode] = []
        for doc in nodes:
            text = doc.get_content()
            # Once per document: `as_related_node_info` hashes the whole text, and doing it per
            # chunk made chunking quadratic in the document's size.
            source = doc.as_related_node_info()
            for start, end in pack(sentence_spans(text), self.chunk_size, self.chunk_overlap):
                node = TextNode(
                    text=text[start:end],
                    start_char_idx=start,
                    end_char_idx=end,
                    # The title goes into what is embedded (it situates every chunk); absent
                    # titles are left out rather than embedded as "title: ".
                    metadata={"title": doc.metadata["title"]} if doc.metadata.get("title") else {},
                    excluded_llm_metadata_keys=[],
                    relationships={NodeRelationship.SOURCE: source},
                )
                out.append(node)
        return out

    def _postprocess_parsed_nodes(
        self, nodes: list[BaseNode], parent_doc_map: dict[str, Document]
    ) -> list[BaseNode]:
        # The base class re-finds each node's text in the document with str.find, which can
        # land on an earlier repeat of the same text; our offsets are exact, keep them.
        exact = [(n.start_char_idx, n.end_char_idx) for n in nodes if isinstance(n, TextNode)]
        nodes = super()._postprocess_parsed_nodes(nodes, parent_doc_map)
        for node, (s, e) in zip(nodes, exact, strict=True):
            node.start_char_idx, node.end_char_idx = s, e  # type: ignore[attr-defined]
        return nodes
