// Refusals (exact code, global name and offset), analysis mode on the same pickles, one malformed
// pickle per error code, and every limit set to 1.
#include "support.hpp"

namespace stkit::test {
namespace {

using pickle::event_kind;
using pickle::machine_options;

std::string_view code_name(error_code code) { return error_code_name(code); }

TEST(PickleRefusals, ExactCodeNameAndOffset) {
    const auto& refusals = manifest().at("refusals");
    ASSERT_GE(refusals.size(), 14u);
    for (const auto& entry : refusals) {
        std::string file = entry.at("file");
        auto run = pickle::run_pickle(fixture(file));
        ASSERT_FALSE(run.ok()) << file;
        EXPECT_EQ(code_name(run.error().code), entry.at("code").get<std::string>()) << file;
        EXPECT_EQ(run.error().offset, entry.at("offset").get<uint64_t>()) << file;
        std::string name = entry.at("name");
        if (!name.empty()) {
            EXPECT_EQ(run.error().name, name) << file;
        }
    }
}

TEST(PickleRefusals, OffsetsAreAbsolute) {
    machine_options options;
    options.base_offset = 1000;
    auto run = pickle::run_pickle(fixture("refuse_eval_builtin_p0.pkl"), options);
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.error().offset, 1000u);
    EXPECT_EQ(run.error().name, "builtins.eval");
}

TEST(PickleRefusals, AnalysisKeepsGoingAndRecords) {
    struct expectation {
        const char* file;
        event_kind kind;
        const char* module;
        const char* name;
        uint64_t offset;
    };
    const expectation cases[] = {
        {"refuse_os_system_global.pkl", event_kind::import, "os", "system", 0},
        {"refuse_eval_builtin_p0.pkl", event_kind::import, "builtins", "eval", 0},
        {"refuse_stack_global_memo.pkl", event_kind::import, "os", "system", 22},
        {"refuse_newobj_allowlisted.pkl", event_kind::instantiate, "collections", "OrderedDict", 28},
        {"refuse_build_list.pkl", event_kind::build, "", "", 4},
        {"refuse_ext1.pkl", event_kind::extension, "copyreg", "extension 1", 2},
        {"refuse_persistent_not_storage.pkl", event_kind::persistent_id, "", "", 10},
    };
    for (const auto& c : cases) {
        auto run = pickle::run_pickle(fixture(c.file), analysis_options());
        ASSERT_TRUE(run.ok()) << c.file;
        EXPECT_FALSE(run->stopped_by) << c.file;
        bool found = false;
        for (const auto& seen : run->events)
            if (seen.kind == c.kind && seen.offset == c.offset) {
                found = true;
                EXPECT_EQ(seen.module, c.module) << c.file;
                EXPECT_EQ(seen.name, c.name) << c.file;
            }
        EXPECT_TRUE(found) << c.file;
    }
    // The call of os.system is a call node whose argument is the string.
    auto run = pickle::run_pickle(fixture("refuse_os_system_global.pkl"), analysis_options());
    ASSERT_TRUE(run.ok());
    const auto& call = run->nodes[run->root];
    ASSERT_EQ(call.kind, pickle::node_kind::call);
    EXPECT_EQ(run->nodes[call.items.at(0)].name, "system");
    EXPECT_EQ(run->nodes[call.items.at(1)].text, "true");
    ASSERT_EQ(run->events.size(), 2u);
    EXPECT_EQ(run->events[1].kind, event_kind::call);
    EXPECT_EQ(run->events[1].module, "os");
    EXPECT_EQ(run->events[1].offset, 21u);
}

TEST(PickleRefusals, AnalysisKeepsWhatWasSeenBeforeAnError) {
    // A dangerous global, then garbage.
    auto run = pickle::run_pickle(to_bytes("cos\nsystem\n\xff"), analysis_options());
    ASSERT_TRUE(run.ok());
    ASSERT_TRUE(run->stopped_by);
    EXPECT_EQ(run->stopped_by->code, error_code::pk_unknown_opcode);
    EXPECT_EQ(run->stopped_by->offset, 11u);
    ASSERT_EQ(run->events.size(), 1u);
    EXPECT_EQ(run->events[0].name, "system");
    // Nothing readable at all: an error, not a run.
    auto nothing = pickle::run_pickle(to_bytes("\xff"), analysis_options());
    ASSERT_FALSE(nothing.ok());
    EXPECT_EQ(nothing.error().code, error_code::pk_unknown_opcode);
}

struct malformed {
    const char* label;
    std::string bytes;
    error_code code;
    uint64_t offset;
};

TEST(PickleErrors, OneMalformedPicklePerCode) {
    using std::string_literals::operator""s;
    const malformed cases[] = {
        {"truncated BINUNICODE", "\x80\x02X\x05\x00\x00\x00" "ab"s, error_code::pk_truncated, 7},
        {"truncated BININT", "\x80\x02J\x01\x00"s, error_code::pk_truncated, 3},
        {"line without newline", "I12"s, error_code::pk_truncated, 1},
        {"unknown opcode", "\x80\x02\xff."s, error_code::pk_unknown_opcode, 2},
        {"protocol 6", "\x80\x06N."s, error_code::pk_invalid_protocol, 0},
        {"frame too long", "\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N."s, error_code::pk_invalid_frame, 2},
        {"operand straddles frame", "\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00J\x01\x00\x00\x00."s,
         error_code::pk_invalid_frame, 12},
        // At the exact end of a frame, reading goes on outside it (pickle.py's _Unframer).
        {"frame ends between opcode and operand", "\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00K\x01"s,
         error_code::pk_no_stop, 13},
        {"frame inside frame", "\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00\x95\x00\x00\x00\x00\x00\x00\x00\x00N."s,
         error_code::pk_invalid_frame, 11},
        {"STACK_GLOBAL of ints", "\x80\x04K\x01K\x02\x93."s, error_code::pk_invalid_operand, 6},
        {"odd DICT", "(K\x01" "d."s, error_code::pk_invalid_operand, 3},
        {"APPEND to a tuple", ")K\x01" "a."s, error_code::pk_invalid_operand, 3},
        {"negative LONG4", "\x8b\xff\xff\xff\xff."s, error_code::pk_invalid_operand, 0},
        {"bad INT", "I1x\n."s, error_code::pk_invalid_operand, 0},
        {"bad FLOAT", "Fnope\n."s, error_code::pk_invalid_operand, 0},
        {"REDUCE args not a tuple", "\x80\x02" "ccollections\nOrderedDict\n]R."s, error_code::pk_call_refused, 28},
        {"unquoted STRING", "Sabc\n."s, error_code::pk_invalid_string, 0},
        {"bad escape", "S'\\x4'\n."s, error_code::pk_invalid_string, 0},
        {"BINUNICODE not UTF-8", "X\x02\x00\x00\x00\xc3\x28."s, error_code::pk_invalid_string, 0},
        {"APPEND on empty", "a."s, error_code::pk_stack_underflow, 0},
        {"STOP on empty", "."s, error_code::pk_stack_underflow, 0},
        {"APPEND across a MARK", "]((K\x01" "a."s, error_code::pk_stack_underflow, 5},
        {"LIST without MARK", "K\x01l."s, error_code::pk_mark_missing, 2},
        {"POP with nothing", "0."s, error_code::pk_mark_missing, 0},
        {"BINGET unset", "h\x05."s, error_code::pk_memo_missing, 0},
        {"GET unset", "g7\n."s, error_code::pk_memo_missing, 0},
        {"no STOP", "\x80\x02N"s, error_code::pk_no_stop, 3},
        {"empty", ""s, error_code::pk_no_stop, 0},
        {"negative tensor size", "\x80\x02" "ctorch._utils\n_rebuild_tensor\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQK\x00J\xff\xff\xff\xff\x85K\x01\x85tR."s,
         error_code::pk_invalid_operand, 96},
        {"tensor with 3 args", "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x02K\x03tR."s,
         error_code::pk_call_refused, 43},
    };
    for (const auto& c : cases) {
        auto run = pickle::run_pickle(to_bytes(c.bytes));
        ASSERT_FALSE(run.ok()) << c.label;
        EXPECT_EQ(code_name(run.error().code), code_name(c.code)) << c.label << ": " << run.error().to_string();
        EXPECT_EQ(run.error().offset, c.offset) << c.label;
        EXPECT_FALSE(std::string(error_message(run.error().code)).empty());
    }
}

// Each limit set to 1 stops a pickle that needs 2, with its own code; the pickle passes at 2.
TEST(PickleLimits, EachLimitSetToOne) {
    struct limit_case {
        const char* label;
        std::string bytes;
        uint64_t pickle::pickle_limits::*limit;
        error_code code;
    };
    using std::string_literals::operator""s;
    const limit_case cases[] = {
        {"opcodes", "N."s, &pickle::pickle_limits::max_opcodes, error_code::pk_opcode_limit},
        {"stack", "NN\x86."s, &pickle::pickle_limits::max_stack_depth, error_code::pk_stack_limit},
        {"stack with marks", "(N\x85."s, &pickle::pickle_limits::max_stack_depth, error_code::pk_stack_limit},
        {"memo", "N\x94\x94."s, &pickle::pickle_limits::max_memo_entries, error_code::pk_memo_limit},
        {"string", "\x8c\x02" "ab."s, &pickle::pickle_limits::max_string_bytes, error_code::pk_string_limit},
        {"string line", "Vab\n."s, &pickle::pickle_limits::max_string_bytes, error_code::pk_string_limit},
        {"nesting", "]]a."s, &pickle::pickle_limits::max_nesting, error_code::pk_depth_limit},
        {"nesting tuple", "))\x85."s, &pickle::pickle_limits::max_nesting, error_code::pk_depth_limit},
    };
    for (const auto& c : cases) {
        machine_options options;
        options.limits.*c.limit = 1;
        auto run = pickle::run_pickle(to_bytes(c.bytes), options);
        ASSERT_FALSE(run.ok()) << c.label;
        EXPECT_EQ(code_name(run.error().code), code_name(c.code)) << c.label;
        options.limits.*c.limit = 3;
        if (c.limit == &pickle::pickle_limits::max_opcodes) options.limits.*c.limit = 2;
        if (c.limit == &pickle::pickle_limits::max_memo_entries) options.limits.*c.limit = 2;
        if (c.limit == &pickle::pickle_limits::max_string_bytes) options.limits.*c.limit = 2;
        if (c.limit == &pickle::pickle_limits::max_nesting) options.limits.*c.limit = 2;
        EXPECT_TRUE(pickle::run_pickle(to_bytes(c.bytes), options).ok()) << c.label;
        // Analysis mode stops on a limit too, keeping what it saw.
        options.mode = pickle::machine_mode::analysis;
        options.limits.*c.limit = 1;
        auto analysed = pickle::run_pickle(to_bytes(c.bytes), options);
        if (analysed.ok()) {
            ASSERT_TRUE(analysed->stopped_by) << c.label;
            EXPECT_EQ(analysed->stopped_by->code, c.code) << c.label;
        } else {
            EXPECT_EQ(analysed.error().code, c.code) << c.label;
        }
    }
    machine_options tiny;
    tiny.limits.max_total_bytes = 1;
    auto run = pickle::run_pickle(to_bytes("N."), tiny);
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.error().code, error_code::pk_allocation_limit);
    tiny.limits.max_total_bytes = 1000;
    EXPECT_TRUE(pickle::run_pickle(to_bytes("N."), tiny).ok());
    // Payload bytes count: a 2000-byte string does not fit in 1000.
    using std::string_literals::operator""s;
    std::string big = "\x80\x04\x8d\xd0\x07\x00\x00\x00\x00\x00\x00"s + std::string(2000, 'x') + ".";
    auto payload = pickle::run_pickle(to_bytes(big), tiny);
    ASSERT_FALSE(payload.ok());
    EXPECT_EQ(code_name(payload.error().code), "pk_allocation_limit");
}

TEST(PickleErrors, HugeDeclaredLengthsAllocateNothing) {
    using std::string_literals::operator""s;
    // 2^63 bytes declared with 3 present: truncated (not bad_alloc), under a limit above it.
    machine_options options;
    options.limits.max_string_bytes = ~uint64_t{0};
    auto run = pickle::run_pickle(to_bytes("\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x80" "abc."s), options);
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.error().code, error_code::pk_truncated);
    // Deep nesting within the default limits does not recurse.
    std::string deep = "\x80\x02" + std::string(5000, ']') + std::string(4999, 'a') + ".";
    auto nested = pickle::run_pickle(to_bytes(deep));
    ASSERT_TRUE(nested.ok()) << nested.error().to_string();
}

}  // namespace
}  // namespace stkit::test
