"""The run configuration: reference defaults, YAML and ``--set`` parsing, file handling, and a
one-line :class:`ConfigError` naming the field for every invalid setting, whatever the input."""

import dataclasses
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vaekit.config import KL_STRATEGIES, SECTIONS, Config, parse_yaml
from vaekit.errors import ConfigError

REFERENCE = Path(__file__).resolve().parents[1] / "configs" / "mnist_seed.yaml"


# --- Defaults: the reference set-up of "Generative Deep Learning" -----------------------------


def test_defaults_are_the_reference_set_up():
    model, train = Config().model, Config().train
    assert model.input_dim == (28, 28, 1)
    assert model.encoder_conv_filters == [32, 64, 128]
    assert model.encoder_conv_strides == [1, 2, 2]
    assert model.decoder_conv_t_filters == [64, 32, 1]
    assert model.decoder_conv_t_strides == [2, 2, 1]
    assert model.z_dim == 2
    assert model.kl_factor == 2e-4
    assert model.kl_strategy == "layer"
    assert train.learning_rate == 5e-4
    assert train.batch_size == 128
    assert train.epochs == 6


def test_reference_file_loads_to_the_defaults_with_every_stated_value():
    config = Config.load(REFERENCE)
    assert config == Config()  # the file states the defaults, so nothing differs
    stated = parse_yaml(REFERENCE.read_text(encoding="utf-8"))
    loaded = config.to_dict()
    for section, values in stated.items():
        for key, value in values.items():
            assert loaded[section][key] == value, f"{section}.{key}"


