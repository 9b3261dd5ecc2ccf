#!/usr/bin/python3
"""The oracle of differential.py: what CPython's unpicklers import from a file.

Every file is loaded five ways (READINGS), each with a find_class that records (module, name) and
returns an inert stub instead of importing anything:
    bytes       the C pickle.Unpickler over io.BytesIO (no peek())
    buffered    the C pickle.Unpickler over open(path, "rb") (a BufferedReader: has peek(), so the C
                reader prefetches, and an operand may run on past a frame's end)
    unbuffered  the C pickle.Unpickler over open(path, "rb", buffering=0) (no peek(): the C reader
                reads a FRAME's bytes and then reads any operand that runs past the frame's end
                afresh from the file, skipping the frame's rest)
    python      the pure-Python pickle._Unpickler over open(path, "rb") (joblib's unpickler; it
                enforces frame boundaries)
    fresh       the C pickle.Unpickler over open(path, "rb"), a new one for each load
After a successful load each reading loads again while bytes remain, stopping at the first
exception. The first four load again with the same unpickler, whose memo carries over (a caller
that calls Unpickler.load() in a loop); `fresh` starts each load with an empty memo (pickle.load(f)
in a loop, as torch's legacy loader reads its five pickles). Neither covers the other: a GET after
STOP fetches a different string in each.

The unpicklers use encoding="utf-8" (torch.load's choice: protocol 0-2 byte strings that are valid
UTF-8 become str) and fix_imports=True; find_class receives the names before the protocol < 3
renames, so the records are raw names and the comparison applies _compat_pickle itself.

Run as a worker (`differential_oracle.py --worker`): reads "index<TAB>path" lines on stdin and
writes one JSON line per file: [index, {"imports": [[reading, load, module, name, ext, offset]...],
"outcomes": {reading: text}}]. ext is the copyreg extension code when the import came from an EXT
opcode (found through copyreg's extension cache, which stores the very stub find_class returned),
offset the file offset of the importing opcode (known in the python reading only). Each file runs
under a memory cap and a per-reading time limit; run_oracle() drives workers and survives a worker
that crashes or hangs.
"""
import copyreg
import io
import json
import os
import pickle
import re
import resource
import select
import signal
import subprocess
import sys
import threading

READINGS = ("bytes", "buffered", "unbuffered", "python", "fresh")

# copyreg extension codes registered in the worker (the edges of EXT1, EXT2 and EXT4), each mapped
# to a global; the mutator writes EXT opcodes with these codes and a few unregistered ones.
EXTENSIONS = {
    1: ("os", "system"),
    255: ("builtins", "eval"),
    256: ("subprocess", "Popen"),
    65535: ("builtins", "exec"),
    65536: ("posix", "system"),
    0x7FFFFFFF: ("collections", "OrderedDict"),
}

MEMORY_LIMIT = 2 << 30  # bytes of address space for a worker: a huge LONG4 or BYTEARRAY8 fails
READING_SECONDS = 2.0  # per reading of one file
MAX_LOADS = 256  # loads of one file by one reading
WORKER_SILENCE = 30.0  # seconds without a result before a worker is killed as hung


# --- the stub: everything is a class, so it works wherever a real object could -----------------

class StubMeta(type):
    """Calling a stub class returns the shared Stub class (itself an instance of this metaclass), so
    a call's result is also a type that NEWOBJ accepts, is callable, hashable and iterable (empty),
    takes items (SETITEM) and returns stubs for methods (append, extend, add).

    One place where a real object could do more: the C unpickler wants a real tuple as REDUCE's and
    NEWOBJ's arguments (and a dict as NEWOBJ_EX's keywords), so a call's result in that place ends
    the C readings; the python reading takes any iterable there and reads on."""

    def __call__(cls, *args, **kwargs):
        return Stub

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Stub

    def __setitem__(cls, key, value):
        pass

    def __iter__(cls):
        return iter(())


class Stub(metaclass=StubMeta):
    def __new__(cls, *args, **kwargs):  # NEWOBJ and NEWOBJ_EX call cls.__new__
        return Stub

    def __setstate__(*args, **kwargs):  # BUILD on the class or on an "instance"
        pass


def persistent_load(pid):
    if isinstance(pid, tuple):  # torch.load's storage references
        return Stub
    raise pickle.UnpicklingError("persistent id is not a tuple")


# A dotted name __import__ could find: identifiers (letters, digits, underscores, non-ASCII).
IDENTIFIER_TEXT = r"[A-Za-z_\u0080-\U0010FFFF][A-Za-z0-9_\u0080-\U0010FFFF]*"
IMPORTABLE = re.compile(r"%s(\.%s)*\Z" % (IDENTIFIER_TEXT, IDENTIFIER_TEXT))


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout("reading took longer than %.1f s" % READING_SECONDS)


# --- the readings ------------------------------------------------------------------------

class Recorder:
    """find_class for one reading of one file: records each call, returns a fresh stub class (its
    identity tells later whether copyreg's extension cache got it from an EXT opcode)."""

    def __init__(self, reading):
        self.reading = reading
        self.load = 0
        self.calls = []  # [module, name, stub, offset, load, and the EXT code once known]

    def record(self, module, name, offset):
        stub = StubMeta("Stub", (Stub,), {})
        self.calls.append([module, name, stub, offset, self.load])
        # What __import__ does with a name no module can have: the load stops here, as it would
        # for real (a stub that went on would see imports no loader ever reaches).
        if not IMPORTABLE.match(module):
            raise ModuleNotFoundError("No module named %r" % module)
        return stub


