"""Embedding, retrieval metrics and protocols, and the retrieval index."""
