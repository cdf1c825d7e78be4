"""Several runs on one self-contained page: ``vaekit compare RUN_DIR RUN_DIR ... --out FILE``.

The page holds the runs' configs side by side (the settings that differ first, highlighted; the
shared ones folded away), their metric curves overlaid (one figure per metric, one line per run),
their final figures in one table (the last epoch's metrics, and the evaluation in nats where
``evaluation.json`` exists), their disentanglement scores and heat maps where scored, and their
sample grids next to each other (conditional models' per-class grids too). An evaluation or
scores computed on an older model of the run (before a ``vaekit train --resume``) are left out,
with the sentence that says so; disentanglement scores share a table only where they were
computed on the same images, factors and sample counts (one table per such setting). Like the report
(:mod:`vaekit.report`), it embeds everything and fetches nothing. It reads the run folders only, so
it works on runs that are still training and on runs from any vaekit version.

Example:
    >>> flatten({"model": {"z_dim": 2, "input_dim": [28, 28, 1]}})
    {'model.z_dim': '2', 'model.input_dim': '[28, 28, 1]'}
    >>> differing([{"a": "1", "b": "2"}, {"a": "1", "b": "3"}])
    ['b']
"""

from __future__ import annotations

import html
import io
import warnings
from pathlib import Path

import yaml
from matplotlib.figure import Figure

from vaekit.config import Config, read_config_file
from vaekit.errors import VaekitError, one_line, plural
from vaekit.io import atomic_write_text, check_output_file
from vaekit.report import (
    EVALUATION_FILE,
    PLOT_NAME,
    SCORES_FILE,
    read_evaluation,
    read_scores,
    with_provenance,
)
from vaekit.report import html as html_page
from vaekit.runs import provenance
from vaekit.runs.metrics import read_metrics
from vaekit.runs.scores import describe_settings, settings_key

# Curves overlaid, one figure each: (training key, validation key, what it is).
CURVES = (
    ("loss", "val_loss", "loss (the run's own convention)"),
    ("nelbo", "val_nelbo", "negative ELBO, nats per image"),
)
FINAL = ("loss", "bce", "kl", "val_loss", "nelbo", "val_nelbo", "seconds")
# matplotlib's tab20: pairs of a dark and a light shade of one hue, a pair per run.
PAIRS = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in (
    (31, 119, 180), (174, 199, 232), (255, 127, 14), (255, 187, 120), (44, 160, 44),
    (152, 223, 138), (214, 39, 40), (255, 152, 150), (148, 103, 189), (197, 176, 213),
    (140, 86, 75), (196, 156, 148), (227, 119, 194), (247, 182, 210), (127, 127, 127),
    (199, 199, 199), (188, 189, 34), (219, 219, 141), (23, 190, 207), (158, 218, 229),
)]  # fmt: skip
EVALUATED = ("nelbo", "iwae")  # evaluation.json's nats_per_image entries shown


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """A nested config as ``{"section.key": "value as YAML"}``, in the config's order."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...")
            flat[name] = flat[name].strip()
    return flat


def differing(configs: list[dict[str, str]]) -> list[str]:
    """The keys whose value is not the same in every config (a missing key counts as a value)."""
    keys = list(dict.fromkeys(key for config in configs for key in config))
    return [key for key in keys if len({config.get(key) for config in configs}) > 1]


def with_defaults(config: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    """A flattened config with every setting it lacks (a run from before that setting existed)
    given this version's default, which is what loading the run gives it; and the keys filled.

    >>> values, filled = with_defaults({"model.z_dim": "3"})
    >>> values["model.z_dim"], values["model.prior"], "model.prior" in filled
    ('3', 'normal', True)
    """
    defaults = flatten(Config().to_dict())
    filled = {key for key in defaults if key not in config}
    return {**config, **{key: defaults[key] for key in filled}}, filled


def compare_runs(run_dirs, out) -> Path:
    """Write the comparison page of ``run_dirs`` to ``out``; returns its path.

    Raises:
        VaekitError: fewer than two runs, the same run twice, or a folder that is no run.
    """
    runs = [Path(run) for run in run_dirs]
    if len(runs) < 2:
        raise VaekitError("compare: give at least two run folders")
    if len({run.resolve() for run in runs}) < len(runs):
        raise VaekitError("compare: a run folder is given twice")
    for run in runs:
        if not (run / "config.yaml").is_file():
            raise VaekitError(f"{run}: not a vaekit run folder (no config.yaml)")
    if out is not None:
        check_output_file(out, "--out", (".html", ".htm"))
    names = _names(runs)
    configs, filled = zip(
        *(with_defaults(flatten(_read_config(run / "config.yaml"))) for run in runs), strict=True
    )
    metrics = [read_metrics(run / "metrics.csv") for run in runs]
    now = [provenance.current(run) for run in runs]  # the model each run holds now
    evaluations = [
        with_provenance(read_evaluation(run / EVALUATION_FILE), position, run, EVALUATION_FILE)
        for run, position in zip(runs, now, strict=True)
    ]
    scores = [
        with_provenance(read_scores(run / SCORES_FILE), position, run, SCORES_FILE)
        for run, position in zip(runs, now, strict=True)
    ]
    sections = [
        ("Configuration", _config_table(names, list(configs), list(filled))),
        ("Curves", _curves(names, metrics)),
        ("Final figures", _final_table(names, metrics, evaluations)),
        *(
            [("Disentanglement", _scores_table(names, scores) + _heat_maps(names, runs, scores))]
            if any(score is not None for score in scores)
            else []
        ),
        ("Samples", _samples(names, runs)),
        *(
            [("Samples of each class", html_page.figures(class_samples, ""))]
            if (class_samples := _plots(names, runs, "class_samples.png"))
            else []
        ),
    ]
    body = "\n".join(
        f"<section><h2>{title}</h2>\n{content}\n</section>" for title, content in sections
    )
    title = html.escape(" vs ".join(names))
    page = html_page.fill(
        PAGE,
        title=title,
        style=html_page.STYLE,
        compare_style=EXTRA_STYLE,
        body=body,
        script=html_page.LIGHTBOX,
    )
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VaekitError(f"--out {out}: cannot create its folder ({error.strerror})") from None
    atomic_write_text(out, page)
    return out


def _names(runs: list[Path]) -> list[str]:
    """Each run's folder name, or its path where two folder names are the same."""
    names = [run.name or str(run) for run in runs]
    pairs = zip(runs, names, strict=True)
    return [str(run) if names.count(name) > 1 else name for run, name in pairs]


