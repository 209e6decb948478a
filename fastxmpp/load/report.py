"""The final report of a load run: a text table for people, JSON for machines."""
from __future__ import annotations

import json
import platform
import sys
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["format_report", "write_json", "write_extra", "exit_code"]

_PCTS = ("p50", "p90", "p99", "p99.9", "max")
_PHASES = (("tcp", "  tcp connect"), ("tls", "  tls"), ("sasl", "  sasl"), ("bind", "  bind"))


def _ms(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if v >= 10000:
        return f"{v / 1000:.1f} s"
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    return f"{v:.2f} ms"


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return f"{v:,}"


def _rows_latency(label: str, summary: Dict[str, Any]) -> List[Tuple[str, str]]:
    if not summary.get("count"):
        return [(label, "no samples")]
    parts = "  ".join(f"{p} {_ms(summary.get(p))}" for p in _PCTS)
    return [(label, f"n={summary['count']:,}  min {_ms(summary.get('min'))}  mean {_ms(summary.get('mean'))}  {parts}")]


def format_report(report: Dict[str, Any]) -> str:
    """The report dict of :class:`~fastxmpp.load.runner.LoadRunner` as an aligned text table."""
    login = report["login"]
    msgs = report["messages"]
    cpu = report["cpu"]
    target = report["target"]
    rows: List[Tuple[str, str]] = []
    where = f"{target['host']}:{target['port']} ({target['domain']}"
    where += ", private Prosody)" if target.get("local_server") else ")"
    rows.append(("scenario", f"{report['scenario']} against {where}"))
    cfg = report.get("config", {})
    if msgs.get("kind"):
        rate = cfg.get("rate")
        rows.append(("load", f"{cfg.get('messages')} per user at "
                     + (f"{rate:g}/s per user" if rate else "full speed")))
    setup = f", {report['setup_seconds']:.2f} s set-up" if report.get("setup_seconds", 0) >= 0.005 else ""
    rows.append(("duration", f"{report['duration_seconds']:.2f} s total{setup}, {report['traffic_seconds']:.2f} s traffic"
                 + ("  (STOPPED BY --duration CAP)" if report.get("stopped_by_duration_cap") else "")))
    rows.append(("users", _num(report["users"])))
    loop = report.get("event_loop")
    rows.append(("workers", _num(report.get("workers", 1)) + (f" on {loop}" if loop else "")))
    for dead in report.get("workers_failed") or ():
        first, last = dead["users"]
        got = dead.get("last_progress") or {}
        text = f"worker {dead['worker']} (users {first}..{last}) FAILED: {dead['reason']}"
        if got:
            text += (f"; its last progress: {got.get('login_ok', 0)} logged in, {got.get('sent', 0)} sent, "
                     f"{got.get('received', 0)} received (not in the totals)")
        rows.append(("", text))
    if report.get("registration"):
        rows.append(("registration", ", ".join(f"{k} {v}" for k, v in sorted(report["registration"].items()))))
    failed = f"{login['failed']:,} failed"
    if login["errors"]:
        failed += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(login["errors"].items())) + ")"
    rows.append(("logins", f"{login['ok']:,} ok, {failed}"))
    for name, text in sorted((login.get("error_messages") or {}).items()):
        rows.append(("", f"first {name}: {text}"))
    arrival = report.get("arrival") or {}
    if arrival.get("model") == "open":
        phases = ", then ".join(f"{r:g}/s for {sec:g} s" for r, sec in arrival["phases"])
        rows.append(("arrival", f"open model, {arrival['distribution']}: {phases}; "
                                f"{arrival['arrived']:,} arrived, {arrival['not_arrived']:,} not"))
    rows += _rows_latency("login time", login["latency_ms"])
    if arrival.get("model") == "open":
        rows += _rows_latency("  from arrival", arrival["corrected_login_ms"])
    for phase, label in _PHASES:
        summary = (login.get("phases_ms") or {}).get(phase)
        if summary and summary.get("count"):
            rows += _rows_latency(label, summary)
    sessions = report.get("sessions") or {}
    if report["scenario"] == "idle":
        rows.append(("sessions", f"{sessions.get('peak', 0):,} open at once at the most (the connection "
                                 f"ceiling when logins failed), held {sessions.get('hold_seconds') or 0:g} s"))
    memory = report.get("server_memory")
    if memory:
        per = memory.get("per_session_kib")
        rows.append(("server memory", f"RSS {memory['rss_before_kib']:,} KiB before, {memory['rss_held_kib']:,} KiB "
                                      f"with {memory['sessions']:,} sessions held"
                                      + (f": {per:,.1f} KiB per session" if per is not None else "")))
    if msgs.get("kind"):
        kind = msgs["kind"]
        awaited = msgs.get("awaited", msgs["sent"])
        fanned = f" (deliveries awaited {awaited:,})" if awaited != msgs["sent"] else ""
        rows.append((f"{kind} stanzas", f"sent {msgs['sent']:,} of {msgs['expected']:,}{fanned}, received {msgs['received']:,}, "
                     f"lost {msgs['lost']:,}, duplicated {msgs['duplicated']:,}"
                     + (f", unexpected {msgs['unexpected']:,}" if msgs.get("unexpected") else "")
                     + (f"; pacer slots skipped after stalls {msgs['skipped_slots']:,}"
                        if msgs.get("skipped_slots") else "")))
        rows.append(("throughput", f"{msgs['throughput_per_second']:,.0f} {kind}s/s received"))
        rows += _rows_latency("round trip" if kind == "iq" else "latency", msgs["latency_ms"])
    stats = report.get("scenario_stats") or {}
    if stats:
        rows.append(("scenario stats", ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                                 for k, v in sorted(stats.items()))))
    for name, summary in (report.get("scenario_latency_ms") or {}).items():
        rows += _rows_latency(name.replace("_", " "), summary)
    cpu_text = f"{cpu['client_seconds']:.2f} s client"
    if cpu.get("client_us_per_message") is not None:
        cpu_text += f" ({cpu['client_us_per_message']:.0f} us per {msgs.get('kind') or 'message'} in traffic)"
    if cpu.get("server_seconds") is not None:
        cpu_text += f", {cpu['server_seconds']:.2f} s server"
    rows.append(("cpu", cpu_text))
    cache = report.get("scram_cache")
    if cache:
        rows.append(("scram key cache", f"{cache['hits']} hits, {cache['misses']} misses"))
    tls = report.get("tls_sessions")
    if tls:
        rows.append(("tls sessions", f"{tls['resumed']} resumed, {tls['hits']} taken, "
                                     f"{tls['misses']} misses, {tls.get('refused', 0)} refused"))
    errors = report.get("errors") or {}
    if errors:
        rows.append(("errors", ", ".join(f"{k}: {v}" for k, v in errors.items())))
    else:
        rows.append(("errors", "none"))
    for kind, details in (report.get("error_kinds") or {}).items():
        rows.append((f"  {kind}", ", ".join(f"{d}: {n:,}" for d, n in details.items())))
    rows.append(("result", "OK" if report["ok"] else
                 "FAILED (interrupted)" if report.get("interrupted") else "FAILED"))
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 2 + max(len(v) for _, v in rows))
    out = ["fastxmpp load report", line]
    out += [f"{k:<{width}}  {v}" for k, v in rows]
    out.append(line)
    return "\n".join(out) + "\n"


