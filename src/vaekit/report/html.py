"""The report as one self-contained HTML page: inline CSS and vanilla JavaScript, PNGs as data URIs.

Nothing on the page refers to the network or to another file, so it opens anywhere (mailed,
archived, from ``file://``). The explorer's data are embedded as JSON (with ``</`` escaped, so no
string inside can close the script element), and its images are sprite sheets that a ``<canvas>``
crops (see :mod:`vaekit.report.explorer`). The page's template, CSS and scripts are files in
``vaekit/report/assets/``, read once with :mod:`importlib.resources` (:func:`read_asset`).

Example:
    >>> page = render_page(title="run", summary=[("run", "runs/a")], config_text="model: {}")
    >>> page.startswith("<!DOCTYPE html>") and "http://" not in page
    True
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Sequence
from importlib import resources

from vaekit.runs.metrics import COLUMNS

# Metrics columns in the table's order (metrics.csv's, seconds last); a column shows only if some
# row has a value in it.
METRIC_COLUMNS = (*(c for c in COLUMNS if c != "seconds"), "seconds")
EVALUATION_ROWS = {  # nats_per_image key: what the page calls it
    "reconstruction": "reconstruction (-E log p(x|z))",
    "kl": "KL(q(z|x) || p(z))",
    "nelbo": "negative ELBO",
    "iwae": "IWAE bound on -log p(x)",
    "nelbo_minus_iwae": "negative ELBO - IWAE",
}


def render_page(
    *,
    title: str,
    summary: Sequence[tuple[str, str]],
    config_text: str,
    metrics: Sequence[dict] = (),
    curves: Sequence[tuple[str, bytes]] = (),
    plots: Sequence[tuple[str, bytes]] = (),
    evaluation: dict | None = None,
    explorer: dict | None = None,
    notes: Sequence[str] = (),
    disentanglement: dict | str | None = None,
    information: bytes | None = None,
) -> str:
    """The page's HTML.

    Args:
        title: the page's title (the run's name).
        summary: ``(name, value)`` lines at the top (run folder, model file, versions).
        config_text: the resolved ``config.yaml``.
        metrics: ``metrics.csv``'s rows (dicts of numbers or None).
        curves, plots: ``(name, PNG bytes)`` of the training curves and of the other plots.
        evaluation: ``evaluation.json``'s content, None, or why it cannot be read.
        explorer: :meth:`vaekit.report.explorer.Explorer.to_json`, or None.
        notes: lines about what is missing and how to get it.
        disentanglement: ``disentanglement.json``'s content, None (no section), or why it cannot
            be read.
        information: the PNG of its factor-latent heat map.
    """
    sections = [
        ("explorer", "Latent space", _explorer_section(explorer)),
        ("metrics", "Training", _metrics_section(metrics, curves)),
        ("evaluation", "Evaluation", _evaluation_section(evaluation)),
        ("disentanglement", "Disentanglement", _scores_section(disentanglement, information)),
        ("plots", "Plots", figures(plots, "no plots in the run folder")),
        ("config", "Configuration", f"<pre>{html.escape(config_text)}</pre>"),
    ]
    sections = [section for section in sections if section[2] is not None]
    navigation = " · ".join(f'<a href="#{key}">{name}</a>' for key, name, _ in sections)
    body = "\n".join(
        f'<section id="{key}"><h2>{name}</h2>\n{content}\n</section>'
        for key, name, content in sections
    )
    facts = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in summary
    )
    remarks = "".join(f'<p class="note">{html.escape(note)}</p>' for note in notes)
    data = "null" if explorer is None else json.dumps(explorer, separators=(",", ":"))
    return fill(
        PAGE,
        title=html.escape(title),
        summary=f'<table class="facts">{facts}</table>{remarks}',
        navigation=navigation,
        body=body,
        data=data.replace("</", "<\\/"),  # no "</script>" inside the script element
        lightbox=LIGHTBOX,
        script=SCRIPT,
        style=STYLE,
    )


def png_uri(png: bytes) -> str:
    """A ``data:`` URI of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def read_asset(name: str) -> str:
    """The text of ``name`` in ``vaekit/report/assets/``: a page template, its CSS or a script.

    Example:
        >>> read_asset("report.html").startswith("<!DOCTYPE html>")
        True
    """
    return resources.files("vaekit.report").joinpath("assets", name).read_text(encoding="utf-8")


def fill(template: str, **parts: str) -> str:
    """``template`` with each ``{{name}}`` replaced by ``parts[name]``, in one pass (a part's own
    text is never read for places).

    Example:
        >>> fill("<b>{{a}}</b>{{b}}", a="{{b}}", b="!")
        '<b>{{b}}</b>!'
    """
    return _PLACE.sub(lambda match: parts[match.group(1)], template)


_PLACE = re.compile(r"\{\{(\w+)\}\}")


