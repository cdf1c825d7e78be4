"""The report as one self-contained HTML page: inline CSS and vanilla JavaScript, PNGs as data URIs.

Nothing on the page refers to the network or to another file, so it opens anywhere (mailed,
archived, from ``file://``). The explorer's data are embedded as JSON (with ``</`` escaped, so no
string inside can close the script element), and its images are sprite sheets that a ``<canvas>``
crops (see :mod:`vaekit.report.explorer`).

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
from collections.abc import Sequence

from vaekit.training.callbacks import COLUMNS

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
    return _fill(
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


def _fill(template: str, **parts: str) -> str:
    for name, text in parts.items():
        template = template.replace("{{" + name + "}}", text)
    return template


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
    at full size when clicked (the page's ``LIGHTBOX`` script).
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


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>vaekit report: {{title}}</title>
<style>{{style}}</style>
</head>
<body>
<header><h1>vaekit report: {{title}}</h1>{{summary}}<nav>{{navigation}}</nav></header>
{{body}}
<script type="application/json" id="explorer-data">{{data}}</script>
<script>{{lightbox}}</script>
<script>{{script}}</script>
</body>
</html>
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em;
  color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.3em; } h2 { border-bottom: 1px solid #ccc; }
nav { margin: 0.8em 0; } nav a { color: #2060a0; }
.note { color: #666; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 2px 8px; text-align: left; }
table.numbers td { text-align: right; font-variant-numeric: tabular-nums; }
table.numbers tr:nth-child(even) { background: #f4f4f4; }
.facts th { color: #666; font-weight: normal; }
.scroll { max-height: 24em; overflow: auto; margin-top: 1em; }
pre { background: #f6f6f6; padding: 0.8em; max-height: 30em; overflow: auto; font-size: 0.85em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; } figcaption { color: #555; font-size: 0.85em; text-align: center; }
.figures figure { max-width: 100%; }
.figures img { width: 100%; height: auto; border: 1px solid #eee; cursor: zoom-in; }
#lightbox { position: fixed; inset: 0; background: rgba(0, 0, 0, 0.8); overflow: auto;
  z-index: 10; cursor: zoom-out; text-align: center; }
#lightbox img { max-width: none; margin: 2em auto; background: #fff; display: block; }
.explorer { display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap; }
.explorer canvas { image-rendering: pixelated; }
.explorer > div { max-width: 100%; }
#scatter { max-width: 100%; height: auto; }
#scatter { outline: 1px solid #ddd; cursor: crosshair; }
#decoded, #original, #reconstruction { border: 1px solid #ccc; background: #000; }
.side { display: flex; flex-direction: column; gap: 1em; }
#legend { font-size: 0.85em; max-width: 480px; }
.picker { font-size: 0.9em; }
#legend span { display: inline-block; margin-right: 0.8em; }
#legend i { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 50%;
  margin-right: 0.3em; vertical-align: middle; }
"""

# A click on a figure shows it at its full pixel size over the page (scrollable where it is
# larger than the window); a click anywhere or Escape closes it. window.vaekitLightbox says which
# figure is open, for the browser test.
LIGHTBOX = """
(function () {
  "use strict";
  var box = null;
  function close() { if (box) { box.remove(); box = null; window.vaekitLightbox = null; } }
  document.addEventListener("click", function (event) {
    var image = event.target;
    if (box) { close(); return; }
    if (image.tagName !== "IMG" || !image.closest(".figures")) { return; }
    box = document.createElement("div");
    box.id = "lightbox";
    var large = document.createElement("img");
    large.src = image.src;
    large.alt = image.alt;
    large.style.width = image.naturalWidth + "px";
    box.appendChild(large);
    document.body.appendChild(box);
    window.vaekitLightbox = image.alt;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { close(); }
  });
})();
"""

