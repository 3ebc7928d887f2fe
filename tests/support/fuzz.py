"""The hypothesis settings the fuzz tests share: enough examples to find trouble, bounded in time."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

FUZZ = settings(max_examples=150, deadline=5000, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