# Figures are shown at this fraction of their pixel width (at most the page's width): plots are
# drawn at 120 dpi, so their 10-point text shows 12.5 CSS pixels high, 8-point tick labels 10. A
# click opens the figure at its full size.
DISPLAY_SCALE = 0.75


def png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels of PNG bytes, from the IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def figures(images: Sequence[tuple[str, bytes]], empty: str) -> str:
    """Figures of ``(caption, PNG bytes)`` in a wrapping row, or a note saying ``empty``.

    Each is as wide as :data:`DISPLAY_SCALE` of its pixels (or the page, if narrower), and opens
    at full size when clicked (the page's ``lightbox.js``).
    """
    if not images:
        return f'<p class="note">{html.escape(empty)}</p>'
    items = []
    for name, png in images:
        width, height = png_size(png)
        shown = round(width * DISPLAY_SCALE)
        items.append(
            f'<figure style="width: {shown}px"><img src="{png_uri(png)}" '
            f'alt="{html.escape(name)}" width="{width}" height="{height}" '
            f'title="click to enlarge"><figcaption>{html.escape(name)}</figcaption></figure>'
        )
    return '<div class="figures">' + "".join(items) + "</div>"


def _number(value, column: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "" if value is None else str(value)
    if column == "epoch":
        return str(int(value))
    if column == "seconds":
        return f"{value:.1f}"
    return f"{value:.5g}"


def _metrics_section(rows: Sequence[dict], curves: Sequence[tuple[str, bytes]]) -> str:
    if not rows:
        return '<p class="note">no metrics.csv yet: no epoch has finished</p>'
    columns = [c for c in METRIC_COLUMNS if any(row.get(c) is not None for row in rows)]
    columns += sorted({key for row in rows for key in row} - set(METRIC_COLUMNS))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_number(row.get(c), c)}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    table = f'<div class="scroll"><table class="numbers"><tr>{head}</tr>{body}</table></div>'
    return figures(curves, "no training curves") + table


def _evaluation_section(result: dict | str | None) -> str:
    if result is None or isinstance(result, str):
        what = "no evaluation.json" if result is None else html.escape(result)
        return (
            f'<p class="note">{what}: <code>vaekit evaluate RUN_DIR</code> computes '
            "the negative ELBO and the importance-weighted bound in nats per image</p>"
        )
    state, sentence = _provenance(result)
    if state == "stale":  # of an older model: the sentence, not its numbers
        return f'<p class="note">{html.escape(sentence)}</p>'
    nats = result.get("nats_per_image") or {}
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{_nats(nats.get(key))}</td></tr>"
        for key, name in EVALUATION_ROWS.items()
        if key in nats
    )
    settings = ", ".join(
        f"{key} {html.escape(str(result[key]))}"
        for key in ("split", "images", "samples", "binarization", "likelihood", "loss_convention")
        if key in result
    )
    return (
        f'<table class="numbers"><tr><th>nats per image</th><td>mean ± standard error</td></tr>'
        f'{rows}</table><p class="note">{settings}</p>'
        + (f'<p class="note">{html.escape(sentence)}</p>' if sentence else "")
    )


def _provenance(result: dict) -> tuple[str, str]:
    """``(state, sentence)`` of a result against the run's model now (``vaekit.report``'s
    ``with_provenance``): "current", "stale" or "unknown"."""
    found = result.get("provenance") or {}
    return found.get("state", "current"), found.get("sentence", "")


SCORE_NAMES = {  # disentanglement.json's summary key: what the page calls it
    "mig": "MIG",
    "dci_disentanglement": "DCI disentanglement",
    "dci_completeness": "DCI completeness",
    "dci_informativeness_test": "DCI informativeness (test accuracy)",
    "factor_vae": "FactorVAE score",
    "sap": "SAP",
}


