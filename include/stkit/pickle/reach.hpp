// stkit/pickle/reach.hpp — what Python's unpicklers would import and call, given any bytes.
//
// The scanner's question is not "what object does this pickle build" (the restricted machine,
// machine.hpp, answers that for the converter) but "pointed at these bytes, which globals does a
// loader import, and does it call them, before it stops". It is asked of every buffer the scanner
// sees, whatever it looks like, so the answer must over-approximate every unpickler a user might
// run, and stay empty on ordinary files:
//
//   - CPython's C unpickler (pickle.load/loads, torch.load in both weights_only settings before its
//     own allowlist, numpy.load(allow_pickle=True)), reading bytes or a file, with or without
//     peek(): the interpreter follows its checks opcode by opcode (fences at MARKs, memo, the
//     argument types REDUCE, NEWOBJ, BUILD and the container opcodes accept, text operand parsing);
//   - the pure-Python unpickler (pickle._Unpickler, which joblib.load uses): where it accepts what
//     the C one refuses (an import on a last line without a newline, FRAME longer than the data,
//     REDUCE arguments that are any iterable), the interpreter accepts too;
//   - loaders that read on after a STOP (torch's legacy layout, a loop of pickle.load): every
//     pickle of the buffer is followed while bytes remain.
// Values are types, not objects: a str keeps its bytes (a STACK_GLOBAL may name a module with
// it), containers keep only their kind, and whatever a call returns is an `object` on which every
// operation succeeds. Where the loaders disagree on the bytes themselves (FRAME boundaries, below),
// both readings are followed.
//
// Loading on. After a STOP, `pickle.load(f)` in a loop starts a new unpickler where the file was
// left; torch's legacy loader does too. One Unpickler object called again keeps its memo (a GET in
// a later pickle finds what an earlier one stored) and, in C, the bytes it had buffered. Both are
// followed.
//
// Frames. pickle.loads and a file with peek() read a protocol 4+ stream sequentially; the C
// unpickler reading a file without peek() (torch.load's zip records come as io.BytesIO) or a frame
// of 128 KiB or more reads each FRAME into a buffer and, when an operand runs past its end, reads
// the operand from the file after the frame: the rest of the frame is skipped. The pure-Python
// unpickler refuses both an operand across a frame end and a FRAME inside an unfinished frame.
// Whenever the sequential reading shows one of these, the buffered reading is run as well and the
// divergence is reported: each reading may hide imports from the other.
//
// An import is reported only when Python could perform it: its module is a syntactically valid
// dotted name (what `__import__` can find; a text line that happens to follow a `c` is not).
// Limits are named; hitting one ends the analysis with `limit` set, and what was not analysed must
// then be treated as unknown.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stkit/error.hpp"

