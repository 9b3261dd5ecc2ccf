// mapped_file and output_file: POSIX mmap and write/fsync/rename. See stkit/file.hpp.
#include "stkit/file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace stkit {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

error io_error(error_code code, int err, const std::filesystem::path& path) {
    return make_error(code, errno_text(err)).in_file(path.string());
}

constexpr std::size_t output_buffer_size = std::size_t{1} << 20;

// Writeback is started every this many bytes. Without it the kernel starts writing only when the
// dirty pages pass a threshold or at fsync, so a multi-GB output took as long to copy as to sync
// (a 2 GiB conversion: 0.7 s of writes, then 0.75 s of fsync); with it the two overlap (0.8 s in
// all) and the final fsync waits only for the last piece (RocksDB's bytes_per_sync works the same
// way).
constexpr uint64_t writeback_step = uint64_t{64} << 20;

}  // namespace

result<mapped_file> mapped_file::open(const std::filesystem::path& path, map_mode mode) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(error_code::io_open_failed, errno, path);
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        int err = errno;
        ::close(fd);
        return io_error(error_code::io_open_failed, err, path);
    }
    if (!S_ISREG(info.st_mode)) {
        ::close(fd);
        return make_error(error_code::io_open_failed, "not a regular file").in_file(path.string());
    }
    mapped_file file;
    file.path_ = path;
    file.size_ = static_cast<std::size_t>(info.st_size);
    file.mode_ = mode;
    if (file.size_ > 0) {
        // Both modes are MAP_PRIVATE, so even a writable mapping of a read-only descriptor never
        // writes back; PROT_WRITE only lets this process take private copies of pages it writes.
        const int protection = mode == map_mode::copy_on_write ? PROT_READ | PROT_WRITE : PROT_READ;
        void* data = ::mmap(nullptr, file.size_, protection, MAP_PRIVATE, fd, 0);
        if (data == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            return io_error(error_code::io_map_failed, err, path);
        }
        file.data_ = static_cast<const std::byte*>(data);
    }
    ::close(fd);  // the mapping keeps the file alive
    return file;
}

mapped_file::mapped_file(mapped_file&& other) noexcept
    : data_(other.data_), size_(other.size_), mode_(other.mode_), path_(std::move(other.path_)) {
    other.data_ = nullptr;
    other.size_ = 0;
}

