#include "store/chunk_reader.hpp"

#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "store/chunk_codec.hpp"
#include "store/crc32c.hpp"
#include "store/errors.hpp"
#include "store/lmdb.hpp"
#include "store/lmdb_page.hpp"
#include "store/store_env.hpp"
#include "store_env_util.hpp"

using namespace store;
using namespace store::test;

namespace {

constexpr std::uint64_t k_page = 4096;
constexpr std::size_t k_header = 16;

// A page header as LMDB 0.9 lays it out: page number (8 bytes), pad (2), flags (2), then for
// an overflow page the number of pages in its run (4).
std::string page_header(std::uint64_t page_number, std::uint16_t flags, std::uint32_t pages) {
    std::string h(k_header, '\0');
    std::memcpy(h.data(), &page_number, sizeof page_number);
    std::memcpy(h.data() + 10, &flags, sizeof flags);
    std::memcpy(h.data() + 12, &pages, sizeof pages);
    return h;
}

std::uint32_t pages_for(std::size_t payload) {
    return static_cast<std::uint32_t>(lmdb_page::overflow_pages(payload, k_page));
}

// A stand-in for the map (a header followed by the payload, in memory) and for the data file,
// where each page can hold other bytes than the map shows.
class FakeLayout {
  public:
    explicit FakeLayout(const TempDir& dir)
        : m_fd(::open((dir.path() / "data").c_str(), O_RDWR | O_CREAT, 0600)) {
        REQUIRE(m_fd >= 0);
    }
    ~FakeLayout() { ::close(m_fd); }
    FakeLayout(const FakeLayout&) = delete;
    FakeLayout& operator=(const FakeLayout&) = delete;

    int fd() const { return m_fd; }
    // Puts `header` + `payload` in the map and returns the value as LMDB would.
    MDB_val map(const std::string& header, const std::string& payload) {
        m_map = header + payload;
        return MDB_val{payload.size(), m_map.data() + k_header};
    }
    // Writes `payload` where the data file has the bytes of page `page_number`'s value.
    void file(std::uint64_t page_number, const std::string& payload) {
        const std::string bytes =
            page_header(page_number, 0x04, pages_for(payload.size())) + payload;
        REQUIRE(
            ::pwrite(m_fd, bytes.data(), bytes.size(), static_cast<off_t>(page_number * k_page)) ==
            static_cast<ssize_t>(bytes.size()));
    }

  private:
    int m_fd;
    std::string m_map;
};

ChunkEntry raw_entry(const std::string& payload) {
    return ChunkEntry{Codec::raw, crc32c(payload)};
}

std::size_t chunk_entries(const StoreEnv& env) {
    lmdb::ReadTxn t(env.get());
    REQUIRE(t.rc == 0);
    MDB_stat st;
    REQUIRE(mdb_stat(t.get(), env.dbs().chunks, &st) == 0);
    return st.ms_entries;
}

}  // namespace

TEST_CASE("a large payload is copied from the file offset its overflow page header names",
          "[store]") {
    TempDir dir;
    FakeLayout layout(dir);
    const std::string in_map = random_bytes(200'000, 1);
    std::string in_file = in_map;
    in_file[150'000] = static_cast<char>(in_file[150'000] ^ 1);  // past the first page
    layout.file(3, in_file);
    const MDB_val value = layout.map(page_header(3, 0x04, pages_for(in_map.size())), in_map);
    const ChunkReader reader(layout.fd(), k_page);
    store::ChunkBuffer out;
    // Only the pread path can return the file's bytes.
    REQUIRE_FALSE(reader.read(value, raw_entry(in_file), in_file.size(), out));
    CHECK(out.view() == in_file);
}