@pytest.mark.parametrize("path", sorted(REFERENCE.parent.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_is_valid(path):
    config = Config.load(path)
    assert tuple(config.model.decoder_output_shape()) == tuple(config.model.input_dim)
    assert config.data.dataset


def test_defaults_are_valid_and_independent_copies():
    first, second = Config.from_dict({}), Config.from_dict(None)
    assert first == second == Config()
    first.model.encoder_conv_filters.append(256)  # list defaults must not be shared
    assert Config().model.encoder_conv_filters == [32, 64, 128]


# --- Parsing: YAML numbers and --set overrides --------------------------------------------------


@pytest.mark.parametrize("text, number", [("2e-4", 2e-4), ("1e-3", 1e-3), ("-1E3", -1000.0)])
def test_exponents_without_a_dot_read_as_floats(text, number):
    value = parse_yaml(f"kl_factor: {text}")["kl_factor"]
    assert isinstance(value, float) and value == number


def test_a_file_with_exponent_notation_loads_floats(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("model:\n  kl_factor: 2e-4\ntrain:\n  learning_rate: 1e-3\n")
    config = Config.load(path)
    assert config.model.kl_factor == 2e-4
    assert config.train.learning_rate == 1e-3


@pytest.mark.parametrize(
    "text", [".", "-.", "+.", ".e5", "-e5", "._"], ids=lambda text: f"text {text!r}"
)
def test_number_like_text_without_digits_stays_a_string(text):
    assert parse_yaml(f"value: {text}")["value"] == text


@pytest.mark.parametrize(
    "override, section, key, expected",
    [
        ("model.encoder_conv_strides=[1,2,2]", "model", "encoder_conv_strides", [1, 2, 2]),
        ("model.encoder_conv_filters=[16, 32, 64]", "model", "encoder_conv_filters", [16, 32, 64]),
        ("model.input_dim=[28, 28, 1]", "model", "input_dim", (28, 28, 1)),
        ("train.epochs=3", "train", "epochs", 3),
        ("train.learning_rate=1e-3", "train", "learning_rate", 1e-3),
        ("model.kl_factor=0", "model", "kl_factor", 0.0),
        ("model.use_batch_norm=true", "model", "use_batch_norm", True),
        ("train.jit_compile=false", "train", "jit_compile", False),
        ("data.limit=null", "data", "limit", None),
        ("data.limit=", "data", "limit", None),
        ("data.validation=0.1", "data", "validation", 0.1),
        ("data.dataset=digits.npz", "data", "dataset", "digits.npz"),
        (" train.epochs =3", "train", "epochs", 3),
    ],
)
def test_overrides_parse_their_value_as_yaml(override, section, key, expected):
    value = getattr(getattr(Config.from_dict({}, overrides=[override]), section), key)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("alias, strategy", list(enumerate(KL_STRATEGIES)))
def test_kl_strategy_integer_aliases(alias, strategy):
    from_override = Config.from_dict({}, overrides=[f"model.kl_strategy={alias}"])
    from_values = Config.from_dict({"model": {"kl_strategy": alias}})
    assert from_override.model.kl_strategy == from_values.model.kl_strategy == strategy


def test_overrides_apply_in_order_after_the_values_without_changing_them():
    values = {"train": {"epochs": 9, "batch_size": 32}}
    config = Config.from_dict(values, overrides=["train.epochs=3", "train.epochs=4"])
    assert (config.train.epochs, config.train.batch_size) == (4, 32)
    assert values == {"train": {"epochs": 9, "batch_size": 32}}


def test_load_applies_overrides(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("train:\n  epochs: 9\n")
    assert Config.load(path, overrides=["train.epochs=2"]).train.epochs == 2


# --- Invalid configs: one line, naming the field, saying what would be valid -------------------

# (description, values dict | list of overrides | (values, overrides), field named, other words)
INVALID = [
    ("unknown key", {"model": {"zdim": 4}}, "model.zdim", ["did you mean 'z_dim'"]),
    ("unknown key, override", ["train.epoch=3"], "train.epoch", ["did you mean 'epochs'"]),
    ("unknown section", {"modle": {}}, "modle", ["unknown section", "did you mean 'model'"]),
    ("unknown section, override", ["training.epochs=3"], "training", ["did you mean 'train'"]),
    ("config not a mapping", ([1, 2], []), "config", ["mapping"]),
    ("section not a mapping", {"model": [1, 2]}, "model", ["mapping of model settings"]),
    ("string for int", {"model": {"z_dim": "2"}}, "model.z_dim", ["'2'", "integer"]),
    ("float for int", {"train": {"epochs": 3.0}}, "train.epochs", ["3.0", "integer"]),
    ("bool for int", {"train": {"batch_size": True}}, "train.batch_size", ["True", "integer"]),
    ("list for int", {"model": {"z_dim": [2]}}, "model.z_dim", ["[2]", "integer"]),
    ("null for int", ["train.epochs=null"], "train.epochs", ["None", "integer"]),
    ("z_dim 0", {"model": {"z_dim": 0}}, "model.z_dim", ["got 0", ">= 1"]),
    ("batch_size -1", {"train": {"batch_size": -1}}, "train.batch_size", ["-1", ">= 1"]),
    ("epochs 0", ["train.epochs=0"], "train.epochs", ["got 0", ">= 1"]),
    ("negative seed", {"train": {"seed": -1}}, "train.seed", [">= 0"]),
    ("limit 0", {"data": {"limit": 0}}, "data.limit", [">= 1 or null"]),
    (
        "filters containing 0",
        {"model": {"encoder_conv_filters": [32, 0, 128]}},
        "model.encoder_conv_filters",
        ["list of integers >= 1"],
    ),
    (
        "empty kernel list",
        ["model.encoder_conv_kernel_size=[]"],
        "encoder_conv_kernel_size",
        ["non-empty"],
    ),
    ("string strides", ["model.decoder_conv_t_strides=two"], "decoder_conv_t_strides", ["'two'"]),
    (
        "encoder lists of different lengths",
        {"model": {"encoder_conv_strides": [1, 2]}},
        "model.encoder_conv_strides",
        ["same length", "encoder_conv_filters has 3", "encoder_conv_strides has 2"],
    ),
    (
        "decoder lists of different lengths",
        ["model.decoder_conv_t_kernel_size=[3, 3]"],
        "model.decoder_conv_t_kernel_size",
        ["same length", "has 2", "has 3"],
    ),
    (
        "unknown activation",
        {"model": {"activation": "gelu"}},
        "model.activation",
        ["'gelu'", "leaky_relu, relu, selu"],
    ),
    (
        "unknown kl_strategy",
        ["model.kl_strategy=kl"],
        "model.kl_strategy",
        ["layer, add_loss, train_step, multi_output"],
    ),
    ("kl_strategy 7", ["model.kl_strategy=7"], "model.kl_strategy", ["got 7", "0, 1, 2, 3"]),
    ("kl_strategy as a list", {"model": {"kl_strategy": [1]}}, "model.kl_strategy", ["[1]"]),
    ("kl_strategy as a float", {"model": {"kl_strategy": 2.0}}, "model.kl_strategy", ["2.0"]),
    ("unknown device", ["train.device=tpu"], "train.device", ["'tpu'", "auto, cpu, gpu"]),
    ("unknown precision", ["train.precision=float16"], "train.precision", ["mixed_float16"]),
    ("kl_factor nan", ["model.kl_factor=.nan"], "model.kl_factor", ["nan", "finite"]),
    ("kl_factor inf", ["model.kl_factor=.inf"], "model.kl_factor", ["inf", "finite"]),
    (
        "kl_factor too large for a float",
        {"model": {"kl_factor": 10**400}},
        "model.kl_factor",
        ["finite"],
    ),
    ("learning_rate nan", ["train.learning_rate=.NaN"], "train.learning_rate", ["finite"]),
    ("learning_rate -inf", ["train.learning_rate=-.inf"], "train.learning_rate", ["finite"]),
    ("negative kl_factor", {"model": {"kl_factor": -1e-4}}, "model.kl_factor", [">= 0"]),
    ("learning_rate 0", ["train.learning_rate=0"], "train.learning_rate", ["> 0"]),
    (
        "string learning_rate",
        {"train": {"learning_rate": "fast"}},
        "train.learning_rate",
        ["'fast'"],
    ),
    ("dropout_rate 1.5", ["model.dropout_rate=1.5"], "model.dropout_rate", ["1.5", "<= 1.0"]),
    (
        "dropout_rate 1 with dropout on",
        {"model": {"dropout_rate": 1.0, "use_dropout": True}},
        "model.dropout_rate",
        ["[0, 1)"],
    ),
    (
        "input_dim with 2 entries",
        ["model.input_dim=[28, 28]"],
        "model.input_dim",
        ["[height, width, channels]"],
    ),
    (
        "input_dim with 0",
        {"model": {"input_dim": [28, 0, 1]}},
        "model.input_dim",
        ["three integers from 1 to 65536"],
    ),
    (
        "strides that do not give input_dim back",
        {"model": {"encoder_conv_strides": [2, 2, 2]}},
        "model",
        ["(16, 16, 1)", "(28, 28, 1)", "decoder_conv_t_strides"],
    ),
    (
        "last decoder filter is not the channel count",
        ["model.decoder_conv_t_filters=[64, 32, 3]"],
        "model",
        ["model.decoder_conv_t_filters: the last is 3", "input_dim has 1 channel;"],
    ),
    (
        "jit_compile maybe",
        ["train.jit_compile=maybe"],
        "train.jit_compile",
        ["'maybe'", "true, false or auto"],
    ),
    ("jit_compile 1", {"train": {"jit_compile": 1}}, "train.jit_compile", ["true, false or auto"]),
    (
        "shuffle as a string",
        {"train": {"shuffle": "yes please"}},
        "train.shuffle",
        ["true or false"],
    ),
    ("validation 1.5", ["data.validation=1.5"], "data.validation", ["1.5", "(0, 1)"]),
    ("validation 0", {"data": {"validation": 0}}, "data.validation", ["'test', 'none'"]),
    (
        "empty dataset",
        {"data": {"dataset": ""}},
        "data.dataset",
        ["got ''", "vaekit datasets", "a folder"],
    ),
    ("image size", {"data": {"image_size": [28]}}, "data.image_size", ["[height, width]"]),
    ("bad resize", {"data": {"resize": "crop"}}, "data.resize", ["center_crop, resize"]),
    ("test split", {"data": {"test_split": 1.0}}, "data.test_split", ["(0, 1)"]),
    ("labels", {"data": {"labels": 3}}, "data.labels", ["auto", "none", ".csv"]),
    ("bad file mode", {"data": {"on_bad_file": "ignore"}}, "data.on_bad_file", ["skip, error"]),
    ("cache", {"data": {"cache": "yes"}}, "data.cache", ["true or false"]),
    ("override without '='", ["train.epochs"], "train.epochs", ["section.key=value"]),
    ("override without a section", ["epochs=3"], "epochs=3", ["section.key=value"]),
    ("override with three parts", ["a.b.c=1"], "a.b.c=1", ["section.key=value"]),
    ("override with an empty key", ["train.=1"], "train.=1", ["section.key=value"]),
    ("override not a string", [None], "None", ["section.key=value"]),
    (
        "override with invalid YAML",
        ["model.encoder_conv_filters=[1, 2"],
        "encoder_conv_filters",
        ["not valid YAML"],
    ),
    (
        "override with a bad explicit tag",
        ["train.epochs=!!int x"],
        "train.epochs",
        ["not valid YAML"],
    ),
    (
        "override nested too deeply",
        ["train.epochs=" + "[" * 2000],
        "train.epochs",
        ["not valid YAML"],
    ),
    (
        "override into a section that is not a mapping",
        ({"model": [3]}, ["model.z_dim=2"]),
        "model",
        ["mapping"],
    ),
]


def from_values_or_overrides(given):
    """``given`` is a values dict, a list of overrides, or a (values, overrides) pair."""
    if isinstance(given, tuple):
        return Config.from_dict(given[0], overrides=given[1])
    if isinstance(given, list):
        return Config.from_dict({}, overrides=given)
    return Config.from_dict(given)


@pytest.mark.parametrize(
    "given, field, words", [pytest.param(*case[1:], id=case[0]) for case in INVALID]
)
def test_invalid_configs_raise_one_line_naming_the_field(given, field, words):
    with pytest.raises(ConfigError) as raised:
        from_values_or_overrides(given)
    message = str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert "\n" not in message
    assert field in message
    for word in words:
        assert word in message


def test_an_input_dim_too_large_for_a_float_is_a_config_error():
    with pytest.raises(ConfigError):
        Config.from_dict({"model": {"input_dim": [10**400, 28, 1]}})


# --- Files --------------------------------------------------------------------------------------


def _missing(path):
    pass


def _folder(path):
    path.mkdir()


def _writes(content: bytes):
    return lambda path: path.write_bytes(content)


@pytest.mark.parametrize(
    "make, words",
    [
        pytest.param(_missing, "not found", id="missing file"),
        pytest.param(_folder, "cannot read", id="a directory"),
        pytest.param(_writes(b"model: [1, 2"), "not valid YAML", id="unterminated list"),
        pytest.param(
            _writes(b"model:\n  z_dim: 2\n z_dim: 3\n"), "not valid YAML", id="bad indent"
        ),
        pytest.param(_writes(b"- model\n- train\n"), "expected a mapping", id="a list"),
        pytest.param(_writes(b"just text"), "expected a mapping", id="a plain string"),
        pytest.param(_writes(b"\xff\xfe\x00\x81garbage"), "cannot read", id="invalid UTF-8"),
        pytest.param(_writes(b"train:\n  epochs: !!int x\n"), "not valid YAML", id="bad tag"),
    ],
)
def test_unreadable_files_raise_a_config_error_naming_the_path(tmp_path, make, words):
    path = tmp_path / "config.yaml"
    make(path)
    with pytest.raises(ConfigError) as raised:
        Config.load(path)
    message = str(raised.value)
    assert str(path) in message and words in message
    assert "\n" not in message


@pytest.mark.parametrize("content", ["", "# nothing set\n", "model:\ndata:\ntrain:\n"])
def test_an_empty_file_gives_the_defaults(tmp_path, content):
    path = tmp_path / "config.yaml"
    path.write_text(content)
    assert Config.load(path) == Config()


# --- Round trip ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        [
            "model.input_dim=[32, 32, 3]",
            "model.decoder_conv_t_filters=[64, 32, 3]",
            "model.kl_strategy=3",
            "model.kl_factor=1e-7",
            "model.seed=0",
            "data.validation=0.25",
            "data.limit=1000",
            "train.jit_compile=true",
            "train.precision=mixed_bfloat16",
            "train.threads=4",
        ],
    ],
    ids=["defaults", "every kind of value"],
)
def test_save_then_load_gives_an_equal_config(tmp_path, overrides):
    config = Config.from_dict({}, overrides=overrides)
    path = tmp_path / "run" / "config.yaml"
    config.save(path)
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == config.to_dict()
    reloaded = Config.load(path)
    assert reloaded == config
    assert reloaded.to_dict() == config.to_dict()


# --- Fuzzing: whatever the input, a Config or a ConfigError -------------------------------------

FIELDS = [(section, f.name) for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
KEYS = st.text(max_size=12) | st.sampled_from([name for _, name in FIELDS]) | st.integers()
ANYTHING = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
YAML_TEXT = st.text(
    st.sampled_from("[]{}:,.-+_eE0123456789 '\"!#&*|>?%@`\n\tnulatrfs"), max_size=16
)


def config_or_config_error(values, overrides=()):
    """Any other exception (TypeError, OverflowError, ...) fails the test."""
    try:
        assert isinstance(Config.from_dict(values, overrides=overrides), Config)
    except ConfigError:
        pass


FUZZ = settings(max_examples=300, deadline=None)


@FUZZ
@given(ANYTHING)
def test_any_value_as_the_whole_config(values):
    config_or_config_error(values)


@FUZZ
@given(st.sampled_from(list(SECTIONS)), ANYTHING)
def test_any_value_as_a_section(section, values):
    config_or_config_error({section: values})


@FUZZ
@given(st.dictionaries(st.sampled_from(FIELDS), ANYTHING, min_size=1, max_size=4))
def test_any_values_for_known_fields(fields):
    values = {}
    for (section, name), value in fields.items():
        values.setdefault(section, {})[name] = value
    config_or_config_error(values)


@FUZZ
@given(st.lists(st.text(max_size=30), max_size=3))
def test_any_override_strings(overrides):
    config_or_config_error({}, overrides)


@FUZZ
@given(st.sampled_from(FIELDS), YAML_TEXT | st.text(max_size=16))
def test_any_override_value_for_a_known_field(field, text):
    section, name = field
    config_or_config_error({}, [f"{section}.{name}={text}"])
