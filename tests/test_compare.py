"""vaekit compare: several run folders on one self-contained page, from the console script."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import VAEKIT

from vaekit.report.compare import curve_figures, differing, flatten, with_defaults

OLD_RUN = Path(__file__).parent / "data" / "run_before_issue10"


@pytest.fixture
def two_runs(tmp_path):
    """The run written before issue 10 (no nelbo, no plots) and a copy that differs in two settings
    and has a samples grid and an evaluation."""
    first = tmp_path / "first"
    shutil.copytree(OLD_RUN, first)
    second = tmp_path / "second"
    shutil.copytree(OLD_RUN, second)
    config = (second / "config.yaml").read_text()
    config = config.replace("z_dim: 2", "z_dim: 3").replace("epochs: 5", "epochs: 7")
    (second / "config.yaml").write_text(config)
    (second / "plots").mkdir()
    shutil.copy(Path(__file__).parents[1] / "docs" / "figures" / "report_mnist_explorer.png",
                second / "plots" / "samples.png")  # fmt: skip
    (second / "evaluation.json").write_text(
        '{"samples": 50, "nats_per_image": {"iwae": {"mean": 101.25, "standard_error": 0.5}}}'
    )
    return first, second


@pytest.mark.slow
def test_compare_puts_two_runs_on_one_self_contained_page(two_runs, tmp_path):
    out = tmp_path / "pages" / "compare.html"
    done = subprocess.run(
        [VAEKIT, "compare", *map(str, two_runs), "--out", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    page = out.read_text()
    assert not re.search(r"(src|href)=\"https?:", page) and "<script src" not in page
    differs = re.findall(r'<tr class="differs"><th>([^<]+)</th>', page)
    assert differs == ["model.z_dim", "train.epochs"]
    assert "<th>first</th>" in page and "<th>second</th>" in page
    assert page.count('<img src="data:image/png;base64,') == 1 + 1  # the loss curves, 1 sample grid
    assert "101.25 ± 0.50 (50)" in page  # the second run's evaluation, with its K
    assert "2 settings differ;" in page
    first_row = re.search(r"<tr><th>first</th>(.*?)</tr>", page).group(1)
    assert first_row.count("not evaluated") == 2, "no evaluation.json: said, not left blank"
    assert "vaekit evaluate RUN_DIR" in page
    assert "window.vaekitLightbox" in page  # figures open large on a click, as on the report


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        pytest.param(["one"], "give at least two run folders", marks=pytest.mark.slow),
        pytest.param(["same", "same"], "a run folder is given twice", marks=pytest.mark.slow),
        (["nothing", "here"], "not a vaekit run folder"),
    ],
)
def test_mistakes_exit_2_with_one_line(tmp_path, arguments, words):
    (tmp_path / "one").mkdir()
    shutil.copytree(OLD_RUN, tmp_path / "same")
    done = subprocess.run(
        [VAEKIT, "compare", *arguments], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and words in done.stderr


@pytest.mark.slow
def test_one_differing_setting_is_singular(two_runs, tmp_path):
    first, second = two_runs
    (second / "config.yaml").write_text((first / "config.yaml").read_text().replace(
        "z_dim: 2", "z_dim: 3"))  # fmt: skip
    out = tmp_path / "c.html"
    subprocess.run([VAEKIT, "compare", first, second, "--out", out], check=True)
    assert "1 setting differs;" in out.read_text()


def test_every_line_of_the_curves_has_its_own_colour():
    rows = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.1 / e} for e in (1, 2, 3)]
    ((what, fig),) = curve_figures(["a", "b"], [rows, rows])
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == [
        "a 0.3333", "a (validation) 0.3667", "b 0.3333", "b (validation) 0.3667"]  # fmt: skip
    assert len({line.get_color() for line in lines}) == 4, "a run and its validation differ too"
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]


def test_flatten_and_differing():
    configs = [flatten({"m": {"a": 1, "b": [1, 2]}}), flatten({"m": {"a": 1, "b": [1, 3]}})]
    assert configs[0] == {"m.a": "1", "m.b": "[1, 2]"}
    assert differing(configs) == ["m.b"]
    assert differing([{"x": "1"}, {}]) == ["x"]  # a setting one run lacks differs


def test_a_setting_an_older_run_lacks_compares_as_its_default():
    """A run from before model.prior existed loads with prior normal: it differs from a VampPrior
    run, not from a run that wrote prior: normal."""
    old, filled = with_defaults({"model.z_dim": "2"})
    assert "model.prior" in filled and "model.z_dim" not in filled
    normal, _ = with_defaults({"model.z_dim": "2", "model.prior": "normal"})
    vamp, _ = with_defaults({"model.z_dim": "2", "model.prior": "vamp"})
    assert differing([old, normal]) == []
    assert differing([old, vamp]) == ["model.prior"]
