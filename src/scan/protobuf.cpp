// ONNX ModelProto and TF SavedModel checks by walking protobuf fields (wire format: protobuf.hpp).
//
// "Parses as protobuf" is far too weak for detection (most short random buffers do). So these
// walks are strict: every field number must be one the message defines, with the wire type the
// schema gives it, and the messages the format requires must be present and must themselves parse
// the same way.
#include "scan/protobuf.hpp"

namespace stkit::detail {
namespace protobuf {
namespace {

bool read_field_nested(byte_cursor& cursor, field& f, unsigned depth);

// The fields of a group up to its end key; `f.bytes` becomes the group's body.
bool read_group(byte_cursor& cursor, field& f, unsigned depth) {
    if (depth >= max_nesting) return false;
    std::size_t body = cursor.position();
    while (true) {
        std::size_t end = cursor.position();
        field inner;
        if (!read_field_nested(cursor, inner, depth + 1)) return false;
        if (inner.type == end_group) {
            if (inner.number != f.number) return false;
            f.bytes = cursor.whole().subspan(body, end - body);
            return true;
        }
    }
}

// At depth 0 an end-group key is stray; inside a group it ends the group (read_group checks it).
bool read_field_nested(byte_cursor& cursor, field& f, unsigned depth) {
    uint64_t key = 0;
    if (!read_varint(cursor, key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) return false;
    f.number = static_cast<uint32_t>(key >> 3);
    f.type = static_cast<uint8_t>(key & 7);
    f.offset = cursor.offset();
    switch (f.type) {
        case varint: return read_varint(cursor, f.value);
        case fixed64: { auto v = cursor.u64le(); f.value = v.ok() ? *v : 0; return v.ok(); }
        case fixed32: { auto v = cursor.u32le(); f.value = v.ok() ? *v : 0; return v.ok(); }
        case length_delimited: {
            uint64_t length = 0;
            if (!read_varint(cursor, length) || length > max_field_bytes || length > cursor.remaining())
                return false;
            f.offset = cursor.offset();
            auto taken = cursor.take(static_cast<std::size_t>(length));
            if (!taken.ok()) return false;
            f.bytes = *taken;
            return true;
        }
        case start_group: return read_group(cursor, f, depth);
        case end_group: return depth > 0;
        default: return false;  // wire types 6 and 7 do not exist
    }
}

}  // namespace

bool read_varint(byte_cursor& cursor, uint64_t& out) {
    out = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        auto b = cursor.u8();
        if (!b.ok()) return false;
        if (shift < 64) out |= uint64_t{*b & 0x7fu} << shift;
        if ((*b & 0x80u) == 0) return true;
    }
    return false;
}

bool read_field(byte_cursor& cursor, field& f) {
    return read_field_nested(cursor, f, 0);
}

}  // namespace protobuf

namespace {

using namespace protobuf;

// Field numbers and wire types of a message, from the .proto files.
struct field_rule {
    uint32_t number;
    uint8_t type;
};

// Walks a whole message; every field must be listed in `rules`.
template <class Visit>
bool walk(std::span<const std::byte> bytes, std::span<const field_rule> rules, Visit&& visit) {
    return for_each_field(bytes, 0, [&](const field& f) {
        bool known = false;
        for (const field_rule& rule : rules) known = known || (rule.number == f.number && rule.type == f.type);
        return known && visit(f);
    });
}

// onnx.proto3: ModelProto.
constexpr field_rule model_rules[] = {
    {1, varint},            // ir_version
    {2, length_delimited},  // producer_name
    {3, length_delimited},  // producer_version
    {4, length_delimited},  // domain
    {5, varint},            // model_version
    {6, length_delimited},  // doc_string
    {7, length_delimited},  // graph
    {8, length_delimited},  // opset_import
    {14, length_delimited}, // metadata_props
    {20, length_delimited}, // training_info
    {25, length_delimited}, // functions
};
// GraphProto.
constexpr field_rule graph_rules[] = {
    {1, length_delimited},  {2, length_delimited},  {5, length_delimited}, {10, length_delimited},
    {11, length_delimited}, {12, length_delimited}, {13, length_delimited}, {14, length_delimited},
    {15, length_delimited},
};
// OperatorSetIdProto: domain (1), version (2).
constexpr field_rule opset_rules[] = {{1, length_delimited}, {2, varint}};
// tensorflow/core/protobuf/saved_model.proto: SavedModel; meta_graph.proto: MetaGraphDef.
constexpr field_rule saved_model_rules[] = {{1, varint}, {2, length_delimited}};
constexpr field_rule meta_graph_rules[] = {
    {1, length_delimited}, {2, length_delimited}, {3, length_delimited}, {4, length_delimited},
    {5, length_delimited}, {6, length_delimited}, {7, length_delimited},
};

}  // namespace

bool onnx_model_check(std::span<const std::byte> bytes, std::string& detail) {
    uint64_t ir_version = 0;
    bool graph = false;
    unsigned opsets = 0;
    bool ok = walk(bytes, model_rules, [&](const field& f) {
        if (f.number == 1) ir_version = f.value;
        if (f.number == 7) {
            graph = walk(f.bytes, graph_rules, [](const field&) { return true; });
            return graph;
        }
        if (f.number == 8) {
            ++opsets;
            return walk(f.bytes, opset_rules, [](const field&) { return true; });
        }
        return true;
    });
    // IR versions run from 1 (2017) to ~10 today; allow some room for future ones.
    if (!ok || !graph || ir_version < 1 || ir_version > 64) return false;
    detail = "ONNX model, IR version " + std::to_string(ir_version) + ", " + std::to_string(opsets) +
             " opset imports";
    return true;
}

bool savedmodel_check(std::span<const std::byte> bytes) {
    bool meta_graph = false;
    bool ok = walk(bytes, saved_model_rules, [&](const field& f) {
        if (f.number == 2) {
            meta_graph = walk(f.bytes, meta_graph_rules, [](const field&) { return true; });
            return meta_graph;
        }
        return true;
    });
    return ok && meta_graph;
}

}  // namespace stkit::detail
