// Where a download's clients read its bytes from: the store's chunks as they are written (and
// memory until then), or the spool once the store dropped out.

#include "proxy/fetch/fetch.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "store/errors.hpp"
#include "tests/store/store_test_util.hpp"

using namespace store::test;
using proxy::fetch::Fetch;
using proxy::fetch::Piece;

namespace {

constexpr std::size_t k = store::k_chunk_size;

cache::Cache::Options cache_options() {
    cache::Cache::Options o;
    o.evictor.limits.max_size = 256ull << 20;
    o.evictor.log = [](std::string_view) {};
    return o;
}

// The size of the open, unlinked spool file under `dir`; nothing when none is open (there is
// at most one).
std::optional<std::uint64_t> spool_size(const std::filesystem::path& dir) {
    std::optional<std::uint64_t> size;
    const std::string prefix = (dir / "spool-").string();
    for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        const auto target = std::filesystem::read_symlink(fd.path(), ec).string();
        if (ec || !target.starts_with(prefix)) continue;
        struct stat st {};
        REQUIRE(::stat(fd.path().c_str(), &st) == 0);
        REQUIRE_FALSE(size);
        size = static_cast<std::uint64_t>(st.st_size);
    }
    return size;
}

// A store that runs `before_written_read` (once) when a written chunk is about to be read, so a
// test can put a drop-out between a reader's look-up and its read of the store.
class HookedStore final : public store::BlobStore {
  public:
    explicit HookedStore(std::unique_ptr<store::BlobStore> inner) : m(std::move(inner)) {}
    std::function<void()> before_written_read;
    bool hooked_read_failed = false;  // the read that ran after the hook failed

    template <class T>
    using result = store::result<T>;
    result<void> read_written_chunk(const store::Digest& d, const store::WrittenChunk& c,
                                    store::ChunkBuffer& out) override {
        auto hook = std::exchange(before_written_read, nullptr);
        if (!hook) return m->read_written_chunk(d, c, out);
        hook();
        auto read = m->read_written_chunk(d, c, out);
        hooked_read_failed = !read;
        return read;
    }
    result<std::optional<store::BlobInfo>> stat(const store::Digest& d) override {
        return m->stat(d);
    }
    result<void> read_chunk(const store::Digest& d, std::uint32_t i,
                            store::ChunkBuffer& out) override {
        return m->read_chunk(d, i, out);
    }
    result<void> read_range(const store::Digest& d, std::uint64_t offset, std::uint64_t length,
                            const std::function<bool(std::span<const char>)>& sink) override {
        return m->read_range(d, offset, length, sink);
    }
    void touch(const store::Digest& d) override { m->touch(d); }
    result<std::unique_ptr<store::BlobWriter>> begin(const store::Digest& d,
                                                     std::string media_type) override {
        return m->begin(d, std::move(media_type));
    }
    result<void> remove(const store::Digest& d) override { return m->remove(d); }
    void set_removal_listener(std::function<void(const store::Digest&)> fn) override {
        m->set_removal_listener(std::move(fn));
    }
    result<void> put_tag(const store::TagKey& k, const store::TagRecord& r) override {
        return m->put_tag(k, r);
    }
    result<std::optional<store::TagRecord>> get_tag(const store::TagKey& k) override {
        return m->get_tag(k);
    }
    result<std::vector<std::string>> list_tags(const std::string& upstream,
                                               const std::string& repo) override {
        return m->list_tags(upstream, repo);
    }
    result<void> put_refs(const store::Digest& d, const std::vector<store::Digest>& c) override {
        return m->put_refs(d, c);
    }
    result<std::vector<store::Digest>> get_refs(const store::Digest& d) override {
        return m->get_refs(d);
    }
    result<void> put_record(std::string_view t, std::string_view k, std::string_view v) override {
        return m->put_record(t, k, v);
    }
    result<std::optional<std::string>> get_record(std::string_view t, std::string_view k) override {
        return m->get_record(t, k);
    }
    result<void> delete_record(std::string_view t, std::string_view k) override {
        return m->delete_record(t, k);
    }
    result<std::vector<std::pair<std::string, std::string>>> list_records(
        std::string_view t, std::string_view prefix) override {
        return m->list_records(t, prefix);
    }
    store::Usage usage() override { return m->usage(); }
    std::uint64_t max_uncommitted_bytes() const override { return m->max_uncommitted_bytes(); }
    result<void> for_each_blob(
        const std::function<void(const store::Digest&, const store::BlobInfo&)>& fn) override {
        return m->for_each_blob(fn);
    }
    result<void> flush() override { return m->flush(); }

