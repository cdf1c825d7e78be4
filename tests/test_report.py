"""``vaekit report``: one self-contained HTML page per run, with a latent-space explorer.

The page is checked as a file (nothing on it refers to the network or another file; it stays
under its size bound; its explorer's data match the run) and, in a headless Chromium, as a page
(the image under the pointer follows the pointer, a clicked dot shows its reconstruction, the
console stays clean). The tiny run is trained and reported by the installed console script, each
in a new process, as a user would; the other runs (z_dim 4, RGB images) are trained in-process.
"""

import base64
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import VAEKIT

from vaekit import datasets, report
from vaekit.cli import main
from vaekit.config import Config, ModelConfig
from vaekit.datasets import ArrayImages
from vaekit.errors import VaekitError
from vaekit.report import write_report, write_run_report
from vaekit.report.explorer import MAX_CLASS_VALUES, MAX_SHEET_VALUES, Plane, _extent, explore
from vaekit.runs.lock import RunLock
from vaekit.training import run as runs

OLD_RUN = Path(__file__).parent / "data" / "run_before_issue10"
SMALL_MODEL = {
    "seed": 1,
    "encoder_conv_filters": [8, 8, 8],
    "decoder_conv_t_filters": [8, 8, 1],
}
# 256 images, batches of 16 and a high rate: one epoch (a few seconds) is enough for decoded
# images that differ across the latent plane.
TINY = {
    "model": SMALL_MODEL,
    "data": {"dataset": "mnist", "limit": 256},
    "train": {"epochs": 1, "batch_size": 16, "learning_rate": 0.005, "seed": 3},
}
MNIST_BOUND = 5_000_000  # bytes: the report of an MNIST run, 2,000 points and a 40 x 40 grid


def vaekit(*arguments, check=True):
    """Run the console script in a new process; returns the completed process."""
    result = subprocess.run(
        [VAEKIT, *map(str, arguments)], capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, f"vaekit {' '.join(map(str, arguments))}: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny MNIST run (z_dim 2) and its report, each written by the console script."""
    folder = tmp_path_factory.mktemp("tiny")
    config = folder / "tiny.yaml"
    config.write_text(json.dumps(TINY))  # JSON is YAML
    vaekit("train", "--config", config, "--out", folder / "run", "--quiet")
    reported = vaekit("report", folder / "run")
    assert "3/3" in reported.stdout  # Keras's progress bar: read, explorer, page
    assert reported.stdout.strip().splitlines()[-1].startswith(str(folder / "run" / "report.html"))
    return folder / "run"


def explorer_data(page: str) -> dict:
    """The explorer's embedded JSON."""
    match = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page)
    return json.loads(match.group(1))


def sheet_image(sheet: dict) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert sheet["src"].startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(sheet["src"][len(prefix) :])))


def train_in_process(folder: Path, settings: dict) -> runs.RunFolder:
    return runs.train(Config.from_dict(settings), folder, verbose=0, finish=report.finish_run)


# The page as a file.


@pytest.mark.slow
def test_the_page_is_self_contained(tiny_run):
    page = (tiny_run / "report.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<script[^>]*\bsrc=", page)  # every script inline
    assert not re.search(r"<link[^>]*stylesheet", page)  # the style inline
    references = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert references and all(r.startswith(("data:", "#")) for r in references), references
    assert "@import" not in page and "url(" not in page
    # Every section, and the run's own numbers: the config, the metrics, every plot.
    for heading in ("Latent space", "Training", "Evaluation", "Plots", "Configuration"):
        assert f"<h2>{heading}</h2>" in page
    assert "learning_rate: 0.005" in page and "no evaluation.json" in page
    plots = {p.name for p in (tiny_run / "plots").glob("*.png")}
    assert plots and all(f"<figcaption>{name}</figcaption>" in page for name in plots)
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == len(plots)


