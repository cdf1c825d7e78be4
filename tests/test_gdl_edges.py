"""The book's adapter (vaekit.compat.gdl) and the blog's (vaekit.compat.blog) at their edges: every
public method given a folder of another model, a damaged file or an argument out of range refuses
in one line, with a vaekit error, before it writes anything: the folder is left byte for byte as
it was, and a folder that did not exist is not made.

The cases run in one new process, as a notebook's kernel would run them, each on a folder of its
own: a copy of a run of the book's digits architecture (params.pkl, viz/, weights/, and the
vaekit run's config.yaml and model.keras, as save() and train() write them), or a variant of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from support import ok, vaekit

ARGS = dict(
    input_dim=(28, 28, 1),
    encoder_conv_filters=[8, 8],
    encoder_conv_kernel_size=[3, 3],
    encoder_conv_strides=[1, 2],
    decoder_conv_t_filters=[8, 1],
    decoder_conv_t_kernel_size=[3, 3],
    decoder_conv_t_strides=[2, 1],
    z_dim=2,
)

# The runner: makes the folders, runs each case's code on its own copy, and reports what was
# raised, what changed under the case's folder, and the warnings shown.
RUNNER = """
import hashlib, json, pickle, shutil, sys, warnings
from pathlib import Path
import numpy as np
from vaekit import datasets
from vaekit.compat import gdl
from vaekit.compat.blog import MyVariationalAutoencoder
from vaekit.runs.lock import RunLock

ARGS, CASES = json.loads(sys.argv[1]), json.loads(sys.argv[2])
root, trained = Path(sys.argv[3]), sys.argv[4] == "1"
ARGS["input_dim"] = tuple(ARGS["input_dim"])
x = np.random.default_rng(0).random((64, 28, 28, 1)).astype("float32")
others = np.random.default_rng(1).random((64, 28, 28, 1)).astype("float32")

def book(**changes):
    vae = gdl.VariationalAutoencoder(**{**ARGS, **changes}, seed=0)
    vae.compile(0.0005, 1000)
    return vae

def blog():
    vae = MyVariationalAutoencoder(**ARGS, b_build_all=True)
    vae.compile_for_KL_Layer(0.0005)
    return vae

RUN = root / "run"
model = book()
model.save(RUN)
if trained:  # the book's digits notebook
    model.train(x, batch_size=32, epochs=1, run_folder=RUN, print_every_n_batches=1, verbose=0)
else:  # the files of a trained run, as train() writes them, without the training
    model.vae.model.save_weights(RUN / "weights" / "weights.weights.h5")
    model.run_config(x, RUN, 32, 1, 1).save(RUN / "config.yaml")
    model.vae.save(RUN / "model.keras")
    np.savez_compressed(RUN / "data.npz", x_train=x, x_test=x)
book(z_dim=3).vae.model.save_weights(root / "other.weights.h5")

def make(kind, folder):
    if kind == "new":
        return
    if kind == "file":
        folder.write_text("not a folder")
        return
    shutil.copytree(RUN, folder)
    if kind == "vaekit run":
        (folder / "params.pkl").unlink()
    elif kind == "damaged params":
        (folder / "params.pkl").write_bytes(b"garbage")
    elif kind == "3 params":
        (folder / "params.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    elif kind == "z_dim 0":
        params = [ARGS[key] for key in gdl.PARAMS[:-2]] + [False, False]
        params[gdl.PARAMS.index("z_dim")] = 0
        (folder / "params.pkl").write_bytes(pickle.dumps(params))
    elif kind == "other weights":
        shutil.copy(root / "other.weights.h5", folder / "weights" / "weights.weights.h5")
    elif kind == "damaged weights":
        (folder / "weights" / "weights.weights.h5").write_bytes(b"garbage")
    elif kind == "no weights":
        shutil.rmtree(folder / "weights")

def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()} | {
            str(p.relative_to(folder)) + "/": "" for p in folder.rglob("*") if p.is_dir()}

