"""The backend vaekit is asked for, by KERAS_BACKEND or Keras's keras.json, where it cannot run:
one line naming the valid backends, exit 2, from every command and before Keras loads (nothing is
written, not even Keras's own keras.json), and a vaekit error from ``import vaekit``."""

import json
import os
import subprocess
import sys

import pytest
from support import ok, one_line, vaekit

VALID = "expected one of jax, tensorflow, torch"
CANNOT_TRAIN = "Keras's numpy and openvino backends cannot train"

# (KERAS_BACKEND, the line it gives): names Keras does not know, and Keras's own that cannot train.
NAMES = [
    ("bogus", f"KERAS_BACKEND: got 'bogus', {VALID}; {CANNOT_TRAIN}"),
    ("TensorFlow", f"KERAS_BACKEND: got 'TensorFlow', {VALID} (did you mean 'tensorflow'?); "),
    (" jax", f"KERAS_BACKEND: got ' jax', {VALID} (did you mean 'jax'?); "),
    ("a\nb", f"KERAS_BACKEND: got 'a\\nb', {VALID}; "),
    ("numpy", "KERAS_BACKEND: got 'numpy', a Keras backend that has no fit; vaekit trains on jax,"),
    ("openvino", "KERAS_BACKEND: got 'openvino', a Keras backend that runs inference only; "),
]
# Every command: the backend is chosen before any of them parses its arguments.
COMMANDS = [
    ["info"],
    ["datasets"],
    ["train", "--set", "train.epochs=1", "--out", "RUN"],
    ["train", "--resume", "RUN"],
    ["evaluate", "RUN"],
    ["plot", "RUN"],
    ["report", "RUN"],
    ["compare", "RUN", "RUN"],
    ["generate", "RUN"],
    ["--help"],
]


def refused(result, words: str) -> None:
    line = one_line(result)
    assert result.returncode == 2, result.stderr
    assert line.startswith(f"vaekit: error: {words}"), line


def home(tmp_path, monkeypatch) -> dict:
    """A new, empty home folder for the command, Keras's settings in ``~/.keras``."""
    monkeypatch.delenv("KERAS_HOME", raising=False)
    folder = tmp_path / "home"
    folder.mkdir()
    return {"HOME": str(folder)}


@pytest.mark.parametrize(("backend", "words"), NAMES, ids=[repr(n) for n, _ in NAMES])
def test_a_backend_vaekit_cannot_run_on_is_one_line_before_keras_loads(
    backend, words, tmp_path, monkeypatch
):
    environment = home(tmp_path, monkeypatch)
    result = vaekit("info", cwd=tmp_path, env={**environment, "KERAS_BACKEND": backend})
    refused(result, words)
    assert not any((tmp_path / "home").iterdir())  # Keras did not load: no ~/.keras written


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_refuses_a_bogus_backend(command, tmp_path):
    before = sorted(tmp_path.iterdir())
    run = str(tmp_path / "run")
    arguments = [run if part == "RUN" else part for part in command]
    result = vaekit(*arguments, cwd=tmp_path, env={"KERAS_BACKEND": "bogus"})
    refused(result, "KERAS_BACKEND: got 'bogus', ")
    assert sorted(tmp_path.iterdir()) == before


IMPORT = """
import sys
try:
    import vaekit
except Exception as error:
    print(json.dumps({"classes": [c.__name__ for c in type(error).__mro__], "line": str(error)}))
else:
    print(json.dumps({"classes": [], "line": "imported"}))
""".replace("import sys", "import json, sys")


@pytest.mark.parametrize(("backend", "words"), NAMES[:1] + NAMES[-2:-1], ids=["bogus", "numpy"])
def test_import_vaekit_raises_a_vaekit_error(backend, words):
    result = subprocess.run(
        [sys.executable, "-c", IMPORT], capture_output=True, text=True, timeout=300,
        env={**os.environ, "KERAS_BACKEND": backend},
    )  # fmt: skip
    raised = json.loads(result.stdout)
    assert "ConfigError" in raised["classes"] and "VaekitError" in raised["classes"], raised
    assert raised["line"].startswith(words) and "\n" not in raised["line"]


