// npy_parse against files written by numpy 1.24 (every numeric dtype, Fortran order, big-endian,
// 0-d, empty, object arrays, format versions 2.0 and 3.0), .npz archives through zip_archive, and
// hand-made malformed headers, one per error code.
#include "stkit/containers/npy.hpp"

#include <algorithm>
#include <map>
#include <sstream>

#include "containers/fixtures.hpp"
#include "stkit/containers/zip.hpp"

namespace stkit {
namespace {

using test::to_bytes;

class npy_numpy : public test::scratch_test {};

// Writes NAME.npy with np.save and NAME.raw with the array's bytes in file order, and lists
// "NAME descr fortran shape..." in manifest.txt.
constexpr const char* numpy_prelude = R"(
import numpy as np
manifest = open('manifest.txt', 'w')
def save(name, array, **kwargs):
    fortran = array.flags.f_contiguous and not array.flags.c_contiguous
    if 'version' in kwargs:
        with open(name + '.npy', 'wb') as f:
            np.lib.format.write_array(f, array, version=kwargs['version'])
    else:
        np.save(name + '.npy', array, allow_pickle=kwargs.get('allow_pickle', False))
    if array.dtype != object:
        open(name + '.raw', 'wb').write(array.tobytes(order='F' if fortran else 'C'))
    manifest.write(' '.join([name, array.dtype.str, str(int(fortran))] + [str(n) for n in array.shape]) + '\n')
)";

struct manifest_row {
    std::string name;
    std::string descr;
    bool fortran = false;
    std::vector<uint64_t> shape;
};

std::vector<manifest_row> read_manifest(const test::fs::path& path) {
    std::ifstream in(path);
    std::vector<manifest_row> rows;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        manifest_row row;
        int fortran = 0;
        words >> row.name >> row.descr >> fortran;
        row.fortran = fortran != 0;
        for (uint64_t n; words >> n;) row.shape.push_back(n);
        rows.push_back(std::move(row));
    }
    return rows;
}