def write_json(report: Dict[str, Any], path: str) -> None:
    """Write ``report`` (plus the Python and platform versions) to ``path``."""
    data = dict(report)
    data.setdefault("environment", {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "fastxmpp": _version(),
        "extensions": _extensions(),
    })
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")


def _version() -> Optional[str]:
    try:
        from importlib.metadata import version

        return version("fastxmpp")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return None


def _extensions() -> Optional[bool]:
    try:
        from .._accel import USE_EXTENSIONS

        return bool(USE_EXTENSIONS)
    except Exception:  # noqa: BLE001
        return None


def exit_code(report: Dict[str, Any]) -> int:
    """0 when every user logged in and nothing was lost or duplicated, else 1."""
    return 0 if report.get("ok") else 1


def write_extra(report: Dict[str, Any], path: str, kind: str) -> None:
    """``--html`` (``kind='html'``: :mod:`fastxmpp.load.html`, imports matplotlib) or
    ``--hdr-log`` (``kind='hlog'``: the HdrHistogram interval log of the report's series)."""
    if kind == "html":
        from .html import write_html

        write_html(report, path, text=format_report(report))
    elif kind == "hlog":
        from .hdr import format_interval_log
        from .timeseries import interval_log_from_report

        text = interval_log_from_report(report) or format_interval_log([])
        with open(path, "w", encoding="ascii") as f:
            f.write(text)
    else:
        raise ValueError(f"unknown report kind {kind!r}")

