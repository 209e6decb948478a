"""The load report as one self-contained HTML file (``python -m fastxmpp load --html FILE``).

The file opens offline: the plots are inline SVG, there is no script or style
from elsewhere.  It holds plots over time (logins and sessions, stanzas sent
and received per second, errors per second by kind, latency percentiles per
second; from the report's ``timeseries``, see :mod:`fastxmpp.load.timeseries`),
latency distributions (percentile spectra from the whole-run histograms in
``histograms``, HdrHistogram-style), the text summary and the JSON report, and
the run's HdrHistogram interval log to download.

Plotting library: matplotlib, drawing to SVG through its object API
(``matplotlib.figure.Figure``, no pyplot, so no global backend state is
touched).  Why matplotlib: it is the best-kept plotting library in Python
(decades of releases, wheels for every platform and Python we support), its
SVG output is static, needs no JavaScript runtime and no CDN (plotly and
bokeh embed a megabyte-scale JS bundle, or fetch one), and it draws log axes
and percentile spectra well.  It is optional: the ``load`` extra
(``pip install 'fastxmpp[load]'``), imported only when an HTML report is asked
for, so a plain load run never imports it.
"""
from __future__ import annotations

import base64
import html
import io
import json
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["render_html", "write_html"]

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_SPECTRUM_TICKS = (0.0, 90.0, 99.0, 99.9, 99.99, 99.999)
_PHASE_TITLES = {"tcp": "TCP connect", "tls": "TLS", "sasl": "SASL", "bind": "bind",
                 "corrected": "whole, from the intended arrival (CO-corrected)"}


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the HTML report needs matplotlib: pip install 'fastxmpp[load]'") from exc
    return matplotlib


def _figure(rows: int = 1, height: float = 3.0) -> Tuple["Figure", List[Any]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, 1, i + 1) for i in range(rows)]
    return fig, axes


def _svg(fig: "Figure") -> str:
    mpl = _matplotlib()
    buf = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fastxmpp-load"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: it is inline


def _series(report: Mapping[str, Any]) -> Tuple[List[float], List[Dict[str, Any]]]:
    ts = report.get("timeseries") or {}
    samples = ts.get("samples") or []
    start = ts.get("start")
    if start is None and samples:
        start = samples[0]["start"]
    return [s["end"] - start for s in samples], samples


def _rate(samples: Sequence[Mapping[str, Any]], key: str) -> List[float]:
    return [s["counters"].get(key, 0) / max(s["end"] - s["start"], 1e-3) for s in samples]


def _steps(ax: Any, t: Sequence[float], ys: Sequence[float], **kw: Any) -> None:
    """A per-interval value drawn over its interval (from 0 to the first end, and so on)."""
    ax.step([0.0, *t], [ys[0], *ys] if ys else [], where="pre", **kw)
    ax.set_ylim(bottom=0.0, top=max(1.0, ax.get_ylim()[1]))


def _plain_log_axis(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    fmt = FuncFormatter(lambda v, _pos: f"{v:g}")
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: ""))