results = {}
for name, kind, code in CASES:
    place = root / "cases" / name.replace(" ", "_").replace("/", "_")
    place.mkdir(parents=True)
    F = place / "run"
    make(kind, F)
    before = snapshot(place)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(code)
            raised = {"classes": [], "message": ""}
        except Exception as error:
            raised = {"classes": [c.__name__ for c in type(error).__mro__], "message": str(error)}
    after = snapshot(place)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    shown = [str(warning.message)[:200] for warning in caught]
    results[name] = {**raised, "changed": changed, "warnings": shown}
print(json.dumps(results))
"""


def run_cases(cases, folder, trained=False) -> dict:
    """Run ``cases`` (name, folder kind, code) in a new process; returns each one's outcome."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RUNNER), json.dumps(ARGS),
         json.dumps(cases), str(folder), "1" if trained else "0"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# (name, the folder it runs on, the code, words of the one line). In the code, F is the folder,
# x the 64 training images, book(**changes) a compiled book model, blog() a compiled blog model.
MNIST = "datasets.open_images('mnist', (28, 28, 1))"
REFUSALS = [
    # save() and plot_model() into a folder of another model.
    ("save another architecture into a run", "trained", "book(z_dim=3).save(F)",
     "holds the run of another model (its params.pkl has z_dim 2, this model 3)"),
    ("save batch norm into a run without", "trained", "book(use_batch_norm=True).save(F)",
     "its params.pkl has use_batch_norm False, this model True"),
    ("save into a vaekit run", "vaekit run", "book().save(F)",
     "holds a run (config.yaml) without a params.pkl, so not this model's; use a new folder"),
    ("save over a damaged params.pkl", "damaged params", "book().save(F)",
     "params.pkl: unreadable"),
    ("save into a file", "file", "book().save(F)", "not a folder"),
    ("plot_model into another model's run", "trained", "book(z_dim=3).plot_model(F)",
     "holds the run of another model"),
    # train(): the folder, then every argument, before anything is written.
    ("train another architecture into a run", "trained",
     "book(z_dim=3).train(x, 32, 2, F, initial_epoch=1)", "holds the run of another model"),
    ("train into a vaekit run", "vaekit run", "book().train(x, 32, 1, F)",
     "holds a run (config.yaml) without a params.pkl"),
    ("train on images of another size", "new",
     "book().train(np.zeros((64, 32, 32, 1), 'float32'), 32, 1, F)",
     "x_train: images of shape (32, 32, 1), but input_dim is (28, 28, 1)"),
    ("train batch_size 0", "new", "book().train(x, 0, 1, F)",
     "batch_size: got 0, expected an integer >= 1"),
    ("train batch_size 1.5", "new", "book().train(x, 1.5, 1, F)", "batch_size: got 1.5"),
    ("train batch_size above the images", "new", "book().train(x, 128, 1, F)",
     "batch_size: got 128, larger than the 64 images of x_train; use at most 64"),
    ("train epochs 0", "new", "book().train(x, 32, 0, F)", "epochs: got 0, expected an integer"),
    ("train lr_decay -1", "new", "book().train(x, 32, 1, F, lr_decay=-1)",
     "lr_decay: got -1, expected a finite number > 0.0 and <= 1.0"),
    ("train initial_epoch -1", "new", "book().train(x, 32, 1, F, initial_epoch=-1)",
     "initial_epoch: got -1, expected an integer >= 0"),
    ("train initial_epoch past epochs", "new", "book().train(x, 32, 2, F, initial_epoch=3)",
     "initial_epoch: got 3, but epochs is 2"),
    ("train print_every_n_batches -1", "new",
     "book().train(x, 32, 1, F, print_every_n_batches=-1)",
     "print_every_n_batches: got -1, expected an integer >= 0"),
    ("train on over a run's own images", "trained",
     "book().train(others, 32, 2, F, initial_epoch=1)", "x_train: not the images of"),
    ("train anew into a run", "trained", "book().train(x, 32, 1, F)", "already holds a run"),
    ("train into a folder another process writes", "new",
     "with RunLock(F, 'vaekit train'): book().train(x, 32, 1, F)", "in use by process"),
    ("train_with_generator steps_per_epoch 0", "new",
     f"book().train_with_generator({MNIST}, 1, 0, F)", "steps_per_epoch: got 0"),
    ("compile learning_rate -1", "new", "book().compile(-1, 1000)", "learning_rate: got -1"),
    ("compile r_loss_factor inf", "new", "book().compile(0.0005, float('inf'))",
     "r_loss_factor: got inf, expected a finite number > 0"),
    # load_model() and load_weights() of a damaged or another model's folder.
    ("load_model of a vaekit run", "vaekit run",
     "gdl.load_model(gdl.VariationalAutoencoder, F)", "params.pkl: not found"),
    ("load_model of 3 params", "3 params", "gdl.load_model(gdl.VariationalAutoencoder, F)",
     "params.pkl: holds 3 values, expected the book's list of 8 to 10"),
    ("load_model of z_dim 0", "z_dim 0", "gdl.load_model(gdl.VariationalAutoencoder, F)",
     "params.pkl: z_dim: got 0, expected an integer >= 1"),
    ("load_model of another model's weights", "other weights",
     "gdl.load_model(gdl.VariationalAutoencoder, F)",
     "weights.weights.h5: cannot load these weights into this model"),
    ("load_model of damaged weights", "damaged weights",
     "gdl.load_model(gdl.VariationalAutoencoder, F)", "cannot load these weights into this model"),
    ("load_model without weights", "no weights", "gdl.load_model(gdl.VariationalAutoencoder, F)",
     "no such weights file"),
    # The blog's adapter.
    ("blog compile_for_KL_Layer nan", "new", "blog().compile_for_KL_Layer(float('nan'))",
     "learning_rate: got nan, expected a finite number > 0"),
    ("blog train batch_size 0", "new", "blog().train_model_with_KL_Layer(x, 0, 1, verbose=0)",
     "batch_size: got 0, expected an integer >= 1"),
    ("blog train initial_epoch -1", "new",
     "blog().train_model_with_KL_Layer(x, 32, 1, initial_epoch=-1, verbose=0)",
     "initial_epoch: got -1"),
    ("blog train on images of another size", "new",
     "blog().train_model_with_KL_Layer(np.zeros((8, 32, 32, 1), 'float32'), 4, 1, verbose=0)",
     "x_train: images of shape (32, 32, 1), but input_dim is (28, 28, 1)"),
]  # fmt: skip
# Calls that go on: the same model saved again into its run keeps the run, which still loads.
KEPT = [
    (
        "save the same model again",
        "trained",
        "book().save(F); gdl.load_model(gdl.VariationalAutoencoder, F)",
    ),
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    cases = [case[:3] for case in REFUSALS] + KEPT
    return run_cases(cases, tmp_path_factory.mktemp("gdl"))


@pytest.mark.parametrize(("name", "kind", "code", "words"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_a_refused_call_is_one_line_and_leaves_every_file_as_it_was(
    outcomes, name, kind, code, words
):
    outcome = outcomes[name]
    assert "VaekitError" in outcome["classes"], outcome
    assert words in outcome["message"] and "\n" not in outcome["message"], outcome["message"]
    assert outcome["changed"] == [], outcome  # nor a folder made, where there was none
    assert outcome["warnings"] == [], outcome


def test_the_same_model_saved_again_keeps_its_run(outcomes):
    outcome = outcomes["save the same model again"]
    assert outcome["classes"] == [] and outcome["warnings"] == [], outcome
    # The summaries name this process's layers; the weights, the images and the run stay.
    assert all(path.startswith("run/viz/") for path in outcome["changed"]), outcome


@pytest.mark.slow
def test_a_trained_run_survives_another_model_saved_into_it(tmp_path):
    """The issue's case on a run train() wrote: refused, and the run still loads and evaluates."""
    load = "gdl.load_model(gdl.VariationalAutoencoder, F)"
    cases = [REFUSALS[0][:3], ("load it", "trained", load)]
    found = run_cases(cases, tmp_path, trained=True)
    assert found[cases[0][0]]["changed"] == [] and "VaekitError" in found[cases[0][0]]["classes"]
    assert found["load it"]["classes"] == [] and found["load it"]["warnings"] == []
    ok(vaekit("evaluate", tmp_path / "run", "--samples", 4, "--limit", 32, "--quiet"))
