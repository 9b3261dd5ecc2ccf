// The reachability interpreter: the imports CPython's unpickler performs on the object pickles of
// fixtures.py, and hand-made streams for each place where the C and pure-Python unpicklers differ
// (frames, last lines without a newline, INST without MARK), for what stops a load and what does
// not, reading on after STOP, staged payloads and every limit set to 1.
#include "support.hpp"

#include <set>

#include "pickle/text.hpp"
#include "stkit/pickle/reach.hpp"

namespace stkit::test {
namespace {

using pickle::reach_analyse;
using pickle::reach_divergence_kind;
using pickle::reach_options;
using pickle::reach_reading;
using pickle::reach_result;

reach_result analyse(std::string_view data, const reach_options& options = {}) {
    auto bytes = to_bytes(data);
    return reach_analyse(bytes, options);
}

std::set<std::string> imported(const reach_result& r, std::optional<reach_reading> reading = std::nullopt) {
    std::set<std::string> names;
    for (const auto& seen : r.imports)
        if (!reading || seen.reading == *reading) names.insert(seen.module + "." + seen.name);
    return names;
}

bool has_divergence(const reach_result& r, reach_divergence_kind kind) {
    for (const auto& d : r.divergences)
        if (d.kind == kind) return true;
    return false;
}

const std::string os_system = literal("cos\nsystem\n");

TEST(PickleReach, ImportsWhatCPythonImports) {
    std::size_t checked = 0;
    for (const auto& entry : manifest().at("events")) {
        std::string file = entry.at("file");
        auto data = fixture(file);
        reach_result r = reach_analyse(data);
        std::set<std::string> want;
        std::map<std::string, uint64_t> first_offset;
        for (const auto& e : entry.at("events")) {
            if (e[0] != "import" && e[0] != "extension") continue;
            std::string global = e[1].get<std::string>() + "." + e[2].get<std::string>();
            want.insert(global);
            first_offset.emplace(global, e[3].get<uint64_t>());
        }
        EXPECT_EQ(imported(r), want) << file;
        for (const auto& seen : r.imports) {
            auto found = first_offset.find(seen.module + "." + seen.name);
            if (found != first_offset.end()) {
                EXPECT_EQ(seen.offset, found->second) << file;
            }
        }
        ASSERT_FALSE(r.pickles.empty());
        EXPECT_TRUE(r.pickles.front().stopped) << file;
        EXPECT_EQ(r.pickles.front().end, data.size()) << file;
        checked += want.size();
    }
    EXPECT_GT(checked, 20u);
}

TEST(PickleReach, CallsOfNonAllowlistedGlobalsWithTheirTextArgument) {
    auto r = analyse(literal("\x80\x02") + os_system + literal("X\x04\x00\x00\x00true\x85R."));
    ASSERT_EQ(r.imports.size(), 1u);
    EXPECT_TRUE(r.imports[0].called);
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_EQ(r.calls[0].offset, 23u);  // the REDUCE
    ASSERT_TRUE(r.calls[0].first_text);
    EXPECT_EQ(*r.calls[0].first_text, "true");
    // Calls of allowlisted globals are what checkpoints are made of: not recorded.
    auto od = analyse(literal("\x80\x02\x63\x63ollections\nOrderedDict\n)R."));
    EXPECT_TRUE(od.calls.empty());
    EXPECT_TRUE(od.imports.at(0).called);
}

TEST(PickleReach, TextOpcodesWithoutProtoAndWithoutStop) {
    // GLOBAL + STRING + TUPLE1 + REDUCE, no PROTO, no STOP: CPython imports, calls, then fails.
    auto r = analyse(os_system + "S'id'\n" + literal("\x85R"));
    EXPECT_EQ(imported(r), std::set<std::string>{"os.system"});
    EXPECT_TRUE(r.imports[0].called);
    EXPECT_FALSE(r.pickles.front().stopped);
    EXPECT_EQ(r.pickles.front().failure, error_code::pk_truncated);
}

TEST(PickleReach, LastLineWithoutNewline) {
    // pickle.py's readline() returns the rest and the caller drops its last byte: "cos\nsystemX"
    // imports os (the name "system"), the C unpickler refuses before importing.
    auto lenient = analyse(literal("cos\nsystemX"));
    EXPECT_EQ(imported(lenient), std::set<std::string>{"os.system"});
    reach_options strict;
    strict.python_leniency = false;
    EXPECT_TRUE(analyse(literal("cos\nsystemX"), strict).imports.empty());
    // The module line itself at the end: "cantigravity!" imports antigravity with an empty name.
    EXPECT_EQ(imported(analyse("cantigravity!")), std::set<std::string>{"antigravity."});
    // Not a module name: nothing is imported.
    EXPECT_TRUE(analyse("cwhat ever\nname\n").imports.empty());
    EXPECT_TRUE(analyse("c\nname\n").imports.empty());
}

TEST(PickleReach, InstImportsBeforeLookingForItsMark) {
    auto r = analyse(literal("ios\nsystem\n"));  // pickle.py imports, then finds no MARK
    EXPECT_EQ(imported(r), std::set<std::string>{"os.system"});
    reach_options strict;
    strict.python_leniency = false;  // C looks for the MARK first
    EXPECT_TRUE(analyse(literal("ios\nsystem\n"), strict).imports.empty());
    auto with_mark = analyse(literal("(S'id'\nios\nsystem\n."));
    ASSERT_EQ(with_mark.imports.size(), 1u);
    EXPECT_TRUE(with_mark.imports[0].called);
    EXPECT_TRUE(with_mark.pickles.front().stopped);
}

TEST(PickleReach, ProtocolTwoRenames) {
    auto r = analyse(literal("c__builtin__\neval\n."));
    EXPECT_EQ(imported(r), std::set<std::string>{"builtins.eval"});
    auto p3 = analyse(literal("\x80\x03\x63__builtin__\neval\n."));
    EXPECT_EQ(imported(p3), std::set<std::string>{"__builtin__.eval"});
}

TEST(PickleReach, StackGlobalFromMemoAndFromEightBitStrings) {
    auto memo = analyse(literal("\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93."));
    EXPECT_EQ(imported(memo), std::set<std::string>{"os.system"});
    // SHORT_BINSTRING values are str under the default encodings.
    auto str8 = analyse(literal("\x80\x02U\x02osU\x06system\x93."));
    EXPECT_EQ(imported(str8), std::set<std::string>{"os.system"});
    // bytes are not: C and pickle.py both refuse.
    EXPECT_TRUE(analyse(literal("\x80\x04\x43\x02os\x43\x06system\x93.")).imports.empty());
    // Names made by a call: known only at run time.
    auto computed = analyse(literal("\x80\x04\x8c\x02os\x8c\x06getcwd\x93)R\x8c\x01x\x93."));
    bool found = false;
    for (const auto& seen : computed.imports) found = found || seen.computed;
    EXPECT_TRUE(found);
}

TEST(PickleReach, ExtensionCodes) {
    auto ext1 = analyse(literal("\x80\x02\x82\x05)R."));
    ASSERT_EQ(ext1.imports.size(), 1u);
    EXPECT_TRUE(ext1.imports[0].extension);
    EXPECT_EQ(ext1.imports[0].name, "extension 5");
    EXPECT_TRUE(ext1.imports[0].called);
    auto ext4 = analyse(literal("\x80\x02\x84\xff\xff\xff\x7f."));
    EXPECT_EQ(ext4.imports.at(0).name, "extension 2147483647");
    // Code 0 and negative EXT4 codes are refused before any lookup.
    EXPECT_TRUE(analyse(literal("\x80\x02\x82\x00.")).imports.empty());
    EXPECT_TRUE(analyse(literal("\x80\x02\x84\x00\x00\x00\x80.")).imports.empty());
}

TEST(PickleReach, WhatStopsALoad) {
    struct stop {
        const char* label;
        std::string data;
        error_code code;
    };
    const stop cases[] = {
        {"unknown opcode", literal("\xff") + os_system, error_code::pk_unknown_opcode},
        {"append to a dict", literal("}K\x01\x61") + os_system, error_code::pk_invalid_operand},
        {"setitem on a tuple", literal(")K\x01K\x02s") + os_system, error_code::pk_invalid_operand},
        {"unhashable dict key", literal("}]K\x01s") + os_system, error_code::pk_invalid_operand},
        {"additems on a frozenset", literal("(\x91(K\x01\x90") + os_system, error_code::pk_invalid_operand},
        {"build a list from a dict", literal("]}b") + os_system, error_code::pk_invalid_operand},
        {"reduce an int", literal("K\x01)R") + os_system, error_code::pk_call_refused},
        {"newobj of a str", literal("\x8c\x01x)\x81") + os_system, error_code::pk_call_refused},
        {"stop on an empty stack", literal(".") + os_system, error_code::pk_stack_underflow},
        {"pop of nothing", literal("0") + os_system, error_code::pk_stack_underflow},
        {"tuple past a mark", literal("K\x01(\x85") + os_system, error_code::pk_stack_underflow},
        {"memo miss", literal("h\x05") + os_system, error_code::pk_memo_missing},
        {"protocol 6", literal("\x80\x06") + os_system, error_code::pk_invalid_protocol},
        {"out-of-band buffer", literal("\x97") + os_system, error_code::pk_invalid_operand},
        {"unquoted STRING", "Sabc\n" + os_system, error_code::pk_invalid_string},
        {"INT that is not one", "Inope\n" + os_system, error_code::pk_invalid_operand},
        {"negative LONG4 count", literal("\x8b\xff\xff\xff\xff") + os_system, error_code::pk_invalid_operand},
    };
    for (const auto& c : cases) {
        auto r = analyse(c.data);
        EXPECT_TRUE(r.imports.empty()) << c.label;
        ASSERT_FALSE(r.pickles.empty()) << c.label;
        EXPECT_EQ(error_code_name(r.pickles.front().failure), error_code_name(c.code)) << c.label;
    }
}

TEST(PickleReach, WhatDoesNotStopALoad) {
    // Each prefix is accepted by at least one of the unpicklers, so the GLOBAL after it is reached.
    const std::pair<const char*, std::string> cases[] = {
        {"POP of a MARK", literal("(0")},
        {"APPENDS with nothing after its MARK, on an int (C returns early)", literal("K\x01(e0")},
        {"SETITEM on a list", literal("]K\x00\x61K\x00K\x01s0")},
        {"text persistent id (an application's persistent_load)", literal("Pa\n0")},
        {"binary persistent id of an int", literal("K\x01Q0")},
        {"BUILD with a None state on a list", literal("]Nb0")},
        {"INT in C's octal", "I010\n0"},
        {"INT with a NUL after the digits", literal("I12\x00x\n0")},
        {"INT with underscores (pickle.py)", "I1_000\n0"},
        {"FLOAT overflowing (pickle.py: inf)", "F1e999\n0"},
        {"FLOAT with spaces (pickle.py)", "F 1.5 \n0"},
        {"LONG with its L", "L12345678901234567890L\n0"},
        {"STRING with escapes", "S'a\\x41\\n'\n0"},
        {"UNICODE with an escape", "V\\u00e9\n0"},
        {"BINSTRING of 8-bit bytes", literal("T\x02\x00\x00\x00\xff\xfe" "0")},
        {"READONLY_BUFFER on bytes", literal("C\x01x\x98" "0")},
        {"PUT of a key beyond 64 bits (pickle.py)", "N" "p123456789012345678901234567890\n0"},
        {"BINPUT far away", literal("NrAAAA0")},
    };
    for (const auto& [label, prefix] : cases) {
        auto r = analyse(prefix + os_system + ".");
        EXPECT_EQ(imported(r), std::set<std::string>{"os.system"}) << label;
        EXPECT_TRUE(r.pickles.front().stopped) << label << ": " << error_code_name(r.pickles.front().failure);
    }
}

TEST(PickleReach, ReduceArgumentsMustBeIterable) {
    auto none = analyse(literal("\x80\x02") + os_system + literal("NR") + "cposix\nsystem\n.");
    EXPECT_EQ(imported(none), std::set<std::string>{"os.system"});  // imported, never called
    EXPECT_FALSE(none.imports.at(0).called);
    EXPECT_EQ(none.pickles.front().failure, error_code::pk_call_refused);
    // pickle.py calls f(*args) with any iterable, a list or a str included.
    auto list = analyse(literal("\x80\x02") + os_system + literal("]R."));
    EXPECT_TRUE(list.imports.at(0).called);
    EXPECT_TRUE(list.pickles.front().stopped);
}

TEST(PickleReach, PicklesAfterStopAreRead) {
    auto r = analyse(literal("\x80\x02}.") + literal("\x80\x02") + os_system + ")R.");
    // A new unpickler per load, and one Unpickler object loading twice: the same import.
    ASSERT_EQ(r.imports.size(), 2u);
    for (const auto& seen : r.imports) {
        EXPECT_EQ(seen.pickle_index, 1u);
        EXPECT_EQ(seen.offset, 6u);
    }
    EXPECT_NE(r.imports[0].reused, r.imports[1].reused);
    ASSERT_EQ(r.pickles.size(), 3u);
    reach_options once;
    once.read_on = false;
    EXPECT_TRUE(analyse(literal("\x80\x02}.") + os_system + ")R.", once).imports.empty());
}

TEST(PickleReach, OneUnpicklerKeepsItsMemoFromLoadToLoad) {
    // Load 0 memoizes "os" and "system"; load 1 fetches them for STACK_GLOBAL. A new unpickler per
    // load has nothing in its memo and stops; one Unpickler object called twice imports os.system.
    std::string first = literal("\x80\x04\x8c\x02os\x94\x8c\x06system\x94N.");
    std::string second = literal("\x80\x04h\x00h\x01\x93)R.");
    auto r = analyse(first + second);
    ASSERT_EQ(r.imports.size(), 1u);
    EXPECT_TRUE(r.imports[0].reused);
    EXPECT_EQ(r.imports[0].module + "." + r.imports[0].name, "os.system");
    EXPECT_EQ(r.imports[0].pickle_index, 1u);
    EXPECT_TRUE(r.imports[0].called);
}

// A frame whose SHORT_BINUNICODE operand runs 2 bytes past the frame's end. Read sequentially the
// operand takes "XYAB" and the next opcode 'C' swallows the GLOBAL as bytes; the C unpickler reading
// a file without peek() takes the operand from after the frame ("ABCD") and runs the GLOBAL.
std::string crossing_frame() {
    std::string frame = literal("\x8c\x04XY");
    std::string after = "ABCD" + os_system + literal("X\x02\x00\x00\x00hi\x85R.");
    std::string data = literal("\x80\x04\x95") + std::string(1, static_cast<char>(frame.size())) +
                       std::string(7, '\0') + frame + after;
    data += std::string(70, 'Z');
    return data;
}

TEST(PickleReach, OperandAcrossAFrameEndIsReadBothWays) {
    auto r = analyse(crossing_frame());
    EXPECT_TRUE(has_divergence(r, reach_divergence_kind::operand_crosses_frame));
    EXPECT_TRUE(imported(r, reach_reading::sequential).empty());
    EXPECT_EQ(imported(r, reach_reading::frame_buffered), std::set<std::string>{"os.system"});
    EXPECT_TRUE(r.imports.at(0).called);
    // The sequential reading keeps the swallowed GLOBAL as a bytes value: a staged candidate.
    EXPECT_FALSE(r.staged.empty());
    reach_options one_reading;
    one_reading.frame_buffered = false;
    EXPECT_TRUE(analyse(crossing_frame(), one_reading).imports.empty());
}

TEST(PickleReach, FrameInsideAFrameAndStopInsideAFrame) {
    std::string inner = literal("\x95\x01\x00\x00\x00\x00\x00\x00\x00N.");
    std::string nested = literal("\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00") + inner;
    EXPECT_TRUE(has_divergence(analyse(nested), reach_divergence_kind::frame_inside_frame));
    // STOP two bytes before the frame ends; after the frame, another pickle. pickle.py and the
    // buffered reading start the next load after the frame, pickle.loads-style readers right after
    // the STOP (at "K\x01", then the GLOBAL).
    std::string body = literal("N.K\x01");
    std::string stop = literal("\x80\x04\x95") + std::string(1, static_cast<char>(body.size())) +
                       std::string(7, '\0') + body + os_system + ")R.";
    auto r = analyse(stop);
    EXPECT_TRUE(has_divergence(r, reach_divergence_kind::stop_inside_frame));
    EXPECT_EQ(imported(r), std::set<std::string>{"os.system"});
}

TEST(PickleReach, FrameLongerThanTheData) {
    // C refuses the FRAME at once; pickle.py reads on and imports.
    std::string data = literal("\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00") + os_system + ")R.";
    auto r = analyse(data);
    EXPECT_TRUE(has_divergence(r, reach_divergence_kind::frame_past_end));
    EXPECT_EQ(imported(r), std::set<std::string>{"os.system"});
    reach_options strict;
    strict.python_leniency = false;
    EXPECT_TRUE(analyse(data, strict).imports.empty());
}

TEST(PickleReach, StagedPayloadForms) {
    std::string raw = literal("\x80\x04\x8c\x02os\x8c\x06system\x93.");
    EXPECT_EQ(pickle::staged_pickle_forms(raw).size(), 1u);
    // base64 of it, and hex.
    EXPECT_EQ(pickle::staged_pickle_forms("gASMAm9zjAZzeXN0ZW2TLg==").size(), 1u);
    EXPECT_EQ(pickle::staged_pickle_forms("80048c026f738c0673797374656d932e").size(), 1u);
    // Tensor names, plain words and numbers are not candidates.
    for (const char* text : {"model.layers.0.self_attn.q_proj.weight", "embeddings_word", "0123456789", "cat\ndog"})
        EXPECT_TRUE(pickle::staged_pickle_forms(text).empty()) << text;
    auto r = analyse(literal("\x80\x04\x43") + std::string(1, static_cast<char>(raw.size())) + raw + ".");
    ASSERT_EQ(r.staged.size(), 1u);
    EXPECT_EQ(r.staged[0].bytes, raw);
    EXPECT_EQ(r.staged[0].offset, 2u);
}

TEST(PickleReach, ModuleNames) {
    for (const char* good : {"os", "os.path", "_pickle", "a1.b_2", "caf\xc3\xa9"})
        EXPECT_TRUE(pickle::importable_module_name(good)) << good;
    for (const char* bad : {"", ".os", "os.", "os..path", "1abc", "a b", "a-b", "x/y", "os\n"})
        EXPECT_FALSE(pickle::importable_module_name(bad)) << bad;
}

TEST(PickleReach, LooksLikeAPickleOnlyOnEvidence) {
    std::string benign = literal("\x80\x02}q\x00.");
    auto bytes = to_bytes(benign);
    EXPECT_TRUE(reach_analyse(bytes).looks_like_pickle(bytes.size()));
    // Release notes that happen to parse as a few opcodes up to a '.': not called a pickle.
    std::string text = "GIT v1.5.2.1 Release Notes\n==========================\n";
    auto text_bytes = to_bytes(text);
    EXPECT_FALSE(reach_analyse(text_bytes).looks_like_pickle(text_bytes.size()));
}

TEST(PickleReach, EveryLimitSetToOne) {
    struct limit_case {
        const char* label;
        uint64_t pickle::reach_limits::*limit;
        std::string data;
        error_code code;
    };
    const limit_case cases[] = {
        {"opcodes", &pickle::reach_limits::max_opcodes, literal("N0N."), error_code::pk_opcode_limit},
        {"stack", &pickle::reach_limits::max_stack_depth, literal("NN00N."), error_code::pk_stack_limit},
        {"memo", &pickle::reach_limits::max_memo_entries, literal("N\x94\x94q\x05."), error_code::pk_memo_limit},
        {"bytes", &pickle::reach_limits::max_total_bytes, literal("\x8c\x05hello."), error_code::pk_allocation_limit},
    };
    for (const auto& c : cases) {
        reach_options options;
        options.limits.*c.limit = 1;
        auto r = analyse(c.data, options);
        ASSERT_TRUE(r.limit) << c.label;
        EXPECT_EQ(error_code_name(r.limit->code), error_code_name(c.code)) << c.label;
        EXPECT_TRUE(analyse(c.data).pickles.front().stopped) << c.label;
    }
}

TEST(PickleText, LineAcceptanceIsTheUnionOfBothUnpicklers) {
    using pickle::detail::float_line_accepted;
    using pickle::detail::int_line_accepted;
    using pickle::detail::long_line_accepted;
    for (const char* good : {"0", "-12", "  7", "010", "0x1f", "1_000", "00", "01", "99999999999999999999999"})
        EXPECT_TRUE(int_line_accepted(good)) << good;
    EXPECT_TRUE(int_line_accepted(std::string("12\0junk", 7)));
    EXPECT_TRUE(int_line_accepted(std::string("\0junk", 5)));  // strtol: no digits, ends at a NUL
    for (const char* bad : {"", " ", "+", "0x", "09", "1__0", "nope", "1.5", "12 3"})
        EXPECT_FALSE(int_line_accepted(bad)) << bad;
    for (const char* good : {"12L", "12", "-0x10L", " 5 "}) EXPECT_TRUE(long_line_accepted(good)) << good;
    for (const char* bad : {"L", "12LL", "x"}) EXPECT_FALSE(long_line_accepted(bad)) << bad;
    for (const char* good : {"1.5", "-0.0", "1e999", "inf", "-Infinity", "nan", " 2.5 ", "1_0.5", ".5"})
        EXPECT_TRUE(float_line_accepted(good)) << good;
    EXPECT_TRUE(float_line_accepted(std::string("3.0\0x", 5)));
    for (const char* bad : {"", "e5", "1.5x", "1__0", "0x10", ".", "1e"}) EXPECT_FALSE(float_line_accepted(bad)) << bad;
}

}  // namespace
}  // namespace stkit::test
