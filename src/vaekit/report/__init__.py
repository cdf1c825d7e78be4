"""A run's report: ``RUN_DIR/report.html``, one self-contained page to read and explore a run.

The page holds the resolved config, the metrics table and training curves, every plot, the
evaluation (``evaluation.json``) when there is one, the disentanglement scores with the MIG's
factor-latent heat map (``disentanglement.json``) when there are, and a latent-space explorer:
the test images' latent means as a scatter coloured by label, the image decoded at the point
under the pointer, and a clicked test image beside its reconstruction (:mod:`.explorer` computes
it, :mod:`.html` draws it). Images are embedded and nothing is fetched, so the page works offline
and on its own; it is about 3 MB for an MNIST run (2,000 points, a 40 x 40 grid, the plots).

- :func:`write_report`: ``vaekit report RUN_DIR``, on any run folder (also one from before this
  module, or one whose training stopped: its newest checkpoint is used);
- :func:`write_run_report`: the same from a model and test images already loaded, for the end of
  training, where the run folder is already locked.

``evaluation.json`` and ``disentanglement.json`` are read by :mod:`.results`, which checks every
value the pages show: a damaged or hand-edited file is a line saying what is wrong with it, shown
in its place. Each result is compared with the run's model now
(:mod:`vaekit.runs.provenance`): after ``vaekit train --resume`` the pages show "computed
at epoch 3; the model is now at epoch 5: run vaekit evaluate RUN again" instead of its numbers.

Example:
    >>> path = write_report("runs/mnist")  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'report.html'
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from pathlib import Path

import keras
import yaml

from vaekit import plots
from vaekit.config import Config
from vaekit.errors import ModelFileError, VaekitError, one_line
from vaekit.io import atomic_write_text, check_output_file
from vaekit.report import figures
from vaekit.report.explorer import explore
from vaekit.report.html import png_size, render_page
from vaekit.report.results import read_evaluation, read_scores, with_provenance

# A module, not its names: vaekit.training.run may import this package while it loads itself.
from vaekit.runs import data as run_data
from vaekit.runs import folder, provenance
from vaekit.runs.lock import RunLock
from vaekit.runs.metrics import read_metrics
from vaekit.runs.scores import FILE_NAME as SCORES_FILE
from vaekit.runs.scores import PLOT_NAME, heat_map
from vaekit.version import __version__

FILE_NAME = "report.html"
EVALUATION_FILE = "evaluation.json"
DEFAULT_POINTS = 2000
DEFAULT_GRID = 40
CURVES = ("loss.png", "nelbo.png")  # shown with the metrics, not among the other plots
PLOT_ORDER = (
    "latent_space.png",
    "reconstructions.png",
    "samples.png",
    "class_samples.png",
    "pseudo_inputs.png",
    "manifold.png",
    "traversals.png",
    "kl_per_dimension.png",
    "interpolations.png",
)

__all__ = [
    "DEFAULT_GRID", "DEFAULT_POINTS", "FILE_NAME", "finish_run", "write_report",
    "write_run_report",
]  # fmt: skip


def write_report(
    run_dir: str | Path,
    out: str | Path | None = None,
    points: int = DEFAULT_POINTS,
    grid: int = DEFAULT_GRID,
    verbose: int = 0,
    notify: bool = False,
) -> Path:
    """Write the report of a run folder; returns its path.

    The model is ``model.keras``, or the newest checkpoint of a run that has not finished. Written
    into the run folder (the default), the folder is locked meanwhile, and plots it lacks (a run
    from before plots existed) are drawn first, as ``vaekit plot`` would.

    Args:
        run_dir: the run folder.
        out: the HTML file (default ``RUN_DIR/report.html``).
        points: the explorer shows at most this many test images.
        grid: the explorer decodes a ``grid x grid`` lattice of its plane.
        verbose: 1 shows Keras's progress bar (plots, explorer, page).
        notify: warn when the page shows fewer ``points`` or a coarser ``grid`` than asked for.

    Raises:
        VaekitError: not a run folder, bad ``points`` or ``grid``, or no model to load.
    """
    for flag, value, lowest in (("--points", points, 1), ("--grid", grid, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise VaekitError(f"{flag}: got {value!r}, expected an integer >= {lowest}")
    if out is not None:
        check_output_file(out, "--out", (".html", ".htm"))
    run, config, source = folder.open_run(run_dir)
    data = run_data.load_data(config, run=run, verbose=verbose)
    target = Path(out) if out is not None else run.path / FILE_NAME
    inside = target.resolve().parent == run.path.resolve()
    with RunLock(run.path, "vaekit report") if inside else contextlib.nullcontext():
        vae = folder.load_run_model(run, source)
        if inside and not any(run.plots.glob("*.png")):
            figures.write_plots(
                vae, run, data.test, config.train.seed, data.source.classes, verbose
            )
        return write_run_report(
            vae, run, data.test, data.source.classes, target, points, grid, verbose, source, notify
        )


def finish_run(vae, run, test, classes: list[str] | None, seed: int, verbose: int = 0) -> None:
    """What the CLI draws once training has saved the model: every plot of the run, then its
    report (the ``finish`` of :func:`vaekit.training.run.train`)."""
    figures.write_plots(vae, run, test, seed, classes, verbose)
    write_run_report(vae, run, test, classes, verbose=verbose)


def write_run_report(
    vae,
    run,
    test,
    classes: list[str] | None = None,
    out: str | Path | None = None,
    points: int = DEFAULT_POINTS,
    grid: int = DEFAULT_GRID,
    verbose: int = 0,
    source: Path | None = None,
    notify: bool = False,
) -> Path:
    """Write the report from a loaded model; the caller holds the run folder's lock if needed.

    Args:
        vae: the run's :class:`~vaekit.models.vae.VariationalAutoencoder`.
        run: the :class:`~vaekit.runs.folder.RunFolder`; its config, metrics, plots and
            ``evaluation.json`` are read.
        test: the test images (:class:`~vaekit.runs.data.Data`'s ``test``).
        classes: the names of the labels, or None.
        out: the HTML file (default ``RUN_DIR/report.html``), written atomically.
        points, grid, verbose: see :func:`write_report`.
        source: the model file ``vae`` was loaded from (default ``RUN_DIR/model.keras``).
        notify: see :func:`write_report`.

    >>> write_run_report(vae, run, data.test, data.source.classes)  # doctest: +SKIP
    PosixPath('runs/mnist/report.html')
    """
    target = Path(out) if out is not None else run.path / FILE_NAME
    bar = keras.utils.Progbar(3, verbose=verbose, unit_name="step")  # read, explorer, page
    config = Config.load(run.config)
    rows = read_metrics(run.metrics)
    pictures, notes = _pictures(run.plots), []
    if not pictures:
        notes.append(f"no plots yet: vaekit plot {run.path} draws them")
    curves = [(name, pictures.pop(name)) for name in CURVES if name in pictures]
    source = Path(source) if source is not None else run.model
    try:
        now = provenance.position(source, run.path)  # the model the page shows
    except ModelFileError:
        now = None
    scores = with_provenance(read_scores(run.path / SCORES_FILE), now, run.path, SCORES_FILE)
    information = pictures.pop(PLOT_NAME, None)  # shown beside the scores
    if information is None and isinstance(scores, dict):
        information = _draw_information(scores)
    if not curves and rows:
        curves = _draw_curves(rows)
    ordered = sorted(pictures, key=lambda n: (PLOT_ORDER.index(n) if n in PLOT_ORDER else 99, n))
    bar.add(1)
    explorer = None
    if len(test):  # encodes the points and decodes the grid: the long step
        explorer = explore(vae, test, points, grid, classes, notify).to_json()
    bar.add(1)
    model = source.name
    if source != run.model:
        why = "damaged" if run.model.exists() else "not written yet: training unfinished"
        model = f"{source.name}, the newest checkpoint (model.keras {why})"
    kind = ""
    if vae.config.conditional:
        kind += f"; conditional on the {vae.config.condition}"
    if vae.config.prior == "vamp":
        kind += f"; VampPrior of {vae.config.pseudo_inputs} pseudo-inputs"
    summary = [
        ("run folder", str(run.path)),
        (
            "model",
            f"{model}; z_dim {vae.config.z_dim}, input {list(config.model.input_dim)}{kind}",
        ),
        ("data", f"{config.data.dataset}, {len(test)} test images"),
        ("epochs", f"{rows[-1]['epoch'] if rows else 0} of {config.train.epochs}"),
        ("vaekit", __version__),
    ]
    page = render_page(
        title=run.path.resolve().name,
        summary=summary,
        config_text=yaml.safe_dump(config.to_dict(), sort_keys=False),
        metrics=rows,
        curves=curves,
        plots=[(name, pictures[name]) for name in ordered],
        evaluation=with_provenance(
            read_evaluation(run.path / EVALUATION_FILE), now, run.path, EVALUATION_FILE
        ),
        explorer=explorer,
        notes=notes,
        disentanglement=scores,
        information=information,
    )
    atomic_write_text(target, page)
    bar.add(1)
    return target


def _pictures(folder: Path) -> dict[str, bytes]:
    """The PNG files of a run's plots folder by name, but any that is not a PNG (damaged, or
    replaced by hand): left out with a warning naming it (the heat map is drawn again from
    ``disentanglement.json``, ``vaekit plot`` draws the others)."""
    pictures = {}
    for path in sorted(folder.glob("*.png")):
        try:
            png = path.read_bytes()
            png_size(png)
        except (OSError, ValueError) as error:
            warnings.warn(f"{path}: not a readable PNG ({one_line(error)}); the report leaves it "
                          "out", stacklevel=3)  # fmt: skip
            continue
        pictures[path.name] = png
    return pictures


def _draw_curves(rows: list[dict]) -> list[tuple[str, bytes]]:
    """The training curves of a run without plots, drawn into a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        plots.plot_loss(rows, Path(folder) / "loss.png")
        curves = [("loss.png", (Path(folder) / "loss.png").read_bytes())]
        if any(row.get("nelbo") is not None for row in rows):
            plots.plot_nelbo(rows, Path(folder) / "nelbo.png")
            curves.append(("nelbo.png", (Path(folder) / "nelbo.png").read_bytes()))
    return curves


def _draw_information(scores: dict) -> bytes | None:
    """The heat map of scores whose run has no plots/factor_information.png."""
    try:
        with tempfile.TemporaryDirectory() as folder:
            plots.plot_factor_information(*heat_map(scores), Path(folder) / PLOT_NAME)
            return (Path(folder) / PLOT_NAME).read_bytes()
    except (KeyError, TypeError, ValueError):  # a hand-edited file: the table still shows
        return None
