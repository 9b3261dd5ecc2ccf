"""A module that acts when it is merely imported (tkinter's __main__ opens its test window), with an attribute
name that is not an identifier: pickle.py imports the module before the lookup fails, so the
payload runs although no valid global is ever named."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "code-execution", "module": "tkinter.__main__"}}


def generate(folder):
    return write(folder + "/data.pkl", b"ctkinter.__main__\n!\n")
