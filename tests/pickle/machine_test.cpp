// The machine on plain data: pickles CPython writes for every protocol 0-5, hand-assembled ones for
// the opcodes Python 3 never writes, memo sharing, and the analysis-mode events of object pickles
// compared with what CPython's own unpickler imports and calls.
#include "support.hpp"

#include "stkit/pickle/allowlist.hpp"

namespace stkit::test {
namespace {

using pickle::event_kind;
using pickle::node_kind;

std::string_view event_name(event_kind kind) {
    switch (kind) {
        case event_kind::import: return "import";
        case event_kind::call: return "call";
        case event_kind::instantiate: return "instantiate";
        case event_kind::build: return "build";
        case event_kind::extension: return "extension";
        case event_kind::persistent_id: return "persistent_id";
    }
    return "?";
}

TEST(PickleValues, EveryProtocolRendersAsPythonDoes) {
    const auto& values = manifest().at("values");
    ASSERT_EQ(values.size(), 6u * 11u);
    for (const auto& entry : values) {
        std::string file = entry.at("file");
        auto data = fixture(file);
        auto run = pickle::run_pickle(data, analysis_options());
        ASSERT_TRUE(run.ok()) << file << ": " << run.error().to_string();
        EXPECT_FALSE(run->stopped_by) << file << ": " << run->stopped_by->to_string();
        int protocol = entry.at("protocol").get<int>();
        EXPECT_EQ(run->protocol, protocol < 2 ? 0 : protocol) << file;  // PROTO from 2 on
        EXPECT_EQ(run->end_offset, data.size()) << file;
        renderer render(*run);
        EXPECT_EQ(render(run->root), entry.at("render").get<std::string>()) << file;
    }
}

TEST(PickleValues, ProtocolFiveNeedsNoGlobals) {
    // Protocol 5 writes bytes, sets and bytearrays natively, so restricted mode reads all of it.
    for (const auto& entry : manifest().at("values")) {
        std::string file = entry.at("file");
        if (entry.at("protocol").get<int>() < 5) continue;
        auto run = pickle::run_pickle(fixture(file));
        ASSERT_TRUE(run.ok()) << file << ": " << run.error().to_string();
        renderer render(*run);
        EXPECT_EQ(render(run->root), entry.at("render").get<std::string>()) << file;
    }
}

TEST(PickleValues, CraftedOpcodes) {
    for (const auto& entry : manifest().at("crafted")) {
        std::string file = entry.at("file");
        auto run = pickle::run_pickle(fixture(file));
        ASSERT_TRUE(run.ok()) << file << ": " << run.error().to_string();
        renderer render(*run);
        EXPECT_EQ(render(run->root), entry.at("render").get<std::string>()) << file;
    }
}

TEST(PickleValues, MemoSharesNodes) {
    // [shared, shared, {"k": shared}] at protocol 2: one list node, mutated through the memo.
    auto run = pickle::run_pickle(fixture("p2_shared.pkl"), analysis_options());
    ASSERT_TRUE(run.ok());
    const auto& root = run->nodes[run->root];
    ASSERT_EQ(root.items.size(), 3u);
    EXPECT_EQ(root.items[0], root.items[1]);
    EXPECT_EQ(run->nodes[root.items[2]].items.at(1), root.items[0]);
    EXPECT_EQ(run->nodes[root.items[0]].items.size(), 2u);
}

TEST(PickleValues, RecursiveListHoldsItself) {
    for (int protocol = 0; protocol <= 5; ++protocol) {
        auto run = pickle::run_pickle(fixture("p" + std::to_string(protocol) + "_recursive_list.pkl"));
        ASSERT_TRUE(run.ok()) << protocol;
        const auto& root = run->nodes[run->root];
        ASSERT_EQ(root.kind, node_kind::list);
        ASSERT_EQ(root.items.size(), 2u);
        EXPECT_EQ(root.items[1], run->root);
    }
}

TEST(PickleValues, OutOfBandBufferIsAnError) {
    auto run = pickle::run_pickle(fixture(manifest().at("out_of_band").get<std::string>()));
    ASSERT_FALSE(run.ok());
    EXPECT_EQ(run.error().code, error_code::pk_invalid_operand);
}

TEST(PickleEvents, AnalysisRecordsWhatCPythonDoes) {
    std::size_t checked = 0;
    for (const auto& entry : manifest().at("events")) {
        std::string file = entry.at("file");
        auto run = pickle::run_pickle(fixture(file), analysis_options());
        ASSERT_TRUE(run.ok()) << file << ": " << run.error().to_string();
        EXPECT_FALSE(run->stopped_by) << file << ": " << run->stopped_by->to_string();
        const auto& expected = entry.at("events");
        ASSERT_EQ(run->events.size(), expected.size()) << file;
        for (std::size_t i = 0; i < expected.size(); ++i) {
            const auto& want = expected[i];
            const auto& got = run->events[i];
            EXPECT_EQ(event_name(got.kind), want[0].get<std::string>()) << file << " #" << i;
            EXPECT_EQ(got.offset, want[3].get<uint64_t>()) << file << " #" << i;
            if (!want[1].is_null()) {
                EXPECT_EQ(got.module, want[1].get<std::string>()) << file << " #" << i;
                EXPECT_EQ(got.name, want[2].get<std::string>()) << file << " #" << i;
            }
            if (got.kind == event_kind::call) {
                EXPECT_NE(got.callee, pickle::no_node);
                EXPECT_NE(got.arguments, pickle::no_node);
            }
            ++checked;
        }
    }
    EXPECT_GT(checked, 90u);
}

TEST(PickleEvents, NestedPickleBytesReachTheScanner) {
    // pickle.loads(b"...") as protocol 4: the call node's argument is the inner pickle's bytes.
    std::string inner = "\x80\x04\x8c\x02os\x8c\x06system\x93.";
    std::string data = "\x80\x04\x8c\x07_pickle\x8c\x05loads\x93" "C" + std::string(1, char(inner.size())) +
                       inner + "\x85R.";
    auto run = pickle::run_pickle(to_bytes(data), analysis_options());
    ASSERT_TRUE(run.ok());
    const auto& call = run->nodes[run->root];
    ASSERT_EQ(call.kind, node_kind::call);
    EXPECT_EQ(run->nodes[call.items[0]].text, "_pickle");
    EXPECT_EQ(run->nodes[call.items[1]].kind, node_kind::bytes);
    EXPECT_EQ(run->nodes[call.items[1]].text, inner);
}

TEST(PickleNames, Python2RenamesAndAllowlist) {
    using pickle::python3_name;
    EXPECT_EQ(python3_name("__builtin__", "eval"), (std::pair<std::string, std::string>{"builtins", "eval"}));
    EXPECT_EQ(python3_name("copy_reg", "_reconstructor").first, "copyreg");
    EXPECT_EQ(python3_name("exceptions", "ValueError"),
              (std::pair<std::string, std::string>{"builtins", "ValueError"}));
    EXPECT_EQ(python3_name("cPickle", "loads").first, "pickle");
    EXPECT_EQ(python3_name("UserDict", "UserDict"),
              (std::pair<std::string, std::string>{"collections", "UserDict"}));
    EXPECT_EQ(python3_name("__builtin__", "xrange").second, "range");
    EXPECT_EQ(python3_name("os", "system").first, "os");
    EXPECT_EQ(python3_name("torch._utils", "_rebuild_tensor_v2").first, "torch._utils");

    using pickle::allowed_global;
    using pickle::classify_global;
    EXPECT_EQ(classify_global("collections", "OrderedDict"), allowed_global::ordered_dict);
    EXPECT_EQ(classify_global("torch._utils", "_rebuild_tensor_v3"), allowed_global::rebuild_tensor_v3);
    EXPECT_EQ(classify_global("torch", "BFloat16Storage"), allowed_global::storage_class);
    EXPECT_EQ(classify_global("torch", "float8_e4m3fn"), allowed_global::torch_dtype);
    EXPECT_EQ(classify_global("torch", "uint16"), allowed_global::torch_dtype);
    EXPECT_EQ(classify_global("_codecs", "encode"), allowed_global::codecs_encode);
    EXPECT_EQ(classify_global("torch.serialization", "_get_layout"), allowed_global::get_layout);
    EXPECT_EQ(classify_global("torch", "Size"), allowed_global::torch_size);
    EXPECT_EQ(classify_global("torch", "device"), allowed_global::torch_device);
    EXPECT_EQ(classify_global("torch.serialization", "load"), allowed_global::not_allowed);
    EXPECT_EQ(classify_global("torch._utils", "_rebuild_qtensor"), allowed_global::not_allowed);
    EXPECT_EQ(classify_global("collections.OrderedDict", ""), allowed_global::not_allowed);
    EXPECT_EQ(classify_global("os", "system"), allowed_global::not_allowed);

    EXPECT_EQ(pickle::torch_scalar_name(pickle::torch_scalar::bfloat16), "bfloat16");
    EXPECT_EQ(pickle::torch_scalar_size(pickle::torch_scalar::complex128), 16u);
    EXPECT_EQ(pickle::torch_scalar_size(pickle::torch_scalar::unknown), 0u);
}

}  // namespace
}  // namespace stkit::test
