// stkit/detail/cursor.hpp — the one bounded reader for binary input (STYLE.md, practice 5).
//
// Every read checks the bytes that remain first and reports `truncated` (or the code the caller
// chooses) with the absolute offset of the read. Parsers of binary formats read through this and do
// no pointer arithmetic of their own on input.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "stkit/error.hpp"

namespace stkit::detail {

class byte_cursor {
public:
    // `base_offset` is the absolute offset of data[0] in the file, so errors point at the file.
    explicit byte_cursor(std::span<const std::byte> data, uint64_t base_offset = 0,
                         error_code short_read = error_code::truncated) noexcept
        : data_(data), base_(base_offset), short_read_(short_read) {}

    [[nodiscard]] std::size_t position() const noexcept { return position_; }
    [[nodiscard]] uint64_t offset() const noexcept { return base_ + position_; }
    [[nodiscard]] std::size_t remaining() const noexcept { return data_.size() - position_; }
    [[nodiscard]] bool at_end() const noexcept { return position_ == data_.size(); }
    [[nodiscard]] std::span<const std::byte> rest() const noexcept { return data_.subspan(position_); }
    [[nodiscard]] std::span<const std::byte> whole() const noexcept { return data_; }

    // Moves to `position` (relative to data[0]); error if past the end.
    [[nodiscard]] result<void> seek(std::size_t position) {
        if (position > data_.size()) return short_error(position - position_);
        position_ = position;
        return {};
    }
    [[nodiscard]] result<void> skip(std::size_t count) {
        if (count > remaining()) return short_error(count);
        position_ += count;
        return {};
    }
    [[nodiscard]] result<std::span<const std::byte>> take(std::size_t count) {
        if (count > remaining()) return short_error(count);
        auto bytes = data_.subspan(position_, count);
        position_ += count;
        return bytes;
    }
    [[nodiscard]] result<std::string_view> take_text(std::size_t count) {
        STKIT_TRY(auto bytes, take(count));
        return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    // Peeks without moving; error if fewer than `count` bytes remain.
    [[nodiscard]] result<std::span<const std::byte>> peek(std::size_t count) const {
        if (count > remaining()) return short_error(count);
        return data_.subspan(position_, count);
    }

    [[nodiscard]] result<uint8_t> u8() { return read_le<uint8_t>(); }
    [[nodiscard]] result<uint16_t> u16le() { return read_le<uint16_t>(); }
    [[nodiscard]] result<uint32_t> u32le() { return read_le<uint32_t>(); }
    [[nodiscard]] result<uint64_t> u64le() { return read_le<uint64_t>(); }
    [[nodiscard]] result<int32_t> i32le() { return read_le<int32_t>(); }
    [[nodiscard]] result<int64_t> i64le() { return read_le<int64_t>(); }
    [[nodiscard]] result<uint16_t> u16be() { return read_be<uint16_t>(); }
    [[nodiscard]] result<uint32_t> u32be() { return read_be<uint32_t>(); }
    [[nodiscard]] result<uint64_t> u64be() { return read_be<uint64_t>(); }

private:
    [[nodiscard]] error short_error(std::size_t wanted) const {
        return make_error(short_read_,
                          "needs " + std::to_string(wanted) + " bytes, " +
                              std::to_string(remaining()) + " remain",
                          offset());
    }
    template <class T>
    [[nodiscard]] result<T> read_le() {
        if (sizeof(T) > remaining()) return short_error(sizeof(T));
        T value;
        std::memcpy(&value, data_.data() + position_, sizeof(T));
        if constexpr (std::endian::native == std::endian::big) value = byteswap(value);
        position_ += sizeof(T);
        return value;
    }
    template <class T>
    [[nodiscard]] result<T> read_be() {
        if (sizeof(T) > remaining()) return short_error(sizeof(T));
        T value;
        std::memcpy(&value, data_.data() + position_, sizeof(T));
        if constexpr (std::endian::native == std::endian::little) value = byteswap(value);
        position_ += sizeof(T);
        return value;
    }
    template <class T>
    static T byteswap(T value) noexcept {
        if constexpr (sizeof(T) == 1) return value;
        else if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(value)));
        else if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(value)));
        else return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(value)));
    }

    std::span<const std::byte> data_;
    uint64_t base_;
    std::size_t position_ = 0;
    error_code short_read_;
};

}  // namespace stkit::detail
