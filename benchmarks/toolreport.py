"""`aioftp-lite-bench`'s report: a Markdown table (ratios against the first server), the
JSON document it is made from, and a PNG plot where matplotlib is installed."""

from __future__ import annotations

import datetime
import importlib.metadata
import math
import os
import platform
from pathlib import Path
from typing import Any

from . import report
from .scenarios import HIGHER_IS_BETTER

HEADLINES = report.HEADLINES | {"users_at_rate": ["users"]}
# The server's CPU seconds per unit of work: lower is better.
CPU_FIGURES = {"cpu_s_per_gib": "server CPU s/GiB", "cpu_s_per_1000_logins": "server CPU s/1,000 logins"}
# The table shows the figure of the scenario's main work (the JSON has both): in many_small,
# CPU per login would carry the cost of the downloads too.
PER_LOGIN_SCENARIOS = {"conn_login", "idle_conns"}
LOADGEN_BUSY = 90.0  # % of its core: above it, the load generator may have been the limit


def meta(argv: list[str], loop_name: str, rounds: int, seconds: float) -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        version = importlib.metadata.version("aioftp_lite")
    except importlib.metadata.PackageNotFoundError:
        version = "not installed (run from a clone)"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{report._cpu_model()}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}",
        "python": platform.python_version(),
        "aioftp_lite": version,
        "loadgen_loop": loop_name,
        "rounds": rounds,
        "command": "aioftp-lite-bench" + "".join(f" {a}" for a in _masked(argv)),
        "duration_s": round(seconds, 1),
    }


def _masked(argv: list[str]) -> list[str]:
    """The command line without passwords (URLs are shown without theirs)."""
    from client.target import TargetError, parse_target

    shown = []
    for argument in argv:
        if "://" in argument:
            try:
                argument = parse_target(argument).url()
            except TargetError:
                pass
        shown.append(argument)
    return shown


def value(row: dict[str, Any], name: str) -> float | None:
    """A metric of a summary row, or one of its CPU_FIGURES."""
    return row.get(name) if name in CPU_FIGURES else row["metrics"].get(name)


def ratio(name: str, this: float | None, first: float | None) -> float | None:
    """`this` compared with `first`: above 1 when `this` is better."""
    if not this or not first or math.isnan(this) or math.isnan(first):
        return None
    higher = HIGHER_IS_BETTER.get(name, False) if name not in CPU_FIGURES else False
    return this / first if higher else first / this


def _cell(row: dict[str, Any], name: str, first: bool) -> str:
    shown = value(row, name)
    if shown is None:
        return "—"
    cell = f"{shown:,}" if isinstance(shown, int) else report._number(shown)
    if not first and row["ratios"].get(name) is not None:
        cell += f" ({row['ratios'][name]:.2f}×)"
    return cell