def _plot_over_time(report: Mapping[str, Any]) -> List[Tuple[str, str]]:
    t, samples = _series(report)
    if not samples:
        return []
    out: List[Tuple[str, str]] = []
    fig, (ax1, ax2) = _figure(2)
    sessions, total = [], 0
    for s in samples:
        total += s["counters"].get("logins", 0)
        sessions.append(total)
    ax1.plot([0.0, *t], [0, *sessions], color=_COLORS[0], label="sessions logged in (cumulative)")
    ax1.set_ylabel("sessions")
    ax1.set_ylim(bottom=0.0)
    ax1.set_title("Sessions")
    ax1.legend(loc="upper left")
    _steps(ax2, t, _rate(samples, "logins"), color=_COLORS[2], label="logins/s")
    _steps(ax2, t, _rate(samples, "login_failures"), color=_COLORS[3], label="failed logins/s")
    ax2.set_ylabel("per second")
    ax2.set_xlabel("seconds since start")
    ax2.set_title("Login rate")
    ax1.set_xlim(left=0.0)
    ax2.set_xlim(left=0.0)
    ax2.legend(loc="upper right")
    out.append(("Sessions and logins over time", _svg(fig)))

    fig, (ax,) = _figure(1)
    kind = (report.get("messages") or {}).get("kind") or "stanza"
    _steps(ax, t, _rate(samples, "sent"), color=_COLORS[0], label=f"{kind}s sent/s")
    _steps(ax, t, _rate(samples, "received"), color=_COLORS[1], label=f"{kind}s received/s")
    ax.set_ylabel("per second")
    ax.set_xlabel("seconds since start")
    ax.set_title(f"{kind.capitalize()} rate")
    ax.set_xlim(left=0.0)
    ax.legend(loc="upper right")
    out.append((f"{kind.capitalize()}s per second", _svg(fig)))

    fig, (ax,) = _figure(1)
    kinds = sorted({k for s in samples for k in s["counters"] if k.startswith("error:")})
    if kinds:
        for i, k in enumerate(kinds):
            _steps(ax, t, _rate(samples, k), color=_COLORS[i % len(_COLORS)], label=k[len("error:"):])
        ax.legend(loc="upper right", fontsize="small")
    else:
        _steps(ax, t, _rate(samples, "errors"), color=_COLORS[3], label="errors/s")
        ax.text(0.5, 0.6, "no errors", transform=ax.transAxes, ha="center", va="center", color="#555")
    ax.set_ylabel("errors per second")
    ax.set_xlabel("seconds since start")
    ax.set_title("Errors by kind")
    ax.set_xlim(left=0.0)
    out.append(("Errors per second", _svg(fig)))

    names = [n for n in _names(report, [n for s in samples for n in s["histograms"]])
             if not n.startswith("login_")]  # the login's parts: in their own distribution plot
    if names:
        fig, axes = _figure(len(names))
        for ax, name in zip(axes, names):
            plotted = False
            for i, key in enumerate(("p50", "p90", "p99", "p99.9", "max")):
                pts = [(x, s["histograms"][name].get(key)) for x, s in zip(t, samples)
                       if name in s["histograms"] and s["histograms"][name].get(key) is not None]
                if pts:
                    ax.plot([p[0] for p in pts], [max(p[1], 1e-3) for p in pts], marker=".",
                            color=_COLORS[i], label=key)
                    plotted = True
            if plotted:
                _plain_log_axis(ax)
                ax.legend(loc="upper right", fontsize="small")
            else:
                ax.text(0.5, 0.5, "no samples", transform=ax.transAxes, ha="center", va="center")
            ax.set_ylabel("ms")
            ax.set_title(_latency_title(report, name) + " percentiles per second")
            ax.set_xlim(left=0.0)
        axes[-1].set_xlabel("seconds since start")
        out.append(("Latency percentiles over time", _svg(fig)))
    return out


def _names(report: Mapping[str, Any], found: Any) -> List[str]:
    """Histogram names to plot: message latency and login first, then any other the runner
    keeps (each plotted the same way); without histograms, those with a summary."""
    seen = list(dict.fromkeys(found))
    if not seen and not report.get("histograms"):
        seen = ["latency", "login"]
    return sorted(seen, key=lambda n: ({"latency": 0, "login": 1}.get(n, 2), n))


def _latency_title(report: Mapping[str, Any], name: str) -> str:
    if name == "login":
        return "Login time"
    if name.startswith("login_"):
        return "Login: " + _PHASE_TITLES.get(name[len("login_"):], name[len("login_"):])
    if name != "latency":
        return name.replace("_", " ").capitalize()
    kind = (report.get("messages") or {}).get("kind")
    return "IQ round trip" if kind == "iq" else "Delivery latency"


def _spectrum(report: Mapping[str, Any], name: str) -> Optional[Tuple[List[float], List[float]]]:
    """(x, ms) of a percentile spectrum, x = 1 / (1 - q), from the whole-run histogram
    (HdrHistogram's own plot), or from the summary's few percentiles."""
    blob = (report.get("histograms") or {}).get(name)
    if blob:
        from .hdr import decode_histogram

        hist = decode_histogram(blob)
        if not hist.count:
            return None
        xs, ys, seen = [], [], 0
        for low, high, n in hist.buckets():
            seen += n
            q = seen / hist.count
            xs.append(1.0 / max(1.0 - q, 0.1 / hist.count))
            ys.append(max((low + high) / 2000.0, 1e-3))
        return xs, ys
    section = report.get("login") if name == "login" else report.get("messages")
    summary = (section or {}).get("latency_ms") or {}
    if not summary.get("count"):
        return None
    pts = [(0.0, summary.get("min"))] + [(float(k[1:]), v) for k, v in summary.items()
                                          if k.startswith("p") and v is not None]
    return [1.0 / max(1.0 - q / 100.0, 1e-6) for q, _ in pts], [max(v or 0.0, 1e-3) for _, v in pts]


