// examples/cpp/convert_and_scan.cpp — scans a PyTorch checkpoint and converts it to safetensors from
// code. Usage: convert_and_scan CHECKPOINT OUT.safetensors  (the README's "Convert and scan" snippet;
// run by ctest on examples/tiny/pytorch_model.bin)
#include <iostream>

#include "stkit/convert/convert.hpp"
#include "stkit/convert/report.hpp"
#include "stkit/scan/scan.hpp"

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    // README begin
    stkit::file_report scanned = stkit::scan_path(argv[1]);  // static: nothing in the file runs
    std::cout << scanned.path << ": " << stkit::verdict_name(scanned.overall) << "\n";
    for (const stkit::finding& f : scanned.findings) std::cout << "  " << f.message << "\n";

    stkit::convert::convert_options options;
    options.overwrite = true;  // verify (re-read and compare every tensor) is on by default
    auto converted = stkit::convert::convert_file(argv[1], argv[2], options);
    if (!converted.ok()) {  // a refusal names the global and its byte offset; nothing is written
        std::cerr << converted.error().to_string() << "\n";
        return 1;
    }
    std::cout << stkit::convert::convert_report_json(*converted) << "\n";  // what stkit convert --json prints
    // README end
    return scanned.overall == stkit::verdict::safe && converted->verified ? 0 : 1;
}