def test_the_explorer_holds_every_test_image_and_the_decoded_grid(tiny_run):
    data = explorer_data((tiny_run / "report.html").read_text(encoding="utf-8"))
    assert data["projection"] == "identity" and data["zDim"] == 2
    assert "no projection" in data["description"]
    assert len(data["x"]) == len(data["y"]) == len(data["labels"]) == data["available"] == 256
    assert set(data["labels"]) == set(range(10))  # digits, which need no names
    x_min, x_max, y_min, y_max = data["extent"]  # the grid spans every point
    assert x_min < min(data["x"]) and max(data["x"]) < x_max
    assert y_min < min(data["y"]) and max(data["y"]) < y_max
    assert data["grid"] == 40 and data["gridSheets"][0]["count"] == 1600
    assert sheet_image(data["gridSheets"][0]).size == (40 * 28, 40 * 28)
    assert sheet_image(data["gridSheets"][0]).mode == "L"  # grey images, one channel
    for name in ("originals", "reconstructions"):
        sheet = data[name]
        assert sheet["count"] == 256 and sheet["columns"] == 16
        assert sheet_image(sheet).size == (16 * 28, 16 * 28)


def test_evaluation_numbers_appear_once_evaluated(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    result = {
        "split": "test",
        "images": 64,
        "samples": 8,
        "nats_per_image": {
            "nelbo": {"mean": 123.456, "standard_error": 1.5},
            "iwae": {"mean": 120.25, "standard_error": 1.25},
            "kl": {"mean": None, "standard_error": None},  # a diverged value
        },
    }
    (run / "evaluation.json").write_text(json.dumps(result))
    page = write_run_report(runs.load_run_model(runs.RunFolder(run)), runs.RunFolder(run), _test())
    text = page.read_text(encoding="utf-8")
    assert "123.456 ± 1.500" in text and "120.250 ± 1.250" in text and "not finite" in text
    assert "no evaluation.json" not in text


def _test(count=64) -> ArrayImages:
    """The first ``count`` MNIST test images, with labels."""
    _, (x_test, y_test) = datasets.load("mnist", limit=count)
    return ArrayImages(np.asarray(x_test)[:count], labels=np.asarray(y_test)[:count])


def test_an_mnist_report_stays_under_its_size_bound(tiny_run, tmp_path):
    """2,000 real MNIST test images and a 40 x 40 grid: the page is under 5 MB."""
    run = runs.RunFolder(tiny_run)
    out = write_run_report(runs.load_run_model(run), run, _test(2000), out=tmp_path / "r.html")
    data = explorer_data(out.read_text(encoding="utf-8"))
    assert len(data["x"]) == 2000 and data["grid"] == 40
    assert out.stat().st_size < MNIST_BOUND, out.stat().st_size


class FakeVAE:
    """Encodes an image to its first ``z_dim`` pixel values; decodes to a constant image (a
    conditional one's to its first label column's value over ten)."""

    def __init__(self, z_dim, shape, classes=None):
        self.z_dim, self.shape = z_dim, shape
        self.config = ModelConfig(
            conditional=classes is not None, condition_levels=classes and [classes]
        )

    def posterior(self, images, batch_size=64):
        flat = images.take(np.arange(len(images))).reshape(len(images), -1)
        return flat[:, : self.z_dim], np.zeros((len(images), self.z_dim))

    def label_rows(self, images):
        return None if not self.config.conditional else np.zeros((len(images), 1), np.int32)

    def decode(self, z, batch_size=256, labels=None):
        value = 0.5 if labels is None else labels[:, :1, None, None] / 10
        return np.full((len(z), *self.shape), value, np.float32)


def test_large_images_are_embedded_fewer_and_coarser_within_the_bound():
    shape = (64, 64, 3)
    images = ArrayImages(np.random.default_rng(0).random((600, *shape), dtype=np.float32))
    explorer = explore(FakeVAE(3, shape), images, points=2000, grid=40)
    per_image = 64 * 64 * 3
    assert explorer.originals.count == MAX_SHEET_VALUES // per_image < 600
    assert explorer.grid**2 * per_image <= MAX_SHEET_VALUES < (explorer.grid + 1) ** 2 * per_image
    assert explorer.available == 600 and explorer.labels is None


def test_a_conditional_model_decodes_a_grid_per_class_within_the_bound():
    shape = (64, 64, 3)
    images = ArrayImages(np.random.default_rng(0).random((600, *shape), dtype=np.float32))
    explorer = explore(FakeVAE(3, shape, classes=10), images, points=100, grid=40)
    per_image = 64 * 64 * 3
    assert len(explorer.grid_sheets) == 10 and explorer.grid_names == [str(i) for i in range(10)]
    assert 10 * explorer.grid**2 * per_image <= MAX_CLASS_VALUES
    assert 10 * (explorer.grid + 1) ** 2 * per_image > MAX_CLASS_VALUES
    grey = [np.asarray(sheet_image(s.to_json()))[0, 0, 0] for s in explorer.grid_sheets]
    assert np.abs(np.subtract(grey, 25.5 * np.arange(10))).max() <= 4.6  # its class (32 levels)


def test_the_plane_spans_a_tight_cloud_of_points():
    # Latent means within +-0.05 (a model whose posterior hardly moves): the plane and its grid
    # follow the points, so they fill the plot and most of the decoded cells lie among them.
    xy = np.random.default_rng(0).uniform(-0.05, 0.05, size=(500, 2))
    low_x, high_x, low_y, high_y = _extent(xy)
    assert high_x - low_x < 0.12 and high_y - low_y < 0.12
    assert (np.ptp(xy[:, 0]) / (high_x - low_x)) > 0.85
    assert _extent(np.zeros((3, 2))) == (-0.55, 0.55, -0.55, 0.55)  # no spread at all: 1 wide


def test_the_pca_plane_is_the_points_two_main_directions():
    rng = np.random.default_rng(0)
    spread = np.array([5.0, 2.0, 0.1, 0.1])
    z = rng.normal(size=(500, 4)) * spread + np.array([1.0, -1.0, 3.0, 0.0])
    plane = Plane.fit(z)
    assert plane.method == "pca" and 0.95 < plane.explained < 1.0
    np.testing.assert_allclose(np.abs(plane.basis[:, :2]), np.eye(2), atol=0.05)
    xy = plane.project(z)
    np.testing.assert_allclose(xy.mean(axis=0), 0.0, atol=1e-9)  # centred on the mean
    on_plane = plane.to_latent(xy)
    np.testing.assert_allclose(plane.project(on_plane), xy, atol=1e-4)  # a round trip
    assert "PCA of the 4-D latent means" in plane.describe(4)
    two_d = Plane.fit(z[:, :2])
    assert two_d.method == "identity"
    np.testing.assert_allclose(two_d.project(z[:, :2]), z[:, :2])


@pytest.mark.slow
def test_a_run_with_z_dim_4_is_shown_through_pca_named_on_the_page(tmp_path):
    settings = {**TINY, "model": {**SMALL_MODEL, "z_dim": 4}}
    run = train_in_process(tmp_path / "run", settings)
    page = write_report(run.path, points=100, grid=12).read_text(encoding="utf-8")
    data = explorer_data(page)
    assert data["projection"] == "pca" and data["zDim"] == 4
    assert "PCA of the 4-D latent means" in page and "principal components 1 and 2" in page
    assert len(data["x"]) == 100 and data["gridSheets"][0]["count"] == 144
    assert "traversals.png" in page


@pytest.mark.slow
def test_rgb_images_are_embedded_in_colour(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "colour.npz"
    np.savez(
        path,
        x_train=rng.random((64, 16, 16, 3), dtype=np.float32),
        x_test=rng.random((32, 16, 16, 3), dtype=np.float32),
        y_test=rng.integers(0, 3, 32),
        y_train=rng.integers(0, 3, 64),
    )
    settings = {
        "model": {**SMALL_MODEL, "input_dim": [16, 16, 3], "decoder_conv_t_filters": [8, 8, 3]},
        "data": {"dataset": str(path)},
        "train": {"epochs": 1, "batch_size": 16, "seed": 3},
    }
    run = train_in_process(tmp_path / "run", settings)
    data = explorer_data(write_report(run.path, grid=10).read_text(encoding="utf-8"))
    sheets = {"grid": data["gridSheets"][0], "originals": data["originals"]}
    sheets["reconstructions"] = data["reconstructions"]
    for name, count in (("grid", 100), ("originals", 32), ("reconstructions", 32)):
        image = sheet_image(sheets[name])
        assert sheets[name]["count"] == count and image.mode == "RGB"
    original = np.asarray(sheet_image(data["originals"]))[:16, :16]  # test image 0
    _, (x_test, _) = datasets.load(str(path))
    np.testing.assert_array_equal(original, np.round(x_test[0] * 255).astype(np.uint8))


def test_a_run_from_before_reports_and_gets_its_plots(tmp_path, capsys):
    run = shutil.copytree(OLD_RUN, tmp_path / "old")
    assert main(["report", str(run), "--points", "50", "--grid", "8", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith(f"{run / 'report.html'} (")
    page = (run / "report.html").read_text(encoding="utf-8")
    assert len(explorer_data(page)["x"]) == 50
    assert "latent_space.png" in page and "manifold.png" in page  # drawn, as vaekit plot would
    assert "loss.png" in page and "no evaluation.json" in page
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no leftovers


def test_a_run_with_only_checkpoints_reports_from_its_newest(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    (run / "model.keras").unlink()
    page = write_report(run, points=20, grid=4).read_text(encoding="utf-8")
    assert "the newest checkpoint (model.keras not written yet: training unfinished)" in page


def test_a_locked_run_is_refused_unless_the_report_goes_elsewhere(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    with RunLock(run, "vaekit train"):
        with pytest.raises(VaekitError, match="in use by process"):
            write_report(run, points=20, grid=4)
        elsewhere = write_report(run, out=tmp_path / "elsewhere.html", points=20, grid=4)
    assert elsewhere.is_file()


@pytest.mark.parametrize(
    "arguments, words",
    [
        ([], "not a vaekit run folder (no config.yaml)"),
        (["--points", "0"], "--points: got 0, expected an integer >= 1"),
        (["--grid", "1"], "--grid: got 1, expected an integer >= 2"),
    ],
)
def test_mistakes_exit_2_with_one_line(tmp_path, capsys, arguments, words):
    assert main(["report", str(tmp_path), *arguments]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("vaekit: error: ") and words in error
    assert not (tmp_path / "report.html").exists()


# The page in a browser.


def _browser_or_skip():
    """Paths of Chromium and its driver; skips (or fails, with VAEKIT_REQUIRE_BROWSER=1, as CI
    sets) naming what to install when something is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [
        name for name, path in (("chromium", chromium), ("chromium-driver", driver)) if not path
    ]
    try:
        import selenium  # noqa: F401  (an optional test dependency: vaekit[browser])
    except ImportError:
        missing.append("selenium (pip install 'vaekit[browser]')")
    if missing:
        message = (
            f"the browser test needs {', '.join(missing)}: apt-get install chromium "
            "chromium-driver (Debian's packages), pip install 'vaekit[browser]'"
        )
        if os.environ.get("VAEKIT_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return chromium, driver


CANVAS = """
const canvas = document.getElementById(arguments[0]);
const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
let sum = 0;
for (let i = 0; i < pixels.length; i += 4) { sum += pixels[i] + pixels[i + 1] + pixels[i + 2]; }
return [canvas.toDataURL(), sum / (pixels.length / 4) / 3];
"""


def test_in_chromium_the_pointer_decodes_and_a_click_reconstructs(tiny_run, tmp_path):
    chromium, driver_path = _browser_or_skip()
    # Selenium only here: an optional dependency of the tests, not of vaekit.
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        browser.get((tiny_run / "report.html").as_uri())
        WebDriverWait(browser, 10).until(
            lambda b: b.execute_script("return window.vaekitExplorer.state.ready")
        )
        browser.execute_script("document.getElementById('explorer').scrollIntoView()")
        scatter = browser.find_element(By.ID, "scatter")

        shown = []
        for offset in (-120, 120):  # from the centre: lower left, then upper right of the plane
            ActionChains(browser).move_to_element_with_offset(scatter, offset, -offset).perform()
            cell = browser.execute_script("return window.vaekitExplorer.state.cell")
            shown.append((cell, *browser.execute_script(CANVAS, "decoded")))
        (first_cell, first_image, _), (second_cell, second_image, _) = shown
        assert first_cell[0] > second_cell[0] and first_cell[1] < second_cell[1]
        assert first_image != second_image  # another image under the pointer

        assert not browser.find_element(By.ID, "picked").is_displayed()
        x, y = browser.execute_script("return window.vaekitExplorer.pointPosition(0)")
        width, height = scatter.size["width"], scatter.size["height"]
        ActionChains(browser).move_to_element_with_offset(
            scatter, round(x - width / 2), round(y - height / 2)
        ).click().perform()
        assert browser.execute_script("return window.vaekitExplorer.state.picked") is not None
        assert browser.find_element(By.ID, "picked").is_displayed()
        _, brightness = browser.execute_script(CANVAS, "reconstruction")
        assert brightness > 5  # drawn: the canvas starts black
        assert "test image" in browser.find_element(By.ID, "picked-caption").text

        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
        browser.save_screenshot(str(tmp_path / "report.png"))
    finally:
        browser.quit()
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_in_chromium_a_conditional_run_s_picker_decodes_the_chosen_class(tmp_path):
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    settings = json.loads(json.dumps(TINY))
    settings["model"]["conditional"] = True
    run = train_in_process(tmp_path / "run", settings)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        browser.get((run.path / "report.html").as_uri())
        WebDriverWait(browser, 10).until(
            lambda b: b.execute_script("return window.vaekitExplorer.state.ready")
        )
        browser.execute_script("document.getElementById('explorer').scrollIntoView()")
        scatter = browser.find_element(By.ID, "scatter")
        ActionChains(browser).move_to_element_with_offset(scatter, 60, -40).perform()
        picker = Select(browser.find_element(By.ID, "grid-class"))
        assert [option.text for option in picker.options] == [str(i) for i in range(10)]
        images = {}
        for value in ("0", "7"):
            picker.select_by_value(value)
            assert browser.execute_script("return window.vaekitExplorer.state.sheet") == int(value)
            images[value] = browser.execute_script(CANVAS, "decoded")[0]
            caption = browser.find_element(By.ID, "decoded-caption").text
            assert caption.endswith(f"as class {value}"), caption
        assert images["0"] != images["7"]  # the same point decoded as another digit
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
    finally:
        browser.quit()


FIGURES = """
return Array.from(document.querySelectorAll('.figures img')).map(function (image) {
  return [image.alt, image.naturalWidth, image.clientWidth];
});
"""
OVERFLOW = "return [document.documentElement.scrollWidth, window.innerWidth]"


def test_in_chromium_every_figure_is_readable_at_laptop_and_phone_width_and_opens_large(
    tiny_run, tmp_path
):
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(driver_path))
    shots = []
    try:
        for width in (1280, 400):  # a laptop, a phone
            browser.set_window_size(width, 900)
            browser.get((tiny_run / "report.html").as_uri())
            WebDriverWait(browser, 10).until(
                lambda b: b.execute_script("return window.vaekitExplorer.state.ready")
            )
            page_width, window = browser.execute_script(OVERFLOW)
            assert page_width <= window, f"the page scrolls sideways at {width} px"
            right = browser.execute_script(
                "return document.getElementById('scatter').getBoundingClientRect().right"
            )
            assert right <= window, f"the explorer is cut off at {width} px"
            shown = browser.execute_script(FIGURES)
            assert {name for name, _, _ in shown} >= {"loss.png", "kl_per_dimension.png"}
            if width == 1280:
                # 10-point text of a 120-dpi figure, shown at 0.75 of its pixels: 12.5 px high
                # (8-point tick labels 10 px); nothing is squeezed into a narrow card.
                for name, natural, client in shown:
                    assert client >= 0.7 * natural, (name, natural, client)
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(width, min(height, 12000))
            shots.append(tmp_path / f"report_{width}.png")
            browser.save_screenshot(str(shots[-1]))
            browser.set_window_size(width, 900)

            loss = browser.find_element(By.CSS_SELECTOR, '.figures img[alt="loss.png"]')
            browser.execute_script("arguments[0].scrollIntoView()", loss)
            loss.click()
            assert browser.execute_script("return window.vaekitLightbox") == "loss.png"
            large = browser.find_element(By.CSS_SELECTOR, "#lightbox img")
            natural, client = browser.execute_script(
                "return [arguments[0].naturalWidth, arguments[0].clientWidth]", large
            )
            assert client == natural, "opened at its full size"
            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
            assert not browser.find_elements(By.ID, "lightbox")
    finally:
        browser.quit()
    for shot in shots:
        assert shot.stat().st_size > 10_000
        if os.environ.get("VAEKIT_SCREENSHOTS"):  # to look at them
            shutil.copy(shot, Path(os.environ["VAEKIT_SCREENSHOTS"]) / shot.name)
