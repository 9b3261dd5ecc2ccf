// Whole-model mode: exactly the shapes pickle uses for plain objects (NEWOBJ cls (), BUILD dict;
// copyreg._reconstructor(cls, builtins.object, None); legacy ('module', cls, file, source)
// persistent ids) make objects; every other use of an opaque class is refused, naming it.
// Hand-made pickles, one construct each (real torch.save files: tests/convert/test_whole_model.py).
#include "support.hpp"

namespace stkit::test {
namespace {

using pickle::node_kind;

// Opcode spellings, protocol 2 unless noted.
const std::string proto2 = "\x80\x02";
std::string global(std::string_view module, std::string_view name) {
    return "c" + std::string(module) + "\n" + std::string(name) + "\n";
}
std::string text(std::string_view value) {  // SHORT_BINUNICODE (the machine reads any protocol's)
    return "\x8c" + std::string(1, static_cast<char>(value.size())) + std::string(value);
}
const std::string net = global("__main__", "Net");
const std::string state = "}" + text("training") + "\x88" + "s";  // {"training": True}

pickle::machine_options whole_model() {
    pickle::machine_options options;
    options.whole_model = true;
    return options;
}

result<pickle::pickle_run> run(const std::string& pickle, pickle::machine_options options = whole_model()) {
    return pickle::run_pickle(to_bytes(pickle), options);
}

void expect_refusal(const std::string& pickle, error_code code, const std::string& name) {
    auto refused = run(pickle);
    ASSERT_FALSE(refused.ok()) << name;
    EXPECT_EQ(error_code_name(refused.error().code), error_code_name(code)) << name;
    EXPECT_EQ(refused.error().name, name);
    EXPECT_TRUE(refused.error().has_offset()) << name;
}

TEST(PickleWholeModel, NewobjThenBuildMakesAnObject) {
    auto made = run(proto2 + net + ")\x81" + state + "b.");
    ASSERT_TRUE(made.ok()) << made.error().to_string();
    const pickle::node& object = made->nodes[made->root];
    ASSERT_EQ(object.kind, node_kind::object);
    ASSERT_EQ(object.items.size(), 2u);
    EXPECT_EQ(made->nodes[object.items[0]].text, "__main__");
    EXPECT_EQ(made->nodes[object.items[0]].name, "Net");
    EXPECT_EQ(made->nodes[object.items[1]].kind, node_kind::dict);
    // Without the option the class is refused where it is named, as before.
    auto refused = run(proto2 + net + ")\x81" + state + "b.", {});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, error_code::pk_global_refused);
    EXPECT_EQ(refused.error().offset, 2u);
}

TEST(PickleWholeModel, ReconstructorOfProtocolsZeroAndOne) {
    std::string call = global("copy_reg", "_reconstructor") + "(" + net + global("__builtin__", "object") + "NtR";
    auto made = run(call + state + "b.");
    ASSERT_TRUE(made.ok()) << made.error().to_string();
    EXPECT_EQ(made->nodes[made->root].kind, node_kind::object);
    // Any other base would run its __init__ with the state.
    expect_refusal(global("copyreg", "_reconstructor") + "(" + net + global("builtins", "dict") + "NtR.",
                   error_code::pk_call_refused, "copyreg._reconstructor");
    expect_refusal(global("copyreg", "_reconstructor") + "(" + net + global("builtins", "object") + "}tR.",
                   error_code::pk_call_refused, "copyreg._reconstructor");
}

TEST(PickleWholeModel, EveryOtherUseOfAClassIsRefused) {
    // Called with REDUCE: its __init__ (or whatever it is) would run.
    expect_refusal(proto2 + net + ")R.", error_code::pk_call_refused, "__main__.Net");
    expect_refusal(proto2 + global("posix", "system") + text("touch x") + "\x85R.", error_code::pk_call_refused,
                   "posix.system");
    // NEWOBJ with arguments, NEWOBJ_EX, INST, OBJ.
    expect_refusal(proto2 + net + text("x") + "\x85\x81.", error_code::pk_call_refused, "__main__.Net");
    expect_refusal(proto2 + net + ")}\x92.", error_code::pk_call_refused, "__main__.Net");
    expect_refusal("(i__main__\nNet\n.", error_code::pk_call_refused, "__main__.Net");
    expect_refusal(proto2 + "(" + net + "o.", error_code::pk_call_refused, "__main__.Net");
    // An allowlisted callable or a creation helper is not a class to instantiate.
    expect_refusal(proto2 + global("collections", "OrderedDict") + ")\x81.", error_code::pk_call_refused,
                   "collections.OrderedDict");
    expect_refusal(proto2 + global("builtins", "object") + ")\x81.", error_code::pk_call_refused, "builtins.object");
    // Items added to an instance run its own __setitem__ / append.
    expect_refusal(proto2 + net + ")\x81(" + text("k") + "Nu.", error_code::pk_call_refused, "__main__.Net");
    expect_refusal(proto2 + net + ")\x81Na.", error_code::pk_call_refused, "__main__.Net");
    // BUILD: a dict, once (anything else would go to a __setstate__).
    expect_refusal(proto2 + net + ")\x81" + state + "b" + state + "b.", error_code::pk_build_refused, "__main__.Net");
    expect_refusal(proto2 + net + ")\x81N}\x86" "b.", error_code::pk_build_refused, "__main__.Net");
}

TEST(PickleWholeModel, LegacyModulePersistentIdIsItsClass) {
    std::string pid = "(" + text("module") + net + "NNt";
    auto made = run(proto2 + pid + "Q)\x81" + state + "b.");
    ASSERT_TRUE(made.ok()) << made.error().to_string();
    EXPECT_EQ(made->nodes[made->root].kind, node_kind::object);
    // Only a class: anything else in that place is still not a storage.
    expect_refusal(proto2 + "(" + text("module") + global("collections", "OrderedDict") + "NNtQ.",
                   error_code::pk_persistent_id_refused, "");
}

TEST(PickleWholeModel, SetIsAllowlisted) {
    // Protocol 2 spells a set as builtins.set([items]): a module's _non_persistent_buffers_set.
    auto made = run(proto2 + global("__builtin__", "set") + "]" + text("cache") + "a\x85R.", {});
    ASSERT_TRUE(made.ok()) << made.error().to_string();
    const pickle::node& set = made->nodes[made->root];
    ASSERT_EQ(set.kind, node_kind::set);
    ASSERT_EQ(set.items.size(), 1u);
    EXPECT_EQ(made->nodes[set.items[0]].text, "cache");
    expect_refusal(proto2 + global("builtins", "set") + "K\x01\x85R.", error_code::pk_call_refused, "builtins.set");
}

}  // namespace
}  // namespace stkit::test
