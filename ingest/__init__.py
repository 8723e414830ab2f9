"""Ingestion: read sources, chunk, embed and sync them into Qdrant."""
