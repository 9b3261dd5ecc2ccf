// Slicing against a naive element-by-element (bit-by-bit for packed types) reference, and its errors.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "format_test_util.hpp"

namespace stkit {
namespace {

// A file holding one tensor of `type` and `shape` with distinct-looking bytes.
struct one_tensor {
    std::vector<std::byte> bytes;
    safetensors_file file;

    one_tensor(dtype type, const std::vector<uint64_t>& shape) {
        uint64_t elements = 1;
        std::string shape_text;
        for (uint64_t extent : shape) {
            elements *= extent;
            shape_text += (shape_text.empty() ? "" : ",") + std::to_string(extent);
        }
        uint64_t size = elements * dtype_bits(type) / 8;
        std::string data;
        for (uint64_t i = 0; i < size; ++i) data += static_cast<char>((i * 131 + 17) % 251);
        bytes = test::make_file("{\"t\":{\"dtype\":\"" + std::string(dtype_name(type)) + "\",\"shape\":[" + shape_text +
                                    "],\"data_offsets\":[0," + std::to_string(size) + "]}}",
                                data);
        auto opened = safetensors_file::from_buffer(bytes);
        EXPECT_TRUE(opened.ok()) << opened.error().to_string();
        if (opened.ok()) file = std::move(*opened);
    }
    const tensor_view& tensor() const { return file.tensors()[0]; }
};

bool get_bit(std::span<const std::byte> bytes, uint64_t bit) {
    return (static_cast<unsigned>(bytes[bit / 8]) >> (bit % 8)) & 1u;
}

// Visits every selected element in row-major order and copies its bits.
std::vector<std::byte> naive_slice(const tensor_view& tensor, const std::vector<slice_range>& ranges) {
    const uint64_t bits = dtype_bits(tensor.type);
    uint64_t count = 1;
    for (const auto& r : ranges) count *= (r.stop - r.start + r.step - 1) / r.step;
    std::vector<std::byte> out((count * bits + 7) / 8);
    std::vector<uint64_t> index(ranges.size());
    for (std::size_t d = 0; d < ranges.size(); ++d) index[d] = ranges[d].start;
    for (uint64_t n = 0; n < count; ++n) {
        uint64_t flat = 0;
        for (std::size_t d = 0; d < ranges.size(); ++d) flat = flat * tensor.shape[d] + index[d];
        for (uint64_t b = 0; b < bits; ++b)
            if (get_bit(tensor.data, flat * bits + b)) {
                uint64_t target = n * bits + b;
                out[target / 8] |= static_cast<std::byte>(1u << (target % 8));
            }
        for (std::size_t d = ranges.size(); d > 0; --d) {
            index[d - 1] += ranges[d - 1].step;
            if (index[d - 1] < ranges[d - 1].stop) break;
            index[d - 1] = ranges[d - 1].start;
        }
    }
    return out;
}

TEST(format_slice, matches_naive_reference_on_random_slices) {
    std::mt19937_64 random(42);
    const dtype types[] = {dtype::u8, dtype::f16, dtype::f32, dtype::c64, dtype::f4, dtype::f6_e2m3};
    int compared = 0, refused = 0;
    for (int round = 0; round < 400; ++round) {
        dtype type = types[random() % std::size(types)];
        std::vector<uint64_t> shape;
        for (uint64_t rank = random() % 5; rank > 0; --rank) shape.push_back(1 + random() % 5);
        if (dtype_bits(type) % 8 != 0) shape.push_back(4 * (1 + random() % 2));  // whole bytes
        one_tensor source(type, shape);
        std::vector<slice_range> ranges;
        for (uint64_t extent : shape) {
            uint64_t a = random() % (extent + 1), b = random() % (extent + 1);
            uint64_t step = random() % 3 == 0 ? 1 + random() % 3 : 1;
            if (random() % 3 == 0) ranges.push_back({0, extent, step});
            else ranges.push_back({std::min(a, b), std::max(a, b), step});
        }
        auto size = tensor_slice_size(source.tensor(), ranges);
        if (!size.ok()) {
            // Only packed types may refuse, and only for misaligned runs.
            ASSERT_NE(dtype_bits(type) % 8, 0u);
            ASSERT_EQ(size.error().code, error_code::st_slice_not_byte_aligned);
            ++refused;
            continue;
        }
        std::vector<std::byte> expected = naive_slice(source.tensor(), ranges);
        ASSERT_EQ(*size, expected.size());
        std::vector<std::byte> out(*size + 3, std::byte{0xEE});
        auto written = tensor_slice(source.tensor(), ranges, out);
        ASSERT_TRUE(written.ok()) << written.error().to_string();
        ASSERT_EQ(*written, expected.size());
        ASSERT_TRUE(std::equal(expected.begin(), expected.end(), out.begin())) << "round " << round;
        EXPECT_EQ(out[*size], std::byte{0xEE}) << "wrote past the slice";
        ++compared;
    }
    EXPECT_GT(compared, 300);
    EXPECT_GT(refused, 0);
}

TEST(format_slice, whole_tensor_and_rows) {
    one_tensor source(dtype::i32, {3, 4});
    auto all = tensor_slice_size(source.tensor(), std::vector<slice_range>{{0, 3}, {0, 4}});
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(*all, 48u);
    std::vector<std::byte> row(16);
    ASSERT_TRUE(tensor_slice(source.tensor(), std::vector<slice_range>{{1, 2}, {0, 4}}, row).ok());
    EXPECT_TRUE(std::equal(row.begin(), row.end(), source.tensor().data.begin() + 16));
    one_tensor scalar(dtype::f64, {});
    std::vector<std::byte> value(8);
    ASSERT_TRUE(tensor_slice(scalar.tensor(), {}, value).ok());
    EXPECT_TRUE(std::equal(value.begin(), value.end(), scalar.tensor().data.begin()));
}

TEST(format_slice, steps) {
    one_tensor source(dtype::u8, {4, 6});  // element (r, c) is byte r*6+c of the data
    auto at = [&](uint64_t r, uint64_t c) { return source.tensor().data[r * 6 + c]; };
    std::vector<std::byte> out(24);
    // Every other column of rows 1..3: the inner dimension is strided, so no run folds it.
    auto written = tensor_slice(source.tensor(), std::vector<slice_range>{{1, 4, 1}, {0, 6, 2}}, out);
    ASSERT_TRUE(written.ok()) << written.error().to_string();
    ASSERT_EQ(*written, 9u);
    for (uint64_t r = 0; r < 3; ++r)
        for (uint64_t c = 0; c < 3; ++c) EXPECT_EQ(out[r * 3 + c], at(1 + r, 2 * c));
    // Rows 0 and 3 whole: the run still folds the full inner dimension.
    written = tensor_slice(source.tensor(), std::vector<slice_range>{{0, 4, 3}, {0, 6, 1}}, out);
    ASSERT_TRUE(written.ok());
    ASSERT_EQ(*written, 12u);
    for (uint64_t c = 0; c < 6; ++c) EXPECT_EQ(out[6 + c], at(3, c));
    // A step past the end picks the first element only, whatever its size.
    written = tensor_slice(source.tensor(), std::vector<slice_range>{{2, 4, UINT64_MAX}, {5, 6, UINT64_MAX}}, out);
    ASSERT_TRUE(written.ok());
    ASSERT_EQ(*written, 1u);
    EXPECT_EQ(out[0], at(2, 5));
    auto zero = tensor_slice_size(source.tensor(), std::vector<slice_range>{{0, 4, 0}, {0, 6, 1}});
    EXPECT_EQ(zero.error().code, error_code::st_slice_out_of_range);
}

TEST(format_slice, errors) {
    one_tensor source(dtype::f32, {2, 3});
    std::vector<std::byte> out(64);
    auto rank = tensor_slice(source.tensor(), std::vector<slice_range>{{0, 1}}, out);
    EXPECT_EQ(rank.error().code, error_code::st_slice_rank_mismatch);
    EXPECT_EQ(rank.error().name, "t");
    EXPECT_EQ(tensor_slice(source.tensor(), std::vector<slice_range>{{0, 3}, {0, 1}}, out).error().code,
              error_code::st_slice_out_of_range);
    EXPECT_EQ(tensor_slice(source.tensor(), std::vector<slice_range>{{1, 0}, {0, 1}}, out).error().code,
              error_code::st_slice_out_of_range);
    EXPECT_EQ(tensor_slice_size(source.tensor(), std::vector<slice_range>{{0, 2}, {2, 4}}).error().code,
              error_code::st_slice_out_of_range);
    std::vector<std::byte> small(23);
    EXPECT_EQ(tensor_slice(source.tensor(), std::vector<slice_range>{{0, 2}, {0, 3}}, small).error().code,
              error_code::st_buffer_too_small);
    // Empty selections are fine and write nothing.
    auto empty = tensor_slice(source.tensor(), std::vector<slice_range>{{1, 1}, {0, 3}}, small);
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(*empty, 0u);

    one_tensor packed(dtype::f4, {2, 4});
    EXPECT_EQ(tensor_slice(packed.tensor(), std::vector<slice_range>{{0, 2}, {1, 3}}, out).error().code,
              error_code::st_slice_not_byte_aligned);
    EXPECT_EQ(tensor_slice(packed.tensor(), std::vector<slice_range>{{0, 1}, {0, 1}}, out).error().code,
              error_code::st_slice_not_byte_aligned);
    auto aligned = tensor_slice(packed.tensor(), std::vector<slice_range>{{0, 2}, {2, 4}}, out);
    ASSERT_TRUE(aligned.ok());
    EXPECT_EQ(*aligned, 2u);
    EXPECT_EQ(out[0], packed.tensor().data[1]);
    EXPECT_EQ(out[1], packed.tensor().data[3]);
}

}  // namespace
}  // namespace stkit