def _read_config(path: Path) -> dict:
    """A run's ``config.yaml`` as written (any vaekit version's), or an error naming the file."""
    values = read_config_file(path) or {}
    if not all(isinstance(v, dict | None) for v in values.values()):
        raise VaekitError(f"{path}: expected a mapping with sections model, data, train")
    return values


def _config_table(names: list[str], configs: list[dict[str, str]], filled: list[set[str]]) -> str:
    """The settings that differ, then the shared ones folded; a setting a run's config.yaml lacks
    shows this version's default, marked "(default)", or "—" where no setting has that name."""
    differ = differing(configs)
    same = [key for key in dict.fromkeys(k for c in configs for k in c) if key not in differ]

    def cell(config, defaulted, key):
        value = html.escape(config.get(key, "—"))
        return value + (' <span class="note">(default)</span>' if key in defaulted else "")

    def rows(keys, css):
        return "".join(
            f'<tr class="{css}"><th>{html.escape(key)}</th>'
            + "".join(
                f"<td>{cell(config, defaulted, key)}</td>"
                for config, defaulted in zip(configs, filled, strict=True)
            )
            + "</tr>"
            for key in keys
        )

    head = "<tr><th>setting</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr>"
    summary = (
        f"{plural(len(differ), 'setting')} {'differs' if len(differ) == 1 else 'differ'}"
        if differ
        else "the configs are the same"
    )
    return (
        f'<p class="note">{summary}; the {len(same)} shared ones are folded below.</p>'
        f'<table class="compare">{head}{rows(differ, "differs")}</table>'
        f"<details><summary>shared settings</summary>"
        f'<table class="compare">{head}{rows(same, "same")}</table></details>'
    )


