"""The answering service: retrieval, evidence selection, refusal and the HTTP API."""