def c_unpickler(file, recorder):
    class Oracle(pickle.Unpickler):
        def find_class(self, module, name):
            return recorder.record(module, name, None)

        def persistent_load(self, pid):
            return persistent_load(pid)

    return Oracle(file, encoding="utf-8")


class PythonOracle(pickle._Unpickler):
    """pickle._Unpickler that knows the file offset of the opcode it is running."""

    def __init__(self, file, recorder):
        super().__init__(file, encoding="utf-8")
        self._oracle_file = file
        self._oracle_recorder = recorder
        self._frame_start = 0
        self._op_offset = None

    def _position(self):
        frame = self._unframer.current_frame
        if frame is not None:
            return self._frame_start + frame.tell()
        return self._oracle_file.tell()

    def find_class(self, module, name):
        return self._oracle_recorder.record(module, name, self._op_offset)

    def persistent_load(self, pid):
        return persistent_load(pid)


def _offset_tracking(function, is_frame):
    def run(self):
        self._op_offset = self._position() - 1
        function(self)
        if is_frame:
            frame = self._unframer.current_frame
            self._frame_start = self._oracle_file.tell() - len(frame.getbuffer())
    return run


PythonOracle.dispatch = {code: _offset_tracking(function, code == pickle.FRAME[0])
                         for code, function in pickle._Unpickler.dispatch.items()}


def load_all(make, recorder, remaining):
    """make().load() until an exception or until no bytes remain; returns the outcome text."""
    loads = 0
    while True:
        copyreg.clear_extension_cache()
        try:
            make().load()
        except BaseException as e:  # noqa: B902 - hostile input may raise anything but these two
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            mark_extensions(recorder)
            return "%d loads, then %s: %s" % (loads, type(e).__name__, str(e)[:120])
        mark_extensions(recorder)
        loads += 1
        recorder.load = loads
        if remaining() <= 0:
            return "%d loads" % loads
        if loads >= MAX_LOADS:
            return "%d loads, stopped (limit)" % loads


def mark_extensions(recorder):
    cached = {id(stub): code for code, stub in copyreg._extension_cache.items()}
    for call in recorder.calls:
        if len(call) == 5 and id(call[2]) in cached:
            call.append(cached[id(call[2])])
    copyreg.clear_extension_cache()


def read_one(path):
    imports = []
    outcomes = {}
    with open(path, "rb") as f:
        data = f.read()
    for reading in READINGS:
        recorder = Recorder(reading)
        signal.setitimer(signal.ITIMER_REAL, READING_SECONDS)
        try:
            if reading == "bytes":
                file = io.BytesIO(data)
            elif reading == "unbuffered":
                file = open(path, "rb", buffering=0)
            else:
                file = open(path, "rb")
            with file:
                if reading == "fresh":
                    make = lambda: c_unpickler(file, recorder)  # noqa: E731
                else:
                    unpickler = PythonOracle(file, recorder) if reading == "python" else c_unpickler(file, recorder)
                    make = lambda: unpickler  # noqa: E731
                outcomes[reading] = load_all(make, recorder, lambda: len(data) - file.tell())
        except Timeout as e:
            outcomes[reading] = "Timeout: %s" % e
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for call in recorder.calls:
            module, name, _, offset, load = call[:5]
            ext = call[5] if len(call) > 5 else None
            imports.append([reading, load, module, name, ext, offset])
        recorder.calls.clear()
    return {"imports": imports, "outcomes": outcomes}


def worker():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, on_alarm)
    for code, (module, name) in EXTENSIONS.items():
        copyreg.add_extension(module, name, code)
    out = sys.stdout
    for line in sys.stdin:
        index, path = line.rstrip("\n").split("\t", 1)
        try:
            result = read_one(path)
        except MemoryError:
            result = {"imports": [], "outcomes": {"all": "MemoryError outside a load"}}
        out.write(json.dumps([int(index), result]) + "\n")
        out.flush()


# --- the driver ---------------------------------------------------------------------------------

def _run_worker(items, results):
    """Runs one worker over items [(index, path)], restarting it after a crash or hang; the file it
    was reading then is recorded as such (a crash of CPython's unpickler is worth a look, but it is
    no import)."""
    pending = list(items)
    while pending:
        process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        feeder = threading.Thread(target=_feed, args=(process.stdin, pending), daemon=True)
        feeder.start()
        done = 0
        buffer = b""
        fd = process.stdout.fileno()
        while done < len(pending):
            ready, _, _ = select.select([fd], [], [], WORKER_SILENCE)
            if not ready:
                process.kill()
                break
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                index, result = json.loads(line)
                results[index] = result
                done += 1
        process.kill()
        process.wait()
        feeder.join()
        if done < len(pending):
            index, _ = pending[done]
            results[index] = {"imports": [], "outcomes": {"all": "worker died (exit %s)" % process.returncode}}
            done += 1
        pending = pending[done:]


def _feed(stream, items):
    try:
        for index, path in items:
            stream.write(("%d\t%s\n" % (index, path)).encode())
        stream.close()
    except (BrokenPipeError, OSError):
        pass


def run_oracle(paths, workers=2):
    """Loads every path in `workers` processes; returns one result dict per path, in order."""
    results = [None] * len(paths)
    items = list(enumerate(paths))
    threads = [threading.Thread(target=_run_worker, args=(items[w::workers], results)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        for path, result in zip(sys.argv[1:], run_oracle(sys.argv[1:])):
            print(path, json.dumps(result))