def curve_figures(names: list[str], metrics: list[list[dict]]) -> list[tuple[str, Figure]]:
    """One figure per curve of :data:`CURVES` that some run has: a line per run and split, each
    its own colour (a dark one for training, the light one of the same pair for validation,
    dashed), the legend giving each line's last value."""
    figures = []
    for train_key, validation_key, what in CURVES:
        fig = Figure(figsize=(6.0, 3.6), layout="constrained")
        ax = fig.add_subplot()
        epochs = 0
        for index, (name, rows) in enumerate(zip(names, metrics, strict=True)):
            for shade, (key, style) in enumerate(((train_key, "-"), (validation_key, "--"))):
                points = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
                if points:
                    x, y = zip(*points, strict=True)
                    suffix = "" if key == train_key else " (validation)"
                    epochs = max(epochs, int(max(x)))
                    ax.plot(x, y, style, color=PAIRS[(2 * index + shade) % len(PAIRS)],
                            marker="o", markersize=5 if len(x) <= 2 else 2,
                            label=f"{name}{suffix} {y[-1]:.4g}")  # fmt: skip
        if not epochs:
            continue
        ax.set(title=what, xlabel="epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if epochs <= 2:
            ax.set_xlim(0.5, epochs + 0.5)
        ax.legend(fontsize=7, title="last value", title_fontsize=7)
        figures.append((what, fig))
    return figures


def _curves(names: list[str], metrics: list[list[dict]]) -> str:
    pictures = []
    for what, fig in curve_figures(names, metrics):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=120)
        pictures.append((what, buffer.getvalue()))
    return html_page.figures(pictures, "no metrics.csv in these runs yet")


def _final_table(names, metrics, evaluations) -> str:
    shown_now = [e for e in evaluations if isinstance(e, dict) and _provenance(e)[0] != "stale"]
    # What the nats were computed on: where the runs' differ, each cell says its own.
    images = {(e.get("dataset"), e.get("split"), e.get("images")) for e in shown_now}
    split = "test " if all(e.get("split", "test") == "test" for e in shown_now) else ""
    head = "<tr><th>run</th><th>epochs</th>" + "".join(f"<th>{key}</th>" for key in FINAL)
    head += "".join(f"<th>{split}{key} (K)</th>" for key in EVALUATED) + "</tr>"
    body, notes = "", []
    if len(images) > 1:
        notes.append(
            "evaluated on different images (data set, split or --limit, beside each value): "
            "their nats compare only where these agree"
        )
    for name, rows, evaluation in zip(names, metrics, evaluations, strict=True):
        last = rows[-1] if rows else {}
        cells = "".join(f"<td>{_number(last.get(key))}</td>" for key in FINAL)
        state, sentence = _provenance(evaluation)
        if isinstance(evaluation, str):
            notes.append(f"{name}: {evaluation}")
        elif sentence:
            notes.append(f"{name}: {sentence}")
        for key in EVALUATED:
            entry = evaluation["nats_per_image"].get(key) if isinstance(evaluation, dict) else None
            if evaluation is None:
                shown = '<span class="note">not evaluated</span>'
            elif isinstance(evaluation, str):
                shown = f'<span class="note" title="{html.escape(evaluation)}">unreadable</span>'
            elif state == "stale":  # of an older model than the run's: not beside the others
                shown = f'<span class="note" title="{html.escape(sentence)}">stale</span>'
            elif not isinstance(entry, dict) or entry.get("mean") is None:
                shown = '<span class="note">not finite</span>'
            else:
                error = entry.get("standard_error")
                shown = f"{entry['mean']:.2f}" + (f" ± {error:.2f}" if error is not None else "")
                shown += f" ({evaluation.get('samples')})"
                if len(images) > 1:
                    where = f"{evaluation.get('split')}, {evaluation.get('images')} images"
                    shown += f' <span class="note">{html.escape(where)}</span>'
                shown += "" if state == "current" else ' <span class="note">(?)</span>'
            cells += f"<td>{shown}</td>"
        epochs = int(last["epoch"]) if last.get("epoch") is not None else 0
        body += f"<tr><th>{html.escape(name)}</th><td>{epochs}</td>{cells}</tr>"
    note = "".join(f'<p class="note">{html.escape(line)}</p>' for line in notes)
    if any(evaluation is None for evaluation in evaluations):
        note += (
            '<p class="note">not evaluated: <code>vaekit evaluate RUN_DIR</code> measures a '
            "run's test set in nats; —: no such value in metrics.csv (no validation, or a "
            "run from before it was logged)</p>"
        )
    return f'<table class="compare numbers">{head}{body}</table>{note}'


def _provenance(result) -> tuple[str, str]:
    """``(state, sentence)`` of a read result (:func:`vaekit.report.with_provenance`)."""
    if not isinstance(result, dict):
        return "current", ""
    found = result.get("provenance") or {}
    return found.get("state", "current"), found.get("sentence", "")


