// The plan checks and the streaming gather on hand-made checkpoints: view bounds with overflowing
// arithmetic, duplicate names, the alias rule, strided and byte-swapped streaming in small chunks.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "convert/internal.hpp"

namespace stkit::convert {
namespace {

// A checkpoint over one storage of `elements` int32 values 0, 1, 2...
checkpoint make_checkpoint(uint32_t elements, std::vector<int32_t>& backing) {
    backing.resize(elements);
    std::iota(backing.begin(), backing.end(), 0);
    checkpoint out;
    source_storage storage;
    storage.key = "0";
    storage.bytes = std::as_bytes(std::span(backing));
    out.storages.push_back(std::move(storage));
    return out;
}

source_tensor view(std::string name, std::vector<uint64_t> shape, std::vector<uint64_t> stride,
                   uint64_t offset = 0) {
    source_tensor tensor;
    tensor.name = std::move(name);
    tensor.type = dtype::i32;
    tensor.shape = std::move(shape);
    tensor.stride = std::move(stride);
    tensor.offset = offset;
    return tensor;
}

std::vector<int32_t> streamed(const checkpoint& source, const source_tensor& tensor,
                              std::size_t chunk) {
    std::vector<std::byte> bytes;
    auto done = stream_tensor(source, tensor, chunk, [&](std::span<const std::byte> part) -> result<void> {
        EXPECT_LE(part.size(), std::max<std::size_t>(chunk, 4));
        bytes.insert(bytes.end(), part.begin(), part.end());
        return {};
    });
    EXPECT_TRUE(done.ok());
    std::vector<int32_t> values(bytes.size() / 4);
    std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
}

TEST(convert_plan, strided_views_stream_in_row_major_order) {
    std::vector<int32_t> backing;
    checkpoint source = make_checkpoint(60, backing);  // a 6 × 10 matrix
    source.tensors.push_back(view("sliced", {5, 5}, {10, 2}, 10));  // m[1:, ::2]
    source.tensors.push_back(view("transposed", {10, 6}, {1, 10}));
    source.tensors.push_back(view("expanded", {3, 10}, {0, 1}));
    ASSERT_TRUE(detail::finish_plan(source).ok());
    EXPECT_FALSE(source.tensors[0].contiguous);
    EXPECT_EQ(source.tensors[0].byte_size, 100u);
    for (std::size_t chunk : {4, 12, 64, 4096}) {
        auto sliced = streamed(source, source.tensors[0], chunk);
        ASSERT_EQ(sliced.size(), 25u);
        EXPECT_EQ(sliced[0], 10);
        EXPECT_EQ(sliced[1], 12);
        EXPECT_EQ(sliced[5], 20);
        EXPECT_EQ(sliced[24], 58);
        auto transposed = streamed(source, source.tensors[1], chunk);
        ASSERT_EQ(transposed.size(), 60u);
        EXPECT_EQ(transposed[1], 10);
        EXPECT_EQ(transposed[6], 1);
        auto expanded = streamed(source, source.tensors[2], chunk);
        ASSERT_EQ(expanded.size(), 30u);
        EXPECT_EQ(expanded[10], 0);
        EXPECT_EQ(expanded[29], 9);
    }
}

TEST(convert_plan, big_endian_storage_is_swapped) {
    std::vector<int32_t> backing;
    checkpoint source = make_checkpoint(8, backing);
    source.storages[0].big_endian = true;
    source.tensors.push_back(view("t", {8}, {1}));
    ASSERT_TRUE(detail::finish_plan(source).ok());
    auto values = streamed(source, source.tensors[0], 8);
    ASSERT_EQ(values.size(), 8u);
    EXPECT_EQ(values[1], static_cast<int32_t>(__builtin_bswap32(1)));
}

TEST(convert_plan, views_outside_the_storage_are_refused) {
    std::vector<int32_t> backing;
    for (auto bad : {view("past_end", {2, 10}, {10, 1}, 41),
                     view("huge_stride", {2}, {uint64_t{1} << 62}),
                     view("overflowing_shape", {uint64_t{1} << 40, uint64_t{1} << 40}, {1, 1})}) {
        checkpoint source = make_checkpoint(60, backing);
        source.tensors.push_back(bad);
        auto planned = detail::finish_plan(source);
        ASSERT_FALSE(planned.ok()) << bad.name;
        EXPECT_EQ(planned.error().code, error_code::cv_view_out_of_bounds) << bad.name;
        EXPECT_EQ(planned.error().name, bad.name);
    }
    checkpoint last_element = make_checkpoint(60, backing);
    last_element.tensors.push_back(view("fits", {2, 10}, {10, 1}, 40));
    last_element.tensors.push_back(view("empty_far_away", {0, 3}, {3, 1}, 1000));
    EXPECT_TRUE(detail::finish_plan(last_element).ok());
}

TEST(convert_plan, identical_views_keep_the_smallest_name_and_partial_overlaps_are_copied) {
    std::vector<int32_t> backing;
    checkpoint source = make_checkpoint(60, backing);
    source.tensors.push_back(view("lm_head.weight", {6, 10}, {10, 1}));
    source.tensors.push_back(view("embed.weight", {6, 10}, {10, 1}));
    source.tensors.push_back(view("z.alias", {6, 10}, {10, 1}));
    source.tensors.push_back(view("row", {10}, {1}, 10));
    source.tensors.push_back(view("empty_a", {0}, {1}));
    source.tensors.push_back(view("empty_b", {0}, {1}));
    ASSERT_TRUE(detail::finish_plan(source).ok());
    ASSERT_EQ(source.aliases.size(), 2u);
    EXPECT_EQ(source.aliases[0].alias, "lm_head.weight");
    EXPECT_EQ(source.aliases[0].kept, "embed.weight");
    EXPECT_EQ(source.aliases[1].alias, "z.alias");
    ASSERT_EQ(source.tensors.size(), 4u);  // embed.weight, row, empty_a, empty_b
    EXPECT_EQ(source.tensors[0].name, "embed.weight");
}

TEST(convert_plan, duplicate_names_and_empty_checkpoints_are_refused) {
    std::vector<int32_t> backing;
    checkpoint source = make_checkpoint(4, backing);
    source.tensors.push_back(view("a.b", {2}, {1}));
    source.tensors.push_back(view("a.b", {2}, {1}, 2));
    auto planned = detail::finish_plan(source);
    ASSERT_FALSE(planned.ok());
    EXPECT_EQ(planned.error().code, error_code::cv_duplicate_name);
    EXPECT_EQ(planned.error().name, "a.b");
    checkpoint empty = make_checkpoint(4, backing);
    auto none = detail::finish_plan(empty);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().code, error_code::cv_no_tensors);
}

TEST(convert_plan, torch_dtypes_map_or_are_refused) {
    using pickle::torch_scalar;
    EXPECT_EQ(detail::dtype_from_torch(torch_scalar::bfloat16), dtype::bf16);
    EXPECT_EQ(detail::dtype_from_torch(torch_scalar::float8_e4m3fn), dtype::f8_e4m3);
    EXPECT_EQ(detail::dtype_from_torch(torch_scalar::uint16), dtype::u16);
    EXPECT_EQ(detail::dtype_from_torch(torch_scalar::complex64), dtype::c64);
    EXPECT_FALSE(detail::dtype_from_torch(torch_scalar::complex128));
    EXPECT_FALSE(detail::dtype_from_torch(torch_scalar::qint8));
    EXPECT_EQ(detail::swap_unit(dtype::c64), 4u);
}

}  // namespace
}  // namespace stkit::convert
