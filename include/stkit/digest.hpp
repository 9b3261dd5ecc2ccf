// stkit/digest.hpp — SHA-256 through OpenSSL, for LFS-comparable file ids and report digests, and
// XXH3-128 through libxxhash, for the converter's verification pass (an order of magnitude faster
// than SHA-256; it guards against the writer, the file system or a bug losing bytes, not against an
// adversary, who would control the source anyway).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "stkit/error.hpp"

namespace stkit {

using sha256_digest = std::array<uint8_t, 32>;

// Incremental SHA-256. Errors only if OpenSSL itself fails (digest_failed).
class sha256 {
public:
    sha256();
    sha256(sha256&&) noexcept;
    sha256& operator=(sha256&&) noexcept;
    ~sha256();

    void update(std::span<const std::byte> bytes) noexcept;
    [[nodiscard]] result<sha256_digest> finish() noexcept;

private:
    struct state;
    std::unique_ptr<state> state_;
    bool failed_ = false;
};

using xxh3_digest = std::array<uint8_t, 16>;

// Incremental XXH3-128 (libxxhash's streaming state).
class xxh3_128 {
public:
    xxh3_128();
    xxh3_128(xxh3_128&&) noexcept;
    xxh3_128& operator=(xxh3_128&&) noexcept;
    ~xxh3_128();

    void update(std::span<const std::byte> bytes) noexcept;
    [[nodiscard]] xxh3_digest finish() const noexcept;

private:
    struct state;
    std::unique_ptr<state> state_;
};

[[nodiscard]] xxh3_digest xxh3_of(std::span<const std::byte> bytes) noexcept;

[[nodiscard]] result<sha256_digest> sha256_of(std::span<const std::byte> bytes);
// Streams the file through the digest (no whole-file buffer). Errors: io_open_failed, io_read_failed.
[[nodiscard]] result<sha256_digest> sha256_of_file(const std::filesystem::path& path);
// Lower-case hex, as in Git LFS pointer files.
[[nodiscard]] std::string to_hex(std::span<const uint8_t> bytes);

}  // namespace stkit
