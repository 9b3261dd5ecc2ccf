// scan_bytes on hand-made pickles and containers: verdicts, findings and their locations, the depth
// and byte limits set to 1, and the JSON / SARIF documents.
#include <nlohmann/json.hpp>

#include "containers/fixtures.hpp"
#include "stkit/scan/report.hpp"
#include "stkit/scan/scan.hpp"
#include "scan/internal.hpp"

namespace stkit {
namespace {

using test::to_bytes;

file_report scan_text(std::string_view text, const scan_options& options = {}) {
    auto bytes = to_bytes(text);
    return scan_bytes(bytes, "input", options);
}

bool has(const file_report& r, std::string_view category, std::string_view module = {}, std::string_view name = {}) {
    for (const finding& f : r.findings)
        if (f.category == category && (module.empty() || f.module == module) && (name.empty() || f.name == name))
            return true;
    return false;
}

std::string dump(const file_report& r) {
    return scan_report_text({r}, true);
}

const std::string os_system = test::literal("\x80\x02\x63os\nsystem\nX\x04\x00\x00\x00true\x85R.");
const std::string benign = test::literal("\x80\x02}q\x00X\x01\x00\x00\x00" "aK\x01s.");

TEST(scan, allowlisted_data_is_safe) {
    auto r = scan_text(benign);
    EXPECT_EQ(r.overall, verdict::safe) << dump(r);
    EXPECT_EQ(r.format.format, file_format::pickle);
}

TEST(scan, dangerous_import_with_location) {
    auto r = scan_text(os_system);
    EXPECT_EQ(r.overall, verdict::dangerous) << dump(r);
    ASSERT_TRUE(has(r, "process", "os", "system")) << dump(r);
    for (const finding& f : r.findings)
        if (f.module == "os") {
            EXPECT_EQ(f.pickle_index, 0);
            EXPECT_EQ(f.offset, 2u);  // the GLOBAL opcode after PROTO
        }
}

TEST(scan, unknown_import_is_suspicious) {
    auto r = scan_text(test::literal("\x80\x02\x63mylib\nNet\n)R."));
    EXPECT_EQ(r.overall, verdict::suspicious) << dump(r);
    EXPECT_TRUE(has(r, "unknown-import", "mylib", "Net"));
}

TEST(scan, second_pickle_and_broken_tail) {
    auto hidden = scan_text(benign + os_system);
    EXPECT_EQ(hidden.overall, verdict::dangerous);
    EXPECT_TRUE(has(hidden, "evasion")) << dump(hidden);
    bool second = false;
    for (const finding& f : hidden.findings) second = second || (f.module == "os" && f.pickle_index == 1);
    EXPECT_TRUE(second) << dump(hidden);

    // A pickle that breaks off imports nothing: no loader runs anything, so no finding.
    auto broken = scan_text(benign.substr(0, benign.size() - 1) + "\xff\xff");
    EXPECT_EQ(broken.overall, verdict::safe) << dump(broken);
    EXPECT_TRUE(broken.findings.empty()) << dump(broken);
    // Broken after an import: the import still happened.
    auto broken_after_import = scan_text(os_system.substr(0, os_system.size() - 3) + "\xff");
    EXPECT_EQ(broken_after_import.overall, verdict::dangerous) << dump(broken_after_import);
}

TEST(scan, nested_pickle_loads_is_decoded) {
    std::string inner = os_system;
    std::string outer = test::literal("\x80\x03\x63pickle\nloads\nB");
    uint32_t size = static_cast<uint32_t>(inner.size());
    for (int i = 0; i < 4; ++i) outer += static_cast<char>((size >> (8 * i)) & 0xff);
    outer += inner + "\x85R.";
    auto r = scan_text(outer);
    EXPECT_EQ(r.overall, verdict::dangerous);
    EXPECT_TRUE(has(r, "nested-deserialization", "pickle", "loads")) << dump(r);
    EXPECT_TRUE(has(r, "process", "os", "system")) << dump(r);

    scan_options shallow;
    shallow.max_depth = 1;  // the outer pickle is depth 0, its payload depth 1: allowed
    EXPECT_TRUE(has(scan_text(outer, shallow), "process", "os", "system"));
    shallow.max_depth = 0;  // scan_depth_limit: the payload is not analysed, and that is a finding
    auto limited = scan_text(outer, shallow);
    EXPECT_TRUE(has(limited, "limit")) << dump(limited);
    EXPECT_FALSE(has(limited, "process", "os", "system"));
}

class scan_python : public test::scratch_test {};

TEST_F(scan_python, byte_budget_of_one_and_nested_zip_depth) {
    ASSERT_TRUE(python(R"(
import zlib, zipfile, io
payload = b'\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.'
open('p.zlib', 'wb').write(zlib.compress(payload))
inner = io.BytesIO()
with zipfile.ZipFile(inner, 'w') as z:
    z.writestr('evil.pkl', payload)
with zipfile.ZipFile('outer.zip', 'w') as z:
    z.writestr('inner.zip', inner.getvalue())
)"));
    scan_options tiny;
    tiny.max_total_bytes = 1;  // scan_size_limit
    auto compressed = scan_path(directory_ / "p.zlib", tiny);
    EXPECT_TRUE(has(compressed, "limit")) << dump(compressed);
    EXPECT_NE(compressed.overall, verdict::safe);
    EXPECT_TRUE(has(scan_path(directory_ / "p.zlib"), "process", "os", "system"));

    auto deep = scan_path(directory_ / "outer.zip");
    EXPECT_TRUE(has(deep, "process", "os", "system")) << dump(deep);
    bool located = false;
    for (const finding& f : deep.findings) located = located || f.member == "inner.zip/evil.pkl";
    EXPECT_TRUE(located) << dump(deep);
    scan_options one;
    one.max_depth = 1;  // outer zip 0, inner zip 1, its pickle 2: scan_depth_limit
    auto limited = scan_path(directory_ / "outer.zip", one);
    EXPECT_TRUE(has(limited, "limit")) << dump(limited);
    EXPECT_NE(limited.overall, verdict::safe);
}

// Issue 10: one dispatch for every buffer. Whatever a buffer looks like, what an unpickler would
// import from its first byte is judged; what imports nothing gets no finding at all.
TEST(scan_dispatch, every_format_is_also_read_as_a_pickle) {
    // A valid safetensors file whose 8-byte header length starts "S'" and whose tensor data ends
    // the STRING and then holds a GLOBAL + REDUCE: pickle.load runs it; safetensors loaders don't.
    std::string header = R"({"w":{"dtype":"U8","shape":[60],"data_offsets":[0,60]}})";
    std::string data = "'\n" + std::string("cos\nsystem\n(S'id'\ntR.");
    data += std::string(60 - data.size(), ' ');
    uint64_t length = 0x2753;  // "S'" little-endian
    std::string file(8, '\0');
    for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((length >> (8 * i)) & 0xff);
    header += std::string(length - header.size(), ' ');
    auto r = scan_text(file + header + data);
    EXPECT_EQ(r.format.format, file_format::safetensors) << dump(r);
    EXPECT_EQ(r.overall, verdict::dangerous) << dump(r);
    EXPECT_TRUE(has(r, "process", "os", "system")) << dump(r);
}

TEST(scan_dispatch, ordinary_text_has_no_finding) {
    for (std::string_view text : {"const\n  IDOK = 1;\n", "GIT v1.5.2.1 Release Notes\n====\n", "(this is a README\n",
                                  "{\"model_type\": \"bert\"}\n", "import os\nimport sys\n", "cat\n\n"}) {
        auto r = scan_text(text);
        EXPECT_EQ(r.overall, verdict::safe) << text << "\n" << dump(r);
        EXPECT_TRUE(r.findings.empty()) << text << "\n" << dump(r);
    }
}

TEST(scan_dispatch, names_that_escape_the_extraction_folder) {
    for (const char* bad : {"/etc/passwd", "../x", "a/../../x", "a\\..\\..\\x", "C:\\x", "\\\\server\\share", ".."})
        EXPECT_TRUE(detail::escapes_folder(bad)) << bad;
    for (const char* good : {"a/b", "a/..b/c", "x..y", "./a", "", "data/0"}) EXPECT_FALSE(detail::escapes_folder(good)) << good;
}

class scan_archives : public test::scratch_test {};

TEST_F(scan_archives, encrypted_zip_is_not_scanned_and_no_crc_alarm) {
    ASSERT_TRUE(shell("printf 'hello' > plain.txt && 7z a -bd -bso0 -bsp0 -tzip -psecret enc.zip plain.txt >/dev/null"));
    auto r = scan_path(directory_ / "enc.zip");
    EXPECT_EQ(r.overall, verdict::suspicious) << dump(r);
    EXPECT_TRUE(has(r, "encrypted")) << dump(r);
    EXPECT_FALSE(has(r, "evasion")) << dump(r);
}

TEST_F(scan_archives, links_inside_the_folder_are_fine_links_out_are_not) {
    ASSERT_TRUE(python(R"(
import tarfile, io
for name, target in (('inside.tar', '../a.txt'), ('outside.tar', '../../../etc/passwd'), ('absolute.tar', '/etc/passwd')):
    with tarfile.open(name, 'w') as t:
        entry = tarfile.TarInfo('tree/sub/link')
        entry.type = tarfile.SYMTYPE
        entry.linkname = target
        t.addfile(entry)
)"));
    auto inside = scan_path(directory_ / "inside.tar");
    EXPECT_EQ(inside.overall, verdict::safe) << dump(inside);
    for (const char* file : {"outside.tar", "absolute.tar"}) {
        auto r = scan_path(directory_ / file);
        EXPECT_EQ(r.overall, verdict::dangerous) << dump(r);
        EXPECT_TRUE(has(r, "path-traversal")) << dump(r);
    }
}

TEST_F(scan_archives, gzip_content_is_scanned_for_what_it_is) {
    ASSERT_TRUE(python(R"(
import gzip
open('text.gz', 'wb').write(gzip.compress(b'plain text, not a tar\n' * 100))
open('p0.gz', 'wb').write(gzip.compress(b"cos\nsystem\n(S'id'\ntR."))
data = gzip.compress(b"cos\nsystem\n(S'id'\ntR." + b'x' * 100000)
open('cut.gz', 'wb').write(data[:len(data) // 2])
)"));
    auto text = scan_path(directory_ / "text.gz");
    EXPECT_EQ(text.overall, verdict::safe) << dump(text);
    EXPECT_EQ(text.format.format, file_format::gzip);
    EXPECT_TRUE(has(scan_path(directory_ / "p0.gz"), "process", "os", "system"));
    // Truncated: a streaming loader unpickles the part before the cut, so that part is scanned.
    auto cut = scan_path(directory_ / "cut.gz");
    EXPECT_TRUE(has(cut, "process", "os", "system")) << dump(cut);
}

TEST(scan, unreadable_file_is_an_error) {
    auto r = scan_path("/nonexistent/stkit/file.bin");
    EXPECT_EQ(r.overall, verdict::error);
    ASSERT_TRUE(r.failure.has_value());
    EXPECT_EQ(r.failure->code, error_code::io_open_failed);
}

TEST(scan_report, json_document) {
    auto doc = nlohmann::json::parse(scan_report_json({scan_text(os_system), scan_text(benign)}));
    ASSERT_EQ(doc["files"].size(), 2u);
    EXPECT_EQ(doc["files"][0]["verdict"], "dangerous");
    EXPECT_EQ(doc["files"][0]["format"], "pickle");
    const auto& f = doc["files"][0]["findings"][0];
    EXPECT_EQ(f["severity"], "dangerous");
    EXPECT_EQ(f["module"], "os");
    EXPECT_EQ(f["location"]["pickle_index"], 0);
    EXPECT_EQ(f["location"]["offset"], 2);
    EXPECT_EQ(doc["files"][1]["verdict"], "safe");
    EXPECT_EQ(doc["summary"]["dangerous"], 1);
}

TEST(scan_report, sarif_document) {
    auto doc = nlohmann::json::parse(scan_report_sarif({scan_text(os_system)}, "1.0"));
    EXPECT_EQ(doc["version"], "2.1.0");
    EXPECT_TRUE(doc.contains("$schema"));
    const auto& run = doc["runs"][0];
    EXPECT_EQ(run["tool"]["driver"]["name"], "stkit");
    ASSERT_FALSE(run["results"].empty());
    const auto& result = run["results"][0];
    EXPECT_EQ(result["ruleId"], "stkit/process");
    EXPECT_EQ(result["level"], "error");
    EXPECT_EQ(run["tool"]["driver"]["rules"][result["ruleIndex"].get<int>()]["id"], "stkit/process");
    EXPECT_EQ(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "input");
    EXPECT_EQ(result["locations"][0]["physicalLocation"]["region"]["byteOffset"], 2);
}

TEST(scan_report, hostile_names_stay_valid_json) {
    file_report r = scan_text(benign);
    r.path = test::literal("bad\xff\xfe\x01name");
    auto parsed = nlohmann::json::parse(scan_report_json({r}));
    EXPECT_EQ(parsed["files"][0]["path"].get<std::string>().substr(0, 3), "bad");
    EXPECT_EQ(scan_report_text({r}, false).find('\x01'), std::string::npos);
}

}  // namespace
}  // namespace stkit
