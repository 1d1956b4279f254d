"""Test-wide set-up: offscreen Qt, isolated user folders, shared fixtures."""

from __future__ import annotations

import os

# Before any Qt or TensorFlow import: offscreen Qt, quiet and small TensorFlow.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import pytest  # after the environment above: pytest imports no Qt or TensorFlow

pytest_plugins = [
    "tests.support.data",
    "tests.support.training_fixtures",
    "tests.support.model_fixtures",
    "tests.support.orthanc",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reverse-order", action="store_true", default=False,
        help="run the collected tests in reverse order (finds order dependence)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reverse-order"):
        items.reverse()
