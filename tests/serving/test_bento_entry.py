"""A Bento's entry point runs the Bento's own copy of kizuna, installed or not."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.serving.model_set import ROOT

SOURCES = ("features", "models", "serving", "training", "simulators")

# Drops the finder of an editable install, as where kizuna is not installed at all.
PROBE = """
import sys
sys.meta_path = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
sys.path = [p for p in sys.path if p and "kizuna" not in p.lower()]
sys.path.insert(0, {src!r})
import serving.bento_entry as entry
import kizuna.serving.service as service
import kizuna.features.rfm as rfm
print(service.__file__)
print(rfm.__file__)
print(entry.KizunaService is service.KizunaService)
"""


def test_the_bento_entry_imports_kizuna_from_the_bento_source(tmp_path):
    src = tmp_path / "src"
    for name in SOURCES:
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(src=str(src))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    service_file, rfm_file, same = done.stdout.strip().splitlines()[-3:]
    assert service_file.startswith(str(src / "serving"))
    assert rfm_file.startswith(str(src / "features"))
    assert same == "True"
