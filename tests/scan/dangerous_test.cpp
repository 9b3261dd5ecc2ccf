// The dangerous list: every gadget the issue names is classified with its category; allowlisted
// and unknown-but-harmless globals are not; dotted names are checked component by component.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "stkit/scan/dangerous.hpp"

namespace stkit {
namespace {

struct gadget {
    const char* module;
    const char* name;
    danger_category category;
};

TEST(dangerous, every_named_gadget_is_classified) {
    using enum danger_category;
    const gadget gadgets[] = {
        {"os", "system", process}, {"posix", "system", process}, {"nt", "system", process},
        {"subprocess", "Popen", process}, {"builtins", "eval", code_execution},
        {"builtins", "exec", code_execution}, {"builtins", "compile", code_execution},
        {"builtins", "open", file}, {"builtins", "getattr", introspection},
        {"builtins", "__import__", import_machinery}, {"builtins", "breakpoint", debugger},
        {"runpy", "run_path", code_execution}, {"pty", "spawn", process}, {"socket", "create_connection", network},
        {"ssl", "wrap_socket", network}, {"webbrowser", "open", network}, {"shutil", "rmtree", file},
        {"ctypes", "CDLL", native_code}, {"importlib", "import_module", import_machinery},
        {"inspect", "getmembers", introspection}, {"operator", "attrgetter", introspection},
        {"operator", "itemgetter", introspection}, {"operator", "methodcaller", introspection},
        {"functools", "partial", introspection}, {"code", "InteractiveInterpreter", code_execution},
        {"doctest", "debug_script", code_execution}, {"pydoc", "pipepager", code_execution},
        {"venv", "create", import_machinery}, {"cProfile", "run", code_execution},
        {"profile", "run", code_execution}, {"trace", "Trace", code_execution}, {"timeit", "timeit", code_execution},
        {"uuid", "_get_command_stdout", process}, {"logging.handlers", "SocketHandler", network},
        {"logging.config", "listen", code_execution}, {"_io", "FileIO", file}, {"io", "open", file},
        {"torch.serialization", "load", nested_deserialization}, {"torch._inductor.codecache", "compile_file", code_execution},
        {"torch._dynamo.eval_frame", "innermost_fn", code_execution},
        {"numpy.testing._private.utils", "runstring", code_execution}, {"pandas.io.pickle", "read_pickle", file},
        {"pandas", "read_pickle", nested_deserialization}, {"multiprocessing.util", "spawnv_passfds", process},
        {"pip", "main", import_machinery}, {"pip._internal.cli.main", "main", import_machinery},
        {"pkgutil", "resolve_name", import_machinery}, {"asyncio.unix_events", "_UnixSubprocessTransport", process},
        {"sys", "modules", process}, {"marshal", "loads", nested_deserialization},
        {"pickle", "loads", nested_deserialization}, {"_pickle", "loads", nested_deserialization},
        {"dill", "loads", nested_deserialization}, {"cloudpickle", "loads", nested_deserialization},
        {"types", "CodeType", code_execution}, {"types", "FunctionType", code_execution},
        {"bdb", "Bdb", debugger}, {"pdb", "run", debugger}, {"_posixsubprocess", "fork_exec", process},
        {"signal", "signal", process}, {"tempfile", "mkstemp", file}, {"http.client", "HTTPConnection", network},
        {"urllib.request", "urlopen", network}, {"requests", "get", network}, {"ftplib", "FTP", network},
        {"smtplib", "SMTP", network},
    };
    for (const gadget& g : gadgets) {
        auto match = classify_dangerous(g.module, g.name);
        ASSERT_TRUE(match.has_value()) << g.module << "." << g.name;
        EXPECT_EQ(match->category, g.category) << g.module << "." << g.name << " matched " << match->matched;
        EXPECT_FALSE(match->reason.empty());
    }
}

TEST(dangerous, dotted_names_and_python2_spellings) {
    // An attribute path that reaches a dangerous module from a harmless one.
    auto through = classify_dangerous("posixpath", "os.system");
    ASSERT_TRUE(through.has_value());
    EXPECT_EQ(through->category, danger_category::process);
    EXPECT_EQ(through->matched, "os");
    auto qualname = classify_dangerous("torch", "serialization.load");
    ASSERT_TRUE(qualname.has_value());
    EXPECT_EQ(qualname->category, danger_category::nested_deserialization);
    auto python2 = classify_dangerous("__builtin__", "eval");
    ASSERT_TRUE(python2.has_value());
    EXPECT_EQ(python2->matched, "builtins.eval");
    auto dunder = classify_dangerous("builtins", "object.__subclasses__");
    ASSERT_TRUE(dunder.has_value());
    EXPECT_EQ(dunder->category, danger_category::introspection);
    // A module entry covers its submodules; a function entry only itself.
    EXPECT_TRUE(classify_dangerous("os.path", "join").has_value());
    EXPECT_FALSE(classify_dangerous("builtins", "evaluate").has_value());
    EXPECT_FALSE(classify_dangerous("osx", "system").has_value());
    // Native functional ops are tensor math; the rest of torch._C stays listed.
    EXPECT_FALSE(classify_dangerous("torch._C._nn", "gelu").has_value());
    EXPECT_TRUE(classify_dangerous("torch._C", "_nnx").has_value());
    EXPECT_TRUE(classify_dangerous("torch._C", "_jit_script_compile").has_value());
    EXPECT_TRUE(classify_dangerous("torch._C._nn.gelu", "__globals__").has_value());
    EXPECT_TRUE(classify_dangerous("torch._C._nn", "gelu.__self__.__loader__").has_value());
    EXPECT_TRUE(classify_dangerous("torch._C._nn", "__loader__").has_value());
}

TEST(dangerous, data_globals_are_not_listed) {
    const std::pair<const char*, const char*> harmless[] = {
        {"collections", "OrderedDict"}, {"torch._utils", "_rebuild_tensor_v2"}, {"torch", "FloatStorage"},
        {"numpy.core.multiarray", "_reconstruct"}, {"numpy", "dtype"}, {"mylib.models", "Net"},
        {"builtins", "set"}, {"_codecs", "encode"}, {"joblib.numpy_pickle", "NumpyArrayWrapper"},
    };
    for (auto [module, name] : harmless) EXPECT_FALSE(classify_dangerous(module, name).has_value()) << module << "." << name;
}

TEST(dangerous, nested_deserializers) {
    EXPECT_TRUE(is_nested_deserializer("pickle", "loads"));
    EXPECT_TRUE(is_nested_deserializer("_pickle", "loads"));
    EXPECT_TRUE(is_nested_deserializer("torch", "load"));
    EXPECT_TRUE(is_nested_deserializer("marshal", "loads"));
    EXPECT_TRUE(is_nested_deserializer("dill", "loads"));
    EXPECT_TRUE(is_nested_deserializer("cPickle", "loads"));
    EXPECT_FALSE(is_nested_deserializer("os", "system"));
    EXPECT_FALSE(is_nested_deserializer("pickle", "dumps"));
}

TEST(dangerous, category_names_are_distinct) {
    std::set<std::string_view> names;
    for (int i = 0; i <= static_cast<int>(danger_category::debugger); ++i)
        EXPECT_TRUE(names.insert(danger_category_name(static_cast<danger_category>(i))).second);
}

// What the converter refuses in a whole model, and what keeps one from being merely suspicious.
std::optional<dangerous_import> dangerous_in(const std::string& pickle_text) {
    pickle::machine_options options;
    options.whole_model = true;
    std::vector<std::byte> bytes(pickle_text.size());
    std::memcpy(bytes.data(), pickle_text.data(), bytes.size());
    auto run = pickle::run_pickle(bytes, options);
    EXPECT_TRUE(run.ok()) << run.error().to_string();
    return run.ok() ? first_dangerous_import(*run) : std::nullopt;
}

TEST(dangerous, whole_model_imports) {
    // A class of the loading script, created as protocols 0/1 do: copyreg._reconstructor and
    // builtins.object are listed for other uses, and __main__ is the program itself.
    EXPECT_FALSE(dangerous_in("ccopy_reg\n_reconstructor\n(c__main__\nNet\nc__builtin__\nobject\nNtR."));
    EXPECT_FALSE(dangerous_in("\x80\x02" "cmylib.models\nNet\n)\x81."));
    // A dangerous class, or a dangerous name reached through __main__, is named with its offset.
    auto popen = dangerous_in("\x80\x02(csubprocess\nPopen\n)\x81" "csubprocess\nPopen\nl.");
    ASSERT_TRUE(popen.has_value());
    EXPECT_EQ(popen->global, "subprocess.Popen");
    EXPECT_EQ(popen->offset, 3u);
    EXPECT_EQ(popen->match.category, danger_category::process);
    auto reconstructed = dangerous_in("ccopy_reg\n_reconstructor\n(csubprocess\nPopen\nc__builtin__\nobject\nNtR.");
    ASSERT_TRUE(reconstructed.has_value());
    EXPECT_EQ(reconstructed->global, "subprocess.Popen");
    auto through_main = dangerous_in("\x80\x02" "c__main__\nos.system\n.");
    ASSERT_TRUE(through_main.has_value());
    EXPECT_EQ(through_main->global, "__main__.os.system");
    auto dunder = dangerous_in("\x80\x02" "c__main__\n__builtins__\n.");
    EXPECT_TRUE(dunder.has_value());
    // Referenced, not called: still a global the list names.
    EXPECT_TRUE(dangerous_in("\x80\x02(cposix\nsystem\nl."));
}

}  // namespace
}  // namespace stkit
