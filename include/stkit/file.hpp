// stkit/file.hpp — reading inputs through a read-only memory map, and writing outputs so that a
// reader never sees a partial file.
//
// `mapped_file` maps a whole file (an empty file maps to an empty span): read-only by default, or
// copy-on-write (`map_mode::copy_on_write`: a private writable mapping whose pages are the page
// cache's until written, when the writing process gets its own copy of that page; nothing ever
// reaches the file). Views handed out by readers borrow from it, so it must outlive them.
//
// `output_file` writes to an unnamed temporary file in the destination's folder (O_TMPFILE; a named
// hidden temporary file where the file system lacks it), and only `commit()` gives it its name
// (fsync of the file, link or rename, fsync of the directory). Without `overwrite`, an existing
// destination is refused at creation and again, atomically, at commit. If the object is destroyed
// before `commit()`, or the process is killed, no partial file is left under the destination name
// (and with O_TMPFILE, nothing at all).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "stkit/error.hpp"

namespace stkit {

// How mapped_file::open maps a file: PROT_READ, or PROT_READ | PROT_WRITE with MAP_PRIVATE.
enum class map_mode : uint8_t { read_only, copy_on_write };

class mapped_file {
public:
    // Errors: io_open_failed (missing, unreadable, not a regular file), io_map_failed.
    [[nodiscard]] static result<mapped_file> open(const std::filesystem::path& path,
                                                  map_mode mode = map_mode::read_only);

    mapped_file() = default;
    mapped_file(mapped_file&& other) noexcept;
    mapped_file& operator=(mapped_file&& other) noexcept;
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    ~mapped_file();

    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
    // The same bytes, writable, for a copy_on_write mapping; empty for a read_only one.
    [[nodiscard]] std::span<std::byte> writable_bytes() const noexcept {
        if (mode_ != map_mode::copy_on_write) return {};
        return {const_cast<std::byte*>(data_), size_};  // mapped PROT_WRITE: the cast is sound
    }
    [[nodiscard]] map_mode mode() const noexcept { return mode_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

    // Hints for the kernel's read-ahead; harmless if ignored.
    void advise_sequential() const noexcept;
    void advise_random() const noexcept;

private:
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    map_mode mode_ = map_mode::read_only;
    std::filesystem::path path_;
};

// Page hints for a read-only file map the caller owns (mapped_file), when streaming through it.
// Drops the pages wholly inside `bytes` from this process (madvise MADV_DONTNEED): reading them again
// maps them again from the page cache. Never call it on memory of your own: anonymous memory would
// read back as zeros.
void release_pages(std::span<const std::byte> bytes) noexcept;
// Maps the pages of `bytes` in one call (MADV_POPULATE_READ, Linux 5.14+; a no-op elsewhere)
// instead of a page fault per few pages, which dominates the cost of streaming a map.
void populate_pages(std::span<const std::byte> bytes) noexcept;

// Reads a whole (small) file into memory: index JSON, config files. Errors: io_open_failed,
// io_read_failed, allocation_limit when the file is larger than `max_bytes`.
[[nodiscard]] result<std::string> read_small_file(const std::filesystem::path& path,
                                                  std::size_t max_bytes = std::size_t{1} << 30);

class output_file {
public:
    // Errors: output_exists (destination exists and !overwrite), io_open_failed.
    [[nodiscard]] static result<output_file> create(const std::filesystem::path& destination,
                                                    bool overwrite);

    output_file() = default;
    output_file(output_file&& other) noexcept;
    output_file& operator=(output_file&& other) noexcept;
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;
    ~output_file();  // removes the temporary file unless committed

    // Appends bytes (buffered). Every 64 MiB that reaches the file, its writeback is started
    // (sync_file_range), so the disk writes while the caller produces more and finish()'s fsync
    // waits only for the tail. Errors: io_write_failed.
    [[nodiscard]] result<void> write(std::span<const std::byte> bytes);
    [[nodiscard]] result<void> write(std::string_view text);
    // Everything written so far reaches the file (no fsync): temp_path() can be read back while
    // finish() syncs. Errors: io_write_failed.
    [[nodiscard]] result<void> flush();
    // Flushes the buffer and fsyncs; the temporary file is then complete and can be verified by
    // opening temp_path() (a /proc/self/fd/N path for an unnamed file). Errors: io_write_failed,
    // io_sync_failed.
    [[nodiscard]] result<void> finish();
    // finish() if not done, then renames into place and fsyncs the directory.
    // Errors: those of finish(), output_exists, io_rename_failed.
    [[nodiscard]] result<void> commit();

    [[nodiscard]] uint64_t bytes_written() const noexcept { return bytes_written_; }
    [[nodiscard]] const std::filesystem::path& temp_path() const noexcept { return temp_path_; }
    [[nodiscard]] const std::filesystem::path& destination() const noexcept { return destination_; }

private:
    [[nodiscard]] result<void> flush_buffer();
    [[nodiscard]] result<void> append_to_file(const std::byte* data, std::size_t size);
    [[nodiscard]] result<void> link_anonymous();
    void discard() noexcept;

    int fd_ = -1;
    bool overwrite_ = false;
    bool finished_ = false;
    bool committed_ = false;
    bool anonymous_ = false;  // O_TMPFILE: no name until commit
    uint64_t bytes_written_ = 0;     // including what is still in buffer_
    uint64_t bytes_in_file_ = 0;     // passed to write(2)
    uint64_t writeback_started_ = 0; // bytes whose writeback has been started
    std::vector<std::byte> buffer_;
    std::filesystem::path destination_;
    std::filesystem::path temp_path_;
};

}  // namespace stkit
