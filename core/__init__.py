"""What ingest, service and eval share: settings, records, text folding, sentences,
sparse terms, embedders, the Qdrant schema and the citation check."""