namespace stkit::pickle {

struct reach_limits {
    uint64_t max_opcodes = 400'000'000;          // pk_opcode_limit (all pickles, both readings)
    uint64_t max_stack_depth = 4'000'000;         // pk_stack_limit (stack items and marks)
    uint64_t max_memo_entries = 16'000'000;       // pk_memo_limit
    uint64_t max_total_bytes = uint64_t{1} << 30;  // pk_allocation_limit (tables, decoded text)
};

enum class reach_reading : uint8_t {
    sequential,      // bytes, peek()-able files, the pure-Python unpickler
    frame_buffered,  // the C unpickler on a file without peek(): a frame's unread tail is dropped
};

enum class reach_divergence_kind : uint8_t {
    operand_crosses_frame,  // an operand or text line runs past the end of its FRAME
    frame_inside_frame,     // FRAME before the previous frame was read to its end
    stop_inside_frame,      // STOP before the frame's end: loaders that read on disagree where
    frame_past_end,         // FRAME longer than the data: C stops there, pure Python reads on
};

struct reach_import {
    std::string module;  // as find_class receives it, after protocol < 3 renames
    std::string name;
    uint64_t offset = 0;       // absolute offset of the importing opcode
    uint32_t pickle_index = 0;  // 0 for the buffer's first pickle, n after n STOPs
    reach_reading reading = reach_reading::sequential;
    bool reused = false;        // seen by one Unpickler object loading pickle after pickle
    uint8_t opcode = 0;         // 'c', 'i', 0x93 (STACK_GLOBAL), 0x82..0x84 (EXT1/2/4)
    bool extension = false;     // EXT: module "copyreg", name "extension N"; the registry decides
    bool computed = false;      // STACK_GLOBAL whose names were made by a call: unknown until run
    bool called = false;        // the global, or something it returned, was called
};

// A call (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST, BUILD, or a container opcode on an object) of
// something an import produced.
struct reach_call {
    uint64_t offset = 0;
    uint32_t import_index = 0;  // into reach_result::imports
    uint32_t pickle_index = 0;
    reach_reading reading = reach_reading::sequential;
    uint8_t opcode = 0;
    // REDUCE with a tuple whose first item is str or bytes: that item (what `pickle.loads(b'...')`
    // would be given).
    std::optional<std::string> first_text;
};

struct reach_divergence {
    reach_divergence_kind kind;
    uint64_t offset = 0;
    uint32_t pickle_index = 0;
};

// One load: from `start` until STOP or the first error.
struct reach_pickle {
    uint64_t start = 0;
    uint64_t end = 0;  // just past STOP, or where the load failed
    uint32_t index = 0;
    reach_reading reading = reach_reading::sequential;
    bool reused = false;  // a load after the first by the same Unpickler object
    int protocol = 0;
    uint64_t opcodes = 0;
    bool stopped = false;                // reached STOP
    error_code failure = error_code::ok;  // otherwise why it ended
};

// A str or bytes value that may hold a pickle of its own: raw (it has the opcodes an import
// needs), base64 or hex. The scanner analyses each form.
struct reach_text {
    uint64_t offset = 0;  // the opcode that made the value
    std::string bytes;
};

struct reach_result {
    std::vector<reach_import> imports;  // one per (module, name, reading), first occurrence
    std::vector<reach_call> calls;
    std::vector<reach_divergence> divergences;
    std::vector<reach_pickle> pickles;
    std::vector<reach_text> staged;
    std::optional<error> limit;  // set when a limit ended the analysis early

    // True when the bytes ran like a pickle: a load read PROTO, or the loads (one or several, each
    // ending in STOP) read the whole of `data_size` bytes, or something with a valid name was
    // imported. For format labels, never for verdicts: text that happens to parse as a few opcodes
    // up to a '.' is not called a pickle.
    [[nodiscard]] bool looks_like_pickle(uint64_t data_size) const noexcept;
};

struct reach_options {
    reach_limits limits;
    uint64_t base_offset = 0;     // absolute offset of data[0], for offsets in the result
    bool read_on = true;          // after a STOP, load again while bytes remain
    bool python_leniency = true;  // include what only the pure-Python unpickler accepts
    bool frame_buffered = true;   // follow the buffered reading when frames are irregular
    bool collect_staged = true;   // record str/bytes values that may hold a pickle
    // The part of `data` that is a read-only file map the caller owns (stkit::mapped_file). A text
    // opcode reads to the next newline, which in a large file of other bytes can be gigabytes away
    // (a safetensors file whose header length begins with 'P' reads as PERSID); pages inside this
    // span are dropped once searched, so the search does not map the whole file.
    std::span<const std::byte> releasable = {};
};

// Analyses `data` from its first byte. Never fails: malformed input ends a load, a limit ends the
// analysis (`limit`).
[[nodiscard]] reach_result reach_analyse(std::span<const std::byte> data, const reach_options& options = {});

// Could `__import__` find a module by this name: dot-separated, non-empty components of letters,
// digits, underscores or non-ASCII characters, none starting with a digit.
[[nodiscard]] bool importable_module_name(std::string_view module) noexcept;

// The forms of `text` that may be a pickle able to import something: the text itself, its base64
// decoding and its hex decoding, each only when it has the opcodes an import needs.
[[nodiscard]] std::vector<std::string> staged_pickle_forms(std::string_view text);

}  // namespace stkit::pickle
