//! Seeded PCG for backoff jitter (being written).
