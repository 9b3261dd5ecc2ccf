// stkit/pickle/allowlist.hpp — the one list of globals the restricted machine understands.
//
// Shared by the converter (anything else is refused) and the scanner (anything else is at least
// suspicious). Python 2 / protocol < 3 module names are mapped to their Python 3 names first, as
// the unpickler's fix_imports does (`__builtin__` -> `builtins`, `copy_reg` -> `copyreg`, ...).
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace stkit::pickle {

// What an allowlisted global means to the machine.
enum class allowed_global : uint8_t {
    not_allowed,
    ordered_dict,             // collections.OrderedDict
    rebuild_tensor,           // torch._utils._rebuild_tensor
    rebuild_tensor_v2,        // torch._utils._rebuild_tensor_v2
    rebuild_tensor_v3,        // torch._utils._rebuild_tensor_v3 (dtype argument)
    rebuild_parameter,        // torch._utils._rebuild_parameter
    rebuild_parameter_state,  // torch._utils._rebuild_parameter_with_state
    storage_class,            // torch.FloatStorage, ..., torch.UntypedStorage
    torch_size,               // torch.Size
    torch_device,             // torch.device
    torch_dtype,              // torch.float32, torch.bfloat16, ...
    get_layout,               // torch.serialization._get_layout
    codecs_encode,            // _codecs.encode (how protocol 2 pickles bytes)
    set,                      // builtins.set (how protocol 2 pickles a set: set([items]))
};

// Maps a (module, name) pair written by Python 2 / protocol < 3 to its Python 3 spelling.
[[nodiscard]] std::pair<std::string, std::string> python3_name(std::string_view module,
                                                               std::string_view name);
// Classifies a (Python 3) global.
[[nodiscard]] allowed_global classify_global(std::string_view module, std::string_view name) noexcept;

}  // namespace stkit::pickle
