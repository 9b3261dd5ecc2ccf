// SHA-256 through OpenSSL's EVP interface, XXH3-128 through libxxhash. See stkit/digest.hpp.
#include "stkit/digest.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <xxhash.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace stkit {

struct sha256::state {
    EVP_MD_CTX* context = nullptr;
};

sha256::sha256() : state_(std::make_unique<state>()) {
    state_->context = EVP_MD_CTX_new();
    failed_ = state_->context == nullptr ||
              EVP_DigestInit_ex(state_->context, EVP_sha256(), nullptr) != 1;
}

sha256::sha256(sha256&&) noexcept = default;
sha256& sha256::operator=(sha256&&) noexcept = default;

sha256::~sha256() {
    if (state_ && state_->context != nullptr) EVP_MD_CTX_free(state_->context);
}

void sha256::update(std::span<const std::byte> bytes) noexcept {
    if (failed_ || bytes.empty()) return;
    if (EVP_DigestUpdate(state_->context, bytes.data(), bytes.size()) != 1) failed_ = true;
}

result<sha256_digest> sha256::finish() noexcept {
    sha256_digest digest{};
    unsigned int length = 0;
    if (failed_ || EVP_DigestFinal_ex(state_->context, digest.data(), &length) != 1 ||
        length != digest.size())
        return make_error(error_code::digest_failed, "OpenSSL EVP_sha256 failed");
    return digest;
}

struct xxh3_128::state {
    XXH3_state_t* context = XXH3_createState();
};

xxh3_128::xxh3_128() : state_(std::make_unique<state>()) { XXH3_128bits_reset(state_->context); }
xxh3_128::xxh3_128(xxh3_128&&) noexcept = default;
xxh3_128& xxh3_128::operator=(xxh3_128&&) noexcept = default;
xxh3_128::~xxh3_128() {
    if (state_) XXH3_freeState(state_->context);
}

void xxh3_128::update(std::span<const std::byte> bytes) noexcept {
    if (!bytes.empty()) XXH3_128bits_update(state_->context, bytes.data(), bytes.size());
}

namespace {
xxh3_digest canonical(XXH128_hash_t hash) noexcept {
    XXH128_canonical_t bytes;
    XXH128_canonicalFromHash(&bytes, hash);
    xxh3_digest digest;
    std::memcpy(digest.data(), bytes.digest, digest.size());
    return digest;
}
}  // namespace

xxh3_digest xxh3_128::finish() const noexcept { return canonical(XXH3_128bits_digest(state_->context)); }

xxh3_digest xxh3_of(std::span<const std::byte> bytes) noexcept {
    return canonical(XXH3_128bits(bytes.data(), bytes.size()));
}

result<sha256_digest> sha256_of(std::span<const std::byte> bytes) {
    sha256 hasher;
    hasher.update(bytes);
    return hasher.finish();
}

result<sha256_digest> sha256_of_file(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(error_code::io_open_failed, std::strerror(errno)).in_file(path.string());
    sha256 hasher;
    std::vector<std::byte> chunk(std::size_t{1} << 20);
    for (;;) {
        ssize_t got = ::read(fd, chunk.data(), chunk.size());
        if (got < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            return make_error(error_code::io_read_failed, std::strerror(err)).in_file(path.string());
        }
        if (got == 0) break;
        hasher.update(std::span(chunk.data(), static_cast<std::size_t>(got)));
    }
    ::close(fd);
    return hasher.finish();
}

std::string to_hex(std::span<const uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    text.reserve(bytes.size() * 2);
    for (uint8_t byte : bytes) {
        text += digits[byte >> 4];
        text += digits[byte & 15];
    }
    return text;
}

}  // namespace stkit
