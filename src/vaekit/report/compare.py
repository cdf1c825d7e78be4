"""Several runs on one self-contained page: ``vaekit compare RUN_DIR RUN_DIR ... --out FILE``.

The page holds the runs' configs side by side (the settings that differ first, highlighted; the
shared ones folded away), their metric curves overlaid (one figure per metric, one line per run),
their final figures in one table (the last epoch's metrics, and the evaluation in nats where
``evaluation.json`` exists), their disentanglement scores and heat maps where scored, and their
sample grids next to each other (conditional models' per-class grids too). Like the report
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
from pathlib import Path

import yaml
from matplotlib.figure import Figure

from vaekit.config import Config, read_config_file
from vaekit.errors import VaekitError, plural
from vaekit.io import atomic_write_text, check_output_file
from vaekit.report import PLOT_NAME, SCORES_FILE, read_evaluation, read_scores
from vaekit.report import html as html_page
from vaekit.training.callbacks import read_metrics

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
    evaluations = [read_evaluation(run / "evaluation.json") for run in runs]
    scores = [read_scores(run / SCORES_FILE) for run in runs]
    sections = [
        ("Configuration", _config_table(names, list(configs), list(filled))),
        ("Curves", _curves(names, metrics)),
        ("Final figures", _final_table(names, metrics, evaluations)),
        *(
            [("Disentanglement", _scores_table(names, scores) + _heat_maps(names, runs))]
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
    page = PAGE.format(
        title=title, style=html_page.STYLE + EXTRA_STYLE, body=body, script=html_page.LIGHTBOX
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
    head = "<tr><th>run</th><th>epochs</th>" + "".join(f"<th>{key}</th>" for key in FINAL)
    head += "".join(f"<th>test {key} (K)</th>" for key in EVALUATED) + "</tr>"
    body = ""
    for name, rows, evaluation in zip(names, metrics, evaluations, strict=True):
        last = rows[-1] if rows else {}
        cells = "".join(f"<td>{_number(last.get(key))}</td>" for key in FINAL)
        for key in EVALUATED:
            entry = evaluation["nats_per_image"].get(key) if isinstance(evaluation, dict) else None
            if evaluation is None:
                shown = '<span class="note">not evaluated</span>'
            elif isinstance(evaluation, str):
                shown = f'<span class="note" title="{html.escape(evaluation)}">unreadable</span>'
            elif not isinstance(entry, dict) or entry.get("mean") is None:
                shown = '<span class="note">not finite</span>'
            else:
                error = entry.get("standard_error")
                shown = f"{entry['mean']:.2f}" + (f" ± {error:.2f}" if error is not None else "")
                shown += f" ({evaluation.get('samples')})"
            cells += f"<td>{shown}</td>"
        epochs = int(last["epoch"]) if last.get("epoch") is not None else 0
        body += f"<tr><th>{html.escape(name)}</th><td>{epochs}</td>{cells}</tr>"
    note = ""
    if any(evaluation is None for evaluation in evaluations):
        note = (
            '<p class="note">not evaluated: <code>vaekit evaluate RUN_DIR</code> measures a '
            "run's test set in nats; —: no such value in metrics.csv (no validation, or a "
            "run from before it was logged)</p>"
        )
    return f'<table class="compare numbers">{head}{body}</table>{note}'


def _scores_table(names, scores) -> str:
    """The runs' disentanglement scores (``disentanglement.json``'s summary) side by side."""
    keys = list(html_page.SCORE_NAMES)
    head = "<tr><th>run</th>" + "".join(
        f"<th>{html.escape(html_page.SCORE_NAMES[key])}</th>" for key in keys
    )
    body = ""
    for name, score in zip(names, scores, strict=True):
        if not isinstance(score, dict):
            why = "not scored" if score is None else "unreadable"
            cells = f'<td colspan="{len(keys)}"><span class="note">{why}</span></td>'
        else:
            values = (score["summary"].get(key) for key in keys)
            cells = "".join(
                f"<td>{value:.3f}</td>" if isinstance(value, int | float) else "<td>—</td>"
                for value in values
            )
        body += f"<tr><th>{html.escape(name)}</th>{cells}</tr>"
    note = ""
    if any(score is None for score in scores):
        note = (
            '<p class="note">not scored: <code>vaekit evaluate RUN_DIR --disentanglement</code> '
            "scores a run on a data set with ground-truth factors</p>"
        )
    return f'<table class="compare numbers">{head}</tr>{body}</table>{note}'


def _plots(names: list[str], runs: list[Path], file_name: str) -> list[tuple[str, bytes]]:
    """Each run's ``plots/FILE_NAME``, captioned with the run's name, where it has one."""
    paths = [(name, run / "plots" / file_name) for name, run in zip(names, runs, strict=True)]
    return [(name, path.read_bytes()) for name, path in paths if path.is_file()]


def _heat_maps(names: list[str], runs: list[Path]) -> str:
    images = _plots(names, runs, PLOT_NAME)
    return html_page.figures(images, "") if images else ""


def _samples(names: list[str], runs: list[Path]) -> str:
    images = _plots(names, runs, "samples.png")
    return html_page.figures(images, "no samples.png yet: vaekit plot RUN_DIR draws it")


def _number(value) -> str:
    if value is None:
        return "—"
    return f"{value:.5g}" if isinstance(value, float) else str(value)


EXTRA_STYLE = """
table.compare { border-collapse: collapse; margin: 0.5em 0; font-size: 13px; }
table.compare th, table.compare td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
table.compare tr.differs td { background: #fff3c4; font-weight: 600; }
table.numbers td { text-align: right; font-variant-numeric: tabular-nums; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vaekit compare: {title}</title>
<style>{style}</style></head>
<body><main>
<h1>vaekit compare: {title}</h1>
{body}
</main><script>{script}</script></body></html>
"""