# Vanilla JavaScript (no libraries): the scatter, the decoded image under the pointer, the picked
# test image. window.vaekitExplorer exposes the state for the browser test.
SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("explorer-data").textContent);
  if (!data) { return; }
  var TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf"];
  var PAD = {left: 46, right: 12, top: 12, bottom: 40};
  var scatter = document.getElementById("scatter");
  var context = scatter.getContext("2d");
  var plot = {x: PAD.left, y: PAD.top, w: scatter.width - PAD.left - PAD.right,
    h: scatter.height - PAD.top - PAD.bottom};
  var e = data.extent;  // x min, x max, y min, y max of the grid's centres
  var state = {cell: null, picked: null, ready: false, sheet: 0, at: null};
  var axes = data.projection === "pca" ? ["principal component 1", "principal component 2"]
    : ["z[0]", data.zDim > 1 ? "z[1]" : "(unused)"];

  function colour(label) {
    if (label === null || label === undefined) { return TAB10[0]; }
    var distinct = (data.classNames || []).length;
    if (distinct <= 10 && label >= 0 && label < 10) { return TAB10[label]; }
    return "hsl(" + ((label * 137.5) % 360) + ", 65%, 45%)";
  }
  function toPixel(x, y) {
    return [plot.x + (x - e[0]) / (e[1] - e[0]) * plot.w,
            plot.y + (e[3] - y) / (e[3] - e[2]) * plot.h];
  }
  function toPlane(px, py) {
    return [e[0] + (px - plot.x) / plot.w * (e[1] - e[0]),
            e[3] - (py - plot.y) / plot.h * (e[3] - e[2])];
  }
  function drawTile(sheet, image, index, canvas) {
    var c = canvas.getContext("2d");
    var scale = Math.min(canvas.width / sheet.width, canvas.height / sheet.height);
    var w = sheet.width * scale, h = sheet.height * scale;
    c.imageSmoothingEnabled = false;
    c.fillStyle = "#000";
    c.fillRect(0, 0, canvas.width, canvas.height);
    c.drawImage(image, (index % sheet.columns) * sheet.width,
      Math.floor(index / sheet.columns) * sheet.height, sheet.width, sheet.height,
      (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
  }
  function ticks(low, high) {
    var step = Math.pow(10, Math.floor(Math.log10((high - low) / 4)));
    if ((high - low) / step > 10) { step *= 2; }
    if ((high - low) / step > 10) { step *= 2.5; }
    var values = [];
    for (var v = Math.ceil(low / step) * step; v <= high; v += step) {
      values.push(Math.abs(v) < step / 1e6 ? 0 : v);
    }
    return values;
  }
  function draw() {
    context.clearRect(0, 0, scatter.width, scatter.height);
    context.strokeStyle = "#999";
    context.strokeRect(plot.x, plot.y, plot.w, plot.h);
    context.fillStyle = "#444";
    context.font = "11px sans-serif";
    context.textAlign = "center";
    ticks(e[0], e[1]).forEach(function (v) {
      var p = toPixel(v, e[2]);
      context.fillText(+v.toPrecision(3), p[0], plot.y + plot.h + 14);
    });
    context.fillText(axes[0], plot.x + plot.w / 2, plot.y + plot.h + 32);
    context.textAlign = "right";
    ticks(e[2], e[3]).forEach(function (v) {
      context.fillText(+v.toPrecision(3), plot.x - 4, toPixel(e[0], v)[1] + 4);
    });
    context.save();
    context.translate(12, plot.y + plot.h / 2);
    context.rotate(-Math.PI / 2);
    context.textAlign = "center";
    context.fillText(axes[1], 0, 0);
    context.restore();
    context.globalAlpha = 0.7;
    for (var i = 0; i < data.x.length; i++) {
      var p = toPixel(data.x[i], data.y[i]);
      context.fillStyle = colour(data.labels ? data.labels[i] : null);
      context.fillRect(p[0] - 1.5, p[1] - 1.5, 3, 3);
    }
    context.globalAlpha = 1;
    if (state.picked !== null) {
      var q = toPixel(data.x[state.picked], data.y[state.picked]);
      context.strokeStyle = "#000";
      context.lineWidth = 2;
      context.beginPath();
      context.arc(q[0], q[1], 6, 0, 2 * Math.PI);
      context.stroke();
      context.lineWidth = 1;
    }
  }
  function legend() {
    var box = document.getElementById("legend");
    if (!data.labels) { box.textContent = "no labels"; return; }
    var seen = Array.from(new Set(data.labels)).sort(function (a, b) { return a - b; });
    seen.forEach(function (label) {
      var item = document.createElement("span");
      var dot = document.createElement("i");
      dot.style.background = colour(label);
      item.appendChild(dot);
      var name = data.classNames && data.classNames[label] !== undefined
        ? data.classNames[label] : String(label);
      item.appendChild(document.createTextNode(name));
      box.appendChild(item);
    });
  }
  function showCell(x, y, again) {
    var n = data.grid;
    state.at = [x, y];
    var column = Math.round((x - e[0]) / (e[1] - e[0]) * (n - 1));
    var row = Math.round((e[3] - y) / (e[3] - e[2]) * (n - 1));
    column = Math.max(0, Math.min(n - 1, column));
    row = Math.max(0, Math.min(n - 1, row));
    if (!again && state.cell && state.cell[0] === row && state.cell[1] === column) { return; }
    state.cell = [row, column];
    drawTile(data.gridSheets[state.sheet], images.grids[state.sheet], row * n + column,
      document.getElementById("decoded"));
    var cx = e[0] + column / (n - 1) * (e[1] - e[0]), cy = e[3] - row / (n - 1) * (e[3] - e[2]);
    var as = data.gridNames && data.gridNames.length > 0
      ? " as " + (data.gridLabel || "class") + " " + data.gridNames[state.sheet] : "";
    document.getElementById("decoded-caption").textContent =
      "decoded at (" + cx.toFixed(2) + ", " + cy.toFixed(2) + ")" + as;
  }
  function nearest(px, py) {
    var best = null, distance = 100;  // within 10 pixels
    for (var i = 0; i < data.x.length; i++) {
      var p = toPixel(data.x[i], data.y[i]);
      var d = (p[0] - px) * (p[0] - px) + (p[1] - py) * (p[1] - py);
      if (d < distance) { best = i; distance = d; }
    }
    return best;
  }
  function pick(i) {
    state.picked = i;
    drawTile(data.originals, images.originals, i, document.getElementById("original"));
    drawTile(data.reconstructions, images.reconstructions, i,
      document.getElementById("reconstruction"));
    var label = data.labels ? data.labels[i] : null;
    var name = label === null ? "" : ", label " + (data.classNames && data.classNames[label]
      !== undefined ? data.classNames[label] : label);
    document.getElementById("picked-caption").textContent =
      "test image " + i + name + ": original (left), reconstruction (right)";
    document.getElementById("picked").hidden = false;
    draw();
  }
  function position(event) {
    var box = scatter.getBoundingClientRect();
    return [(event.clientX - box.left) * scatter.width / box.width,
            (event.clientY - box.top) * scatter.height / box.height];
  }
  var images = {grids: []}, pending = 0;
  function load(sheet, keep) {
    var image = new Image();
    pending += 1;
    image.onload = function () {
      pending -= 1;
      if (pending === 0) { start(); }
    };
    image.src = sheet.src;
    keep(image);
  }
  data.gridSheets.forEach(function (sheet) {
    load(sheet, function (image) { images.grids.push(image); });
  });
  load(data.originals, function (image) { images.originals = image; });
  load(data.reconstructions, function (image) { images.reconstructions = image; });
  function start() {
    state.ready = true;
    showCell((e[0] + e[1]) / 2, (e[2] + e[3]) / 2);
    var picker = document.getElementById("grid-class");
    if (picker) {
      picker.addEventListener("change", function () {
        state.sheet = +picker.value;
        showCell(state.at[0], state.at[1], true);
      });
    }
    scatter.addEventListener("pointermove", function (event) {
      var p = toPlane.apply(null, position(event));
      showCell(p[0], p[1]);
    });
    scatter.addEventListener("click", function (event) {
      var i = nearest.apply(null, position(event));
      if (i !== null) { pick(i); }
    });
  }
  draw();
  legend();
  window.vaekitExplorer = {
    state: state,
    // A test image's dot, in CSS pixels from the scatter canvas's top left corner.
    pointPosition: function (i) {
      var p = toPixel(data.x[i], data.y[i]), box = scatter.getBoundingClientRect();
      return [p[0] * box.width / scatter.width, p[1] * box.height / scatter.height];
    },
    count: data.x.length
  };
})();
"""
