"""Disentanglement scores and evaluations at their edges, and the files they leave, as the report
and ``vaekit compare`` read them, through the console script in a new process; of a table of
cases, the first (for each kind of run) runs in a new process and the others in-process
(support.console_first: a new process costs seconds of imports).

- too few ``--score-samples`` for the split's factors, or too few images, are one line, exit 2,
  before the model loads, naming the least count (:func:`minimum_samples`, checked here by hand);
- a score without a value (the FactorVAE score of a code with no active latent) is said to be
  undefined, with why, on the console, in ``disentanglement.json``, the report and compare; never
  a number;
- an evaluation or scores of an older model of the run (before ``vaekit train --resume``) are
  said to be stale, with the command that computes them again, not shown beside the new model;
- compare puts scores in one table only where their images, factors and sample counts agree;
- damaged or hand-edited result files are a note naming the value, never a traceback;
- ``vaekit evaluate`` at the edges of ``--limit``, ``--samples`` and ``--batch-size``.

The tiny shapes run is trained once: one epoch of four steps leaves every posterior at the prior
(KL about 1e-7 nats), so no latent's mean varies by the FactorVAE score's 0.05: no active latent.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import shutil

import numpy as np
import pytest
from support import console_first, copy_run, in_process, ok, one_line, snapshot, train_tiny, vaekit

from vaekit.config import Config
from vaekit.errors import VaekitError
from vaekit.evaluation import disentanglement as scoring
from vaekit.evaluation.factor_runs import format_scores
from vaekit.report import read_scores
from vaekit.report.html import SCORE_NAMES
from vaekit.runs.data import load_data

FOUR, STRIDE = [4, 4, 4, 4], [2, 2, 2, 2]
SHAPES = {
    "model": {
        "input_dim": [64, 64, 1], "z_dim": 4, "encoder_conv_filters": FOUR,
        "encoder_conv_kernel_size": FOUR, "encoder_conv_strides": STRIDE,
        "decoder_conv_t_filters": [4, 4, 4, 1], "decoder_conv_t_kernel_size": FOUR,
        "decoder_conv_t_strides": STRIDE,
    },
    "data": {"dataset": "shapes"},
}  # fmt: skip


# The least sample count, by hand: n uniform draws with replacement show one value of a factor
# whose values have frequencies p with chance sum(p ** n); MIG, DCI and SAP each draw, so the
# least n keeps 3 x that sum (over the factors) at most 1e-6.
LEAST_CASES = [
    # a fair coin: 3 x 2 x 2**-n <= 1e-6  <=>  n >= log2(6e6) = 22.5
    ("a fair coin", [[0], [1]] * 50, scoring.SCORES, 23),
    # three even values: 3 x 3 x 3**-n <= 1e-6  <=>  n >= log3(9e6) = 14.6
    ("three even values", [[0], [1], [2]] * 40, scoring.SCORES, 15),
    # 9 of 10 one value: 3 (0.9**n + 0.1**n) <= 1e-6  <=>  n >= ln(3.3e-7) / ln(0.9) = 141.6
    ("an uneven coin", [[0]] * 90 + [[1]] * 10, scoring.SCORES, 142),
    # a coin beside a three-valued factor: the coin's term, 6 x 2**-23 = 7.2e-7, is most of it
    ("two factors", [[a, b] for a in (0, 1) for b in (0, 1, 2)] * 20, scoring.SCORES, 23),
    # only the FactorVAE score: a variance (ddof=1) needs two codes
    ("FactorVAE alone", [[0], [1]] * 50, ("factor_vae",), 2),
    # MIG alone draws once: 2 x 2**-n <= 1e-6  <=>  n >= log2(2e6) = 20.9
    ("MIG alone", [[0], [1]] * 50, ("mig",), 21),
]


@pytest.mark.parametrize(
    ("name", "factors", "names", "least"), LEAST_CASES, ids=[c[0] for c in LEAST_CASES]
)
def test_the_least_sample_count_is_the_hand_computed_one(name, factors, names, least):
    factors = np.array(factors)
    assert scoring.minimum_samples(factors, names) == least
    if least > 2:  # refused one below it, by name; accepted at it
        with pytest.raises(VaekitError, match=f"got {least - 1:,}; .* at least {least:,} "):
            scoring.check_draws(factors, settings=scoring.Settings.scaled(least - 1), names=names)


def test_the_help_gives_the_least_count_of_the_shapes_grid():
    # Every combination of shapes' factor values once: 3 even shapes rule, 3 x 3 x 3**-n.
    grid = np.array(list(itertools.product(*map(range, (3, 6, 10, 16, 16)))))
    least = scoring.minimum_samples(grid)
    assert least == math.ceil(math.log(9e6, 3))
    assert f"({least} on all of shapes" in " ".join(vaekit("evaluate", "--help").stdout.split())


def test_settings_below_what_any_score_can_use_are_refused():
    with pytest.raises(VaekitError, match="Settings.variance_samples: got 1, expected an integer"):
        scoring.Settings.scaled(1)
    with pytest.raises(VaekitError, match="Settings.test_samples: got 0"):
        scoring.Settings(test_samples=0)


def coin_factors(count=400):
    """Two even binary factors over ``count`` images (N, 2)."""
    return np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * (count // 4))


# Codes for which a score has no value: (name, codes from factors, score, key, words).
UNDEFINED_CASES = [
    ("FactorVAE, no active latent", lambda f: np.zeros((len(f), 3)), "factor_vae",
     "eval_accuracy", "no active latent"),
    ("FactorVAE, latents below prune_std", lambda f: 0.01 * f[:, :1] + np.zeros((len(f), 3)),
     "factor_vae", "eval_accuracy", "no active latent"),
    ("DCI, constant codes", lambda f: np.ones((len(f), 3)), "dci", "disentanglement",
     "no latent is used by any factor's classifier"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "codes", "score", "key", "words"), UNDEFINED_CASES, ids=[c[0] for c in UNDEFINED_CASES]
)
def test_a_score_without_a_value_is_none_with_why(name, codes, score, key, words):
    factors = coin_factors()
    small = scoring.Settings.scaled(200)
    result = scoring.scores(codes(factors), factors, settings=small, names=(score,))
    assert result[score][key] is None and words in result[score]["undefined"]
    summary = scoring.summary(result)
    reasons = scoring.undefined(result)
    missing = [name for name, value in summary.items() if value is None]
    assert missing and set(missing) == set(reasons)
    if score == "dci":  # the classifiers' accuracy is still defined: chance, 1/2 per factor
        assert abs(result["dci"]["informativeness_test"] - 0.5) < 5 * math.sqrt(1 / (4 * 100))
    printed = format_scores(
        {"run": "r", "split": "test", "images": 400, "seed": 0, "seconds": 1.0,
         "factors": ["a", "b"], **result, "summary": summary, "undefined": reasons}
    )  # fmt: skip
    for name in missing:
        line = next(line for line in printed.splitlines() if line.startswith(name + " "))
        assert words in line and not re.search(r"\d\.\d{4}", line), line


def test_mig_of_a_factor_with_one_value_is_undefined_not_nan():
    factors = np.array([[0, 5], [1, 5]] * 50)  # the second factor: no entropy to divide by
    result = scoring.mig(factors.astype(float), factors)
    assert result["score"] is None and result["per_factor"][1] is None
    assert "factor column 1 takes one value" in result["undefined"]


def test_codes_that_are_not_finite_are_refused():
    factors = coin_factors()
    codes = np.full((len(factors), 2), np.nan)
    with pytest.raises(VaekitError, match="hold NaN or infinity: the model diverged"):
        scoring.scores(codes, factors, settings=scoring.Settings.scaled(200), names=("mig",))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """A tiny shapes run of one epoch: 256 test images (data.limit), all one shape and scale."""
    return train_tiny(tmp_path_factory.mktemp("shapes") / "run", SHAPES)


@pytest.fixture(scope="module")
def least(shapes):
    """The least --score-samples of the run's test split, by the arithmetic of the hand-computed
    cases: the smallest n with 3 x (the sum over its factors that vary of sum(p ** n)) <= 1e-6."""
    factors = load_data(Config.load(shapes / "config.yaml")).test.factors.values
    frequencies = [
        np.unique(column, return_counts=True)[1] / len(column)
        for column in factors.T
        if np.ptp(column) > 0
    ]
    n = 2
    while 3 * sum(float(np.sum(p**n)) for p in frequencies) > 1e-6:
        n += 1
    return n


@pytest.fixture(scope="module")
def scored(shapes, least, tmp_path_factory):
    """A copy of the run, evaluated and scored (at the least sample count) by the console."""
    run = copy_run(shapes, tmp_path_factory.mktemp("scored") / "scored")
    ok(vaekit("evaluate", run, "--limit", 8, "--samples", 2, "--quiet"))
    printed = ok(vaekit("evaluate", run, "--disentanglement", "--score-samples", least, "--quiet"))
    return run, printed.stdout


# (name, evaluate arguments after the run folder: a function of the least count, words)
REFUSED_CASES = [
    ("two samples", lambda least: ["--score-samples", 2],
     ["--score-samples: got 2;", "the scores need at least {least} "]),
    ("one below the least", lambda least: ["--score-samples", least - 1],
     ["--score-samples: got {below};", "the scores need at least {least} "]),
    ("one image", lambda least: ["--limit", 1],
     ["--limit: no factor takes more than one value over the 1 test image"]),
    ("two images", lambda least: ["--limit", 2],
     ["--limit: DCI trains on 67% of the images", "score more images"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "arguments", "words"), REFUSED_CASES, ids=[c[0] for c in REFUSED_CASES]
)
def test_too_few_samples_or_images_are_refused_before_any_work(
    shapes, least, name, arguments, words
):
    before = snapshot(shapes)
    runner = console_first(REFUSED_CASES)[name]
    result = runner("evaluate", shapes, "--disentanglement", *arguments(least))
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_line(result)
    for word in words:
        word = word.format(least=least, below=least - 1)
        assert word in line, (word, line)
    assert snapshot(shapes) == before  # no disentanglement.json, no heat map


def test_the_least_count_scores_and_an_empty_factor_vae_score_is_undefined(scored):
    run, printed = scored
    saved = json.loads((run / "disentanglement.json").read_text())
    assert saved["factor_vae"]["active_latents"] == 0  # see the module docstring
    assert saved["summary"]["factor_vae"] is None
    assert saved["undefined"]["factor_vae"].startswith("undefined: no active latent")
    line = next(line for line in printed.splitlines() if line.startswith("factor_vae"))
    assert "undefined: no active latent" in line and not re.search(r"\d\.\d{4}", line), line
    # What it was computed on and with, for compare to tell settings apart.
    assert saved["dataset"] == "shapes" and saved["split"] == "test" and saved["images"] == 256
    assert saved["model"] == {"file": "model.keras", "epochs": 1, "steps": 0}
    evaluated = json.loads((run / "evaluation.json").read_text())
    assert evaluated["model"] == saved["model"] and evaluated["dataset"] == "shapes"


# How a result file is changed: (file, change of its JSON, or of its text when the change takes a
# string). Each returns the new content.
def edited(file_name, change):
    def apply(run):
        path = run / file_name
        result = json.loads(path.read_text())
        change(result)
        path.write_text(json.dumps(result))

    return apply


def replaced(file_name, text):
    def apply(run):
        path = run / file_name
        path.write_text(text(path.read_text()) if callable(text) else text)

    return apply


def garbage(relative):
    def apply(run):
        (run / relative).write_bytes(b"not a picture")

    return apply


def made_a_folder(run):
    (run / "evaluation.json").unlink()
    (run / "evaluation.json").mkdir()


# A model two steps into training: the result of a run that has trained on since.
EARLY = {"file": "checkpoints/ckpt-e0000-s000002.keras", "epochs": 0, "steps": 2}
EVALUATION, SCORES = "evaluation.json", "disentanglement.json"

# (run name, changes, words of the run's row in the final-figures table, of its row of scores,
# and of the notes under them). "{run}" is the run's folder.
PROVENANCE_CASES = [
    ("current", [], ["±"], ["undefined"],
     ["current, FactorVAE score: undefined: no active latent"]),
    ("stale-evaluation", [edited(EVALUATION, lambda r: r.update(model=EARLY))], ["stale"], [],
     ["stale-evaluation: evaluation.json was computed at epoch 0 and 2 steps; the model is now "
      "at epoch 1: run vaekit evaluate {run} again"]),
    ("stale-scores", [edited(SCORES, lambda r: r.update(model=EARLY))], ["±"], ["stale"],
     ["stale-scores: disentanglement.json was computed at epoch 0 and 2 steps; the model is now "
      "at epoch 1: run vaekit evaluate {run} --disentanglement again"]),
    ("older-vaekit", [edited(EVALUATION, lambda r: r.pop("model", None)),
                      edited(SCORES, lambda r: r.pop("model", None))], ["±", "(?)"], ["(?)"],
     ["older-vaekit: evaluation.json does not record which model it was computed on",
      "older-vaekit: disentanglement.json does not record which model"]),
    ("train-split", [edited(EVALUATION, lambda r: r.update(split="train"))],
     ["±", "train, 8 images"], ["undefined"],
     ["evaluated on different images (data set, split or --limit, beside each value)"]),
    ("fewer-images", [edited(SCORES, lambda r: r.update(images=128))], ["±"], ["undefined"],
     ["shapes, test split, first 128 images; factors rotation, x, y"]),
    ("other-samples", [edited(SCORES, lambda r: r.update(
        settings=scoring.Settings.scaled(400).to_dict()))], ["±"], ["undefined"],
     ["; --score-samples 400", "computed with 3 different settings"]),
]  # fmt: skip

SUMMARY_SAP = r'("sap": )[-0-9.e]+'  # the first "sap" with a number: the summary's
# (run name, change, words of the note that replaces the result, which names its file)
DAMAGED_CASES = [
    ("truncated", replaced(EVALUATION, lambda text: text[: len(text) // 2]),
     ["evaluation.json is unreadable"]),
    ("not-json", replaced(SCORES, "\x89PNG\r\n"), ["disentanglement.json is unreadable"]),
    ("a-list", replaced(EVALUATION, "[1, 2]"), ["evaluation.json is not an evaluation vaekit"]),
    ("mean-as-text", edited(EVALUATION, lambda r: r["nats_per_image"]["iwae"].update(
        mean="87.1")), ['nats_per_image.iwae.mean is "87.1", expected a finite number or null']),
    ("entry-a-number", edited(EVALUATION, lambda r: r["nats_per_image"].update(nelbo=5)),
     ["nats_per_image.nelbo is 5, expected a mapping"]),
    ("samples-as-text", edited(EVALUATION, lambda r: r.update(samples="2")),
     ['samples is "2", expected an integer']),
    ("score-as-text", edited(SCORES, lambda r: r["summary"].update(mig="0.5")),
     ['summary.mig is "0.5", expected a finite number or null']),
    ("score-nan", replaced(SCORES, lambda text: re.sub(SUMMARY_SAP, r"\1NaN", text, count=1)),
     ["summary.sap is NaN"]),
    ("factors-a-number", edited(SCORES, lambda r: r.update(factors=5)),
     ["factors is 5, expected a list of text"]),
    ("gap-as-text", edited(SCORES, lambda r: r["mig"].update(per_factor=["a", 0, 0])),
     ['mig.per_factor is ["a", 0, 0], expected a list of numbers']),
    ("model-as-text", edited(EVALUATION, lambda r: r.update(model="x")),
     ['model is "x", expected a mapping']),
    ("a-folder", made_a_folder, ["evaluation.json is unreadable"]),
]  # fmt: skip


def compared(scored, folder, cases):
    """Copies of the scored run, each changed by its case, on one compare page; returns the
    folder, the page as text (empty if none was written) and the command's result, which the
    tests check."""
    run, _ = scored
    folder.mkdir()
    for name, changes, *_ in cases:
        copy = copy_run(run, folder / name)
        for change in changes if isinstance(changes, list) else [changes]:
            change(copy)
    out = folder / "compare.html"
    result = vaekit("compare", *(folder / case[0] for case in cases), "--out", out)
    return folder, html.unescape(out.read_text()) if out.exists() else "", result


@pytest.fixture(scope="module")
def provenance_page(scored, tmp_path_factory):
    return compared(scored, tmp_path_factory.mktemp("provenance") / "runs", PROVENANCE_CASES)


@pytest.fixture(scope="module")
def damaged_page(scored, tmp_path_factory):
    pictures = ("damaged-pictures", [garbage("plots/factor_information.png"),
                                     garbage("plots/samples.png")])  # fmt: skip
    return compared(scored, tmp_path_factory.mktemp("damaged") / "runs", DAMAGED_CASES + [pictures])


def section(page: str, title: str) -> str:
    return page.split(f"<h2>{title}</h2>")[1].split("<h2>")[0]


def row(part: str, name: str) -> str:
    found = re.findall(
        rf"<tr><th>{re.escape(name)}( <span[^>]*>\(\?\)</span>)?</th>(.*?)</tr>", part
    )
    assert len(found) == 1, (name, found)
    return "".join(found[0])


@pytest.mark.parametrize(
    ("name", "changes", "final", "scores", "notes"),
    PROVENANCE_CASES,
    ids=[c[0] for c in PROVENANCE_CASES],
)
def test_compare_says_which_results_are_stale_and_separates_settings(
    provenance_page, name, changes, final, scores, notes
):
    folder, page, result = provenance_page
    ok(result)
    final_row = row(section(page, "Final figures"), name)
    for word in final:
        assert word in final_row, (word, final_row)
    if "stale" in final:  # its numbers are left out
        assert "±" not in final_row
    part = section(page, "Disentanglement")
    score_row = row(part, name)
    for word in scores:
        assert word in score_row, (word, score_row)
    if "stale" in scores:  # nor a number, nor its heat map
        assert not re.search(r"\d\.\d{3}", score_row)
        assert f"<figcaption>{name}</figcaption>" not in part
    text = page.replace("</p>", "\n")
    for note in notes:
        assert note.format(run=folder / name) in text, (note, text)
    # The FactorVAE score of the unchanged run: undefined, not 0.000 beside its neighbours.
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row(part, "current"))
    assert cells[list(SCORE_NAMES).index("factor_vae")] == "undefined", cells


def test_scores_of_one_setting_share_a_table(provenance_page, least):
    _, page, result = provenance_page
    ok(result)
    part = section(page, "Disentanglement")
    tables = re.findall(r'<p class="note">([^<]*)</p><table class="compare numbers">(.*?)</table>',
                        part)  # fmt: skip
    captions = {  # each table's caption: its runs (past the header row)
        caption: re.findall(r"<tr><th>([\w-]+)", body)[1:] for caption, body in tables
    }
    same = (
        "shapes, test split, first 256 images; factors rotation, x, y (shape, scale: one value); "
        f"--score-samples {least}"
    )
    assert sorted(captions[same]) == [
        "current", "older-vaekit", "stale-evaluation", "train-split"
    ]  # fmt: skip
    assert len(captions) == 3, captions  # and fewer-images, other-samples: a table each


@pytest.mark.parametrize(
    ("name", "change", "words"), DAMAGED_CASES, ids=[c[0] for c in DAMAGED_CASES]
)
def test_compare_notes_each_damaged_result_and_goes_on(damaged_page, name, change, words):
    _, page, result = damaged_page
    ok(result)  # exit 0, no traceback
    lines = [line for line in page.replace("</p>", "\n").split("\n") if f"{name}: " in line]
    assert len(lines) == 1, lines  # one note, naming the file and what is wrong in it
    for word in words:
        assert word in lines[0], (word, lines[0])
    file_name = SCORES if SCORES in lines[0] else EVALUATION
    part = section(page, "Disentanglement" if file_name == SCORES else "Final figures")
    assert "unreadable" in row(part, name)


NATS_TABLE, SCORES_TABLE = "<th>nats per image</th>", ">a noise code</th>"  # the two tables


def test_compare_leaves_out_pictures_that_are_not_pngs_and_names_them(damaged_page):
    folder, page, result = damaged_page
    ok(result)
    for picture in ("factor_information.png", "samples.png"):
        warning = f"{folder / 'damaged-pictures' / 'plots' / picture}: not a readable PNG"
        assert warning in result.stderr, result.stderr
    assert "<figcaption>damaged-pictures</figcaption>" not in page
    assert "<figcaption>truncated</figcaption>" in section(page, "Samples")


# (name, changes of the scored run, words in the evaluation and disentanglement sections, words
# that must not be there, warnings on stderr)
REPORT_CASES = [
    ("undefined", [], ['FactorVAE score</th><td class="note">undefined: no active latent'],
     ["FactorVAE score</th><td>0.000"], []),
    ("stale", [edited(EVALUATION, lambda r: r.update(model=EARLY)),
               edited(SCORES, lambda r: r.update(model=EARLY))],
     ["evaluation.json was computed at epoch 0 and 2 steps; the model is now at epoch 1: run "
      "vaekit evaluate {run} again",
      "disentanglement.json was computed at epoch 0 and 2 steps; the model is now at epoch 1: "
      "run vaekit evaluate {run} --disentanglement again"],
     [NATS_TABLE, SCORES_TABLE, "factor_information.png"], []),
    ("damaged", [edited(EVALUATION, lambda r: r["nats_per_image"]["iwae"].update(mean="87.1")),
                 edited(SCORES, lambda r: r.update(factors=5)),
                 garbage("plots/factor_information.png"), garbage("plots/samples.png")],
     ['nats_per_image.iwae.mean is "87.1", expected a finite number or null',
      "factors is 5, expected a list of text"],
     [NATS_TABLE, SCORES_TABLE],
     ["plots/factor_information.png: not a readable PNG", "plots/samples.png: not a readable"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "changes", "present", "absent", "warned"),
    REPORT_CASES,
    ids=[c[0] for c in REPORT_CASES],
)
def test_the_report_shows_undefined_stale_and_damaged_results_for_what_they_are(
    scored, tmp_path, name, changes, present, absent, warned
):
    run = copy_run(scored[0], tmp_path / name)
    for change in changes:
        change(run)
    result = ok(vaekit("report", run, "--points", 20, "--grid", 2, "--quiet"))
    for words in warned:
        assert words in result.stderr, result.stderr
    page = html.unescape((run / "report.html").read_text(encoding="utf-8"))
    shown = section(page, "Evaluation") + section(page, "Disentanglement")
    for word in present:
        assert word.format(run=run) in shown, (word, shown[:3000])
    for word in absent:
        assert word not in shown, word


@pytest.mark.slow
def test_a_resumed_run_shows_its_old_results_as_stale(scored, tmp_path):
    """evaluate, then train --resume: the report training writes, a new report and compare each
    say the results are of epoch 1, and the model is at epoch 2."""
    run = copy_run(scored[0], tmp_path / "resumed")
    ok(vaekit("train", "--resume", run, "--set", "train.epochs=2", "--quiet"))
    for command in ([], ["report", run, "--points", 20, "--grid", 2, "--quiet"]):
        if command:
            ok(vaekit(*command))
        page = html.unescape((run / "report.html").read_text(encoding="utf-8"))
        for file_name, again in ((EVALUATION, ""), (SCORES, " --disentanglement")):
            sentence = (
                f"{file_name} was computed at epoch 1; the model is now at epoch 2: run vaekit "
                f"evaluate {run}{again} again"
            )
            assert sentence in page
    other = copy_run(scored[0], tmp_path / "other")
    ok(vaekit("compare", run, other, "--out", tmp_path / "compare.html"))
    page = html.unescape((tmp_path / "compare.html").read_text())
    assert "stale" in row(section(page, "Final figures"), "resumed")
    assert "stale" in row(section(page, "Disentanglement"), "resumed")
    assert "±" in row(section(page, "Final figures"), "other")


# Runs of each kind evaluate cannot tell apart at the edges of its flags.
KINDS = {
    "plain": {},
    "conditional": {"model": {"conditional": True}, "train": {"batch_size": 16}},
    "vamp": {"model": {"prior": "vamp", "pseudo_inputs": 12, "kl_strategy": "train_step"}},
    "mmd": {"model": {"kl_strategy": "add_loss"},
            "train": {"loss_convention": "elbo", "divergence": "mmd"}},
}  # fmt: skip

# (name, evaluate arguments after the run folder, images evaluated, words printed)
EDGE_CASES = [
    ("one image, one sample", ["--limit", 1, "--samples", 1], 1,
     ["test split, 1 image,", "n/a: a standard error needs two images or more"]),
    ("a batch larger than the split", ["--limit", 3, "--batch-size", 1000, "--samples", 2], 3,
     ["test split, 3 images,"]),
    ("a limit larger than the split", ["--limit", 100000, "--samples", 1, "--batch-size", 256],
     256, ["note: --limit 100,000, but the test split has 256 images"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def kinds(tmp_path_factory, tiny_run):
    folder = tmp_path_factory.mktemp("kinds")
    trained = {
        kind: train_tiny(folder / kind, changes) for kind, changes in KINDS.items() if changes
    }
    return {"plain": tiny_run, **trained}  # the plain one is conftest's, shared


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    ("name", "arguments", "images", "words"), EDGE_CASES, ids=[c[0] for c in EDGE_CASES]
)
def test_evaluate_at_the_edges_of_its_flags(kinds, tmp_path, kind, name, arguments, images, words):
    out = tmp_path / "result.json"
    runner = console_first(EDGE_CASES)[name]  # the first case of each kind in a new process
    result = runner("evaluate", kinds[kind], *arguments, "--out", out, "--quiet")
    if kind == "mmd" and images == 1:  # the MMD of one code: refused (tests/test_batch_edges.py)
        assert result.returncode == 2 and "--limit: 1 image" in one_line(result)
        return
    ok(result)
    for word in words:
        assert word in result.stdout, (word, result.stdout)
    saved = json.loads(out.read_text())
    assert saved["images"] == images
    errors = [term["standard_error"] for term in saved["nats_per_image"].values()]
    assert all(e is None for e in errors) if images == 1 else all(e > 0 for e in errors)


# Values no evaluation can use: refused before the run folder is read (it need not exist).
ZERO_CASES = [
    (["--limit", 0], "--limit: got 0, expected an integer >= 1"),
    (["--samples", 0], "--samples: got 0, expected an integer >= 1"),
    (["--batch-size", 0], "--batch-size: got 0, expected an integer >= 1"),
    (["--disentanglement", "--limit", 0], "--limit: got 0, expected an integer >= 1"),
    (["--disentanglement", "--score-samples", 0], "--score-samples: got 0, expected an integer"),
]


@pytest.mark.parametrize(
    ("arguments", "words"), ZERO_CASES, ids=[" ".join(map(str, c[0])) for c in ZERO_CASES]
)
def test_zero_counts_are_refused_before_the_run_is_read(tmp_path, arguments, words):
    runner = vaekit if arguments == ZERO_CASES[0][0] else in_process  # the first case
    result = runner("evaluate", tmp_path / "no-run", *arguments)
    assert result.returncode == 2 and words in one_line(result)
    assert not list(tmp_path.iterdir())


def test_old_scores_that_wrote_zero_for_an_undefined_score_read_as_undefined(scored, tmp_path):
    """A disentanglement.json of a vaekit that wrote 0.0 where no latent was active."""
    path = tmp_path / SCORES
    shutil.copy(scored[0] / SCORES, path)
    old = json.loads(path.read_text())
    old["summary"]["factor_vae"] = 0.0
    old["factor_vae"].update(eval_accuracy=0.0, train_accuracy=0.0)
    for key in ("undefined", "model", "dataset"):
        old.pop(key, None)
    path.write_text(json.dumps(old))
    read = read_scores(path)
    assert read["summary"]["factor_vae"] is None
    assert read["undefined"]["factor_vae"].startswith("undefined: no active latent")