TEST_F(npy_numpy, every_numeric_dtype_maps) {
    ASSERT_TRUE(python(std::string(numpy_prelude) + R"(
for name, t in [('bool', np.bool_), ('u1', np.uint8), ('i1', np.int8), ('i2', np.int16),
                ('u2', np.uint16), ('i4', np.int32), ('u4', np.uint32), ('i8', np.int64),
                ('u8', np.uint64), ('f2', np.float16), ('f4', np.float32), ('f8', np.float64),
                ('c8', np.complex64)]:
    save(name, (np.arange(24) % 5).astype(t).reshape(2, 3, 4))
manifest.close()
)"));
    const std::map<std::string, dtype> expected = {
        {"bool", dtype::bool_}, {"u1", dtype::u8},   {"i1", dtype::i8},   {"i2", dtype::i16},
        {"u2", dtype::u16},     {"i4", dtype::i32},  {"u4", dtype::u32},  {"i8", dtype::i64},
        {"u8", dtype::u64},     {"f2", dtype::f16},  {"f4", dtype::f32},  {"f8", dtype::f64},
        {"c8", dtype::c64}};
    auto rows = read_manifest(directory_ / "manifest.txt");
    ASSERT_EQ(rows.size(), expected.size());
    for (const manifest_row& row : rows) {
        SCOPED_TRACE(row.name);
        auto file = bytes(row.name + ".npy");
        auto raw = bytes(row.name + ".raw");
        auto array = npy_parse(file);
        ASSERT_TRUE(array.ok()) << array.error().to_string();
        EXPECT_EQ(array->descr, row.descr);
        ASSERT_TRUE(array->type.has_value());
        EXPECT_EQ(*array->type, expected.at(row.name));
        EXPECT_EQ(array->item_size, dtype_size(*array->type));
        EXPECT_EQ(array->shape, row.shape);
        EXPECT_FALSE(array->fortran_order);
        EXPECT_FALSE(array->big_endian);
        EXPECT_FALSE(array->object);
        EXPECT_EQ(array->major_version, 1);
        EXPECT_EQ(array->data_offset % 64, 0u);
        EXPECT_TRUE(std::equal(array->data.begin(), array->data.end(), raw.begin(), raw.end()));
    }
}

TEST_F(npy_numpy, layouts_versions_and_types_without_equivalent) {
    ASSERT_TRUE(python(std::string(numpy_prelude) + R"(
a = np.arange(6, dtype=np.float32).reshape(2, 3)
save('fortran', np.asfortranarray(a))
save('big', np.arange(5, dtype='>i4'))
save('bigbyte', np.arange(5, dtype='>u1'))
save('scalar', np.array(3.5, dtype=np.float64))
save('empty', np.zeros((0, 4), dtype=np.int16))
save('v2', a, version=(2, 0))
save('v3', a, version=(3, 0))
save('c16', np.ones(3, dtype=np.complex128))
save('longdouble', np.ones(3, dtype=np.longdouble))
save('text', np.array(['ab', 'cde']))
save('dates', np.array(['2020-01-01'], dtype='datetime64[ns]'))
save('void', np.zeros(2, dtype='V4'))
save('objects', np.array([1, 'two', None], dtype=object), allow_pickle=True)
save('structured', np.zeros(2, dtype=[('x', '<f4'), ('y', '<i8')]))
save('structured_object', np.zeros(2, dtype=[('x', '<f4'), ('y', 'O')]), allow_pickle=True)
manifest.close()
)"));
    std::map<std::string, manifest_row> rows;
    for (auto& row : read_manifest(directory_ / "manifest.txt")) rows[row.name] = row;
    std::map<std::string, std::vector<std::byte>> files;  // keeps the bytes the views point into
    auto parse = [&](const std::string& name) {
        auto& file = files[name];
        file = bytes(name + ".npy");
        auto array = npy_parse(file);
        EXPECT_TRUE(array.ok()) << name << ": " << array.error().to_string();
        return array;
    };
    {
        auto array = parse("fortran");
        ASSERT_TRUE(array.ok());
        EXPECT_TRUE(array->fortran_order);
        EXPECT_EQ(array->shape, (std::vector<uint64_t>{2, 3}));
        EXPECT_EQ(array->data.size(), 24u);
    }
    {
        auto array = parse("big");
        ASSERT_TRUE(array.ok());
        EXPECT_EQ(array->descr, ">i4");
        EXPECT_TRUE(array->big_endian);
        EXPECT_EQ(array->type, dtype::i32);
        auto raw = bytes("big.raw");
        EXPECT_TRUE(std::equal(array->data.begin(), array->data.end(), raw.begin(), raw.end()));
    }
    {
        auto array = parse("bigbyte");
        ASSERT_TRUE(array.ok());
        EXPECT_EQ(array->descr, "|u1");
        EXPECT_FALSE(array->big_endian);
    }
    {
        auto array = parse("scalar");
        ASSERT_TRUE(array.ok());
        EXPECT_TRUE(array->shape.empty());
        EXPECT_EQ(array->data.size(), 8u);
    }
    {
        auto array = parse("empty");
        ASSERT_TRUE(array.ok());
        EXPECT_EQ(array->shape, (std::vector<uint64_t>{0, 4}));
        EXPECT_TRUE(array->data.empty());
    }
    for (auto [name, version] : {std::pair{"v2", 2}, std::pair{"v3", 3}}) {
        auto array = parse(name);
        ASSERT_TRUE(array.ok());
        EXPECT_EQ(array->major_version, version);
        EXPECT_EQ(array->type, dtype::f32);
        EXPECT_EQ(array->data.size(), 24u);
    }
    for (const char* name : {"c16", "longdouble", "text", "dates", "void", "structured"}) {
        SCOPED_TRACE(name);
        auto array = parse(name);
        ASSERT_TRUE(array.ok());
        EXPECT_FALSE(array->type.has_value());
        EXPECT_FALSE(array->object);
    }
    // Item sizes known from the descr are still checked against the data.
    EXPECT_EQ(parse("text")->item_size, 12u);
    EXPECT_EQ(parse("c16")->item_size, 16u);
    for (const char* name : {"objects", "structured_object"}) {
        SCOPED_TRACE(name);
        auto array = parse(name);
        ASSERT_TRUE(array.ok());
        EXPECT_TRUE(array->object);
        EXPECT_FALSE(array->type.has_value());
        ASSERT_FALSE(array->data.empty());
        EXPECT_EQ(array->data[0], std::byte{0x80});  // the pickle that holds the objects
    }
}

TEST_F(npy_numpy, npz_members_through_zip_and_npy) {
    ASSERT_TRUE(python(R"(
import numpy as np
a = np.arange(100, dtype=np.float32).reshape(10, 10)
b = np.array([True, False, True])
c = np.arange(1000, dtype=np.int64)
np.savez('plain.npz', a=a, b=b, c=c)
np.savez_compressed('packed.npz', a=a, b=b, c=c)
for name, array in (('a', a), ('b', b), ('c', c)):
    open(name + '.raw', 'wb').write(array.tobytes())
)"));
    for (const char* file_name : {"plain.npz", "packed.npz"}) {
        SCOPED_TRACE(file_name);
        auto file = bytes(file_name);
        auto zip = zip_archive::open(file);
        ASSERT_TRUE(zip.ok()) << zip.error().to_string();
        ASSERT_EQ(zip->members().size(), 3u);
        for (const zip_member& member : zip->members()) {
            SCOPED_TRACE(member.name);
            EXPECT_EQ(member.method, std::string_view(file_name) == "plain.npz" ? 0 : 8);
            auto content = zip->read(member);
            ASSERT_TRUE(content.ok()) << content.error().to_string();
            auto array = npy_parse(*content);
            ASSERT_TRUE(array.ok()) << array.error().to_string();
            auto raw = bytes(member.name.substr(0, 1) + ".raw");
            EXPECT_TRUE(std::equal(array->data.begin(), array->data.end(), raw.begin(), raw.end()));
        }
        auto c = zip->read(*zip->find("c.npy"));
        ASSERT_TRUE(c.ok());
        EXPECT_EQ(npy_parse(*c)->type, dtype::i64);
    }
}

// ---- Hand-made headers -------------------------------------------------------------------------

std::vector<std::byte> npy_file(int major, int minor, std::string_view header, std::size_t data) {
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += static_cast<char>(minor);
    std::size_t length = header.size();
    int width = major == 1 ? 2 : 4;
    for (int i = 0; i < width; ++i) out += static_cast<char>((length >> (8 * i)) & 0xff);
    out += header;
    out += std::string(data, '\0');
    return to_bytes(out);
}

error_code code_of(std::string_view header, std::size_t data = 8, int major = 1, int minor = 0) {
    auto file = npy_file(major, minor, header, data);
    auto array = npy_parse(file);
    return array.ok() ? error_code::ok : array.error().code;
}

constexpr std::string_view good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }  \n";

TEST(npy_handmade, accepts_the_literal_forms_numpy_accepts) {
    EXPECT_EQ(code_of(good), error_code::ok);
    EXPECT_EQ(code_of(good, 8, 2), error_code::ok);
    EXPECT_EQ(code_of(good, 8, 3), error_code::ok);
    EXPECT_EQ(code_of("{\"shape\": (2, 1), \"fortran_order\": True, \"descr\": \"<f4\"}\n"), error_code::ok);
    EXPECT_EQ(code_of("{'descr': '=i8', 'fortran_order': False, 'shape': ()}", 8), error_code::ok);
    EXPECT_EQ(code_of("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 4,)}", 8), error_code::ok);
}

TEST(npy_handmade, magic_and_version) {
    auto wrong = to_bytes("\x93NUMPX\x01\x00");
    EXPECT_EQ(npy_parse(wrong).error().code, error_code::npy_invalid_magic);
    EXPECT_EQ(npy_parse(std::span<const std::byte>()).error().code, error_code::npy_invalid_magic);
    EXPECT_EQ(code_of(good, 8, 4), error_code::npy_unsupported_version);
    EXPECT_EQ(code_of(good, 8, 1, 1), error_code::npy_unsupported_version);
    EXPECT_EQ(code_of(good, 8, 0), error_code::npy_unsupported_version);
}

TEST(npy_handmade, truncated_header) {
    auto file = npy_file(1, 0, good, 8);
    for (std::size_t size = 6; size < 10 + good.size(); ++size) {
        auto array = npy_parse(std::span<const std::byte>(file.data(), size));
        ASSERT_FALSE(array.ok()) << size;
        EXPECT_EQ(array.error().code, error_code::truncated) << size;
    }
}

TEST(npy_handmade, malformed_headers) {
    for (std::string_view header : {
             "",                                                         // empty
             "[1, 2]",                                                   // not a dict
             "{'descr': '<f4', 'fortran_order': False}",                 // missing shape
             "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",  // extra key
             "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",  // repeated
             "{'descr': 4, 'fortran_order': False, 'shape': (2,)}",      // descr not a string
             "{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,)}",   // not a bool
             "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",      // not a bool
             "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", // negative extent
             "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",   // not a tuple
             "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",   // an int, not a tuple
             "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}",  // not an int
             "{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}",   // leading zero
             "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",  // text after the dict
             "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)",     // unterminated
             "{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}",     // broken string
             "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}",     // missing comma
             "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}",   // not a keyword
             "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}",  // escapes refused
             "{1: '<f4', 'fortran_order': False, 'shape': (2,)}",          // key not a string
         }) {
        EXPECT_EQ(code_of(header), error_code::npy_invalid_header) << header;
    }
    std::string deep = "{'descr': " + std::string(100, '[') + std::string(100, ']') +
                       ", 'fortran_order': False, 'shape': (2,)}";
    EXPECT_EQ(code_of(deep), error_code::npy_invalid_header);
    // Version 3.0 headers are UTF-8; this one is not.
    EXPECT_EQ(code_of("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } \xff\n", 8, 3),
              error_code::npy_invalid_header);
    EXPECT_EQ(code_of("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } \xff\n", 8, 1),
              error_code::npy_invalid_header);  // still not a literal in latin-1
}

TEST(npy_handmade, size_checks) {
    EXPECT_EQ(code_of(good, 7), error_code::npy_size_mismatch);
    EXPECT_EQ(code_of(good, 9), error_code::npy_size_mismatch);  // trailing data
    EXPECT_EQ(code_of("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 8),
              error_code::npy_size_mismatch);  // overflows 64 bits
    EXPECT_EQ(code_of("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4294967296)}", 0),
              error_code::ok);
    // Object arrays are a pickle of any length.
    EXPECT_EQ(code_of("{'descr': '|O', 'fortran_order': False, 'shape': (3,)}", 1), error_code::ok);
}

TEST(npy_handmade, descr_mapping) {
    // Parses a 0-d array of `descr` with `size` bytes of data; the parse itself must succeed.
    auto descr_type = [](std::string descr, std::size_t size = 16) -> std::optional<dtype> {
        std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': ()}";
        auto file = npy_file(1, 0, header, size);
        auto array = npy_parse(file);
        EXPECT_TRUE(array.ok()) << descr;
        return array.ok() ? array->type : std::nullopt;
    };
    EXPECT_EQ(descr_type("<c8", 8), dtype::c64);
    EXPECT_EQ(descr_type("=f2", 2), dtype::f16);
    EXPECT_EQ(descr_type(">u1", 1), dtype::u8);
    EXPECT_EQ(descr_type("<c16"), std::nullopt);
    EXPECT_EQ(descr_type("<f16"), std::nullopt);
    EXPECT_EQ(descr_type("|i2", 2), std::nullopt);  // '|' is for single bytes
    EXPECT_EQ(descr_type("|V16"), std::nullopt);
    EXPECT_EQ(descr_type("<U4"), std::nullopt);
    EXPECT_EQ(descr_type("x", 3), std::nullopt);  // unknown item size: not size-checked
}

}  // namespace
}  // namespace stkit