def markdown(document: dict[str, Any]) -> str:
    meta, servers, summary = document["meta"], document["servers"], document["summary"]
    compared = len(servers) > 1
    lines = [
        (
            f"Measured {meta['date']} on {meta['machine']}, Python {meta['python']}; load generator "
            f"aioftp-lite-bench {meta['aioftp_lite']} on {meta['loadgen_loop']}, one process."
        ),
        "",
    ]
    if compared:
        lines += [
            (
                f"{len(servers)} servers, {meta['rounds']} round(s), interleaved (the order rotates each "
                "round); medians. "
                "In brackets: that server compared with the first (above 1: better than the first). "
                "↑ higher is better, ↓ lower is better."
            ),
            "",
        ]
    for number, server in enumerate(servers, 1):
        pid = f" (pid {server['pid']})" if server["pid"] is not None else ""
        lines.append(f"{number}. `{server['url']}`{pid}")
    columns = " | ".join(str(number) for number in range(1, len(servers) + 1))
    lines += ["", f"| scenario | metric | {columns} |", "|---|---|" + "---:|" * len(servers)]
    for scenario_label in dict.fromkeys(row["label"] for row in summary):
        rows = [row for row in summary if row["label"] == scenario_label]
        # The CPU costs are this report's own (over the whole measurement, set-up included),
        # not the load generator's rows of the same name.
        names = [name for name in HEADLINES[rows[0]["scenario"]]
                 if not name.startswith("srv CPU") and any(name in r["metrics"] for r in rows)]  # fmt: skip
        key = "cpu_s_per_1000_logins" if rows[0]["scenario"] in PER_LOGIN_SCENARIOS else "cpu_s_per_gib"
        figures = [key] if any(r[key] is not None for r in rows) else []
        for name in [*names, *figures]:
            arrow = "↑" if name not in CPU_FIGURES and HIGHER_IS_BETTER.get(name) else "↓"
            title = CPU_FIGURES.get(name, name)
            cells = " | ".join(_cell(row, name, index == 0) for index, row in enumerate(rows))
            lines.append(f"| {scenario_label} | {title} {arrow} | {cells} |")
        health = " | ".join(f"{row['errors']}, {row['corrupt']}" for row in rows)
        lines.append(f"| {scenario_label} | errors, corrupt files | {health} |")
    notes = []
    for run in document["runs"]:
        result = run["result"]
        if "trials" in result:
            steps = ", ".join(f"{t['clients']}: {t['kept %']:.0f} %" for t in result["trials"])
            notes.append(f"{run['label']}, server {run['server'] + 1}, round {run['round'] + 1}: clients "
                         f"keeping the rate per trial: {steps}.")  # fmt: skip
    for row in summary:
        if row["loadgen_cpu_pct"] > LOADGEN_BUSY:
            busy = f"{row['loadgen_cpu_pct']:.0f} %"
            notes.append(f"{row['label']}, server {row['server'] + 1}: the load generator used {busy} "
                         "of its core: it may have been the limit.")  # fmt: skip
    if any(row["server_cpu_s"] is not None for row in summary):
        notes.append("Server CPU: /proc/PID/stat of the process and its children (utime + stime, and "
                     "cutime + cstime for those reaped) over each whole measurement, set-up logins "
                     "included, divided by the GiB moved, or in conn_login and idle_conns by the "
                     "logins.")  # fmt: skip
    lines += ["", *[f"- {note}" for note in notes]] if notes else []
    lines += ["", f"Reproduce: `{meta['command']}` ({meta['duration_s']:.0f} s)", ""]
    return "\n".join(lines)


def plot(path: Path, document: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary, servers = document["summary"], document["servers"]
    panels = []
    for scenario_label in dict.fromkeys(row["label"] for row in summary):
        rows = [row for row in summary if row["label"] == scenario_label]
        for name in [*HEADLINES[rows[0]["scenario"]], *CPU_FIGURES]:
            if any(value(row, name) is not None for row in rows):
                panels.append((scenario_label, name, rows))
    columns = min(3, max(1, len(panels)))
    lines = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(4.6 * columns, 3.0 * lines), squeeze=False)
    names = [str(number) for number in range(1, len(servers) + 1)]
    for axis, (scenario_label, name, rows) in zip(axes.flat, panels, strict=False):
        values = [value(row, name) or 0.0 for row in rows]
        bars = axis.bar(names, values, color="#4c72b0")
        axis.bar_label(bars, labels=[report._number(v) if v else "—" for v in values], fontsize=7)
        arrow = "↑" if name not in CPU_FIGURES and HIGHER_IS_BETTER.get(name) else "↓"
        axis.set_title(f"{scenario_label}\n{CPU_FIGURES.get(name, name)} {arrow}", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.margins(y=0.2)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    legend = "; ".join(f"{number}: {server['url']}" for number, server in enumerate(servers, 1))
    figure.suptitle(f"aioftp-lite-bench: {legend}", fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    figure.savefig(path, dpi=90)
    plt.close(figure)
