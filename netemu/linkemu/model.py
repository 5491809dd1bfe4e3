"""What a topology asks of its links: impairments per direction, as frozen data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from . import units

FIELDS = ("bandwidth", "delay", "jitter", "loss", "queue")
ATTRS = {"bandwidth": "bandwidth", "delay": "delay_us", "jitter": "jitter_us", "loss": "loss_pct", "queue": "queue"}


@dataclass(frozen=True)
class Impairment:
    """The impairments of one direction of a link (traffic sent by one end, received by the other)."""

    bandwidth: int | None = None  # bits per second; None = unlimited
    delay_us: int = 0
    jitter_us: int = 0
    loss_pct: float = 0.0
    queue: tuple[str, int] | None = None  # ('packets', n) or ('bytes', n): the buffer before the rate limit

    @property
    def empty(self) -> bool:
        """Whether this direction is a plain wire."""
        return self == Impairment()

    @property
    def delays(self) -> bool:
        """Whether packets must be held (delay or jitter)."""
        return self.delay_us > 0 or self.jitter_us > 0

    def to_json(self) -> dict:
        """Plain JSON-ready data."""
        d = asdict(self)
        d["queue"] = list(self.queue) if self.queue else None
        return d

    @classmethod
    def from_json(cls, d: dict) -> Impairment:
        """Inverse of to_json()."""
        d = dict(d)
        if d.get("queue"):
            d["queue"] = tuple(d["queue"])
        return cls(**d)

    @classmethod
    def from_fields(cls, values: dict) -> Impairment:
        """From parsed values keyed by FIELDS; a field left out is a plain wire's."""
        return cls(**{ATTRS[key]: value for key, value in values.items()})

    def merged(self, **changes) -> Impairment:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def describe(self) -> str:
        """'10mbit 20ms±2ms loss 1%', or 'none'."""
        parts = []
        if self.bandwidth:
            parts.append(units.fmt_rate(self.bandwidth))
        if self.delay_us or self.jitter_us:
            d = units.fmt_time(self.delay_us)
            parts.append(d + (f"±{units.fmt_time(self.jitter_us)}" if self.jitter_us else ""))
        if self.loss_pct:
            parts.append(f"loss {units.fmt_percent(self.loss_pct)}")
        if self.queue:
            parts.append(f"queue {units.fmt_queue(self.queue)}")
        return " ".join(parts) or "none"


@dataclass(frozen=True)
class LinkImpairment:
    """Both directions of one link: `ab` is traffic sent by endpoint a (link.a), `ba` by b."""

    link: int
    ab: Impairment
    ba: Impairment

    def direction(self, sender_is_a: bool) -> Impairment:
        """The impairment of traffic sent by end a (True) or end b (False)."""
        return self.ab if sender_is_a else self.ba


@dataclass(frozen=True)
class LinkEmu:
    """The feature's parsed model: impaired links only, in link order."""

    links: tuple[LinkImpairment, ...] = ()

    def of(self, link: int) -> LinkImpairment | None:
        """The impairment of link `link`, if any."""
        return next((li for li in self.links if li.link == link), None)

    def needs(self) -> set[str]:
        """Which capabilities the lab needs: subset of {'delay', 'jitter', 'loss', 'bandwidth'}."""
        out: set[str] = set()
        for li in self.links:
            for imp in (li.ab, li.ba):
                if imp.delay_us:
                    out.add("delay")
                if imp.jitter_us:
                    out.add("jitter")
                if imp.loss_pct:
                    out.add("loss")
                if imp.bandwidth:
                    out.add("bandwidth")
        return out