mapped_file& mapped_file::operator=(mapped_file&& other) noexcept {
    if (this != &other) {
        if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
        data_ = other.data_;
        size_ = other.size_;
        mode_ = other.mode_;
        path_ = std::move(other.path_);
        other.data_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

mapped_file::~mapped_file() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

void mapped_file::advise_sequential() const noexcept {
    if (data_ != nullptr) ::madvise(const_cast<std::byte*>(data_), size_, MADV_SEQUENTIAL);
}

void mapped_file::advise_random() const noexcept {
    if (data_ != nullptr) ::madvise(const_cast<std::byte*>(data_), size_, MADV_RANDOM);
}

result<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(error_code::io_open_failed, errno, path);
    std::string text;
    char chunk[65536];
    for (;;) {
        ssize_t got = ::read(fd, chunk, sizeof chunk);
        if (got < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            return io_error(error_code::io_read_failed, err, path);
        }
        if (got == 0) break;
        if (text.size() + static_cast<std::size_t>(got) > max_bytes) {
            ::close(fd);
            return make_error(error_code::allocation_limit,
                              "file is larger than " + std::to_string(max_bytes) + " bytes")
                .in_file(path.string());
        }
        text.append(chunk, static_cast<std::size_t>(got));
    }
    ::close(fd);
    return text;
}

void release_pages(std::span<const std::byte> bytes) noexcept {
    static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    auto begin = reinterpret_cast<uintptr_t>(bytes.data());
    uintptr_t end = begin + bytes.size();
    uintptr_t first = (begin + page - 1) / page * page;
    uintptr_t last = end / page * page;
    if (bytes.empty() || last <= first) return;
    ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

void populate_pages(std::span<const std::byte> bytes) noexcept {
#ifdef MADV_POPULATE_READ
    static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    auto begin = reinterpret_cast<uintptr_t>(bytes.data()) / page * page;
    uintptr_t end = reinterpret_cast<uintptr_t>(bytes.data()) + bytes.size();
    if (!bytes.empty()) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ);
#else
    (void)bytes;
#endif
}

result<output_file> output_file::create(const std::filesystem::path& destination,
                                        bool overwrite) {
    std::error_code ignored;
    if (!overwrite && std::filesystem::exists(std::filesystem::symlink_status(destination, ignored)))
        return make_error(error_code::output_exists).in_file(destination.string());
    std::filesystem::path directory = destination.parent_path();
    if (directory.empty()) directory = ".";
    output_file file;
    // An unnamed temporary file (O_TMPFILE) has no name until commit() links it into place, so a
    // process killed mid-write (even by SIGKILL) leaves nothing behind. File systems without
    // O_TMPFILE get a named temporary file beside the destination instead.
    int fd = ::open(directory.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) {
        file.anonymous_ = true;
        file.temp_path_ = "/proc/self/fd/" + std::to_string(fd);
    } else {
        std::string pattern =
            (directory / ("." + destination.filename().string() + ".stkit-tmp-XXXXXX")).string();
        fd = ::mkostemp(pattern.data(), O_CLOEXEC);
        if (fd < 0) return io_error(error_code::io_open_failed, errno, destination);
        ::fchmod(fd, 0644);
        file.temp_path_ = pattern;
    }
    file.fd_ = fd;
    file.overwrite_ = overwrite;
    file.destination_ = destination;
    file.buffer_.reserve(output_buffer_size);
    return file;
}

output_file::output_file(output_file&& other) noexcept
    : fd_(other.fd_),
      overwrite_(other.overwrite_),
      finished_(other.finished_),
      committed_(other.committed_),
      anonymous_(other.anonymous_),
      bytes_written_(other.bytes_written_),
      bytes_in_file_(other.bytes_in_file_),
      writeback_started_(other.writeback_started_),
      buffer_(std::move(other.buffer_)),
      destination_(std::move(other.destination_)),
      temp_path_(std::move(other.temp_path_)) {
    other.fd_ = -1;
    other.committed_ = true;  // the moved-from object owns nothing to clean up
}

output_file& output_file::operator=(output_file&& other) noexcept {
    if (this != &other) {
        discard();
        fd_ = other.fd_;
        overwrite_ = other.overwrite_;
        finished_ = other.finished_;
        committed_ = other.committed_;
        anonymous_ = other.anonymous_;
        bytes_written_ = other.bytes_written_;
        bytes_in_file_ = other.bytes_in_file_;
        writeback_started_ = other.writeback_started_;
        buffer_ = std::move(other.buffer_);
        destination_ = std::move(other.destination_);
        temp_path_ = std::move(other.temp_path_);
        other.fd_ = -1;
        other.committed_ = true;
    }
    return *this;
}

output_file::~output_file() { discard(); }

void output_file::discard() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (!committed_ && !anonymous_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
    committed_ = true;
}

static result<void> write_all(int fd, const std::byte* data, std::size_t size,
                              const std::filesystem::path& path) {
    while (size > 0) {
        ssize_t put = ::write(fd, data, size);
        if (put < 0) {
            if (errno == EINTR) continue;
            return io_error(error_code::io_write_failed, errno, path);
        }
        data += put;
        size -= static_cast<std::size_t>(put);
    }
    return {};
}

result<void> output_file::append_to_file(const std::byte* data, std::size_t size) {
    STKIT_TRY_VOID(write_all(fd_, data, size, destination_));
    bytes_in_file_ += size;
    if (bytes_in_file_ - writeback_started_ >= writeback_step) {
        // Advice only: an I/O error here is reported again by finish()'s fsync, which decides.
        ::sync_file_range(fd_, static_cast<off64_t>(writeback_started_),
                          static_cast<off64_t>(bytes_in_file_ - writeback_started_), SYNC_FILE_RANGE_WRITE);
        writeback_started_ = bytes_in_file_;
    }
    return {};
}

result<void> output_file::flush_buffer() {
    if (buffer_.empty()) return {};
    auto written = append_to_file(buffer_.data(), buffer_.size());
    buffer_.clear();
    return written;
}

result<void> output_file::write(std::span<const std::byte> bytes) {
    if (fd_ < 0 || finished_)
        return make_error(error_code::io_write_failed, "file is closed").in_file(destination_.string());
    bytes_written_ += bytes.size();
    if (buffer_.size() + bytes.size() <= output_buffer_size) {
        buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
        return {};
    }
    STKIT_TRY_VOID(flush_buffer());
    if (bytes.size() >= output_buffer_size)  // large writes skip the copy
        return append_to_file(bytes.data(), bytes.size());
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    return {};
}

result<void> output_file::write(std::string_view text) {
    return write(std::as_bytes(std::span<const char>(text.data(), text.size())));
}

result<void> output_file::flush() {
    if (fd_ < 0) return make_error(error_code::io_write_failed, "file is closed").in_file(destination_.string());
    return flush_buffer();
}

result<void> output_file::finish() {
    if (finished_) return {};
    if (fd_ < 0)
        return make_error(error_code::io_write_failed, "file is closed").in_file(destination_.string());
    STKIT_TRY_VOID(flush_buffer());
    if (::fsync(fd_) != 0) return io_error(error_code::io_sync_failed, errno, destination_);
    finished_ = true;
    return {};
}

namespace {

// Moves `from` to `to` unless `to` exists (atomically: renameat2 NOREPLACE, or link + unlink on
// file systems without it).
result<void> rename_no_replace(const std::filesystem::path& from, const std::filesystem::path& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
    if (errno == EEXIST) return make_error(error_code::output_exists).in_file(to.string());
    if (errno != EINVAL && errno != ENOSYS) return io_error(error_code::io_rename_failed, errno, to);
    if (::link(from.c_str(), to.c_str()) != 0) {
        if (errno == EEXIST) return make_error(error_code::output_exists).in_file(to.string());
        return io_error(error_code::io_rename_failed, errno, to);
    }
    ::unlink(from.c_str());
    return {};
}

}  // namespace

// Gives the unnamed temporary file its name. linkat never replaces an existing file, which is the
// no-overwrite rule; with overwrite, link under a unique temporary name and rename over.
result<void> output_file::link_anonymous() {
    if (!overwrite_) {
        if (::linkat(fd_, "", AT_FDCWD, destination_.c_str(), AT_EMPTY_PATH) == 0 ||
            ::linkat(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, destination_.c_str(), AT_SYMLINK_FOLLOW) == 0)
            return {};
        if (errno == EEXIST) return make_error(error_code::output_exists).in_file(destination_.string());
        return io_error(error_code::io_rename_failed, errno, destination_);
    }
    std::filesystem::path directory = destination_.parent_path();
    if (directory.empty()) directory = ".";
    for (int attempt = 0; attempt < 100; ++attempt) {
        std::filesystem::path staged =
            directory / ("." + destination_.filename().string() + ".stkit-tmp-" +
                         std::to_string(::getpid()) + "-" + std::to_string(attempt));
        if (::linkat(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, staged.c_str(), AT_SYMLINK_FOLLOW) != 0) {
            if (errno == EEXIST) continue;
            return io_error(error_code::io_rename_failed, errno, destination_);
        }
        if (::rename(staged.c_str(), destination_.c_str()) != 0) {
            int err = errno;
            ::unlink(staged.c_str());
            return io_error(error_code::io_rename_failed, err, destination_);
        }
        return {};
    }
    return make_error(error_code::io_rename_failed, "no free temporary name").in_file(destination_.string());
}

result<void> output_file::commit() {
    STKIT_TRY_VOID(finish());
    if (committed_) return {};
    if (anonymous_) {
        STKIT_TRY_VOID(link_anonymous());
    } else if (overwrite_) {
        if (::rename(temp_path_.c_str(), destination_.c_str()) != 0)
            return io_error(error_code::io_rename_failed, errno, destination_);
    } else {
        STKIT_TRY_VOID(rename_no_replace(temp_path_, destination_));
    }
    committed_ = true;
    ::close(fd_);
    fd_ = -1;
    std::filesystem::path directory = destination_.parent_path();
    if (directory.empty()) directory = ".";
    int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);  // best effort: the rename is durable once the directory is
        ::close(dir_fd);
    }
    return {};
}

}  // namespace stkit
