// Detection by content: one case per format, from hand-made buffers and from files written by
// Debian's python3 (torch, numpy, zipfile, tarfile, h5py, gzip) at test time.
#include <random>

#include "containers/fixtures.hpp"
#include "stkit/scan/detect.hpp"

namespace stkit {
namespace {

using test::to_bytes;

detection detect_text(std::string_view text) { return detect_format(to_bytes(text)); }

std::string safetensors_bytes(std::string_view header, std::string_view data) {
    std::string out(8, '\0');
    uint64_t size = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((size >> (8 * i)) & 0xff);
    return out + std::string(header) + std::string(data);
}

TEST(detect, safetensors_valid_and_which_rule_is_broken) {
    auto valid = detect_text(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "ab"));
    EXPECT_EQ(valid.format, file_format::safetensors) << valid.detail;
    auto gap = detect_text(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})", "abc"));
    EXPECT_EQ(gap.format, file_format::safetensors_invalid);
    EXPECT_NE(gap.detail.find("st_"), std::string::npos) << gap.detail;
}

TEST(detect, pickles_with_and_without_proto) {
    auto p2 = detect_text(test::literal("\x80\x02}q\x00."));
    EXPECT_EQ(p2.format, file_format::pickle);
    EXPECT_NE(p2.detail.find("protocol 2"), std::string::npos) << p2.detail;
    auto p0 = detect_text("(lp0\nI1\naI2\na.");
    EXPECT_EQ(p0.format, file_format::pickle) << p0.detail;
    EXPECT_NE(p0.detail.find("no PROTO"), std::string::npos);
    auto p1 = detect_text(test::literal("]q\x00(K\x01K\x02e."));
    EXPECT_EQ(p1.format, file_format::pickle) << p1.detail;
    // Text that starts with a plausible opcode but is no pickle.
    EXPECT_EQ(detect_text("(this is a README\n").format, file_format::unknown);
    EXPECT_EQ(detect_text("Hello, world\n").format, file_format::unknown);
}

TEST(detect, torch_legacy_magic_and_joblib) {
    std::string magic = test::literal("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.");
    EXPECT_EQ(detect_text(magic).format, file_format::torch_legacy);
    std::string joblib = test::literal("\x80\x04\x63joblib.numpy_pickle\nNumpyArrayWrapper\n0N.");
    EXPECT_EQ(detect_text(joblib).format, file_format::joblib);
}

TEST(detect, magic_formats) {
    EXPECT_EQ(detect_text(test::literal("GGUF\x03\x00\x00\x00") + std::string(16, '\0')).format, file_format::gguf);
    EXPECT_EQ(detect_text(test::literal("\x1c\x00\x00\x00TFL3") + std::string(32, '\0')).format, file_format::tflite);
    EXPECT_EQ(detect_text(test::literal("7z\xbc\xaf\x27\x1c\x00\x04") + std::string(32, '\0')).format,
              file_format::sevenzip);
    EXPECT_EQ(detect_text(test::literal("\x89HDF\r\n\x1a\n") + std::string(100, '\0')).format, file_format::hdf5);
    // HDF5 after a 512-byte user block.
    EXPECT_EQ(detect_text(std::string(512, ' ') + test::literal("\x89HDF\r\n\x1a\n") + std::string(100, '\0')).format,
              file_format::hdf5);
    auto lfs = detect_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + std::string(64, 'a') +
                           "\nsize 12345\n");
    EXPECT_EQ(lfs.format, file_format::git_lfs_pointer);
    EXPECT_EQ(detect_text("").format, file_format::unknown);
}

TEST(detect, npy_notes_object_arrays) {
    auto header = [](std::string descr) {
        std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (1,), }";
        dict += std::string(63 - (10 + dict.size()) % 64, ' ') + "\n";
        std::string out = "\x93NUMPY\x01";
        out += '\0';
        out += static_cast<char>(dict.size() & 0xff);
        out += static_cast<char>(dict.size() >> 8);
        return out + dict;
    };
    auto plain = detect_text(header("<f4") + std::string(4, '\0'));
    EXPECT_EQ(plain.format, file_format::numpy_npy);
    EXPECT_EQ(plain.detail.find("object"), std::string::npos);
    auto object = detect_text(header("|O") + test::literal("\x80\x02N."));
    EXPECT_EQ(object.format, file_format::numpy_npy);
    EXPECT_NE(object.detail.find("object"), std::string::npos);
}

// ModelProto: ir_version 8, graph {name "g"}, opset_import {domain "", version 17}.
const std::string onnx_model("\x08\x08\x3a\x03\x12\x01g\x42\x04\x0a\x00\x10\x11", 13);

