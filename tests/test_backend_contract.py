"""Every backend package offers every member of the written contract, vaekit.backends.base.

A backend whose own package (jax, torch) is not installed cannot be imported: its source is read
instead (``ast``), following each name to the module that defines it, so ``make test`` checks all
three where only TensorFlow is installed. Those that import are checked for real too.
"""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import vaekit
from vaekit.backends import NAMES, base, installed

PACKAGE = Path(vaekit.__file__).parent
BACKENDS = PACKAGE / "backends"
STRATEGIES = {"data_parallel", "mirrored"}  # config's train.distribute values other than none


def base_functions() -> dict:
    return {
        name: member
        for name, member in vars(base).items()
        if inspect.isfunction(member) and member.__module__ == base.__name__
    }


def required(name: str) -> bool:
    """A member with no neutral default: a constant with no value, or an abstract function."""
    if name not in vars(base):  # annotated only: NAME, AUTO_JIT, DISTRIBUTIONS
        return True
    return getattr(vars(base)[name], "__isabstractmethod__", False)


def parameters_of(signature: inspect.Signature) -> list:
    return [(p.name, p.kind, p.default is not p.empty) for p in signature.parameters.values()]


def parameters_of_ast(arguments: ast.arguments) -> list:
    kind = inspect.Parameter
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = len(positional) - len(arguments.defaults)
    found = [(a.arg, kind.POSITIONAL_OR_KEYWORD, i >= defaults) for i, a in enumerate(positional)]
    if arguments.vararg:
        found.append((arguments.vararg.arg, kind.VAR_POSITIONAL, False))
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        found.append((argument.arg, kind.KEYWORD_ONLY, default is not None))
    if arguments.kwarg:
        found.append((arguments.kwarg.arg, kind.VAR_KEYWORD, False))
    return found


def incompatible(contract: list, offered: list) -> str | None:
    """Why a backend's parameters cannot take every call the contract's describe (None: they can).

    The named parameters must match by name and order; where the contract has ``*arguments``, a
    backend has parameters of its own in their place (JAX's step takes ``state, data``); any
    parameter past the contract's must have a default.
    """
    variable = inspect.Parameter.VAR_POSITIONAL
    named = [p for p in contract if p[1] != variable]
    if [p[0] for p in offered[: len(named)]] != [p[0] for p in named]:
        return f"parameters {[p[0] for p in offered]}, the contract's {[p[0] for p in contract]}"
    if any(p[1] == variable for p in contract):
        return None
    extra = [p[0] for p in offered[len(named) :] if not p[2] and p[1] != variable]
    return f"parameters {extra} the contract's callers do not pass" if extra else None


# The contract itself.
def test_the_contract_lists_what_the_base_module_declares():
    declared = set(base.__annotations__) | set(base_functions())
    assert set(base.MEMBERS) == declared
    assert len(base.MEMBERS) == len(set(base.MEMBERS))


def test_every_member_vaekit_calls_is_in_the_contract_and_none_is_probed():
    used, probed = set(), []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"backends\.current\.(\w+)", text))
        probed += [path.name] * len(re.findall(r"(?:get|has)attr\(\s*backends\.current", text))
    assert used and used <= set(base.MEMBERS), used - set(base.MEMBERS)
    assert not probed


# Each backend, from its source: runs where its own package is not installed.
def parse(module: str) -> ast.Module:
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = path.with_suffix("") / "__init__.py"
    return ast.parse(path.read_text(encoding="utf-8"))


def definition(module: str, name: str):
    """Where ``module`` binds ``name``: ``(module, node)``, following ``from vaekit... import``;
    ``(module, None)`` for a name it does not bind."""
    for node in parse(module).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return module, node
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return module, node
        if isinstance(node, ast.ImportFrom) and node.module.startswith("vaekit.backends"):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    if node.module == base.__name__:
                        return base.__name__, None
                    return definition(node.module, alias.name)
    return module, None


@pytest.mark.parametrize("backend", NAMES)
def test_each_backend_offers_every_member_in_its_source(backend):
    package = f"vaekit.backends.{backend}"
    missing, wrong = [], []
    for name in base.MEMBERS:
        module, node = definition(package, name)
        if module == base.__name__:  # the contract's neutral default
            if required(name):
                wrong.append(f"{name}: imported from base, which has no default for it")
            continue
        if node is None:
            missing.append(name)
        elif isinstance(node, ast.FunctionDef) and name in base_functions():
            contract = parameters_of(inspect.signature(base_functions()[name]))
            why = incompatible(contract, parameters_of_ast(node.args))
            if why:
                wrong.append(f"{name} ({module}): {why}")
        elif name in base_functions() and not isinstance(node, ast.FunctionDef):
            # an assignment: a function chosen from elsewhere (alone = contextlib.nullcontext)
            wrong.append(f"{name} ({module}): assigned, not a function; define or import one")
    assert not missing, f"{package} lacks {missing} (define them, or import base's default)"
    assert not wrong, wrong


# Each backend, imported: where its own package is installed.
@pytest.mark.parametrize("backend", NAMES)
def test_each_installed_backend_offers_every_member(backend):
    if not installed(backend):
        pytest.skip(f"{backend} is not installed: its source is checked above")
    module = importlib.import_module(f"vaekit.backends.{backend}")
    missing = [name for name in base.MEMBERS if not hasattr(module, name)]
    assert not missing, f"{module.__name__} lacks {missing}"
    assert module.NAME == backend
    assert set(module.AUTO_JIT) == {"cpu", "gpu"}
    assert set(module.DISTRIBUTIONS) == STRATEGIES
    for strategy, way in module.DISTRIBUTIONS.items():
        assert isinstance(way, base.Distribution), strategy
        assert way.supported == callable(way.place) and isinstance(way.why_not, str)
    assert module.STEPS_PER_EXECUTION is None or isinstance(module.STEPS_PER_EXECUTION, str)
    for name in ("bias_add", "leaky_relu"):
        assert getattr(module, name) is None or callable(getattr(module, name))
    for name, contract in base_functions().items():
        offered = getattr(module, name)
        assert callable(offered), name
        assert not getattr(offered, "__isabstractmethod__", False), f"{name}: base's, abstract"
        why = incompatible(
            parameters_of(inspect.signature(contract)), parameters_of(inspect.signature(offered))
        )
        assert why is None, f"{module.__name__}.{name}: {why}"