  private:
    std::unique_ptr<store::BlobStore> m;
};

// A download as the fetcher runs one: each piece goes to the fetch, then to the store writer
// (while there is one).
struct Download {
    std::shared_ptr<Fetch> fetch;
    std::shared_ptr<Piece> piece;
    std::unique_ptr<store::BlobWriter> writer;

    // Starts the download of `blob` into the store of `cache`, with its spool under `spool_dir`.
    Download(cache::Cache& cache, const std::filesystem::path& spool_dir, const std::string& blob) {
        fetch = std::make_shared<Fetch>(digest_of(blob), spool_dir, cache);
        auto begun = cache.store().begin(digest_of(blob), "application/octet-stream");
        REQUIRE(begun.has_value());
        writer = std::move(*begun);
        writer->on_chunk_written(fetch->chunk_listener());
        fetch->start_streaming(blob.size(), "application/octet-stream", true);
    }

    // `to_store` false: the fetch gets the bytes, the store not yet (store() gives them).
    void hand_on(std::string_view bytes, bool to_store = true) {
        while (!bytes.empty()) {
            piece = fetch->next_piece(std::move(piece));
            piece->size = std::min(bytes.size(), Piece::k_capacity);
            std::memcpy(piece->bytes.get(), bytes.data(), piece->size);
            bytes.remove_prefix(piece->size);
            REQUIRE(fetch->append(piece));
            if (writer && to_store) REQUIRE(writer->append(piece->view()));
        }
    }
    void store(std::string_view bytes) { REQUIRE(writer->append(bytes)); }
};

// Bytes [from, to) as a client reads them, with `cursor`; nullopt when a read fails.
std::optional<std::string> read_range(const Fetch& fetch, Fetch::Cursor& cursor, std::uint64_t from,
                                      std::uint64_t to) {
    std::string out;
    while (from + out.size() < to) {
        const std::uint64_t at = from + out.size();
        auto got = fetch.read(
            at, static_cast<std::size_t>(std::min<std::uint64_t>(to - at, 256 * 1024)), cursor);
        if (!got || got->empty()) return std::nullopt;
        out.append(got->data(), got->size());
    }
    return out;
}

}  // namespace

TEST_CASE("a download's clients read it back from the store's chunks and no spool is made",
          "[proxy][fetch]") {
    TempDir dir;
    cache::Cache cache(open_store(options_for(dir)), cache_options());
    const std::string blob = random_bytes(3 * k + 53, 11);
    Download download(cache, dir.path() / "spool", blob);

    download.hand_on(std::string_view(blob).substr(0, 2 * k), false);
    Fetch::Cursor early;  // reads from memory: the store has none of it yet
    CHECK(read_range(*download.fetch, early, 0, 2 * k) == blob.substr(0, 2 * k));
    // A client holds bytes it was given from memory...
    Fetch::Cursor holder;
    const std::size_t at = 2 * k - 300'000;  // in the last piece wholly inside chunk 1
    auto held = download.fetch->read(at, 1000, holder);
    REQUIRE(held.has_value());
    REQUIRE(held->size() == 1000);
    download.store(std::string_view(blob).substr(0, 2 * k));
    REQUIRE(cache.store().flush());  // chunks 0 and 1 are in the store now
    // ...while the pieces the store holds leave memory as the next ones arrive, and are reused
    // for them unless a client still holds one.
    download.hand_on(std::string_view(blob).substr(2 * k));
    CHECK(download.fetch->bytes_in_memory() <= blob.size() - 2 * k + Piece::k_capacity);
    CHECK(std::string_view(held->data(), held->size()) == std::string_view(blob).substr(at, 1000));
    REQUIRE(cache.store().flush());  // the three whole chunks are in the store now
    Fetch::Cursor cursor;
    CHECK(read_range(*download.fetch, cursor, 0, blob.size()) == blob);
    CHECK_FALSE(spool_size(dir.path() / "spool"));

    // The reads of the whole chunks came from the store: once its copy is gone they fail, but
    // for the chunk read last, which the fetch keeps for the clients that read it next. The
    // last partial chunk was never written there (no commit) and is still read from memory.
    download.writer.reset();
    Fetch::Cursor after;
    CHECK_FALSE(read_range(*download.fetch, after, 0, 1));
    CHECK_FALSE(read_range(*download.fetch, after, 2 * k - 1, 2 * k));
    CHECK(read_range(*download.fetch, after, 2 * k, 3 * k) == blob.substr(2 * k, k));
    CHECK(read_range(*download.fetch, after, 3 * k, blob.size()) == blob.substr(3 * k));
}

