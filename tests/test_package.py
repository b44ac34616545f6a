"""vae_core as a package: it never pulls in Streamlit, and its public names are there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from packaging.version import Version

import vae_core

REPO_ROOT = Path(__file__).resolve().parents[1]

# Imports every module under vae_core (found on disk, so new modules are covered too) in a fresh interpreter.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
import vae_core
names = sorted(m.name for m in pkgutil.walk_packages(vae_core.__path__, "vae_core."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "streamlit": sorted(m for m in sys.modules if m.split(".")[0] == "streamlit")}))
"""


def test_no_module_of_vae_core_imports_streamlit():
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for expected in (
        "vae_core.zoo.cli",
        "vae_core.__main__",
        "vae_core.engine.models.vae",
        "vae_core.engine.training",
        "vae_core.engine.checkpoints",
        "vae_core.engine.evaluation",
        "vae_core.engine.data",
        "vae_core.engine.losses",
    ):
        assert expected in report["modules"]
    assert report["streamlit"] == [], f"vae_core pulled in {report['streamlit']}"


def test_public_names():
    for name in vae_core.__all__:
        assert hasattr(vae_core, name), name
    version = Version(vae_core.__version__)  # InvalidVersion for anything PEP 440 rejects
    assert str(version) == vae_core.__version__, "write the version in PEP 440's normal form"
    assert len(version.release) == 3, "major.minor.patch"
    model = vae_core.build_model(vae_core.ModelConfig(input_shape=(1, 8, 8), hidden_dims=(4,)))
    assert isinstance(model, vae_core.LatentModel)
