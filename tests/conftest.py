"""Test-wide set-up: offscreen Qt, isolated user folders, shared fixtures."""

from __future__ import annotations

import os

# Before any Qt or TensorFlow import: offscreen Qt, quiet and small TensorFlow.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

pytest_plugins = [
    "tests.support.data",
    "tests.support.training_fixtures",
    "tests.support.model_fixtures",
]