def _scores_table(names, scores) -> str:
    """The runs' disentanglement scores (``disentanglement.json``'s summary) side by side: one
    table for each setting they were computed with (images, factors, sample counts), so that
    only scores of one setting share a column; stale, unreadable and missing ones below."""
    keys = list(html_page.SCORE_NAMES)
    head = "<tr><th>run</th>" + "".join(
        f"<th>{html.escape(html_page.SCORE_NAMES[key])}</th>" for key in keys
    )
    groups: dict[tuple, list[tuple[str, dict]]] = {}
    others, notes = "", []
    for name, score in zip(names, scores, strict=True):
        state, sentence = _provenance(score)
        if isinstance(score, dict) and state != "stale":
            groups.setdefault(settings_key(score), []).append((name, score))
            if sentence:
                notes.append(f"{name}: {sentence}")
            continue
        if score is None:
            why = "not scored"
        elif isinstance(score, str):
            why, sentence = "unreadable", score
        else:
            why = "stale"
        if sentence:
            notes.append(f"{name}: {sentence}")
        cells = f'<td colspan="{len(keys)}"><span class="note">{why}</span></td>'
        others += f"<tr><th>{html.escape(name)}</th>{cells}</tr>"
    tables = ""
    for members in groups.values():
        body = ""
        for name, score in members:
            reasons = score.get("undefined") or {}
            cells = ""
            for key in keys:
                value = score["summary"].get(key)
                if isinstance(value, int | float):
                    cells += f"<td>{value:.3f}</td>"
                elif key in score["summary"]:  # null: undefined, with its reason
                    why = reasons.get(key, "undefined")
                    cells += f'<td title="{html.escape(why)}">undefined</td>'
                    notes.append(f"{name}, {html_page.SCORE_NAMES[key]}: {why}")
                else:
                    cells += "<td>—</td>"
            unknown = ' <span class="note">(?)</span>' if _provenance(score)[0] != "current" else ""
            body += f"<tr><th>{html.escape(name)}{unknown}</th>{cells}</tr>"
        caption = html.escape(describe_settings(members[0][1]))
        tables += f'<p class="note">{caption}</p><table class="compare numbers">{head}</tr>{body}'
        tables += "</table>"
    if others:
        tables += f'<table class="compare numbers">{head}</tr>{others}</table>'
    if len(groups) > 1:
        notes.insert(
            0,
            f"computed with {len(groups)} different settings (images, factors or sample "
            "counts): each table holds the scores of one, which compare only with each other",
        )
    note = "".join(f'<p class="note">{html.escape(line)}</p>' for line in notes)
    if any(score is None for score in scores):
        note += (
            '<p class="note">not scored: <code>vaekit evaluate RUN_DIR --disentanglement</code> '
            "scores a run on a data set with ground-truth factors</p>"
        )
    return tables + note


def _plots(names: list[str], runs: list[Path], file_name: str) -> list[tuple[str, bytes]]:
    """Each run's ``plots/FILE_NAME``, captioned with the run's name, where it has one that is a
    PNG (a damaged one is left out, with a warning naming it)."""
    paths = [(name, run / "plots" / file_name) for name, run in zip(names, runs, strict=True)]
    images = []
    for name, path in paths:
        if path.is_file():
            try:
                png = path.read_bytes()
                html_page.png_size(png)
            except (OSError, ValueError) as error:
                warnings.warn(
                    f"{path}: not a readable PNG ({one_line(error)}); compare leaves it out",
                    stacklevel=2,
                )
                continue
            images.append((name, png))
    return images


def _heat_maps(names: list[str], runs: list[Path], scores) -> str:
    """The runs' MIG heat maps, but of a run whose scores are stale or unreadable (the heat map
    is drawn with the scores: it is as old) or that has none."""
    shown = [
        (name, run)
        for name, run, score in zip(names, runs, scores, strict=True)
        if isinstance(score, dict) and _provenance(score)[0] != "stale"
    ]
    images = _plots([name for name, _ in shown], [run for _, run in shown], PLOT_NAME)
    return html_page.figures(images, "") if images else ""


def _samples(names: list[str], runs: list[Path]) -> str:
    images = _plots(names, runs, "samples.png")
    return html_page.figures(images, "no samples.png yet: vaekit plot RUN_DIR draws it")


def _number(value) -> str:
    if value is None:
        return "—"
    return f"{value:.5g}" if isinstance(value, float) else str(value)


# The page's template and the style it adds to the report's (vaekit/report/assets/).
EXTRA_STYLE = html_page.read_asset("compare.css")
PAGE = html_page.read_asset("compare.html")
