// zip_archive against real peers: archives written by Python's zipfile (stored, deflated, comments,
// ZIP64 local extras, ZIP64 end records) and by torch.save (torch 1.13).
#include <algorithm>

#include "containers/fixtures.hpp"
#include "stkit/containers/zip.hpp"

namespace stkit {
namespace {

using test::to_text;

class zip_python : public test::scratch_test {};

TEST_F(zip_python, stored_deflated_and_comment) {
    ASSERT_TRUE(python(R"(
import zipfile, os
payload = bytes((i * 7) % 251 for i in range(200000))
with zipfile.ZipFile('t.zip', 'w') as z:
    z.writestr(zipfile.ZipInfo('folder/'), b'')
    z.writestr('folder/stored.bin', payload[:1000], compress_type=zipfile.ZIP_STORED)
    z.writestr('folder/deflated.bin', payload, compress_type=zipfile.ZIP_DEFLATED)
    z.writestr('folder/empty', b'', compress_type=zipfile.ZIP_DEFLATED)
    z.comment = b'x' * 5000
open('payload.bin', 'wb').write(payload)
)"));
    auto file = bytes("t.zip");
    auto payload = bytes("payload.bin");
    auto zip = zip_archive::open(file);
    ASSERT_TRUE(zip.ok()) << zip.error().to_string();
    EXPECT_TRUE(zip->anomalies().empty());
    ASSERT_EQ(zip->members().size(), 4u);
    EXPECT_EQ(zip->common_prefix(), "folder/");
    const zip_member* stored = zip->find("folder/stored.bin");
    ASSERT_NE(stored, nullptr);
    EXPECT_EQ(stored->method, 0);
    auto view = zip->stored_bytes(*stored);
    ASSERT_TRUE(view.ok());
    EXPECT_TRUE(std::equal(view->begin(), view->end(), payload.begin()));
    EXPECT_EQ(view->size(), 1000u);
    const zip_member* deflated = zip->find("folder/deflated.bin");
    ASSERT_NE(deflated, nullptr);
    EXPECT_EQ(deflated->method, 8);
    auto inflated = zip->read(*deflated);
    ASSERT_TRUE(inflated.ok()) << inflated.error().to_string();
    EXPECT_EQ(*inflated, payload);
    for (const zip_member& m : zip->members()) EXPECT_TRUE(zip->verify_crc(m).ok()) << m.name;
    auto empty = zip->read(*zip->find("folder/empty"));
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->empty());
}

TEST_F(zip_python, force_zip64_local_extras_and_zip64_end_records) {
    // force_zip64 puts ZIP64 extras in local headers; more than 65535 members forces the ZIP64 end
    // of central directory record and locator.
    ASSERT_TRUE(python(R"(
import zipfile
with zipfile.ZipFile('forced.zip', 'w', compression=zipfile.ZIP_DEFLATED) as z:
    for name in ('a.bin', 'b.bin'):
        with z.open(name, 'w', force_zip64=True) as f:
            f.write(name.encode() * 1000)
with zipfile.ZipFile('many.zip', 'w') as z:
    for i in range(65600):
        z.writestr('m/%d' % i, b'%d' % i)
)"));
    auto forced_file = bytes("forced.zip");
    auto forced = zip_archive::open(forced_file);
    ASSERT_TRUE(forced.ok()) << forced.error().to_string();
    ASSERT_EQ(forced->members().size(), 2u);
    auto a = forced->read(*forced->find("a.bin"));
    ASSERT_TRUE(a.ok()) << a.error().to_string();
    EXPECT_EQ(to_text(*a).substr(0, 10), "a.bina.bin");
    EXPECT_EQ(a->size(), 5000u);
    // Python writes these local headers with a data descriptor? No: sizes are in the ZIP64 extra,
    // so the local header agrees with the central directory.
    EXPECT_TRUE(forced->anomalies().empty());

    auto many_file = bytes("many.zip");
    auto many = zip_archive::open(many_file);
    ASSERT_TRUE(many.ok()) << many.error().to_string();
    ASSERT_EQ(many->members().size(), 65600u);
    auto last = many->read(*many->find("m/65599"));
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(to_text(*last), "65599");
    zip_limits limits;
    limits.max_members = 65599;
    EXPECT_EQ(zip_archive::open(many_file, limits).error().code, error_code::zip_member_limit);
}

TEST_F(zip_python, torch_save_archives) {
    ASSERT_TRUE(python(R"(
import torch, io, collections
state = collections.OrderedDict()
state['w'] = torch.arange(12, dtype=torch.float32).reshape(3, 4)
state['b'] = torch.arange(5, dtype=torch.int64)
state['h'] = torch.ones(7, dtype=torch.float16)
torch.save(state, 'mymodel.pt')
buffer = io.BytesIO()
torch.save(state, buffer)
open('buffer.pt', 'wb').write(buffer.getvalue())
open('w.raw', 'wb').write(state['w'].numpy().tobytes())
)"));
    auto w = bytes("w.raw");
    for (auto [file, prefix] : {std::pair{"mymodel.pt", "mymodel/"}, std::pair{"buffer.pt", "archive/"}}) {
        SCOPED_TRACE(file);
        auto data = bytes(file);
        auto zip = zip_archive::open(data);
        ASSERT_TRUE(zip.ok()) << zip.error().to_string();
        EXPECT_TRUE(zip->anomalies().empty());
        EXPECT_EQ(zip->common_prefix(), prefix);
        std::string p = prefix;
        ASSERT_NE(zip->find(p + "data.pkl"), nullptr);
        const zip_member* version = zip->find(p + "version");
        ASSERT_NE(version, nullptr);
        auto version_text = zip->read(*version);
        ASSERT_TRUE(version_text.ok());
        EXPECT_EQ(to_text(*version_text), "3\n");
        // torch writes a "byteorder" record only from 2.0 on; 1.13 (Debian's) has none.
        if (const zip_member* order = zip->find(p + "byteorder")) {
            auto order_text = zip->read(*order);
            ASSERT_TRUE(order_text.ok());
            EXPECT_EQ(to_text(*order_text), "little");
        }
        auto pickle = zip->read(*zip->find(p + "data.pkl"));
        ASSERT_TRUE(pickle.ok());
        ASSERT_GE(pickle->size(), 2u);
        EXPECT_EQ((*pickle)[0], std::byte{0x80});
        int records = 0;
        for (const zip_member& m : zip->members()) {
            if (m.name.rfind(p + "data/", 0) != 0) continue;
            ++records;
            EXPECT_EQ(m.method, 0) << m.name;
            EXPECT_EQ(m.data_offset % 64, 0u) << m.name;
            EXPECT_TRUE(zip->verify_crc(m).ok()) << m.name;
        }
        EXPECT_EQ(records, 3);
        // Storage keys are assigned in order of first use: 'w' is data/0.
        auto storage = zip->stored_bytes(*zip->find(p + "data/0"));
        ASSERT_TRUE(storage.ok());
        EXPECT_TRUE(std::equal(storage->begin(), storage->end(), w.begin(), w.end()));
    }
}

}  // namespace
}  // namespace stkit
