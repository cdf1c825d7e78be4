"""Batch sizes and data sizes at the edges of what each objective can use, and the messages around
them: every command through the console script in a new process.

A batch estimate that is undefined or constant for the batches a run would make (the MMD of one
code; beta-TCVAE's mi and tc of one image, log N and (z_dim - 1) log N) is refused before any
work, in one line that names the batch sizes, the divergence and what would do, and leaves
nothing behind; so are labels a command-line user must fix in an .npz, and memory a setting
other than the batch takes. A loss that still turns NaN says only true things: a resume only
where a checkpoint exists, and only settings the run uses.
"""

import numpy as np
import pytest
from support import console_first, copy_run, one_line, snapshot, train_tiny, vaekit, write_config

RNG = np.random.default_rng(0)
# The divergences other than kl train with the elbo convention and a wiring that carries them.
MMD = {
    "train": {"loss_convention": "elbo", "divergence": "mmd"},
    "model": {"kl_strategy": "add_loss"},
}
BETA_TC = {"train": {"loss_convention": "elbo", "divergence": "beta_tc"}}


def merged(*changes):
    """``{"section": {"key": value}}`` changes, later ones winning."""
    out = {}
    for change in changes:
        for section, keys in change.items():
            out.setdefault(section, {}).update(keys)
    return out


def npz(folder, name, n_train, n_test, y_train=None, y_test=None):
    arrays = {
        "x_train": RNG.random((n_train, 28, 28)).astype("float32"),
        "x_test": RNG.random((n_test, 28, 28)).astype("float32"),
    }
    if y_train is not None:
        arrays["y_train"] = np.asarray(y_train)
    if y_test is not None:
        arrays["y_test"] = np.asarray(y_test)
    path = folder / name
    np.savez(path, **arrays)
    return str(path)


def negative_labels(folder):
    labels = RNG.integers(0, 3, 80)
    labels[5] = -2
    return npz(folder, "negative.npz", 80, 16, labels, RNG.integers(0, 3, 16))


CONDITIONAL = {"model": {"conditional": True}, "train": {"batch_size": 16}}

# (name, changes of TINY built from a tmp folder, words of the one line that refuses it)
TRAIN_CASES = [
    (
        "mmd, a last batch of one image",
        lambda d: merged(MMD, {"data": {"limit": 65}}),
        ["train.batch_size: got 64", "65 training images a last batch of 1 image",
         "train.divergence mmd needs batches of at least 2 images", "MMD of one code",
         "use train.batch_size 63 or 65", "data.limit 64 or 66"],
    ),
    (
        "mmd, batches of one image",
        lambda d: merged(MMD, {"train": {"batch_size": 1}}),
        ["train.batch_size: got 1", "train.divergence mmd", "use train.batch_size >= 2"],
    ),
    (
        "mmd, a last validation batch of one image",
        lambda d: merged(MMD, {"data": {"dataset": npz(d, "val65.npz", 128, 65), "limit": None}}),
        ["65 validation images a last batch of 1 image", "train.divergence mmd",
         "use train.batch_size 63 or 65", "data.validation none"],
    ),
    (
        "mmd, a validation set of one image",
        lambda d: merged(MMD, {"data": {"limit": 128, "validation": 0.01}}),
        ["data.validation: 1 validation image", "train.divergence mmd", "data.validation=none"],
    ),
    (
        "mmd, the suggestions divide by train.steps_per_execution",
        lambda d: merged(MMD, {"data": {"limit": 129}, "train": {"steps_per_execution": 3}}),
        ["129 training images a last batch of 1 image", "use train.batch_size 63,",
         "data.limit 130"],
    ),
    (
        "beta_tc, batches of one image",
        lambda d: merged(BETA_TC, {"train": {"batch_size": 1}}),
        ["train.batch_size: got 1", "train.divergence beta_tc", "log N",
         "train.beta has no effect", "use train.batch_size >= 2"],
    ),
    (
        "beta_tc, a last batch of one image",
        lambda d: merged(BETA_TC, {"data": {"limit": 129, "validation": "none"}}),
        ["129 training images a last batch of 1 image", "train.divergence beta_tc",
         "use train.batch_size 63 or 65", "data.limit 128 or 130"],
    ),
    (
        "beta_tc, one latent dimension has no total correlation",
        lambda d: merged(BETA_TC, {"model": {"z_dim": 1}}),
        ["train.divergence beta_tc", "model.z_dim 1", "train.beta would have no effect",
         "model.z_dim >= 2"],
    ),
    (
        "an .npz with y_train but no y_test",
        lambda d: merged(CONDITIONAL, {"data": {
            "dataset": npz(d, "no_y_test.npz", 80, 16, RNG.integers(0, 3, 80)), "limit": None}}),
        ["no_y_test.npz: has y_train but no y_test", "add y_test to the .npz",
         "model.conditional=false"],
    ),
    (
        "an .npz with y_test but no y_train",
        lambda d: merged(CONDITIONAL, {"data": {
            "dataset": npz(d, "no_y_train.npz", 80, 16, None, RNG.integers(0, 3, 16)),
            "limit": None}}),
        ["no_y_train.npz: has y_test but no y_train", "add y_train to the .npz"],
    ),
    (
        "an .npz with a negative label",
        lambda d: merged(CONDITIONAL, {"data": {"dataset": negative_labels(d), "limit": None}}),
        ["y_train", "-2"],
    ),
    (
        "memory that the pseudo-inputs take",
        lambda d: {"model": {"prior": "vamp", "pseudo_inputs": 10_000_000,
                             "kl_strategy": "add_loss"}},
        ["model.pseudo_inputs: training needs about", "lower model.pseudo_inputs (the "
         "10,000,000 pseudo-inputs take"],
    ),
]  # fmt: skip


