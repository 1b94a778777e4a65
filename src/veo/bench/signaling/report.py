"""The figures of one run: per scenario (one node, two nodes) the idle cost of agents and of
managed devices, and the set-ups."""

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
class DeviceFigures:
    """What N idle managed devices cost the nodes (``devices.py``, ``device_idle.py``)."""

    devices: int
    held: int = 0
    #: devices connected before the baseline (warming the device path up), not counted
    warm_up: int = 0
    #: wall time until every device was authenticated or had failed
    connect_seconds: float = 0.0
    #: per device, opening the connection to ``device_welcome`` (milliseconds)
    connect_p50_ms: float | None = None
    connect_p95_ms: float | None = None
    connect_max_ms: float | None = None
    #: devices authenticating at once
    concurrency: int = 0
    #: device sockets on which permessage-deflate was negotiated (the devices offer it)
    compressed: int = 0
    #: the period the server asked for, and the heartbeats sent during the idle window
    heartbeat_seconds: int = 0
    heartbeats: int = 0
    #: after the idle window: sockets still open, devices the database lists as connected
    still_open: int = 0
    online_in_database: int = 0
    per_node: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    rss_before_kib: dict[str, int] = field(default_factory=dict)
    rss_after_kib: dict[str, int] = field(default_factory=dict)
    pss_before_kib: dict[str, int] = field(default_factory=dict)
    pss_after_kib: dict[str, int] = field(default_factory=dict)
    #: node name -> CPU seconds over ``baseline_s`` with only the warm-up devices connected
    baseline_cpu_s: dict[str, float] = field(default_factory=dict)
    baseline_s: float = 0.0
    #: node name -> CPU seconds over ``duration_s`` with every device connected
    idle_cpu_s: dict[str, float] = field(default_factory=dict)
    duration_s: float = 0.0
    #: idle agents joined on the same fresh nodes right after (the devices still connected): their
    #: memory measured the same way, for a like-for-like ratio (no CPU window of their own)
    beside_agents: int = 0
    beside_agents_held: int = 0
    beside_rss_before_kib: dict[str, int] = field(default_factory=dict)
    beside_rss_after_kib: dict[str, int] = field(default_factory=dict)
    beside_pss_before_kib: dict[str, int] = field(default_factory=dict)
    beside_pss_after_kib: dict[str, int] = field(default_factory=dict)
    beside_failures: dict[str, int] = field(default_factory=dict)

    @property
    def kib_per_device_rss(self) -> float | None:
        delta = sum(self.rss_after_kib.values()) - sum(self.rss_before_kib.values())
        return round(delta / self.held, 1) if self.held else None

    @property
    def kib_per_device_pss(self) -> float | None:
        delta = sum(self.pss_after_kib.values()) - sum(self.pss_before_kib.values())
        return round(delta / self.held, 1) if self.held else None

    @property
    def kib_per_beside_agent_rss(self) -> float | None:
        delta = sum(self.beside_rss_after_kib.values()) - sum(self.beside_rss_before_kib.values())
        return round(delta / self.beside_agents_held, 1) if self.beside_agents_held else None

    @property
    def kib_per_beside_agent_pss(self) -> float | None:
        delta = sum(self.beside_pss_after_kib.values()) - sum(self.beside_pss_before_kib.values())
        return round(delta / self.beside_agents_held, 1) if self.beside_agents_held else None

    @property
    def cpu_percent(self) -> float:
        """All nodes' CPU with every device connected, as a share of one core."""
        return round(100 * sum(self.idle_cpu_s.values()) / self.duration_s, 1) if self.duration_s else 0.0

    @property
    def baseline_cpu_percent(self) -> float:
        """The same nodes' CPU just before (only the warm-up devices connected)."""
        return round(100 * sum(self.baseline_cpu_s.values()) / self.baseline_s, 1) if self.baseline_s else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "kib_per_device_rss": self.kib_per_device_rss,
            "kib_per_device_pss": self.kib_per_device_pss,
            "kib_per_beside_agent_rss": self.kib_per_beside_agent_rss,
            "kib_per_beside_agent_pss": self.kib_per_beside_agent_pss,
            "cpu_percent_of_one_core": self.cpu_percent,
            "baseline_cpu_percent_of_one_core": self.baseline_cpu_percent,
        }


