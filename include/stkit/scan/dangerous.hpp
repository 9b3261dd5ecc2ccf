// stkit/scan/dangerous.hpp — the list of Python globals known to run code, touch processes, files
// or the network, reach the import machinery, introspect, or deserialize again.
//
// The list is data, in one table (src/scan/dangerous.cpp), organised by category. It is consulted
// only for globals that are *not* on the allowlist (stkit/pickle/allowlist.hpp): the allowlist
// decides what is safe, this list only decides whether an unknown global is `dangerous` rather than
// merely `suspicious`. A gap in this list therefore never makes a file safe.
//
// Matching is component by component on the full dotted path module + "." + name (protocol 4
// qualnames may be dotted: ("torch", "serialization.load")):
//   - an entry matches when it equals the path or a dotted prefix of it ("os" matches "os.system"
//     and "os.path.join");
//   - any component after the first that names a dangerous module ("posixpath" + "os.system",
//     "logging.config" + "os.system") matches as that module (attribute paths that reach a module);
//   - any dunder component used for introspection (__globals__, __builtins__, __subclasses__,
//     __code__, ...) is dangerous;
//   - Python 2 spellings (__builtin__, copy_reg) are mapped to Python 3 names first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stkit/pickle/machine.hpp"

namespace stkit {

// The category names double as SARIF rule ids ("stkit/<category>").
enum class danger_category : uint8_t {
    code_execution,          // eval, exec, compile, runpy, code, doctest, timeit, profile...
    process,                 // os, subprocess, pty, multiprocessing, signal, asyncio subprocess
    file,                    // open, io.FileIO, shutil, tempfile, pathlib writes
    network,                 // socket, ssl, http, urllib, requests, ftplib, smtplib, webbrowser
    import_machinery,        // __import__, importlib, pkgutil.resolve_name, pip, venv
    introspection,           // getattr, operator getters, functools.partial, inspect, sys, types
    native_code,             // ctypes, _posixsubprocess, cffi
    nested_deserialization,  // pickle.loads, torch.load, marshal.loads, numpy.load, dill, joblib
    debugger,                // pdb, bdb, breakpoint
};

[[nodiscard]] std::string_view danger_category_name(danger_category category) noexcept;

struct danger_match {
    danger_category category;
    std::string matched;       // the table entry (or module) that matched, e.g. "os"
    std::string_view reason;   // one phrase for people: "runs shell commands"
};

// Classifies a global (module, name); nullopt when nothing on the list matches.
[[nodiscard]] std::optional<danger_match> classify_dangerous(std::string_view module,
                                                             std::string_view name);

// The first global a restricted-machine run imported (its import events) that the list names, with
// its offset: what the converter refuses and what keeps a whole model from being merely
// suspicious. Not counted: allowlisted globals; the helpers protocols 0 and 1 create objects with
// (copyreg._reconstructor, builtins.object), which the machine calls only in pickle's own shape;
// and the module `__main__` itself, which is the loading program, already imported (importing it
// runs nothing), so a class `__main__.Net` is judged by its name alone.
struct dangerous_import {
    danger_match match;
    std::string global;  // "module.name"
    uint64_t offset = 0;
};
[[nodiscard]] std::optional<dangerous_import> first_dangerous_import(const pickle::pickle_run& run);

// Is (module, name) a function that deserializes its (bytes) argument, so the argument should be
// decoded and scanned in turn? (pickle.loads, _pickle.loads, torch.load, dill.loads, numpy.loads...)
[[nodiscard]] bool is_nested_deserializer(std::string_view module, std::string_view name);

}  // namespace stkit
