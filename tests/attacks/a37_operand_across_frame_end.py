"""A SHORT_BINUNICODE whose length runs two bytes past the end of its FRAME. pickle.loads (and a
buffered file) read the operand across the boundary, and the next opcode swallows the payload as
bytes; the C unpickler reading a file without peek() (torch.load hands it an io.BytesIO) takes the
operand from after the frame, and runs the GLOBAL and REDUCE that the first reading never saw."""
from attack_common import *

EXPECTED = {"verdict": "dangerous", "finding": {"category": "evasion"}}


def generate(folder):
    body = short_unicode("XY")[:1] + b"\x04XY"  # claims 4 bytes, the frame holds 2
    payload = global_op("os", "system") + binunicode(shell_command()) + tuple1() + REDUCE + STOP
    # Sequential reading: "XYAB", then 'C' (SHORT_BINBYTES) of length ord('D') swallows the payload.
    after = b"ABCD" + payload
    after += b"Z" * (ord("D") - (len(after) - 4)) + POP + STOP
    return write(folder + "/model.pkl", proto(4) + frame(body) + after)
