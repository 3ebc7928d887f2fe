"""Results as a Markdown table with ratios against ours, a JSON file and a PNG plot.

Ratios read the same way for every metric: above 1 means ours is better (ours/theirs
for throughput, theirs/ours for latency and memory).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from .scenarios import HIGHER_IS_BETTER

OURS = "aioftp_lite"
HEADLINES = {
    "retr_big": ["MiB/s"],
    "stor_big": ["MiB/s"],
    "many_small": ["files/s", "p50 ms", "p99 ms"],
    "conn_login": ["logins/s", "p99 ms"],
    "idle_conns": ["KiB/conn", "fresh ms"],
    "mixed": ["ops/s", "p99 ms"],
}
README = Path(__file__).resolve().parent / "README.md"
README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _vsftpd_version() -> str:
    # `vsftpd -v` writes to its standard input; ask the package manager instead.
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "vsftpd"], capture_output=True, text=True,
                              check=False, timeout=10)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "unknown" if Path("/usr/sbin/vsftpd").exists() else "not installed"
    return done.stdout.strip() or ("unknown" if Path("/usr/sbin/vsftpd").exists() else "not installed")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_info(
    servers: list[str], argv: list[str], runs: int, quick: bool, notes: list[str]
) -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {os.cpu_count()} cores, {memory:.0f} GiB, Linux {platform.release()}",
        "python": platform.python_version(),
        "versions": {
            "aioftp_lite": _version("aioftp_lite"),
            "pyftpdlib": _version("pyftpdlib"),
            "aioftp": _version("aioftp"),
            "vsftpd": _vsftpd_version(),
            "uvloop (load generator)": _version("uvloop"),
        },
        "command": "python -m benchmarks.runner" + "".join(f" {a}" for a in argv),
        "runs": runs,
        "quick": quick,
        "servers": servers,
        "notes": notes,
    }


def _number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _ratio(metric: str, ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs or math.isnan(ours) or math.isnan(theirs):
        return ""
    ratio = ours / theirs if HIGHER_IS_BETTER[metric] else theirs / ours
    return f" ({ratio:.2f}×)"


def markdown(meta: dict[str, Any], plan: list[Any], servers: list[str], summary: dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in meta["versions"].items())
    lines = [
        f"Measured {meta['date']} on {meta['machine']}, Python {meta['python']}; {versions}.",
        "",
        (
            f"Medians of {meta['runs']} run(s) per server, interleaved; servers pinned to core 0, load generator "
            "to core 1; files on tmpfs. In brackets: ours compared with that server (above 1: ours is better; "
            "ours/theirs for throughput, theirs/ours for latency and memory). ↑ higher is better, ↓ lower is "
            "better. Last row of each scenario: errors + corrupted files over all runs, and median CPU use of "
            "the server / the load generator in % of one core."
        ),
        "",
        "| scenario | metric | " + " | ".join(servers) + " |",
        "|---|---|" + "---:|" * len(servers),
    ]
    for variant in plan:
        cells = {name: summary.get(f"{variant.key}|{name}") for name in servers}
        ours = cells.get(OURS)
        for metric in HEADLINES[variant.scenario]:
            arrow = "↑" if HIGHER_IS_BETTER[metric] else "↓"
            row = [variant.key, f"{metric} {arrow}"]
            for name in servers:
                entry = cells[name]
                value = entry["metrics"].get(metric) if entry else None
                if value is None:
                    row.append(f"— ({variant.skip[name]})" if name in variant.skip and entry is None else "—")
                    continue
                ours_value = ours["metrics"].get(metric) if ours and name != OURS else None
                row.append(_number(value) + _ratio(metric, ours_value, value))
            lines.append("| " + " | ".join(row) + " |")
        health = [variant.key, "errors, CPU % srv/lg"]
        for name in servers:
            entry = cells[name]
            if entry is None:
                health.append("—")
                continue
            bad = entry["errors"] + entry["corrupt"]
            kinds = f" ({', '.join(entry['error_kinds'])})" if entry["error_kinds"] else ""
            health.append(f"{'**' + str(bad) + '**' if bad else '0'}{kinds}, "
                          f"{entry['server_cpu_pct']:.0f}/{entry['loadgen_cpu_pct']:.0f}")  # fmt: skip
        lines.append("| " + " | ".join(health) + " |")
    if "load_average" in meta:
        low, middle, high = meta["load_average"]
        note = (
            f"1-minute load average after each measurement: median {middle:.1f} (from {low:.1f} to {high:.1f}); "
            "the server and the load generator use the two cores, so above ~2 means other work ran too."
        )
        lines += ["", note]
    if meta.get("notes"):
        lines += ["", *[f"- {note}" for note in meta["notes"]]]
    lines += [
        "",
        f"Reproduce: `{meta['command']}`"
        + (f" ({meta['duration_s']:.0f} s)" if "duration_s" in meta else ""),
    ]
    return "\n".join(lines) + "\n"


def plot(path: Path, plan: list[Any], servers: list[str], summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(variant, metric) for variant in plan for metric in HEADLINES[variant.scenario]]
    columns = 4
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.9 * rows), squeeze=False)
    colours = {
        name: colour for name, colour in zip(servers, ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b"])
    }
    for axis, (variant, metric) in zip(axes.flat, panels):
        values = [
            summary.get(f"{variant.key}|{name}", {}).get("metrics", {}).get(metric, 0.0) for name in servers
        ]
        bars = axis.bar(servers, values, color=[colours[name] for name in servers])
        axis.bar_label(bars, labels=[_number(v) if v else "—" for v in values], fontsize=7)
        axis.set_title(f"{variant.key}: {metric} {'↑' if HIGHER_IS_BETTER[metric] else '↓'}", fontsize=9)
        axis.tick_params(axis="x", labelsize=7, rotation=20)
        axis.tick_params(axis="y", labelsize=7)
        axis.margins(y=0.2)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    figure.suptitle(
        "FTP servers side by side (medians; one server core, one load-generator core)", fontsize=11
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))  # room for the title
    figure.savefig(path, dpi=90)
    plt.close(figure)


def update_readme(table: str) -> None:
    """Replace the results section of benchmarks/README.md (between the markers)."""
    if not README.exists():
        return
    text = README.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return
    section = f"{README_START}\n{table}\n![latest results](results/latest.png)\n{README_END}"
    README.write_text(text[:start] + section + text[end + len(README_END) :])


def write_all(out: Path, meta: dict[str, Any], plan: list[Any], servers: list[str], measurements: list[Any],
              summary: dict[str, Any], png: bool = True, readme: bool = False) -> None:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(meta, plan, servers, summary)
    (out / "latest.md").write_text(table)
    document = {"meta": meta, "plan": [vars(v) | {"key": v.key} for v in plan], "summary": summary,
                "measurements": measurements}  # fmt: skip
    (out / "latest.json").write_text(json.dumps(document, indent=1, default=str))
    if png:
        try:
            plot(out / "latest.png", plan, servers, summary)
        except ImportError:
            meta.setdefault("notes", []).append("no plot: matplotlib not installed (pip install '.[bench]')")
    if readme:
        update_readme(table)
