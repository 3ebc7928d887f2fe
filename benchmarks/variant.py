"""One measurement's definition: a scenario, its load-generator flags and which servers skip it
(shared by the runner, which measures variants, and the report, which writes them out)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Variant:
    scenario: str
    label: str
    flags: dict[str, float | int | str] = field(default_factory=dict)  # the load generator's
    skip: dict[str, str] = field(default_factory=dict)  # server -> why it is not measured
    server_args: dict[str, tuple[str, ...]] = field(default_factory=dict)  # server -> extra arguments

    @property
    def key(self) -> str:
        return f"{self.scenario} {self.label}"