TEST(detect, onnx_requires_a_real_model_proto) {
    auto model = detect_text(onnx_model);
    EXPECT_EQ(model.format, file_format::onnx) << model.detail;
    EXPECT_NE(model.detail.find("IR version 8"), std::string::npos);
    // Valid protobuf, wrong schema: the graph field as a varint; an unknown field; no graph.
    EXPECT_NE(detect_text(test::literal("\x08\x08\x38\x01")).format, file_format::onnx);
    EXPECT_NE(detect_text(test::literal("\x08\x08\x3a\x03\x12\x01g\x78\x01")).format, file_format::onnx);
    EXPECT_NE(detect_text(test::literal("\x08\x08\x12\x01g")).format, file_format::onnx);
    // The graph's own fields must parse: field 3 is not a GraphProto field.
    EXPECT_NE(detect_text(test::literal("\x08\x08\x3a\x03\x1a\x01g")).format, file_format::onnx);
    std::mt19937 random(4);
    for (int i = 0; i < 2000; ++i) {
        std::string noise(8 + random() % 512, '\0');
        for (char& c : noise) c = static_cast<char>(random());
        ASSERT_NE(detect_text(noise).format, file_format::onnx) << i;
    }
}

TEST(detect, savedmodel_proto) {
    // SavedModel {schema_version 1, meta_graphs {meta_info_def {}}}.
    EXPECT_EQ(detect_text(test::literal("\x08\x01\x12\x02\x0a\x00")).format, file_format::tf_savedmodel);
}

class detect_python : public test::scratch_test {};

TEST_F(detect_python, containers_and_zip_layouts) {
    ASSERT_TRUE(python(R"(
import torch, numpy as np, zipfile, tarfile, gzip, bz2, lzma, zlib, pickle, json, h5py
class M(torch.nn.Module):
    def forward(self, x):
        return x + 1
torch.save({'w': torch.ones(2)}, 'zip.pt')
torch.save({'w': torch.ones(2)}, 'legacy.pt', _use_new_zipfile_serialization=False)
torch.jit.save(torch.jit.script(M()), 'script.pt')
np.savez('a.npz', x=np.ones(2))
with zipfile.ZipFile('m.keras', 'w') as z:
    z.writestr('config.json', '{}'); z.writestr('model.weights.h5', b'')
with zipfile.ZipFile('plain.zip', 'w') as z:
    z.writestr('readme.txt', 'hi')
with tarfile.open('t.tar', 'w') as t:
    t.add('plain.zip')
with tarfile.open('torch.tar', 'w') as t:
    for name in ('sys_info', 'pickle', 'storages', 'tensors'):
        open(name, 'wb').write(pickle.dumps(0, protocol=2)); t.add(name)
payload = pickle.dumps({'a': 1}, protocol=2)
open('p.gz', 'wb').write(gzip.compress(payload))
open('p.bz2', 'wb').write(bz2.compress(payload))
open('p.xz', 'wb').write(lzma.compress(payload))
open('p.zlib', 'wb').write(zlib.compress(payload))
open('text.gz', 'wb').write(gzip.compress(b'hello'))
with h5py.File('k.h5', 'w') as f:
    f.attrs['model_config'] = json.dumps({'class_name': 'Sequential'})
open('prepended.zip', 'wb').write(b'#!/bin/sh\nexit 0\n')
with zipfile.ZipFile('prepended.zip', 'a') as z:  # appends with absolute offsets
    z.writestr('archive/data.pkl', pickle.dumps({}, protocol=2)); z.writestr('archive/version', '3\n')
)"));
    const std::pair<const char*, file_format> cases[] = {
        {"zip.pt", file_format::torch_zip},        {"legacy.pt", file_format::torch_legacy},
        {"script.pt", file_format::torchscript},   {"a.npz", file_format::numpy_npz},
        {"m.keras", file_format::keras_v3},        {"plain.zip", file_format::zip},
        {"t.tar", file_format::tar},               {"torch.tar", file_format::torch_tar},
        {"p.gz", file_format::compressed_pickle},  {"p.bz2", file_format::compressed_pickle},
        {"p.xz", file_format::compressed_pickle},  {"p.zlib", file_format::compressed_pickle},
        {"text.gz", file_format::gzip},            {"k.h5", file_format::hdf5},
        {"prepended.zip", file_format::torch_zip},
    };
    for (auto [name, format] : cases) {
        auto found = detect_path(directory_ / name);
        ASSERT_TRUE(found.ok()) << name;
        EXPECT_EQ(found->format, format) << name << ": " << file_format_name(found->format) << " " << found->detail;
    }
    std::filesystem::create_directories(directory_ / "saved");
    test::write_bytes(directory_ / "saved" / "saved_model.pb", to_bytes(test::literal("\x08\x01\x12\x02\x0a\x00")));
    auto folder = detect_path(directory_ / "saved");
    ASSERT_TRUE(folder.ok());
    EXPECT_EQ(folder->format, file_format::tf_savedmodel);
    EXPECT_FALSE(detect_path(directory_ / "missing").ok());
}

TEST(detect, format_names_are_distinct) {
    std::set<std::string_view> names;
    for (int i = 0; i <= static_cast<int>(file_format::git_lfs_pointer); ++i)
        EXPECT_TRUE(names.insert(file_format_name(static_cast<file_format>(i))).second) << i;
}

}  // namespace
}  // namespace stkit
