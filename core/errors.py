"""Domain errors. Each message names the bad value and the fix; each edge (CLI, app)
translates them once."""


class GqaError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(GqaError):
    """A setting is missing or inconsistent."""


class StoreUnavailable(GqaError):
    """The Qdrant store cannot be reached or opened."""


class CollectionMissing(GqaError):
    """The collection the service reads has not been created by an ingest yet."""


class EmbedderMismatch(GqaError):
    """The index was built with another embedder than the one configured."""


class SourceError(GqaError):
    """One source file cannot be read; it is reported and skipped."""


class EmbedderError(GqaError):
    """The embeddings server rejected or failed a request (after its retries)."""


class EmbedderUnavailable(EmbedderError):
    """The embeddings server cannot be reached at all (connection refused, DNS, TLS)."""
