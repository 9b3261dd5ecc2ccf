"""What every audit script test starts with: the stkit binary and an empty scratch folder (a rerun
starts from nothing), both from the environment ctest sets."""
import os
import shutil


def setup():
    """Returns (stkit binary, scratch folder), the folder emptied."""
    folder = os.environ["STKIT_SCRATCH"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return os.environ["STKIT_BIN"], folder
