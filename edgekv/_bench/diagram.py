"""A trace of a short run in words and as a space-time (Lamport) diagram: regions as lanes,
writes as dots, replication messages as arrows, reads marked fresh, stale or failed."""

from __future__ import annotations

from typing import Any

from .._drivers.trace import Trace
from .report import save_figure

__all__ = ["describe", "draw"]


def _labels(trace: Trace) -> dict[int, str]:
    """Short names of the versions: w1, w2, ... in commit order."""
    return {w.version: f"w{n}" for n, w in enumerate(trace.writes, 1)}


def describe(trace: Trace) -> str:
    """The trace in words: writes, messages (delivered, lost), and each read."""
    names = _labels(trace)
    lost = sum(a.lost for a in trace.arrows)
    start, end = trace.window
    lines = [
        f"{trace.system}, seed {trace.seed}, {start:g}-{end:g}s: {len(trace.writes)} writes, "
        f"{len(trace.arrows)} replication messages ({lost} lost)"
    ]
    lines += [f"  {w.at:6.3f}s {w.region}: write {names[w.version]}" for w in trace.writes]
    for a, b, t0, t1 in trace.partitions:
        lines.append(f"  {t0:6.3f}s-{t1:.3f}s link {a} <-> {b} cut")
    for r in trace.reads:
        if r.failed:
            what = "failed (unavailable)"
        else:
            seen = names.get(r.version, "nothing") if r.version else "nothing"
            what = f"got {seen}, " + (f"stale by {r.stale_versions}" if r.stale else "fresh")
        lines.append(f"  {r.start:6.3f}s {r.region}: read {what}")
    return "\n".join(lines)


def draw(plt: Any, trace: Trace, path: str) -> None:
    """Draw the diagram to ``path`` (PNG): time across, one lane per region."""
    lane = {name: n for n, name in enumerate(reversed(trace.lanes))}
    names = _labels(trace)
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(lane) + 1.6))
    start, end = trace.window
    for y in lane.values():
        ax.axhline(y, color="0.85", lw=1, zorder=0)
    for a, b, t0, t1 in trace.partitions:
        for region in (a, b):
            ax.fill_between(
                [t0, t1], lane[region] - 0.35, lane[region] + 0.35, color="orange", alpha=0.25
            )
        ax.plot([], [], color="orange", alpha=0.4, lw=8, label=f"link {a} <-> {b} cut")
    for arrow in trace.arrows:
        y0, y1 = lane[arrow.src], lane[arrow.dst]
        if arrow.arrives is None:
            mid_t, mid_y = arrow.sent + 0.08 * (end - start), y0 + 0.6 * (y1 - y0)
            ax.plot([arrow.sent, mid_t], [y0, mid_y], color="red", lw=0.8, ls="--")
            ax.plot(mid_t, mid_y, marker="x", color="red", ms=7)
            ax.annotate(
                f"to {arrow.dst}",
                (mid_t, mid_y),
                xytext=(5, -3),
                textcoords="offset points",
                color="red",
                fontsize=7,
            )
        else:
            ax.annotate(
                "",
                xy=(arrow.arrives, y1),
                xytext=(arrow.sent, y0),
                arrowprops={"arrowstyle": "->", "color": "0.45", "lw": 0.7},
            )
    ax.plot([], [], color="0.45", lw=0.8, label="replication message")
    ax.plot([], [], color="red", ls="--", marker="x", lw=0.8, label="lost message")
    for w in trace.writes:
        ax.plot(w.at, lane[w.region], "o", color="tab:blue", ms=8, zorder=3)
        ax.annotate(
            names[w.version],
            (w.at, lane[w.region]),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    ax.plot([], [], "o", color="tab:blue", label="write")
    for r in trace.reads:
        colour = "0.5" if r.failed else ("tab:red" if r.stale else "tab:green")
        ax.plot(r.start, lane[r.region], "s", color=colour, ms=7, zorder=3)
        seen = "fail" if r.failed else names.get(r.version, "-") if r.version else "-"
        ax.annotate(
            seen,
            (r.start, lane[r.region]),
            xytext=(0, -12),
            textcoords="offset points",
            ha="center",
            fontsize=7,
        )
    ax.plot([], [], "s", color="tab:green", label="read, fresh")
    ax.plot([], [], "s", color="tab:red", label="read, stale")
    ax.set_yticks(list(lane.values()), list(lane))
    ax.set_xlim(start, end)
    ax.set_ylim(-0.8, len(lane) - 0.2)
    ax.set_xlabel("seconds")
    what = "every key" if trace.key is None else trace.key
    ax.set_title(f"{what} on {trace.system} (seed {trace.seed})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, fontsize=8, frameon=False)
    save_figure(plt, fig, path)
