"""Results as a Markdown table with ratios against ours, a JSON file and a PNG plot.

Ratios read the same way for every metric: above 1 means ours is better (ours/theirs
for throughput, theirs/ours for latency and memory). A server measured in some scenarios
only against one other (`aioftp_lite --workers 2` against 1 worker) gets its own small
table instead of a column of mostly empty cells.
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

from . import pureftpd
from .scenarios import HIGHER_IS_BETTER
from .servers import SERVERS
from .variant import Variant

OURS = "aioftp_lite"
HEADLINES = {
    "retr_big": ["MiB/s", "srv CPU s/GiB"],
    "stor_big": ["MiB/s", "srv CPU s/GiB"],
    "many_small": ["files/s", "p50 ms", "p99 ms", "srv CPU s/GiB"],
    "conn_login": ["logins/s", "p99 ms", "srv CPU s/1k logins"],
    "cold_login": ["logins/s", "p50 ms", "p99 ms", "srv CPU s/1k logins"],
    "idle_conns": ["KiB/conn", "fresh ms"],
    "mixed": ["ops/s", "p99 ms", "srv CPU s/GiB"],
    "login_flood": ["idle MiB/s", "flood MiB/s", "kept", "NOOP p99 ms", "guesses/s"],
}
HERE = Path(__file__).resolve().parent
# Each README with the markers gets the latest table, and the plot by a path relative to it.
# benchmarks/README.md gets the full table; the project's README a summary that links to it.
READMES = {
    HERE / "README.md": "results/latest.png",
    HERE.parent / "README.md": "benchmarks/results/latest.png",
}
FULL_TABLE_LINK = "benchmarks/results/latest.md"
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
            "pure-ftpd": pureftpd.version(),
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


def _title(name: str) -> str:
    return SERVERS[name].shown if name in SERVERS else name


def _health(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "—"
    bad = entry["errors"] + entry["corrupt"]
    kinds = f" ({', '.join(entry['error_kinds'])})" if entry["error_kinds"] else ""
    cpu = f"{entry['server_cpu_pct']:.0f}/{entry['loadgen_cpu_pct']:.0f}"
    return f"{'**' + str(bad) + '**' if bad else '0'}{kinds}, {cpu}"


def _variant_rows(
    variant: Any, columns: list[str], summary: dict[str, Any], compare: dict[str, tuple[str, str]]
) -> list[str]:
    """One row per headline metric of `variant`, then its errors and CPU row.

    `compare` maps a column to the pair (a, b) whose ratio its cells show in brackets:
    a compared with b, above 1 when a is better.
    """
    cells = {name: summary.get(f"{variant.key}|{name}") for name in columns}

    def value(name: str, metric: str) -> float | None:
        entry = summary.get(f"{variant.key}|{name}")
        return entry["metrics"].get(metric) if entry else None

    lines = []
    for metric in HEADLINES[variant.scenario]:
        if all(value(name, metric) is None for name in columns):
            continue  # measured by none (a run from before the metric existed)
        row = [variant.key, f"{metric} {'↑' if HIGHER_IS_BETTER[metric] else '↓'}"]
        for name in columns:
            shown = value(name, metric)
            if shown is None:
                row.append(
                    f"— ({variant.skip[name]})" if name in variant.skip and cells[name] is None else "—"
                )
            elif name in compare:
                better, other = compare[name]
                row.append(_number(shown) + _ratio(metric, value(better, metric), value(other, metric)))
            else:
                row.append(_number(shown))
        lines.append("| " + " | ".join(row) + " |")
    health = [variant.key, "errors, CPU % srv/lg", *(_health(cells[name]) for name in columns)]
    return [*lines, "| " + " | ".join(health) + " |"]


def _header(columns: list[str]) -> list[str]:
    return [
        "| scenario | metric | " + " | ".join(map(_title, columns)) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]


def _cores(cpus: Any) -> str:
    return f"core {cpus}" if "," not in str(cpus) else f"cores {cpus}"


def _versus_tables(
    meta: dict[str, Any], plan: list[Any], servers: list[str], summary: dict[str, Any]
) -> list[str]:
    """For each server compared with one other only: its own table, where it was measured."""
    lines: list[str] = []
    pinning = meta.get("pinning", {})
    for name in servers:
        base = SERVERS[name].versus if name in SERVERS else None
        measured = [v for v in plan if f"{v.key}|{name}" in summary]
        if base is None or not measured or (base in servers and SERVERS[base].versus is not None):
            continue  # a companion (below) is a column of its base's table
        # Companions: servers compared with `name` itself (direct S3 transfers with ours on S3).
        companions = [other for other in servers if other in SERVERS and SERVERS[other].versus == name]
        scenarios = ", ".join(dict.fromkeys(v.scenario for v in measured))
        placed = pinning.get("servers", {})
        loadgen = pinning.get("load generator")
        if placed.get(name) is None or placed.get(base) is None:
            where = "Not pinned to cores."
        else:
            shared = str(loadgen) in str(placed[name]).split(",")
            where = (f"{_title(base)} on {_cores(placed[base])} alone; {_title(name)} on {_cores(placed[name])}"
                     + (f", shared with the load generator (core {loadgen})" if shared else "") + ".")  # fmt: skip
        lines += [
            "",
            (
                f"**{scenarios}: {_title(name)} against {_title(base)}.** {where} In brackets: "
                f"{_title(name)} compared with {_title(base)} (above 1: {_title(name)} is better)"
                + "".join(f"; under {_title(other)}: {_title(name)} compared with it" for other in companions)
                + "."
            ),
            "",
            *_header([base, name, *companions]),
        ]
        compare = {name: (name, base), **{other: (name, other) for other in companions}}
        for variant in measured:
            lines += _variant_rows(variant, [base, name, *companions], summary, compare)
    return lines


def markdown(meta: dict[str, Any], plan: list[Any], servers: list[str], summary: dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in meta["versions"].items())
    columns = [name for name in servers if name not in SERVERS or SERVERS[name].versus is None]
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
        *_header(columns),
    ]
    for variant in plan:
        lines += _variant_rows(
            variant, columns, summary, {name: (OURS, name) for name in columns if name != OURS}
        )
    lines += _versus_tables(meta, plan, servers, summary)
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


def summary_markdown(
    meta: dict[str, Any], plan: list[Any], servers: list[str], summary: dict[str, Any]
) -> str:
    """The short version: each variant's first headline, ours and how ours compares with each
    other server (above 1: ours is better), errors over all runs, and a link to the full table."""
    others = [
        name for name in servers if name != OURS and (name not in SERVERS or SERVERS[name].versus is None)
    ]
    lines = [
        f"Measured {meta['date']} on {meta['machine']}; medians of {meta['runs']} interleaved run(s), "
        "server and load generator on a core each. Ours, then ours compared with each server "
        "(above 1: ours is better). Full table, with latencies, CPU costs and memory: "
        f"[{FULL_TABLE_LINK}]({FULL_TABLE_LINK}).",
        "",
        "| scenario | metric | ours | " + " | ".join(f"vs {_title(name)}" for name in others) + " |",
        "|---|---|---:|" + "---:|" * len(others),
    ]
    errors = 0
    for variant in plan:
        metric = HEADLINES[variant.scenario][0]
        ours = summary.get(f"{variant.key}|{OURS}")
        if ours is None or metric not in ours["metrics"]:
            continue
        cells = []
        for name in others:
            theirs = summary.get(f"{variant.key}|{name}")
            ratio = _ratio(metric, ours["metrics"][metric], theirs["metrics"].get(metric) if theirs else None)
            cells.append(ratio.strip(" ()") or "—")
        errors += sum(entry["errors"] + entry["corrupt"] for key, entry in summary.items()
                      if key.startswith(f"{variant.key}|"))  # fmt: skip
        arrow = "↑" if HIGHER_IS_BETTER[metric] else "↓"
        lines.append(
            f"| {variant.key} | {metric} {arrow} | {_number(ours['metrics'][metric])} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", f"Errors and corrupted files, all servers, all runs: {errors}."]
    return "\n".join(lines) + "\n"


def plot(path: Path, plan: list[Any], servers: list[str], summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        (variant, metric) for variant in plan for metric in HEADLINES[variant.scenario]
        if any(metric in summary.get(f"{variant.key}|{name}", {}).get("metrics", {}) for name in servers)
    ]  # fmt: skip
    columns = 4
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.9 * rows), squeeze=False)
    colours = {"aioftp_lite": "#d62728", "aioftp_lite_w2": "#ff7f0e", "pyftpdlib": "#1f77b4",
               "aioftp": "#2ca02c", "vsftpd": "#9467bd", "pure-ftpd": "#8c564b"}  # fmt: skip
    for axis, (variant, metric) in zip(axes.flat, panels, strict=False):
        # A server restricted to some scenarios (--workers 2) has no bar elsewhere.
        shown = [name for name in servers if name not in SERVERS or SERVERS[name].runs_in(variant.scenario)]
        values = [
            summary.get(f"{variant.key}|{name}", {}).get("metrics", {}).get(metric, 0.0) for name in shown
        ]
        bars = axis.bar(
            [_title(name) for name in shown], values, color=[colours.get(name, "#7f7f7f") for name in shown]
        )
        axis.bar_label(bars, labels=[_number(v) if v else "—" for v in values], fontsize=7)
        axis.set_title(f"{variant.key}: {metric} {'↑' if HIGHER_IS_BETTER[metric] else '↓'}", fontsize=9)
        axis.tick_params(axis="x", labelsize=7)
        axis.set_xticks(axis.get_xticks(), axis.get_xticklabels(), rotation=25, ha="right")
        axis.tick_params(axis="y", labelsize=7)
        axis.margins(y=0.2)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    wider = [_title(name) for name in servers if name in SERVERS and SERVERS[name].cpus]
    cores = f"; {', '.join(wider)}: both cores, shared" if wider else ""
    figure.suptitle(
        f"FTP servers side by side (medians; one server core, one load-generator core{cores})", fontsize=11
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))  # room for the title
    figure.savefig(path, dpi=90)
    plt.close(figure)


def update_readme(table: str, short: str) -> None:
    """Replace the results section of each README (between the markers): the full table in
    benchmarks/README.md, the summary in the project's."""
    for readme, plot_path in READMES.items():
        if not readme.exists():
            continue
        text = readme.read_text()
        start, end = text.find(README_START), text.find(README_END)
        if start < 0 or end < start:
            continue
        shown = table if readme.parent == HERE else short
        section = f"{README_START}\n{shown}\n![latest results]({plot_path})\n{README_END}"
        readme.write_text(text[:start] + section + text[end + len(README_END) :])


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
            note = "no plot: matplotlib not installed (pip install '.[bench]')"
            if note not in meta.setdefault("notes", []):  # written after every scenario: once is enough
                meta["notes"].append(note)
    if readme:
        update_readme(table, summary_markdown(meta, plan, servers, summary))


def rerender(path: Path) -> None:
    """Write the table, plot and README sections again from a saved latest.json (after a
    change to this report's format, without measuring again)."""
    document = json.loads(path.read_text())
    plan = [Variant(p["scenario"], p["label"], p["flags"], p["skip"],
                    {name: tuple(args) for name, args in p.get("server_args", {}).items()})
            for p in document["plan"]]  # fmt: skip
    servers = document["meta"]["servers"]
    meta = document["meta"]
    write_all(path.parent, meta, plan, servers, document["measurements"], document["summary"],
              png=not meta.get("quick"), readme=path.resolve().parent == HERE / "results")  # fmt: skip


if __name__ == "__main__":
    import sys

    rerender(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results" / "latest.json")