def _ratio(device: float | None, agent: float | None) -> float | None:
    return round(device / agent, 2) if device is not None and agent else None


def devices_vs_agents(devices: DeviceFigures | None, agents: IdleFigures | None) -> dict[str, float | None]:
    """One idle device over one idle agent of the same run.

    Memory: against the agents joined beside the devices on the same fresh nodes
    (``kib_rss``/``kib_pss``: both measured on a heap that never gave memory back) and against the
    scenario's idle agents (``kib_rss_idle_table``: those joined after 100 set-ups, whose freed
    memory they partly reuse). CPU per connection: each side's whole CPU share over its
    connection count, from the two idle windows.
    """
    ratios: dict[str, float | None] = {
        "kib_rss": None,
        "kib_pss": None,
        "kib_rss_idle_table": None,
        "cpu_per_connection": None,
    }
    if devices is None or not devices.held:
        return ratios
    ratios["kib_rss"] = _ratio(devices.kib_per_device_rss, devices.kib_per_beside_agent_rss)
    ratios["kib_pss"] = _ratio(devices.kib_per_device_pss, devices.kib_per_beside_agent_pss)
    if agents is not None and agents.held:
        ratios["kib_rss_idle_table"] = _ratio(devices.kib_per_device_rss, agents.kib_per_agent_rss)
        ratios["cpu_per_connection"] = _ratio(
            devices.cpu_percent / devices.held, agents.cpu_percent / agents.held
        )
    return ratios


@dataclass
class Scenario:
    nodes: int
    database: str
    bus: str
    setups: SetupFigures | None = None
    idle: IdleFigures | None = None
    devices: DeviceFigures | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "database": self.database,
            "bus": self.bus,
            "setups": asdict(self.setups) if self.setups else None,
            "idle": self.idle.as_dict() if self.idle else None,
            "devices": self.devices.as_dict() if self.devices else None,
            "devices_vs_agents": devices_vs_agents(self.devices, self.idle),
            "error": self.error,
        }


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(scenarios: list[Scenario]) -> str:
    """Fixed-width tables: idle agents, set-up latency (milliseconds), then managed devices when
    any were measured."""
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
    if any(s.devices is not None for s in scenarios):
        lines += ["", *device_table(scenarios)]
    return "\n".join(lines)


def device_table(scenarios: list[Scenario]) -> list[str]:
    """Idle managed devices on fresh nodes, and one device over one agent of the same scenario."""
    head = (
        f"{'nodes':<7}{'backends':<20}{'devices':>8}{'conn s':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'KiB/dev RSS':>13}{'KiB/dev PSS':>13}{'idle CPU %':>12}{'(before)':>10}"
        f"{'KiB/agent beside':>18}{'RSS ×agent':>12}{'CPU/conn ×agent':>17}"
    )
    lines = [
        "Managed devices (/ws/device: signed challenge, heartbeats; on fresh nodes)",
        head,
        "-" * len(head),
    ]
    for s in scenarios:
        backends = f"{s.database}+{s.bus}"
        d = s.devices
        if d is None:
            lines.append(f"{s.nodes:<7}{backends:<20}  {s.error or 'not measured'}")
            continue
        ratio = devices_vs_agents(d, s.idle)
        failures = "; ".join(f"{n}x {why}" for why, n in sorted(d.failures.items(), key=lambda e: -e[1]))
        lines.append(
            f"{s.nodes:<7}{backends:<20}{d.held:>8}{d.connect_seconds:>8.0f}{_num(d.connect_p50_ms):>8}"
            f"{_num(d.connect_p95_ms):>8}{_num(d.kib_per_device_rss):>13}{_num(d.kib_per_device_pss):>13}"
            f"{d.cpu_percent:>12.1f}{d.baseline_cpu_percent:>10.1f}{_num(d.kib_per_beside_agent_rss):>18}"
            f"{_num(ratio['kib_rss'], 2):>12}{_num(ratio['cpu_per_connection'], 2):>17}"
            + (f"  {failures}" if failures else "")
        )
    return lines
