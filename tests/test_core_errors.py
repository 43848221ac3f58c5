"""The error tree: every exception gre_agent defines is a GreError and is drawn in
core/errors.py's docstring with its module and the builtin base it keeps."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import warnings

import pytest

from gre_agent.core import errors
from gre_agent.core.errors import ConfigError, GreError

TOP_LEVEL = ("agent", "core", "tools", "graphs", "evals", "cli")


def gre_modules() -> list[str]:
    """Every module of the installed package (its top folders map into one namespace)."""
    names = []
    for top in TOP_LEVEL:
        package = importlib.import_module(f"gre_agent.{top}")
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return names


def defined_exceptions() -> list[type[BaseException]]:
    found = []
    for name in gre_modules():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except ImportError:
            continue  # needs an optional extra that is not installed here
        found += [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, BaseException)
            and obj.__module__ == module.__name__
        ]
    return found


@pytest.fixture(scope="module")
def exceptions() -> list[type[BaseException]]:
    found = defined_exceptions()
    assert len(found) > 10  # the walk did reach the packages
    return found


def test_every_exception_is_a_gre_error(exceptions):
    outside = [f"{e.__module__}.{e.__name__}" for e in exceptions if not issubclass(e, GreError)]
    assert outside == []


def test_every_exception_is_drawn_in_the_tree_with_its_module_and_builtin_base(exceptions):
    doc = errors.__doc__ or ""
    missing = []
    for exc in exceptions:
        module = exc.__module__.removeprefix("gre_agent.")
        builtin = [
            b.__name__ for b in exc.__bases__ if b is not Exception and not issubclass(b, GreError)
        ]
        drawn = f"{exc.__name__} [{', '.join(builtin)}]" if builtin else exc.__name__
        line = re.compile(rf"(── |^    ){re.escape(drawn)}\s+{re.escape(module)}$", re.M)
        if not line.search(doc):
            missing.append(f"{drawn}  {module}")
    assert missing == [], "not drawn as such in core/errors.py's tree"


def test_one_config_error_for_settings_and_training_configs():
    from gre_agent.agent.finetune.config import ConfigError as TrainingConfigError
    from gre_agent.agent.finetune.config import SFTConfig, load_config

    assert TrainingConfigError is ConfigError
    with pytest.raises(ConfigError, match="unknown"):
        load_config(SFTConfig, None, ["no_such_setting=1"])
    assert issubclass(ConfigError, ValueError)  # it was a ValueError for training configs
