// The restricted machine on real torch.save output (zip data.pkl, protocols 2 and 4, and legacy
// files) and on hand-assembled v3 / UntypedStorage / legacy-view pickles: every tensor's dtype,
// size, stride, offset, storage key and numel against what torch.load reports.
#include <map>

#include "support.hpp"

namespace stkit::test {
namespace {

using pickle::node_id;
using pickle::node_kind;
using pickle::pickle_run;

// path -> tensor node, as fixtures.py's describe() walks the object.
void collect(const pickle_run& run, node_id id, const std::string& path,
             std::map<std::string, node_id>& out, int depth = 0) {
    ASSERT_LT(depth, 64);
    const auto& n = run.nodes.at(id);
    auto join = [&](const std::string& key) { return path.empty() ? key : path + "/" + key; };
    if (n.kind == node_kind::tensor) {
        out[path] = id;
    } else if (n.kind == node_kind::dict) {
        for (std::size_t i = 0; i + 1 < n.items.size(); i += 2) {
            const auto& key = run.nodes.at(n.items[i]);
            std::string text = key.kind == node_kind::integer ? std::to_string(key.integer) : key.text;
            collect(run, n.items[i + 1], join(text), out, depth + 1);
        }
    } else if (n.kind == node_kind::list || n.kind == node_kind::tuple) {
        for (std::size_t i = 0; i < n.items.size(); ++i)
            collect(run, n.items[i], join(std::to_string(i)), out, depth + 1);
    }
}

void check_tensors(const pickle_run& run, const nlohmann::json& expected, const std::string& file) {
    std::map<std::string, node_id> found;
    collect(run, run.root, "", found);
    ASSERT_EQ(found.size(), expected.size()) << file;
    std::map<int, node_id> storage_of_group;
    for (const auto& [path, want] : expected.items()) {
        SCOPED_TRACE(file + ": " + path);
        ASSERT_TRUE(found.count(path));
        const auto& t = run.tensors.at(run.nodes.at(found[path]).tensor_index);
        const auto& storage_node = run.nodes.at(t.storage);
        ASSERT_EQ(storage_node.kind, node_kind::storage);
        const auto& storage = run.storages.at(storage_node.storage_index);
        EXPECT_EQ(pickle::torch_scalar_name(t.element), want.at("dtype").get<std::string>());
        EXPECT_EQ(t.size, want.at("size").get<std::vector<int64_t>>());
        EXPECT_EQ(t.stride, want.at("stride").get<std::vector<int64_t>>());
        EXPECT_EQ(t.storage_offset, want.at("offset").get<uint64_t>());
        EXPECT_EQ(storage.numel, want.at("numel").get<uint64_t>());
        EXPECT_EQ(t.parameter, want.at("parameter").get<bool>());
        EXPECT_EQ(t.requires_grad, want.at("requires_grad").get<bool>());
        if (want.contains("key")) {
            EXPECT_EQ(storage.key, want.at("key").get<std::string>());
        }
        if (want.contains("view_key")) {
            EXPECT_EQ(storage.view_key, want.at("view_key").get<std::string>());
        }
        if (want.contains("storage"))
            EXPECT_EQ(pickle::torch_scalar_name(storage.element), want.at("storage").get<std::string>());
        else
            EXPECT_EQ(storage.element, t.element);
        if (want.contains("group")) {
            // Tensors share a storage node exactly when torch.load gives them one storage.
            int group = want.at("group");
            auto [it, inserted] = storage_of_group.emplace(group, t.storage);
            EXPECT_EQ(it->second, t.storage);
            if (inserted)
                for (const auto& [other, id] : storage_of_group)
                    if (other != group) {
                        EXPECT_NE(id, t.storage);
                    }
        }
    }
}

TEST(PickleTorch, ZipDataPklMatchesTorchLoad) {
    std::size_t tensors = 0;
    for (const auto& entry : manifest().at("torch")) {
        std::string file = entry.at("file");
        auto run = pickle::run_pickle(fixture(file));
        ASSERT_TRUE(run.ok()) << file << ": " << run.error().to_string();
        check_tensors(*run, entry.at("tensors"), file);
        tensors += entry.at("tensors").size();
        // Restricted mode records its (allowlisted) imports too.
        for (const auto& seen : run->events) {
            EXPECT_EQ(seen.kind, pickle::event_kind::import);
            EXPECT_NE(pickle::classify_global(seen.module, seen.name), pickle::allowed_global::not_allowed);
        }
        // The same in analysis mode, which must not differ on allowlisted input.
        auto analysed = pickle::run_pickle(fixture(file), analysis_options());
        ASSERT_TRUE(analysed.ok());
        EXPECT_FALSE(analysed->stopped_by);
        EXPECT_EQ(analysed->tensors.size(), run->tensors.size()) << file;
    }
    EXPECT_GT(tensors, 60u);
}

TEST(PickleTorch, EveryTorch113DtypeInBothProtocols) {
    std::size_t seen = 0;
    for (const auto& entry : manifest().at("torch")) {
        std::string file = entry.at("file");
        if (file.rfind("torch_dtypes_", 0) != 0) continue;
        auto run = pickle::run_pickle(fixture(file));
        ASSERT_TRUE(run.ok());
        EXPECT_EQ(run->tensors.size(), 12u);
        EXPECT_EQ(run->storages.size(), 12u);
        ++seen;
    }
    EXPECT_EQ(seen, 2u);
}

TEST(PickleTorch, LegacyFilesAreFivePicklesAndRawStorages) {
    for (const auto& entry : manifest().at("legacy")) {
        std::string file = entry.at("file");
        auto data = fixture(file);
        uint64_t offset = 0;
        std::vector<pickle_run> runs;
        for (int i = 0; i < 5; ++i) {
            ASSERT_LT(offset, data.size()) << file;
            pickle::machine_options options;
            options.base_offset = offset;
            auto run = pickle::run_pickle(std::span<const std::byte>(data).subspan(offset), options);
            ASSERT_TRUE(run.ok()) << file << " pickle " << i << ": " << run.error().to_string();
            EXPECT_GT(run->end_offset, offset);
            offset = run->end_offset;
            runs.push_back(std::move(*run));
        }
        const auto& magic = runs[0].nodes[runs[0].root];
        EXPECT_EQ(magic.kind, node_kind::big_integer);
        EXPECT_EQ(hex(magic.text), "6cfc9c46f9206aa85019");
        EXPECT_EQ(runs[1].nodes[runs[1].root].integer, 1001);
        EXPECT_EQ(runs[2].nodes[runs[2].root].kind, node_kind::dict);
        check_tensors(runs[3], entry.at("tensors"), file);
        const auto& keys = runs[4].nodes[runs[4].root];
        ASSERT_EQ(keys.kind, node_kind::list);
        EXPECT_EQ(keys.items.size(), runs[3].storages.size()) << file;
    }
}

}  // namespace
}  // namespace stkit::test