TEST_CASE("a large payload is read through the map when its page does not look as expected",
          "[store]") {
    TempDir dir;
    FakeLayout layout(dir);
    const std::string in_map = random_bytes(200'000, 2);
    std::string in_file = in_map;
    in_file[150'000] = static_cast<char>(in_file[150'000] ^ 1);
    layout.file(3, in_file);
    layout.file(70, random_bytes(in_map.size(), 3));
    const ChunkReader reader(layout.fd(), k_page);
    const auto pages = pages_for(in_map.size());
    store::ChunkBuffer out;
    SECTION("the header names a page whose first bytes differ from the map") {
        const MDB_val value = layout.map(page_header(70, 0x04, pages), in_map);
        REQUIRE_FALSE(reader.read(value, raw_entry(in_map), in_map.size(), out));
        CHECK(out.view() == in_map);
    }
    SECTION("the header names a page past the end of the file") {
        const MDB_val value = layout.map(page_header(1'000, 0x04, pages), in_map);
        REQUIRE_FALSE(reader.read(value, raw_entry(in_map), in_map.size(), out));
        CHECK(out.view() == in_map);
    }
    SECTION("the header lacks the overflow flag") {
        const MDB_val value = layout.map(page_header(3, 0x02, pages), in_map);
        REQUIRE_FALSE(reader.read(value, raw_entry(in_map), in_map.size(), out));
        CHECK(out.view() == in_map);
    }
    SECTION("the header's page count does not fit the value's size") {
        const MDB_val value = layout.map(page_header(3, 0x04, pages + 1), in_map);
        REQUIRE_FALSE(reader.read(value, raw_entry(in_map), in_map.size(), out));
        CHECK(out.view() == in_map);
    }
    SECTION("there is no data file") {
        const MDB_val value = layout.map(page_header(3, 0x04, pages), in_map);
        REQUIRE_FALSE(ChunkReader().read(value, raw_entry(in_map), in_map.size(), out));
        CHECK(out.view() == in_map);
    }
}

TEST_CASE("a small payload is read through the map", "[store]") {
    TempDir dir;
    FakeLayout layout(dir);
    const std::string in_map = random_bytes(1'000, 4);
    std::string in_file = in_map;
    in_file[500] = static_cast<char>(in_file[500] ^ 1);
    layout.file(3, in_file);
    const MDB_val value = layout.map(page_header(3, 0x04, 1), in_map);
    store::ChunkBuffer out;
    REQUIRE_FALSE(ChunkReader(layout.fd(), k_page).read(value, raw_entry(in_map), 1'000, out));
    CHECK(out.view() == in_map);
}

TEST_CASE("a compressed large payload read with pread decodes to its chunk", "[store]") {
    TempDir dir;
    FakeLayout layout(dir);
    const std::string chunk = text_bytes(k_chunk_size, 5);
    std::string frame;
    ChunkEncoder encoder(3, 0.1);
    REQUIRE(encoder.encode(chunk, frame) == Codec::zstd);
    REQUIRE(frame.size() >= 64 * 1024);
    layout.file(5, frame);
    const MDB_val value = layout.map(page_header(5, 0x04, pages_for(frame.size())), frame);
    const ChunkEntry entry{Codec::zstd, crc32c(frame)};
    store::ChunkBuffer out;
    REQUIRE_FALSE(ChunkReader(layout.fd(), k_page).read(value, entry, chunk.size(), out));
    CHECK(out.view() == chunk);
    CHECK(ChunkReader(layout.fd(), k_page).read(value, entry, chunk.size() - 1, out) ==
          errc::corrupt);
}

TEST_CASE("a payload that fails its checksum or size is corrupt on either read path", "[store]") {
    TempDir dir;
    FakeLayout layout(dir);
    const std::string payload = random_bytes(100'000, 6);
    layout.file(2, payload);
    const MDB_val value = layout.map(page_header(2, 0x04, pages_for(payload.size())), payload);
    ChunkEntry wrong = raw_entry(payload);
    wrong.crc ^= 1;
    for (const ChunkReader& reader : {ChunkReader(layout.fd(), k_page), ChunkReader()}) {
        store::ChunkBuffer out;
        CHECK(reader.read(value, wrong, payload.size(), out) == errc::corrupt);
        CHECK(reader.read(value, raw_entry(payload), payload.size() + 1, out) == errc::corrupt);
        CHECK_FALSE(reader.read(value, raw_entry(payload), payload.size(), out));
        CHECK(out.view() == payload);
    }
}

TEST_CASE("the self-check chooses pread on LMDB's own data file and leaves no probe behind",
          "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    ChunkReader reader(env.data_fd(), env.page_size());
    reader.self_check(env.get(), env.dbs().chunks);
    CHECK(reader.read_path() == "pread");
    CHECK(chunk_entries(env) == 0);
}

namespace {

// The resident size, in KiB, of this process's mapping that holds `address` (/proc/self/smaps).
long mapping_rss_kb(const void* address) {
    std::ifstream smaps("/proc/self/smaps");
    const auto at = reinterpret_cast<std::uintptr_t>(address);
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        const std::string first = line.substr(0, line.find(' '));
        const auto dash = first.find('-');
        if (dash != std::string::npos && first.find(':') == std::string::npos) {
            // A mapping's first line: "begin-end perms offset device inode path".
            const auto begin = std::stoul(first.substr(0, dash), nullptr, 16);
            const auto end = std::stoul(first.substr(dash + 1), nullptr, 16);
            inside = begin <= at && at < end;
        } else if (inside && line.starts_with("Rss:")) {
            return std::stol(line.substr(4));
        }
    }
    return -1;
}

}  // namespace

TEST_CASE("after the self-check a large value is read without touching the map", "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    ChunkReader reader(env.data_fd(), env.page_size());
    reader.self_check(env.get(), env.dbs().chunks);
    REQUIRE(reader.read_path() == "pread");
    const std::string payload = random_bytes(k_chunk_size, 8);
    {
        lmdb::Txn txn;
        REQUIRE(txn.begin(env.get(), 0) == 0);
        MDB_val k = lmdb::val("a chunk key");
        MDB_val v = lmdb::val(payload);
        REQUIRE(mdb_put(txn.get(), env.dbs().chunks, &k, &v, 0) == 0);
        REQUIRE(txn.commit() == 0);
    }
    lmdb::ReadTxn t(env.get());
    REQUIRE(t.rc == 0);
    MDB_val value;
    REQUIRE(lmdb::get(t.get(), env.dbs().chunks, "a chunk key", value) == 0);
    const long before = mapping_rss_kb(value.mv_data);
    REQUIRE(before >= 0);
    store::ChunkBuffer out;
    REQUIRE_FALSE(reader.read(value, raw_entry(payload), payload.size(), out));
    CHECK(out.view() == payload);
    // Not one page of the value (not even its header's) was mapped in by the read.
    CHECK(mapping_rss_kb(value.mv_data) == before);
}

TEST_CASE("the self-check falls back to the map, saying why, when pread does not match it",
          "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    FakeLayout layout(dir);  // an empty file, not the environment's
    ChunkReader reader(layout.fd(), env.page_size());
    reader.self_check(env.get(), env.dbs().chunks);
    CHECK(reader.read_path() == "map: pread at the page header's offset came up short");
    CHECK(chunk_entries(env) == 0);
    // From now on even a payload whose page pread would find is read through the map.
    const std::string in_map = random_bytes(200'000, 7);
    std::string in_file = in_map;
    in_file[150'000] = static_cast<char>(in_file[150'000] ^ 1);
    layout.file(3, in_file);
    const MDB_val value = layout.map(page_header(3, 0x04, pages_for(in_map.size())), in_map);
    store::ChunkBuffer out;
    REQUIRE_FALSE(reader.read(value, raw_entry(in_map), in_map.size(), out));
    CHECK(out.view() == in_map);
}

TEST_CASE("the self-check falls back to the map when it cannot run", "[store]") {
    TempDir dir;
    const StoreEnv env = open_env(dir);
    ChunkReader no_file;
    no_file.self_check(env.get(), env.dbs().chunks);
    CHECK(no_file.read_path() == "map: no data file");
    ChunkReader no_database(env.data_fd(), env.page_size());
    no_database.self_check(env.get(), env.dbs().records + 100);
    CHECK(no_database.read_path().starts_with("map: self-check could not write its probe: "));
}

TEST_CASE("a chunk buffer keeps its allocation and shows only the bytes of the last read",
          "[store]") {
    ChunkBuffer buffer;
    CHECK(buffer.empty());
    char* first = buffer.resize_for_overwrite(1000);
    std::memset(first, 'a', 1000);
    char* smaller = buffer.resize_for_overwrite(10);
    CHECK(smaller == first);  // shrinking keeps the allocation
    CHECK(buffer.view() == std::string(10, 'a'));
    buffer.resize_for_overwrite(1000);
    CHECK(buffer.data() == first);  // and growing back within it too
    buffer.clear();
    CHECK(buffer.view().empty());
}

TEST_CASE("a pread copy that fails its checksum is read again through the map", "[store]") {
    TempDir dir;
    FakeLayout layout(dir);
    // The file differs from the map past the first page (which pread checks against the map):
    // as if the offset were wrong. The map's bytes are the chunk's.
    const std::string in_map = random_bytes(200'000, 9);
    std::string in_file = in_map;
    in_file[150'000] = static_cast<char>(in_file[150'000] ^ 1);
    layout.file(3, in_file);
    const MDB_val value = layout.map(page_header(3, 0x04, pages_for(in_map.size())), in_map);
    store::ChunkBuffer out;
    REQUIRE_FALSE(
        ChunkReader(layout.fd(), k_page).read(value, raw_entry(in_map), in_map.size(), out));
    CHECK(out.view() == in_map);
    // Bytes that fail in the map too are corrupt.
    ChunkEntry wrong = raw_entry(in_map);
    wrong.crc ^= 1;
    CHECK(ChunkReader(layout.fd(), k_page).read(value, wrong, in_map.size(), out) == errc::corrupt);
}