TEST_CASE("when the store drops out of a download, what it wrote moves to the spool",
          "[proxy][fetch]") {
    TempDir dir;
    cache::Cache cache(open_store(options_for(dir)), cache_options());
    const std::string blob = text_bytes(4 * k + 99, 12);  // compressed chunks in the store
    Download download(cache, dir.path() / "spool", blob);

    const std::size_t half = 2 * k + 1000;
    download.hand_on(std::string_view(blob).substr(0, half));
    REQUIRE(cache.store().flush());
    // One more piece: the first two chunks, in the store now, leave memory.
    const std::size_t more = half + Piece::k_capacity;
    download.hand_on(std::string_view(blob).substr(half, Piece::k_capacity));
    REQUIRE(download.fetch->bytes_in_memory() < more - 2 * k + Piece::k_capacity);
    Fetch::Cursor reading;  // a client midway through the first chunk
    CHECK(read_range(*download.fetch, reading, 0, k / 2) == blob.substr(0, k / 2));

    CHECK_FALSE(spool_size(dir.path() / "spool"));
    REQUIRE(download.fetch->move_to_spool());  // makes it, copies the chunks, then memory
    CHECK(spool_size(dir.path() / "spool") == more);
    download.writer.reset();                                // the store's copy goes
    download.hand_on(std::string_view(blob).substr(more));  // the rest to the spool only
    CHECK(spool_size(dir.path() / "spool") == blob.size());
    CHECK(read_range(*download.fetch, reading, k / 2, blob.size()) == blob.substr(k / 2));
    Fetch::Cursor fresh;
    CHECK(read_range(*download.fetch, fresh, 0, blob.size()) == blob);
}

TEST_CASE("a reader whose store read loses the race to a drop-out reads on from the spool",
          "[proxy][fetch]") {
    TempDir dir;
    auto hooked = std::make_unique<HookedStore>(open_store(options_for(dir)));
    HookedStore& store = *hooked;
    cache::Cache cache(std::move(hooked), cache_options());
    const std::string blob = random_bytes(3 * k + 7, 13);
    Download download(cache, dir.path() / "spool", blob);
    download.hand_on(blob);
    REQUIRE(cache.store().flush());  // the three whole chunks are in the store

    // The reader finds chunk 1 in the store; before it reads it there, the store drops out:
    // its chunks move to the spool and its copy goes.
    store.before_written_read = [&] {
        REQUIRE(download.fetch->move_to_spool());
        download.writer.reset();
    };
    Fetch::Cursor reader;
    CHECK(read_range(*download.fetch, reader, k + 5, 2 * k + 5) == blob.substr(k + 5, k));
    CHECK_FALSE(store.before_written_read);  // the drop-out did come between...
    CHECK(store.hooked_read_failed);         // ...and the store's copy was gone
    CHECK(spool_size(dir.path() / "spool") == blob.size());
    Fetch::Cursor fresh;
    CHECK(read_range(*download.fetch, fresh, 0, blob.size()) == blob);
}