TRAIN_RUNNERS = console_first(TRAIN_CASES)


@pytest.mark.parametrize(("name", "changes", "words"), TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_train_refuses_before_writing_anything(tmp_path, name, changes, words):
    config = write_config(tmp_path, changes(tmp_path))
    out = tmp_path / "run"
    result = TRAIN_RUNNERS[name]("train", "--config", config, "--out", out, "--quiet")
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    for word in words:
        assert word in line, (word, line)
    assert "labels=" not in line and "lower train.batch_size" not in line, line
    assert not out.exists(), sorted(p.name for p in out.iterdir())


@pytest.fixture(scope="module")
def mmd_run(tmp_path_factory):
    """A tiny mmd run: 256 images in batches of 64, one epoch, a checkpoint."""
    return train_tiny(tmp_path_factory.mktemp("mmd") / "run", MMD)


# (name, arguments after the run folder, words): a resume that changes the batch size gets the
# checks of a new run, and leaves the run as it was.
RESUME_CASES = [
    ("batches of one image", ["--set", "train.batch_size=1"],
     ["train.batch_size: got 1", "train.divergence mmd", ">= 2"]),
    ("a last batch of one image", ["--set", "train.epochs=2", "--set", "train.batch_size=255"],
     ["train.batch_size: got 255", "256 training images a last batch of 1 image",
      "use train.batch_size 254 or 256"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "arguments", "words"), RESUME_CASES, ids=[c[0] for c in RESUME_CASES]
)
def test_resume_that_changes_the_batch_size_is_checked_alike(
    mmd_run, tmp_path, name, arguments, words
):
    run = copy_run(mmd_run, tmp_path / "run")
    before = snapshot(run)
    result = console_first(RESUME_CASES)[name]("train", "--resume", run, "--quiet", *arguments)
    assert result.returncode == 2, result.stderr
    line = one_line(result)
    for word in words:
        assert word in line, (word, line)
    assert "data." not in line, line  # a resumed run keeps its data settings
    assert snapshot(run) == before


# (name, evaluate arguments after the run folder, words): the training loss evaluate reports
# is the MMD's too, undefined on a batch of one image.
EVALUATE_CASES = [
    ("--batch-size 1", ["--batch-size", "1", "--limit", "3"],
     ["--batch-size: got 1", "train.divergence mmd", "use --batch-size >= 2"]),
    ("a last batch of one image", ["--limit", "65"],
     ["--batch-size: 64 (train.batch_size, the default)", "65 images a last batch of 1 image",
      "use --batch-size 63 or 65, or --limit 64"]),
    ("one image", ["--limit", "1"], ["--limit: 1 image", "use --limit >= 2"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "arguments", "words"), EVALUATE_CASES, ids=[c[0] for c in EVALUATE_CASES]
)
def test_evaluate_refuses_batches_its_training_loss_cannot_use(mmd_run, name, arguments, words):
    before = snapshot(mmd_run)
    command = console_first(EVALUATE_CASES)[name]
    result = command("evaluate", mmd_run, "--samples", "2", "--quiet", *arguments)
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_line(result)
    for word in words:
        assert word in line, (word, line)
    assert snapshot(mmd_run) == before  # no evaluation.json


# A learning rate no model survives: the loss is NaN within the first epoch's steps.
DIVERGES = {"train": {"learning_rate": 1e30}}

# (name, changes, words present, words absent): the advice names the KL weight the run's loss
# convention uses, and offers no resume where no checkpoint exists (nothing is left behind).
DIVERGED_NEW_RUNS = [
    pytest.param("reference convention", {}, ["model.kl_factor (now 0.0002)"], ["train.beta"],
                 marks=pytest.mark.slow),
    ("elbo convention", {"train": {"loss_convention": "elbo", "beta": 0.5}},
     ["train.beta (now 0.5)"], ["kl_factor"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "changes", "present", "absent"), DIVERGED_NEW_RUNS, ids=["reference", "elbo"]
)
def test_a_new_run_that_diverges_before_a_checkpoint(tmp_path, name, changes, present, absent):
    config = write_config(tmp_path, merged(DIVERGES, changes))
    out = tmp_path / "run"
    result = vaekit("train", "--config", config, "--out", out, "--quiet")
    assert result.returncode == 3, result.stderr
    line = one_line(result)
    assert "training diverged: loss is nan at epoch 1" in line, line
    assert "no checkpoint had been written, so nothing was kept" in line, line
    assert "train.learning_rate (now 1e+30)" in line, line
    assert "--resume" not in line, line  # nothing to continue from
    for word in present:
        assert word in line, (word, line)
    for word in absent:
        assert word not in line, (word, line)
    assert not out.exists(), sorted(p.name for p in out.iterdir())


@pytest.mark.slow
def test_a_resumed_run_that_diverges_offers_its_checkpoint(mmd_run, tmp_path):
    run = copy_run(mmd_run, tmp_path / "run")
    checkpoints = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    sets = ["--set", "train.epochs=2", "--set", "train.learning_rate=1e30"]
    result = vaekit("train", "--resume", run, "--quiet", *sets)
    assert result.returncode == 3, result.stderr
    line = one_line(result)
    assert "nothing was saved after" in line and "ckpt-e0001" in line, line
    assert f"continue from it with: vaekit train --resume {run} --set train.learning_rate=" in line
    assert "train.mmd_weight (now 100)" in line and "kl_factor" not in line, line
    assert {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()} == checkpoints
