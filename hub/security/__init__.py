"""Who the caller is and what it may run: tokens, partners, manifests, persisted documents and
rate limits."""