# Slow: it needs JAX (Keras's numpy backend imports it), which CI installs before the slow tests.
@pytest.mark.slow
def test_keras_loaded_on_a_backend_vaekit_cannot_run_on_is_a_vaekit_error():
    pytest.importorskip("jax", reason="Keras's numpy backend imports jax")
    code = "import os; os.environ['KERAS_BACKEND'] = 'numpy'; import keras; " + IMPORT
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    raised = json.loads(result.stdout.strip().splitlines()[-1])
    assert "ConfigError" in raised["classes"], raised
    assert raised["line"].startswith("the backend Keras was loaded on before vaekit: got 'numpy'")


# (keras.json's text, the words after its path): what Keras itself refuses, and what vaekit cannot
# run on. KERAS_BACKEND is empty, which counts as unset, so keras.json's backend decides.
KERAS_JSON = [
    ('{"backend": "bogus"}', f"backend: got 'bogus', {VALID}; {CANNOT_TRAIN}"),
    ('{"backend": "numpy"}', "backend: got 'numpy', a Keras backend that has no fit"),
    ('{"backend": 3}', f"backend: got 3, {VALID}"),
    ("[1]", "expected a JSON object of Keras's settings"),
    ('{"floatx": "float8"}', "floatx: got 'float8', expected one of float16, float32, float64"),
    ('{"epsilon": 1}', "epsilon: got 1, expected a number with a decimal point"),
    ('{"image_data_format": "nhwc"}', "image_data_format: got 'nhwc', expected one of"),
    ('{"image_data_format": "channels_first"}', "image_data_format: got 'channels_first', but"),
]


@pytest.mark.parametrize(("text", "words"), KERAS_JSON, ids=[t for t, _ in KERAS_JSON])
def test_a_keras_json_keras_or_vaekit_cannot_start_with_is_one_line_naming_it(
    text, words, tmp_path, monkeypatch
):
    environment = home(tmp_path, monkeypatch)
    settings = tmp_path / "home" / ".keras" / "keras.json"
    settings.parent.mkdir()
    settings.write_text(text)
    result = vaekit("info", cwd=tmp_path, env={**environment, "KERAS_BACKEND": ""})
    refused(result, f"{settings}: {words}")
    assert settings.read_text() == text and os.listdir(settings.parent) == ["keras.json"]


# Keras's other settings read as it loads, that it would stop on with a traceback.
KERAS_VARIABLES = [
    ({"KERAS_MAX_EPOCHS": "abc"}, "KERAS_MAX_EPOCHS: got 'abc', expected an integer"),
    ({"KERAS_MAX_STEPS_PER_EPOCH": "1.5"}, "KERAS_MAX_STEPS_PER_EPOCH: got '1.5', expected an "),
]


@pytest.mark.parametrize(("environment", "words"), KERAS_VARIABLES, ids=["epochs", "steps"])
def test_a_keras_variable_keras_cannot_read_is_one_line(environment, words):
    refused(vaekit("info", env=environment), words)


def test_keras_backend_decides_over_a_bogus_keras_json(tmp_path):
    (tmp_path / "keras.json").write_text('{"backend": "bogus"}')
    result = ok(vaekit("info", env={"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": "tensorflow"}))
    assert "tensorflow (KERAS_BACKEND)" in result.stdout


def test_an_empty_keras_backend_counts_as_unset(tmp_path):
    (tmp_path / "keras.json").write_text('{"backend": "tensorflow"}')
    result = ok(vaekit("info", env={"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": ""}))
    assert "tensorflow (keras.json)" in result.stdout


# A backend asked for that is missing, or installed but broken (jax without its jaxlib): a
# folder ahead on the path hides jax, or puts a jax there that fails to import.
MISSING = 'import sys; sys.modules["jax"] = None  # as if jax were not installed\n'
BROKEN = 'raise ImportError("jaxlib is not installed")\n'
UNAVAILABLE = [
    ("sitecustomize.py", MISSING, "KERAS_BACKEND=jax: jax is not installed here; pip install "),
    ("jax/__init__.py", BROKEN, "jax (chosen by KERAS_BACKEND) is installed but cannot be "
     "imported (jaxlib is not installed); reinstall it: pip install 'vaekit[jax]'"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "words"), UNAVAILABLE, ids=["missing", "broken"])
def test_a_backend_that_does_not_import_is_one_line_naming_what_to_install(
    name, text, words, tmp_path
):
    path = tmp_path / "path" / name
    path.parent.mkdir(parents=True)
    path.write_text(text)
    search = os.pathsep.join(filter(None, [str(tmp_path / "path"), os.environ.get("PYTHONPATH")]))
    result = vaekit("info", env={"KERAS_BACKEND": "jax", "PYTHONPATH": search})
    refused(result, words)
