"""One source for every choice: the config accepts exactly the names its registries implement.

The config's allowed values are read from its own error message (the list a user sees), so a
tuple written into the config by hand that disagrees with the registry fails here. The backends'
``DISTRIBUTIONS`` and ``AUTO_JIT`` are checked for the backend in use (run this file with
``KERAS_BACKEND=jax`` or ``torch`` for theirs).
"""

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from vaekit import backends, choices
from vaekit.config import SECTIONS, build_section
from vaekit.datasets.images import RESIZES
from vaekit.errors import ConfigError
from vaekit.models import architecture, divergences, likelihoods, objective, strategies

REGISTRIES = [  # (config field, the registry that implements its values)
    ("model.activation", architecture.ACTIVATIONS),
    ("model.kl_strategy", strategies.STRATEGIES),
    ("model.likelihood", likelihoods.LIKELIHOODS),
    ("model.likelihood", likelihoods.MEANS),
    ("train.kl_schedule", objective.SCHEDULES),
    ("train.divergence", divergences.DIVERGENCES),
    ("train.mmd_kernel", divergences.KERNELS),
    ("data.resize", dict.fromkeys(RESIZES)),  # the ways vaekit.datasets.images resizes
]


def accepted(field: str) -> list[str]:
    """The values the config says ``field`` takes, from its error on a value it does not."""
    section, name = field.split(".")
    with pytest.raises(ConfigError) as error:
        build_section(section, SECTIONS[section], {name: "not a choice"})
    listed = re.search(r"expected one of (.*?)(?: \(or [^)]*\))?$", str(error.value))
    assert listed, str(error.value)
    values = listed.group(1).split(", ")
    for value in values:  # and each of them is taken
        assert getattr(build_section(section, SECTIONS[section], {name: value}), name) == value
    return values


@pytest.mark.parametrize("field, registry", REGISTRIES, ids=[f for f, _ in REGISTRIES])
def test_the_config_accepts_exactly_the_registry_names(field, registry):
    assert accepted(field) == list(registry)


def test_the_backend_in_use_implements_every_distribution_and_device():
    assert set(accepted("train.distribute")) - {"none"} == set(backends.current.DISTRIBUTIONS)
    assert set(accepted("train.device")) - {"auto"} == set(backends.current.AUTO_JIT)


def test_a_registry_with_a_missing_or_an_extra_name_is_refused():
    assert list(choices.registry(("a", "b"), {"b": 2, "a": 1})) == ["a", "b"]
    with pytest.raises(ValueError, match="b has no entry"):
        choices.registry(("a", "b"), {"a": 1})
    with pytest.raises(ValueError, match="c is not one of the names"):
        choices.registry(("a", "b"), {"a": 1, "b": 2, "c": 3})


def imported(module: str) -> set[str]:
    """The names ``module``'s source imports: modules, and ``module.name`` for each ``from``."""
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):  # vaekit imports absolutely
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


FRAMEWORKS = {"keras", "tensorflow", "jax", "torch"}
# Where config.py reaches Keras today: its vaekit.datasets.images import runs vaekit/datasets/
# __init__.py, which imports folder.py (keras.utils.Progbar). Nothing else may.
KNOWN_KERAS_PATHS = {"vaekit.datasets.folder"}


def test_the_config_and_the_names_reach_no_keras_code():
    """What config.py and choices.py import, and what that imports in turn (packages' __init__
    included, vaekit's own excepted: it picks the backend first), reaches no Keras code beyond
    :data:`KNOWN_KERAS_PATHS`; choices.py imports nothing at all."""
    assert imported("vaekit.choices") <= {"__future__", "__future__.annotations"}
    seen, todo, reaching = set(), ["vaekit.config"], set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in imported(module):
            parts = name.split(".")
            if parts[0] in FRAMEWORKS:
                reaching.add(module)
            parents = [".".join(parts[:i]) for i in range(2, len(parts) + 1)]
            todo += [p for p in parents if p.startswith("vaekit.") and _is_module(p)]
    assert "vaekit.choices" in seen
    assert reaching <= KNOWN_KERAS_PATHS, f"config.py reaches Keras through {sorted(reaching)}"


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