def _plot_distributions(report: Mapping[str, Any]) -> List[Tuple[str, str]]:
    names = [n for n in _names(report, (report.get("histograms") or {}).keys())
             if _spectrum(report, n) is not None]
    phases = [n for n in names if n.startswith("login_")]
    out = _spectrum_figure(report, [n for n in names if not n.startswith("login_")],
                           "Latency by percentile (whole run)", "Latency distribution")
    if phases:
        out += _spectrum_figure(report, ["login", *phases], "Login and its parts by percentile",
                                "Login phases: TCP connect, TLS, SASL, bind")
    return out


def _spectrum_figure(report: Mapping[str, Any], names: List[str], title: str,
                     heading: str) -> List[Tuple[str, str]]:
    names = [n for n in names if _spectrum(report, n) is not None]
    if not names:
        return []
    fig, (ax,) = _figure(1, height=3.6)
    for i, name in enumerate(names):
        spec = _spectrum(report, name)
        assert spec is not None
        ax.step(spec[0], spec[1], where="post", color=_COLORS[i], label=_latency_title(report, name))
    ax.set_xscale("log")
    _plain_log_axis(ax)
    ticks = [1.0 / (1.0 - q / 100.0) for q in _SPECTRUM_TICKS]
    ax.set_xticks(ticks, [f"{q:g}%" for q in _SPECTRUM_TICKS])
    ax.set_xlim(1.0, ticks[-1])
    ax.set_xlabel("percentile")
    ax.set_ylabel("ms")
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax.grid(True, which="major", alpha=0.3)
    return [(heading, _svg(fig))]


_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 62em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
figure { margin: 0.5em 0; } figure svg { width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.ok { color: #1a7f37; } .failed { color: #cf222e; } .note { color: #555; font-size: 0.9em; }
"""

# Marks the page once laid out: how many plots have a size and drawn marks (the test reads it).
_CHECK = """<script>
(function () {
  var n = 0;
  document.querySelectorAll("figure svg").forEach(function (s) {
    var r = s.getBoundingClientRect();
    if (r.width > 0 && r.height > 0 && s.querySelectorAll("path").length > 0) { n++; }
  });
  document.body.setAttribute("data-plots-rendered", String(n));
})();
</script>"""


def render_html(report: Mapping[str, Any], *, text: Optional[str] = None) -> str:
    """The HTML page for a load ``report`` dict (``text``: the text summary, default
    :func:`fastxmpp.load.report.format_report`)."""
    from .report import format_report
    from .timeseries import interval_log_from_report

    _matplotlib()
    if text is None:
        text = format_report(dict(report))
    plots = _plot_over_time(report) + _plot_distributions(report)
    ok = bool(report.get("ok"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>fastxmpp load report: {html.escape(str(report.get('scenario', '')))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>fastxmpp load report: {html.escape(str(report.get('scenario', '')))} "
        f"<span class=\"{'ok' if ok else 'failed'}\">{'OK' if ok else 'FAILED'}</span></h1>",
        "<h2>Summary</h2>",
        f"<pre>{html.escape(text)}</pre>",
    ]
    if not report.get("timeseries"):
        parts.append('<p class="note">This report has no time series: no plots over time.</p>')
    for title, svg in plots:
        parts.append(f"<h2>{html.escape(title)}</h2><figure>{svg}</figure>")
    hlog = interval_log_from_report(report)
    if hlog:
        uri = "data:text/plain;base64," + base64.b64encode(hlog.encode("ascii")).decode("ascii")
        parts.append("<h2>HdrHistogram log</h2>"
                     f'<p><a download="fastxmpp-load.hlog" href="{uri}">fastxmpp-load.hlog</a>: '
                     "the latency histograms per interval in HdrHistogram's interval log format "
                     "(values in microseconds), for HdrHistogram's tools.</p>")
    body = json.dumps(report, indent=2, sort_keys=False, default=str)
    parts.append(f"<h2>JSON report</h2><details><summary>show</summary><pre>{html.escape(body)}</pre></details>")
    parts.append(_CHECK)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(report: Mapping[str, Any], path: str, *, text: Optional[str] = None) -> None:
    """Write :func:`render_html` of ``report`` to ``path``."""
    page = render_html(report, text=text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
