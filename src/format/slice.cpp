// Copy-out and slicing of tensor views. See stkit/format/safetensors.hpp.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "stkit/detail/checked.hpp"
#include "stkit/format/safetensors.hpp"

namespace stkit {
namespace {

error too_small(const tensor_view& tensor, uint64_t needed, std::size_t available) {
    return make_error(error_code::st_buffer_too_small,
                      "needs " + std::to_string(needed) + " bytes, buffer holds " + std::to_string(available),
                      no_offset, std::string(tensor.name));
}

// A slice reduced to what the copy loop needs: outer dimensions to iterate (in elements), and one
// contiguous inner run that folds every trailing dimension selected in full.
struct slice_plan {
    uint64_t total_bits = 0;      // bits of output
    uint64_t run_bits = 0;        // bits per contiguous run
    uint64_t base_bits = 0;       // bit offset of the first run in the tensor
    std::size_t outer_rank = 0;   // dimensions [0, outer_rank) are iterated
    std::vector<uint64_t> counts;   // selected indexes per outer dimension
    std::vector<uint64_t> strides;  // bits between consecutive indexes per outer dimension
};

result<slice_plan> plan_slice(const tensor_view& tensor, std::span<const slice_range> ranges) {
    const std::size_t rank = tensor.shape.size();
    if (ranges.size() != rank)
        return make_error(error_code::st_slice_rank_mismatch,
                          "tensor has " + std::to_string(rank) + " dimensions, slice " +
                              std::to_string(ranges.size()),
                          no_offset, std::string(tensor.name));
    for (std::size_t d = 0; d < rank; ++d) {
        const slice_range& r = ranges[d];
        if (r.start > r.stop || r.stop > tensor.shape[d] || r.step == 0)
            return make_error(error_code::st_slice_out_of_range,
                              "dimension " + std::to_string(d) + ": [" + std::to_string(r.start) + ", " +
                                  std::to_string(r.stop) + ") step " + std::to_string(r.step) +
                                  " of extent " + std::to_string(tensor.shape[d]),
                              no_offset, std::string(tensor.name));
    }
    // The shape was validated at open, so none of the products below can overflow.
    const uint64_t bits = dtype_bits(tensor.type);
    slice_plan plan;
    uint64_t stride = bits;  // bits between consecutive indexes of dimension d
    uint64_t run = bits;
    std::size_t d = rank;
    while (d > 0 && ranges[d - 1].start == 0 && ranges[d - 1].stop == tensor.shape[d - 1] &&
           (ranges[d - 1].step == 1 || tensor.shape[d - 1] <= 1)) {
        run *= tensor.shape[d - 1];
        stride *= tensor.shape[d - 1];
        --d;
    }
    uint64_t total = run;
    if (d > 0 && ranges[d - 1].step == 1) {
        // The innermost partially selected dimension still belongs to the run when it is not strided.
        plan.base_bits += ranges[d - 1].start * stride;
        run *= ranges[d - 1].stop - ranges[d - 1].start;
        total = run;
        stride *= tensor.shape[d - 1];
        --d;
    }
    plan.outer_rank = d;
    plan.counts.resize(d);
    plan.strides.resize(d);
    for (std::size_t i = d; i > 0; --i) {
        const slice_range& r = ranges[i - 1];
        // A step beyond the selected length picks one element, as that length itself does; capping
        // it keeps stride × step within the tensor's (validated) size.
        const uint64_t step = std::min(r.step, std::max<uint64_t>(r.stop - r.start, 1));
        plan.counts[i - 1] = (r.stop - r.start + step - 1) / step;
        plan.strides[i - 1] = stride * step;
        plan.base_bits += r.start * stride;
        total *= plan.counts[i - 1];
        stride *= tensor.shape[i - 1];
    }
    plan.run_bits = run;
    plan.total_bits = total;
    if (total != 0 && bits % 8 != 0) {
        // Every run starts at base + Σ k·stride: all are byte aligned exactly when the base, the run
        // length and each stride actually stepped over are.
        bool aligned = plan.base_bits % 8 == 0 && run % 8 == 0;
        for (std::size_t i = 0; i < d; ++i)
            if (plan.counts[i] > 1 && plan.strides[i] % 8 != 0) aligned = false;
        if (!aligned)
            return make_error(error_code::st_slice_not_byte_aligned,
                              std::string(dtype_name(tensor.type)) + " slice runs do not fall on byte boundaries",
                              no_offset, std::string(tensor.name));
    }
    return plan;
}

}  // namespace

result<uint64_t> tensor_copy(const tensor_view& tensor, std::span<std::byte> out) {
    if (out.size() < tensor.data.size()) return too_small(tensor, tensor.data.size(), out.size());
    if (!tensor.data.empty()) std::memcpy(out.data(), tensor.data.data(), tensor.data.size());
    return uint64_t{tensor.data.size()};
}

result<uint64_t> tensor_slice_size(const tensor_view& tensor, std::span<const slice_range> ranges) {
    STKIT_TRY(slice_plan plan, plan_slice(tensor, ranges));
    return plan.total_bits / 8;
}

result<uint64_t> tensor_slice(const tensor_view& tensor, std::span<const slice_range> ranges,
                              std::span<std::byte> out) {
    STKIT_TRY(slice_plan plan, plan_slice(tensor, ranges));
    const uint64_t total = plan.total_bits / 8;
    if (out.size() < total) return too_small(tensor, total, out.size());
    if (total == 0) return total;
    const std::size_t run = static_cast<std::size_t>(plan.run_bits / 8);
    const std::byte* source = tensor.data.data();
    std::byte* target = out.data();
    const std::size_t outer = plan.outer_rank;
    if (outer == 0) {
        std::memcpy(target, source + plan.base_bits / 8, run);
        return total;
    }
    // Odometer over the outer dimensions; the innermost outer dimension is the hot loop.
    std::vector<uint64_t> index(outer, 0);
    const uint64_t last_count = plan.counts[outer - 1];
    const std::size_t last_stride = static_cast<std::size_t>(plan.strides[outer - 1] / 8);
    uint64_t position = plan.base_bits / 8;
    while (true) {
        const std::byte* from = source + position;
        for (uint64_t k = 0; k < last_count; ++k) {
            std::memcpy(target, from, run);
            target += run;
            from += last_stride;
        }
        std::size_t d = outer - 1;
        while (true) {
            if (d == 0) return total;
            --d;
            position += plan.strides[d] / 8;
            if (++index[d] < plan.counts[d]) break;
            position -= index[d] * (plan.strides[d] / 8);
            index[d] = 0;
        }
    }
}

}  // namespace stkit
