"""Installs the Python package alone (cmake --install --component python) into a scratch prefix and
uses it from there, in a fresh interpreter that cannot see the build tree: the installed package is
complete. Usage: install_check.py BUILD_DIR INSTALL_SUBDIR (STKIT_PYTHON_INSTALL_DIR)."""
import os
import shutil
import subprocess
import sys

build, subdir = sys.argv[1], sys.argv[2]
scratch = os.environ["STKIT_SCRATCH"]
shutil.rmtree(scratch, ignore_errors=True)
prefix = os.path.join(scratch, "prefix")
subprocess.run(["cmake", "--install", build, "--prefix", prefix, "--component", "python"], check=True,
               stdout=subprocess.DEVNULL)
site = os.path.join(prefix, subdir)
env = dict(os.environ, PYTHONPATH=site)
script = """
import os, sys
import numpy as np, torch
import stkit, stkit.numpy, stkit.torch
assert os.path.dirname(stkit.__file__) == os.path.join(sys.argv[1], "stkit"), stkit.__file__
path = os.path.join(sys.argv[2], "a.safetensors")
stkit.torch.save_file({"w": torch.arange(6.0).reshape(2, 3)}, path, {"format": "pt"})
assert stkit.numpy.load_file(path)["w"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
assert stkit.inspect(path)["metadata"] == {"format": "pt"}
print("installed stkit", stkit.__version__, "works from", sys.argv[1])
"""
subprocess.run([sys.executable, "-c", script, site, scratch], check=True, env=env, cwd=scratch)
