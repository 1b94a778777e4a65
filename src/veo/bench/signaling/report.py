"""The figures of one run: per scenario (one node, two nodes) the idle cost and the set-ups."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from veo.bench.signaling.setups import SetupFigures


@dataclass
class IdleFigures:
    agents: int
    held: int
    join_seconds: float
    duration_s: float
    #: node name -> agents it holds
    per_node: dict[str, int] = field(default_factory=dict)
    #: node name -> KiB before the agents joined / after they joined and settled
    rss_before_kib: dict[str, int] = field(default_factory=dict)
    rss_after_kib: dict[str, int] = field(default_factory=dict)
    pss_before_kib: dict[str, int] = field(default_factory=dict)
    pss_after_kib: dict[str, int] = field(default_factory=dict)
    #: node name -> CPU seconds over ``duration_s`` of idling
    idle_cpu_s: dict[str, float] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    #: agent sockets on which permessage-deflate was negotiated
    compressed: int = 0

    @property
    def kib_per_agent_rss(self) -> float | None:
        delta = sum(self.rss_after_kib.values()) - sum(self.rss_before_kib.values())
        return round(delta / self.held, 1) if self.held else None

    @property
    def kib_per_agent_pss(self) -> float | None:
        delta = sum(self.pss_after_kib.values()) - sum(self.pss_before_kib.values())
        return round(delta / self.held, 1) if self.held else None

    @property
    def cpu_percent(self) -> float:
        """All nodes' idle CPU as a share of one core."""
        return round(100 * sum(self.idle_cpu_s.values()) / self.duration_s, 1) if self.duration_s else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "kib_per_agent_rss": self.kib_per_agent_rss,
            "kib_per_agent_pss": self.kib_per_agent_pss,
            "cpu_percent_of_one_core": self.cpu_percent,
        }


@dataclass
class Scenario:
    nodes: int
    database: str
    bus: str
    setups: SetupFigures | None = None
    idle: IdleFigures | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "database": self.database,
            "bus": self.bus,
            "setups": asdict(self.setups) if self.setups else None,
            "idle": self.idle.as_dict() if self.idle else None,
            "error": self.error,
        }


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(scenarios: list[Scenario]) -> str:
    """Two fixed-width tables: idle agents, then set-up latency (milliseconds)."""
    idle_head = (
        f"{'nodes':<7}{'backends':<20}{'agents':>8}{'deflate':>9}{'join s':>8}"
        f"{'RSS before MiB':>16}{'RSS after MiB':>15}{'KiB/agent RSS':>15}"
        f"{'KiB/agent PSS':>15}{'idle CPU %':>12}"
    )
    lines = ["Idle agents (memory and CPU of the nodes, summed)", idle_head, "-" * len(idle_head)]
    for s in scenarios:
        backends = f"{s.database}+{s.bus}"
        i = s.idle
        if i is None:
            lines.append(f"{s.nodes:<7}{backends:<20}  {s.error or 'not measured'}")
            continue
        lines.append(
            f"{s.nodes:<7}{backends:<20}{i.held:>8}{i.compressed:>9}{i.join_seconds:>8.0f}"
            f"{_mib(sum(i.rss_before_kib.values())):>16}{_mib(sum(i.rss_after_kib.values())):>15}"
            f"{_num(i.kib_per_agent_rss):>15}{_num(i.kib_per_agent_pss):>15}{i.cpu_percent:>12.1f}"
        )
    setup_head = (
        f"{'nodes':<7}{'console':<10}{'set-ups':>8}{'ok':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  failures"
    )
    lines += ["", "Concurrent session set-ups (API call to consent at the console)", setup_head]
    lines.append("-" * len(setup_head))
    for s in scenarios:
        f = s.setups
        if f is None:
            lines.append(f"{s.nodes:<7}{'':<10}  {s.error or 'not measured'}")
            continue
        where = "other" if f.cross_node else "same"
        failures = "; ".join(f"{n}x {why}" for why, n in sorted(f.errors.items(), key=lambda e: -e[1])) or "-"
        lines.append(
            f"{s.nodes:<7}{where:<10}{f.count:>8}{f.ok:>6}{_num(f.p50_ms):>9}{_num(f.p95_ms):>9}"
            f"{_num(f.max_ms):>9}  {failures}"
        )
    return "\n".join(lines)
