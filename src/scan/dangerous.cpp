// The dangerous-globals table and its matching rules (see stkit/scan/dangerous.hpp).
#include "stkit/scan/dangerous.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "stkit/pickle/allowlist.hpp"

namespace stkit {
namespace {

using enum danger_category;

struct entry {
    std::string_view path;  // dotted; matches itself and every path below it
    danger_category category;
    std::string_view reason;
};

// THE list. An entry naming a module covers everything in it; an entry naming a function covers
// only that function. Sorted by category for reading; lookups do not depend on the order.
constexpr entry dangerous_table[] = {
    // Code execution: evaluate source or code objects, or run modules/scripts.
    {"builtins.eval", code_execution, "evaluates Python source"},
    {"builtins.exec", code_execution, "executes Python source"},
    {"builtins.compile", code_execution, "compiles Python source"},
    {"builtins.execfile", code_execution, "executes a Python file"},
    {"runpy", code_execution, "runs modules and scripts"},
    {"code", code_execution, "interactive interpreter: runs source"},
    {"codeop", code_execution, "compiles Python source"},
    {"doctest", code_execution, "runs docstring examples as code"},
    {"pydoc", code_execution, "imports and runs modules by name (pipepager runs shell commands)"},
    {"timeit", code_execution, "executes the statement it is given"},
    {"cProfile", code_execution, "profiles (executes) the statement it is given"},
    {"profile", code_execution, "profiles (executes) the statement it is given"},
    {"trace", code_execution, "traces (executes) the code it is given"},
    {"numpy.testing", code_execution, "runstring executes source"},
    {"numpy.f2py", code_execution, "compiles and runs Fortran/C builds"},
    {"numpy.distutils", code_execution, "runs build commands"},
    {"torch._inductor", code_execution, "compiles and loads generated code"},
    {"torch._dynamo", code_execution, "traces and runs Python frames"},
    {"torch.jit", code_execution, "compiles and runs TorchScript"},
    {"torch.utils.cpp_extension", code_execution, "compiles and loads C++ extensions"},
    {"torch.hub", code_execution, "downloads and runs repository code"},
    {"torch.fx", code_execution, "generates and executes Python code"},
    {"torch.package", code_execution, "imports code from a package archive"},
    {"types.CodeType", code_execution, "builds code objects"},
    {"types.FunctionType", code_execution, "builds functions from code objects"},
    {"types.MethodType", code_execution, "binds callables"},
    {"keras.layers.Lambda", code_execution, "Lambda layer runs stored Python code"},
    {"tensorflow.python.ops.script_ops", code_execution, "py_func runs Python"},
    {"IPython", code_execution, "interactive shell runs code"},
    {"jinja2", code_execution, "template evaluation"},
    {"distutils", code_execution, "runs build commands"},
    {"setuptools", code_execution, "runs build commands"},
    {"idlelib", code_execution, "runs code through IDLE's interpreter"},
    {"antigravity", code_execution, "opens a web browser when imported"},
    // Processes and the operating system.
    {"os", process, "operating system calls (system, exec*, spawn*, popen)"},
    {"posix", process, "operating system calls (system, exec*)"},
    {"nt", process, "operating system calls (system, startfile)"},
    {"subprocess", process, "runs programs"},
    {"_posixsubprocess", process, "runs programs"},
    {"pty", process, "spawns programs on a terminal"},
    {"commands", process, "runs shell commands (Python 2)"},
    {"popen2", process, "runs programs (Python 2)"},
    {"platform.popen", process, "runs shell commands"},
    {"multiprocessing", process, "starts processes and unpickles from them"},
    {"concurrent.futures.process", process, "starts processes"},
    {"asyncio.subprocess", process, "runs programs"},
    {"asyncio.unix_events", process, "_UnixSubprocessTransport runs programs"},
    {"asyncio.windows_events", process, "runs programs"},
    {"asyncio.base_subprocess", process, "runs programs"},
    {"asyncio.base_events", process, "subprocess_exec/subprocess_shell run programs"},
    {"asyncio.events", process, "event loops run programs and callbacks"},
    {"asyncio.create_subprocess_exec", process, "runs programs"},
    {"asyncio.create_subprocess_shell", process, "runs shell commands"},
    {"signal", process, "installs signal handlers, sends signals"},
    {"uuid._get_command_stdout", process, "runs a program"},
    {"uuid._popen", process, "runs a program"},
    {"uuid", process, "helpers run programs (_get_command_stdout, _ifconfig_getnode...)"},
    {"sys", process, "interpreter state (modules, exit, settrace, path)"},
    {"atexit", process, "registers code to run at exit"},
    {"threading", process, "starts threads running callables"},
    {"_thread", process, "starts threads running callables"},
    {"resource", process, "changes process limits"},
    {"ctypes", native_code, "calls native functions"},
    {"_ctypes", native_code, "calls native functions"},
    {"cffi", native_code, "calls native functions"},
    {"torch.ops", native_code, "calls operators by name (including loaded libraries)"},
    {"torch.classes", native_code, "instantiates registered C++ classes"},
    {"torch._C", native_code, "calls PyTorch's C++ bindings"},
    // Files.
    {"builtins.open", file, "opens files for reading or writing"},
    {"io.open", file, "opens files"},
    {"io.FileIO", file, "opens files"},
    {"io.open_code", file, "opens files"},
    {"_io.FileIO", file, "opens files"},
    {"_io.open", file, "opens files"},
    {"_io.open_code", file, "opens files"},
    {"codecs.open", file, "opens files"},
    {"shutil", file, "copies, moves and removes files"},
    {"tempfile", file, "creates files"},
    {"pathlib", file, "reads, writes and removes files"},
    {"glob", file, "lists the file system"},
    {"fileinput", file, "reads files"},
    {"linecache", file, "reads files"},
    {"zipfile", file, "reads and writes archives"},
    {"tarfile", file, "extracts archives to disk"},
    {"logging.FileHandler", file, "writes files"},
    {"logging.handlers", network, "handlers write files and open sockets"},
    {"logging.config", code_execution, "listen/dictConfig can import and run code"},
    {"pandas.read_pickle", nested_deserialization, "unpickles a file"},
    {"pandas.read_csv", file, "reads files and URLs"},
    {"pandas.read_json", file, "reads files and URLs"},
    {"pandas.read_html", network, "reads files and URLs"},
    {"pandas.read_sql", network, "queries databases"},
    {"pandas.io", file, "readers and writers of files and URLs"},
    {"pandas.read_excel", file, "reads files"},
    {"pandas.read_parquet", file, "reads files"},
    {"pandas.read_hdf", file, "reads files"},
    {"pandas.read_table", file, "reads files and URLs"},
    {"pandas.read_fwf", file, "reads files and URLs"},
    {"pandas.read_xml", file, "reads files and URLs"},
    {"pandas.read_clipboard", process, "runs a clipboard program"},
    {"numpy.fromfile", file, "reads files"},
    {"numpy.memmap", file, "maps files"},
    {"numpy.savetxt", file, "writes files"},
    {"numpy.save", file, "writes files"},
    {"numpy.loadtxt", file, "reads files"},
    {"numpy.genfromtxt", file, "reads files"},
    {"torch.save", file, "writes files"},
    {"torch.from_file", file, "reads files"},
    // Network.
    {"socket", network, "opens network connections"},
    {"_socket", network, "opens network connections"},
    {"ssl", network, "opens network connections"},
    {"socketserver", network, "serves network connections"},
    {"http", network, "HTTP clients and servers"},
    {"urllib", network, "fetches URLs"},
    {"urllib2", network, "fetches URLs (Python 2)"},
    {"urllib3", network, "fetches URLs"},
    {"requests", network, "fetches URLs"},
    {"httpx", network, "fetches URLs"},
    {"aiohttp", network, "fetches URLs"},
    {"ftplib", network, "FTP client"},
    {"smtplib", network, "sends mail"},
    {"poplib", network, "mail client"},
    {"imaplib", network, "mail client"},
    {"telnetlib", network, "telnet client"},
    {"xmlrpc", network, "remote procedure calls"},
    {"webbrowser", network, "opens URLs by running a browser"},
    {"asyncio.open_connection", network, "opens network connections"},
    {"asyncio.start_server", network, "serves network connections"},
    {"asyncio.streams", network, "opens network connections"},
    {"asyncio.selector_events", network, "network transports"},
    {"asyncio.sslproto", network, "network transports"},
    {"asyncio.proactor_events", network, "network transports"},
    {"asyncio.runners", code_execution, "runs coroutines"},
    {"asyncio.tasks", code_execution, "runs coroutines"},
    {"torch.distributed", network, "opens network connections, runs remote calls"},
    // Import machinery and package installation.
    {"builtins.__import__", import_machinery, "imports any module"},
    {"importlib", import_machinery, "imports any module"},
    {"imp", import_machinery, "imports any module"},
    {"_imp", import_machinery, "imports any module"},
    {"zipimport", import_machinery, "imports code from archives"},
    {"pkgutil", import_machinery, "resolve_name/find_loader import any module"},
    {"pkg_resources", import_machinery, "loads entry points"},
    {"importlib.metadata", import_machinery, "loads entry points"},
    {"site", import_machinery, "runs .pth files, changes sys.path"},
    {"pip", import_machinery, "installs packages (pip.main, pip._internal)"},
    {"ensurepip", import_machinery, "installs packages"},
    {"venv", import_machinery, "creates environments and runs pip"},
    {"builtins.__loader__", import_machinery, "the import loader"},
    {"torch.serialization.load", nested_deserialization, "torch.load unpickles again"},
    {"torch.load", nested_deserialization, "torch.load unpickles again"},
    {"torch._weights_only_unpickler", nested_deserialization, "unpickles"},
    // Introspection: reach arbitrary attributes or callables from allowed ones.
    {"builtins.getattr", introspection, "fetches any attribute (getattr chains reach any callable)"},
    {"builtins.setattr", introspection, "changes any attribute"},
    {"builtins.delattr", introspection, "deletes any attribute"},
    {"builtins.globals", introspection, "exposes module globals"},
    {"builtins.locals", introspection, "exposes local variables"},
    {"builtins.vars", introspection, "exposes object namespaces"},
    {"builtins.dir", introspection, "lists attributes"},
    {"builtins.type", introspection, "builds classes"},
    {"builtins.object", introspection, "reaches __subclasses__"},
    {"builtins.super", introspection, "reaches parent attributes"},
    {"builtins.input", process, "reads the terminal"},
    {"builtins.help", code_execution, "pydoc imports modules by name"},
    {"builtins.memoryview", introspection, "raw memory access"},
    {"builtins.exit", process, "exits the process"},
    {"builtins.quit", process, "exits the process"},
    {"operator.attrgetter", introspection, "fetches any (dotted) attribute"},
    {"operator.itemgetter", introspection, "indexes any object"},
    {"operator.methodcaller", introspection, "calls any method by name"},
    {"_operator.attrgetter", introspection, "fetches any (dotted) attribute"},
    {"_operator.itemgetter", introspection, "indexes any object"},
    {"_operator.methodcaller", introspection, "calls any method by name"},
    {"functools.partial", introspection, "binds arguments to any callable"},
    {"functools.reduce", introspection, "calls any callable repeatedly"},
    {"_functools", introspection, "binds arguments to any callable"},
    {"inspect", introspection, "reaches frames, globals and source"},
    {"gc", introspection, "reaches every live object"},
    {"types", introspection, "builds functions, modules and classes"},
    {"copyreg._reconstructor", introspection, "instantiates any class"},
    {"copyreg.__newobj__", introspection, "instantiates any class"},
    {"copyreg.__newobj_ex__", introspection, "instantiates any class"},
    {"weakref", introspection, "reaches objects indirectly"},
    {"ast", code_execution, "literal_eval aside, compiles source trees"},
    {"dis", introspection, "reads code objects"},
    {"traceback", introspection, "reaches frames"},
    {"bdb", debugger, "debugger runs code"},
    {"pdb", debugger, "debugger runs code"},
    {"builtins.breakpoint", debugger, "starts a debugger"},
    {"faulthandler", debugger, "writes files, changes signal handling"},
    // Nested deserialization: the argument is a serialized object that runs code in turn.
    {"pickle", nested_deserialization, "unpickles again (loads, load, Unpickler)"},
    {"_pickle", nested_deserialization, "unpickles again"},
    {"cPickle", nested_deserialization, "unpickles again (Python 2)"},
    {"pickletools", nested_deserialization, "reads pickles"},
    {"shelve", nested_deserialization, "unpickles files"},
    {"dill", nested_deserialization, "unpickles again, serializes code"},
    {"cloudpickle", nested_deserialization, "unpickles again, serializes code"},
    {"joblib.load", nested_deserialization, "unpickles files"},
    {"joblib.numpy_pickle.load", nested_deserialization, "unpickles files"},
    {"marshal", nested_deserialization, "loads code objects"},
    {"numpy.load", nested_deserialization, "unpickles with allow_pickle"},
    {"numpy.loads", nested_deserialization, "unpickles"},
    {"numpy.core.multiarray.loads", nested_deserialization, "unpickles"},
    {"numpy.lib.npyio", nested_deserialization, "loads pickled arrays"},
    {"numpy.lib.format.read_array", nested_deserialization, "loads pickled arrays"},
    {"yaml.load", nested_deserialization, "unsafe YAML runs constructors"},
    {"yaml.unsafe_load", nested_deserialization, "unsafe YAML runs constructors"},
    {"yaml.full_load", nested_deserialization, "YAML with Python constructors"},
    {"jsonpickle", nested_deserialization, "decodes pickled objects"},
    {"keras.models.load_model", nested_deserialization, "loads models with Lambda code"},
    {"tensorflow.keras.models.load_model", nested_deserialization, "loads models with Lambda code"},
};

// Dunder attributes whose only use in a data file is reaching code or globals.
constexpr std::string_view introspection_dunders[] = {
    "__globals__", "__builtins__", "__subclasses__", "__code__", "__closure__", "__dict__",
    "__class__", "__bases__", "__mro__", "__base__", "__func__", "__self__", "__getattribute__",
    "__reduce__", "__reduce_ex__", "__init_subclass__", "__loader__", "__spec__", "__import__",
    "__call__", "__getattr__", "__setattr__", "__module__", "__qualname__", "__wrapped__",
};

constexpr std::string_view nested_deserializer_functions[] = {
    "pickle.loads", "pickle.load", "pickle._loads", "pickle._load", "pickle.Unpickler",
    "pickle._Unpickler", "_pickle.loads", "_pickle.load", "_pickle.Unpickler", "cPickle.loads",
    "dill.loads", "dill.load", "cloudpickle.loads", "cloudpickle.load", "torch.load",
    "torch.serialization.load", "torch.serialization._load", "numpy.loads",
    "numpy.core.multiarray.loads", "joblib.load", "marshal.loads", "jsonpickle.decode",
};

// Parts of a listed module that are plain tensor math, so a reference to them (or a call) reaches no
// code, file, process or network. torch._C._nn holds the native functional ops (gelu, linear,
// softplus, ...): `nn.TransformerEncoderLayer(activation="gelu")` stores `torch._C._nn.gelu` in the
// module's state, so whole-model pickles of common transformers name it. Without a table entry such
// a name is judged like any other global outside the allowlist (suspicious in a scan, refused by
// the restricted machine unless whole-model conversion holds it as an opaque, never-called value).
constexpr std::string_view harmless_inside_listed[] = {"torch._C._nn"};

// Only a function directly in such a module: one more component, not a dunder (an attribute path
// from there, `gelu.__self__.__loader__`, is judged by the whole table).
bool is_harmless_inside_listed(std::string_view dotted) {
    for (std::string_view harmless : harmless_inside_listed) {
        if (!dotted.starts_with(harmless) || dotted.size() <= harmless.size() + 1 || dotted[harmless.size()] != '.')
            continue;
        std::string_view function = dotted.substr(harmless.size() + 1);
        if (function.find('.') == std::string_view::npos && !function.starts_with("__")) return true;
    }
    return false;
}

std::vector<std::string> components_of(std::string_view module, std::string_view name) {
    std::vector<std::string> parts;
    std::string full = std::string(module) + "." + std::string(name);
    std::size_t start = 0;
    while (start <= full.size()) {
        std::size_t dot = full.find('.', start);
        if (dot == std::string::npos) dot = full.size();
        parts.emplace_back(full.substr(start, dot - start));
        start = dot + 1;
    }
    return parts;
}

const entry* lookup(std::string_view path) {
    for (const entry& e : dangerous_table)
        if (e.path == path) return &e;
    return nullptr;
}

// The most specific table entry that equals a dotted prefix of parts[first..].
const entry* match_prefix(const std::vector<std::string>& parts, std::size_t first) {
    const entry* best = nullptr;
    std::string path;
    for (std::size_t i = first; i < parts.size(); ++i) {
        if (i > first) path += '.';
        path += parts[i];
        if (const entry* e = lookup(path)) best = e;
    }
    return best;
}

}  // namespace

std::string_view danger_category_name(danger_category category) noexcept {
    switch (category) {
        case code_execution: return "code-execution";
        case process: return "process";
        case file: return "file";
        case network: return "network";
        case import_machinery: return "import-machinery";
        case introspection: return "introspection";
        case native_code: return "native-code";
        case nested_deserialization: return "nested-deserialization";
        case debugger: return "debugger";
    }
    return "code-execution";
}

std::optional<danger_match> classify_dangerous(std::string_view module, std::string_view name) {
    auto [py3_module, py3_name] = pickle::python3_name(module, name);
    std::vector<std::string> parts = components_of(py3_module, py3_name);
    bool harmless = is_harmless_inside_listed(std::string(py3_module) + "." + std::string(py3_name));
    if (const entry* e = harmless ? nullptr : match_prefix(parts, 0))
        return danger_match{e->category, std::string(e->path), e->reason};
    for (const std::string& part : parts) {
        // `python -m pkg` modules: importing one runs its program (venv, unittest, tkinter...).
        if (part == "__main__") return danger_match{code_execution, part, "a __main__ module runs its program when imported"};
        if (std::find(std::begin(introspection_dunders), std::end(introspection_dunders), part) !=
            std::end(introspection_dunders))
            return danger_match{introspection, part, "reaches code or globals through a dunder attribute"};
    }
    // An attribute path that reaches a dangerous module from a harmless one ("posixpath" +
    // "os.system", "torch" + "serialization.load" is handled above): try every later start.
    for (std::size_t first = 1; first < parts.size(); ++first) {
        // Python 2 spellings inside the path too ("__builtin__.eval").
        std::vector<std::string> renamed = parts;
        if (renamed[first] == "__builtin__") renamed[first] = "builtins";
        if (const entry* e = match_prefix(renamed, first))
            return danger_match{e->category, std::string(e->path), e->reason};
    }
    return std::nullopt;
}

std::optional<dangerous_import> first_dangerous_import(const pickle::pickle_run& run) {
    for (const pickle::event& seen : run.events) {
        if (seen.kind != pickle::event_kind::import ||
            pickle::classify_global(seen.module, seen.name) != pickle::allowed_global::not_allowed)
            continue;
        if ((seen.module == "copyreg" && seen.name == "_reconstructor") ||
            (seen.module == "builtins" && seen.name == "object"))
            continue;
        std::optional<danger_match> match;
        if (seen.module == "__main__") {
            // "Net", or a dotted qualname ("os.system" reached through the script's globals).
            std::size_t dot = seen.name.find('.');
            match = dot == std::string::npos
                        ? classify_dangerous(seen.name, "")
                        : classify_dangerous(seen.name.substr(0, dot), seen.name.substr(dot + 1));
        } else {
            match = classify_dangerous(seen.module, seen.name);
        }
        if (match) return dangerous_import{std::move(*match), seen.module + "." + seen.name, seen.offset};
    }
    return std::nullopt;
}

bool is_nested_deserializer(std::string_view module, std::string_view name) {
    auto [py3_module, py3_name] = pickle::python3_name(module, name);
    std::string full = py3_module + "." + py3_name;
    return std::find(std::begin(nested_deserializer_functions),
                     std::end(nested_deserializer_functions),
                     std::string_view(full)) != std::end(nested_deserializer_functions);
}

}  // namespace stkit