def _scores_section(result: dict | str | None, information: bytes | None) -> str | None:
    """The disentanglement scores, MIG per factor and the heat map; None without a result."""
    if result is None:
        return None
    if isinstance(result, str):
        return (
            f'<p class="note">{html.escape(result)}: <code>vaekit evaluate RUN_DIR '
            "--disentanglement</code> computes the scores again</p>"
        )
    state, sentence = _provenance(result)
    if state == "stale":  # of an older model: the sentence, not its numbers or heat map
        return f'<p class="note">{html.escape(sentence)}</p>'
    chance = _noise_scores(result)
    reasons = result.get("undefined") or {}
    rows = "".join(
        f"<tr><th>{html.escape(SCORE_NAMES.get(key, key))}</th>"
        + (
            f"<td>{value:.3f}</td>"
            if value is not None
            else f'<td class="note">{html.escape(reasons.get(key, "undefined"))}</td>'
        )
        + f"<td>{chance[key]:.3f}</td></tr>"
        for key, value in result["summary"].items()
        if (value is None or isinstance(value, int | float)) and key in chance
    )
    factors = result.get("factors") or []
    per_factor = (result.get("mig") or {}).get("per_factor") or []
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in factors)
    gaps = "".join(
        "<td>undefined</td>" if value is None else f"<td>{value:.3f}</td>" for value in per_factor
    )
    settings = ", ".join(
        f"{key} {html.escape(str(result[key]))}" for key in ("split", "images", "seed")
        if key in result
    )  # fmt: skip
    left_out = result.get("constant_factors") or []
    if left_out:
        settings += (
            f"; not scored (one value over these images): {html.escape(', '.join(left_out))}"
        )
    heat_map = "" if information is None else figures([("factor_information.png", information)], "")
    return (
        '<table class="numbers"><tr><th>score (a perfect code: 1)</th><th>this run</th>'
        f'<th title="what a code that ignores the factors scores">a noise code</th></tr>{rows}'
        "</table>"
        f'<div class="scroll"><table class="numbers"><tr><th>MIG per factor</th>{head}</tr>'
        f"<tr><th></th>{gaps}</tr></table></div>"
        f'<p class="note">{settings}; as disentanglement_lib defines them '
        "(vaekit.evaluation.disentanglement)</p>"
        + (f'<p class="note">{html.escape(sentence)}</p>' if sentence else "")
        + heat_map
    )


def _noise_scores(result: dict) -> dict:
    """What a code independent of the factors scores: 0, but chance for the two accuracies
    (the FactorVAE score 1 / F; DCI's informativeness the mean of 1 / levels, on a full grid)."""
    levels = [level for level in result.get("levels") or [] if isinstance(level, int) and level]
    scores = dict.fromkeys(SCORE_NAMES, 0.0)
    factors = len(result.get("factors") or levels)
    scores["factor_vae"] = 1.0 / factors if factors else float("nan")
    scores["dci_informativeness_test"] = (
        sum(1.0 / level for level in levels) / len(levels) if levels else float("nan")
    )
    return scores


def _nats(entry) -> str:
    if not isinstance(entry, dict) or entry.get("mean") is None:
        return "not finite"
    error = entry.get("standard_error")
    return f"{entry['mean']:.3f}" + ("" if error is None else f" ± {error:.3f}")


def _explorer_section(data: dict | None) -> str:
    if data is None:
        return '<p class="note">no latent-space explorer: the run has no test images</p>'
    shown = len(data["x"])
    count = f"{shown} test images" + (
        f" ({shown} of {data['available']}, evenly spaced through the test set)"
        if shown < data["available"]
        else ""
    )
    names = data.get("gridNames") or []
    picker = ""
    if names:  # a conditional model: a grid decoded per class
        label = html.escape(data.get("gridLabel") or "class")
        options = "".join(
            f'<option value="{i}">{html.escape(name)}</option>' for i, name in enumerate(names)
        )
        picker = (
            f'<label class="picker">decode as {label} <select id="grid-class">{options}'
            "</select></label>"
        )
        count += (
            f"; the model is conditional: the plane is decoded with the {label} the picker "
            "chooses, each test image with its own"
        )
        total = data.get("gridClasses") or len(names)
        if len(names) < total:  # the size bound left classes out
            values = "classes" if label == "class" else f"values of {label}"
            count += (
                f" (a grid for {len(names):,} of the {total:,} {values}, evenly spaced: the "
                "most the page holds)"
            )
    return f"""<p>Coordinates: <strong id="projection">{html.escape(data["description"])}</strong>.
Each dot is the latent mean of one of {count}. Point anywhere on the plane to see the image
decoded there (from a {data["grid"]} x {data["grid"]} grid decoded in advance); click a dot to see
that test image beside its reconstruction (decoded from its latent mean).</p>
<div class="explorer">
  <div><canvas id="scatter" width="480" height="480"></canvas><div id="legend"></div></div>
  <div class="side">
    {picker}
    <figure><canvas id="decoded" width="168" height="168"></canvas>
      <figcaption id="decoded-caption">point at the plane</figcaption></figure>
    <figure id="picked" hidden>
      <div><canvas id="original" width="120" height="120"></canvas>
      <canvas id="reconstruction" width="120" height="120"></canvas></div>
      <figcaption id="picked-caption"></figcaption></figure>
  </div>
</div>"""


# The page's template, style and scripts, files in vaekit/report/assets/ (in the wheel as package
# data): the template's {{name}} places take render_page's parts, the style and scripts inlined.
PAGE = read_asset("report.html")
STYLE = read_asset("report.css")
# A click on a figure shows it at its full pixel size over the page (scrollable where it is
# larger than the window); a click anywhere or Escape closes it. window.vaekitLightbox says which
# figure is open, for the browser test.
LIGHTBOX = read_asset("lightbox.js")
# Vanilla JavaScript (no libraries): the scatter, the decoded image under the pointer, the picked
# test image. window.vaekitExplorer exposes the state for the browser test.
SCRIPT = read_asset("explorer.js")
