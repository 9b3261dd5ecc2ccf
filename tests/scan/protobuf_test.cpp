// The protobuf wire reader (src/scan/protobuf.hpp): what a parser accepts (groups, overlong
// varints, any field number) and what it refuses, one case each.
#include <optional>
#include <string>
#include <vector>

#include "containers/fixtures.hpp"
#include "scan/protobuf.hpp"
#include "scan/protobuf_encoder.hpp"

namespace stkit {
namespace {

using namespace test::proto;
namespace wire = detail::protobuf;

// The fields of a message, or nothing when the reader refuses it.
std::optional<std::vector<wire::field>> fields(const std::string& message, std::vector<std::byte>& storage) {
    storage = test::to_bytes(message);
    std::vector<wire::field> out;
    bool ok = wire::for_each_field(storage, 100, [&](const wire::field& f) {
        out.push_back(f);
        return true;
    });
    if (!ok) return std::nullopt;
    return out;
}

TEST(protobuf, reads_every_wire_type) {
    std::vector<std::byte> storage;
    std::string message = number(1, 300) + key(2, 1) + std::string(8, '\x01') + bytes(3, "abc") + key(4, 5) +
                          std::string(4, '\x02');
    auto read = fields(message, storage);
    ASSERT_TRUE(read);
    ASSERT_EQ(read->size(), 4u);
    EXPECT_EQ((*read)[0].value, 300u);
    EXPECT_EQ((*read)[1].value, 0x0101010101010101u);
    EXPECT_EQ((*read)[2].text(), "abc");
    EXPECT_EQ((*read)[2].offset, 100u + 3 + 9 + 2);  // after the base offset, two fields and a key and length
    EXPECT_EQ((*read)[3].value, 0x02020202u);
}

TEST(protobuf, groups_are_read_whole) {
    std::vector<std::byte> storage;
    std::string inner = number(1, 1) + group(2, bytes(3, "x"));
    auto read = fields(group(7, inner) + number(8, 1), storage);
    ASSERT_TRUE(read);
    ASSERT_EQ(read->size(), 2u);
    EXPECT_EQ((*read)[0].type, wire::start_group);
    EXPECT_EQ((*read)[0].text(), inner);
    // An end key of another number, a stray end key, a group that does not end.
    EXPECT_FALSE(fields(key(7, 3) + key(8, 4), storage));
    EXPECT_FALSE(fields(key(7, 4), storage));
    EXPECT_FALSE(fields(key(7, 3) + number(1, 1), storage));
}

TEST(protobuf, group_nesting_is_limited_like_libprotobuf) {
    std::vector<std::byte> storage;
    std::string shallow, deep;
    for (unsigned i = 0; i < wire::max_nesting; ++i) shallow = group(1, shallow);
    EXPECT_TRUE(fields(shallow, storage));
    deep = group(1, shallow);
    EXPECT_FALSE(fields(deep, storage));
}

TEST(protobuf, varints_like_libprotobuf) {
    std::vector<std::byte> storage;
    // Ten bytes, the last with bits past the 64th: accepted, those bits dropped.
    auto overlong = fields(key(1, 0) + std::string(9, '\xff') + "\x7f", storage);
    ASSERT_TRUE(overlong);
    EXPECT_EQ(overlong->at(0).value, ~uint64_t{0});
    EXPECT_FALSE(fields(key(1, 0) + std::string(10, '\xff') + "\x01", storage));  // eleven bytes
    EXPECT_FALSE(fields(key(1, 0) + "\x80", storage));                            // cut short
}

TEST(protobuf, refuses_what_parsers_refuse) {
    std::vector<std::byte> storage;
    EXPECT_FALSE(fields(number(0, 1), storage));                         // field number 0
    EXPECT_FALSE(fields(key(1, 6) + "\x01", storage));                   // wire type 6
    EXPECT_FALSE(fields(key(1, 7) + "\x01", storage));                   // wire type 7
    EXPECT_FALSE(fields(key(1, 2) + varint(5) + "abc", storage));        // length past the end
    EXPECT_FALSE(fields(key(1, 1) + "1234567", storage));                // fixed64 cut short
    EXPECT_FALSE(fields(varint(uint64_t{1} << 35 | 2) + "\x00", storage));  // field number over 2^29
    EXPECT_TRUE(fields("", storage));                                    // the empty message
}

}  // namespace
}  // namespace stkit
