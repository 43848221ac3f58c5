// gre-osm-import: the read phase of `gre data osm import`, in C++ (libosmium + SQLite).
//
// Python (tools/osm/_native.py) creates the database and its schema, runs this program
// on it, then normalises the names and builds the indexes. This program writes the rows
// that tools/osm/_index.py's Python reader would write, with the same feature ids, so
// both paths give the same index (tests/test_osm_native.py compares them):
//
//   features   (id, osm_type, osm_id, lat, lon, name, tags JSON, geom, box)
//   boxes      (cell, id, box) sorted by cell: the spatial index (see cell_of)
//   tags       (key, value, fid) sorted, as the table's primary key wants them (names and
//              addr:street left out: tools/osm/_index.py's UNINDEXED_KEYS)
//   tag_counts (key, NULL, n) for every key, (key, value, n) for common pairs
//   names_raw  (fid, key, value) of every tag whose key contains "name"
//   way_nodes  (way_fid, seq, node_id, lat, lon) of highways with a name-like key
//
// Sorting boxes and tags here and appending them in key order costs a fraction of
// what SQLite's R*Tree inserts or a CREATE INDEX over text would.
//
// What counts as "interesting", which relation types are skipped and which keys the tags
// table leaves out come from Python on the command line, so those rules have one
// definition. Usage:
//
//   gre-osm-import INPUT DB LOCATIONS BORING_KEYS BORING_PREFIXES SKIPPED_RELATIONS
//                  UNINDEXED_KEYS UNINDEXED_PREFIXES COUNTED_PAIRS
//
// (lists comma-separated; tools/osm/_native.py's Rules). Progress goes to stderr as
// "progress SEEN KEPT" lines (the first when reading starts, then every 2^20 objects);
// the counts and the extent go to stdout as one JSON line at the end.

#include <osmium/handler.hpp>
#include <osmium/handler/node_locations_for_ways.hpp>
#include <osmium/index/map/all.hpp>
#include <osmium/io/any_input.hpp>
#include <osmium/visitor.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

using Index = osmium::index::map::Map<osmium::unsigned_object_id_type, osmium::Location>;
using LocationHandler = osmium::handler::NodeLocationsForWays<Index>;

struct Box {
    double south, west, north, east;
};

// The grid cell a box is filed under; tools/osm/_index.py's cell_of is the same formula
// (its queries turn a search box into ranges of these keys). The finest level whose
// cells are at least as large as the box, and the cell of the box's south-west corner:
// the box then lies within that cell and its three neighbours to the north and east.
constexpr int MAX_LEVEL = 18;

std::int64_t cell_of(const Box& b) {
    int level = MAX_LEVEL;
    double size = 360.0 / static_cast<double>(1 << MAX_LEVEL);
    while (level > 0 && (b.north - b.south > size || b.east - b.west > size)) {
        --level;
        size *= 2;
    }
    const auto clamp = [](double v) {
        return static_cast<std::int64_t>(std::min(std::max(v, 0.0), 1048575.0));
    };
    const std::int64_t row = clamp(std::floor((b.south + 90.0) / size));
    const std::int64_t col = clamp(std::floor((b.west + 180.0) / size));
    return (static_cast<std::int64_t>(level) << 40) | (row << 20) | col;
}

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> parts;
    std::string part;
    for (char c : text) {
        if (c == ',') {
            if (!part.empty()) parts.push_back(part);
            part.clear();
        } else {
            part += c;
        }
    }
    if (!part.empty()) parts.push_back(part);
    return parts;
}

struct Rules {
    std::unordered_set<std::string> boring_keys;
    std::vector<std::string> boring_prefixes;
    std::unordered_set<std::string> skipped_relations;
    std::unordered_set<std::string> unindexed_keys;
    std::vector<std::string> unindexed_prefixes;
    std::int64_t counted_pairs = 100;

    // Whether the tags table holds this key's values (names are searched elsewhere).
    bool indexed(const char* key) const {
        if (unindexed_keys.count(key)) return false;
        for (const auto& p : unindexed_prefixes) {
            if (std::strncmp(key, p.data(), p.size()) == 0) return false;
        }
        return true;
    }

    bool interesting(const osmium::TagList& tags) const {
        for (const auto& tag : tags) {
            const std::string key = tag.key();
            if (boring_keys.count(key)) continue;
            bool prefixed = false;
            for (const auto& p : boring_prefixes) {
                if (key.compare(0, p.size(), p) == 0) {
                    prefixed = true;
                    break;
                }
            }
            if (!prefixed) return true;
        }
        return false;
    }

    bool kept_relation(const osmium::TagList& tags) const {
        if (tags.empty()) return false;
        const char* type = tags.get_value_by_key("type");
        if (type && skipped_relations.count(type)) return false;
        return interesting(tags);
    }
};

// The tags as Python's json.JSONEncoder(ensure_ascii=False) writes a dict of them:
// {"k": "v", "k2": "v2"}.
void escape_json(const char* text, std::string& out) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (const char* p = text; *p; ++p) {
        const unsigned char c = static_cast<unsigned char>(*p);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

using Pairs = std::vector<std::pair<const char*, const char*>>;

// The tags as a dict would hold them: a repeated key keeps its first place, last value.
Pairs dict_of(const osmium::TagList& tags) {
    Pairs pairs;
    for (const auto& tag : tags) {
        bool seen = false;
        for (auto& pair : pairs) {
            if (std::strcmp(pair.first, tag.key()) == 0) {
                pair.second = tag.value();
                seen = true;
                break;
            }
        }
        if (!seen) pairs.emplace_back(tag.key(), tag.value());
    }
    return pairs;
}

std::string tags_json(const Pairs& pairs) {
    std::string out = "{";
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (i) out += ", ";
        escape_json(pairs[i].first, out);
        out += ": ";
        escape_json(pairs[i].second, out);
    }
    out += '}';
    return out;
}

class Statement {
  public:
    Statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
            throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db));
        }
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    sqlite3_stmt* get() { return stmt_; }

    void run(sqlite3* db) {
        if (sqlite3_step(stmt_) != SQLITE_DONE) {
            throw std::runtime_error(std::string("sqlite insert: ") + sqlite3_errmsg(db));
        }
        sqlite3_reset(stmt_);
    }

  private:
    sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
        std::string message = error ? error : "unknown error";
        sqlite3_free(error);
        throw std::runtime_error("sqlite: " + message);
    }
}

// Rows of features, names and street nodes, made on the reading thread.
struct FeatureRow {
    std::int64_t fid, osm_id;
    const char* type;  // a literal: "node", "way" or "relation"
    double lat, lon;
    bool has_name;
    std::string name, json;
    std::vector<double> geom;  // (lat, lon) pairs; empty: no geometry
    Box box;
};

struct NameRow {
    std::int64_t fid;
    std::string key, value;
};

struct WayNodeRow {
    std::int64_t fid;
    int seq;
    std::int64_t ref;
    double lat, lon;
};

struct Batch {
    std::vector<FeatureRow> features;
    std::vector<NameRow> names;
    std::vector<WayNodeRow> way_nodes;
};

// Batches from the reading thread to the SQLite thread; bounded, so memory stays flat.
class BatchQueue {
  public:
    void push(std::unique_ptr<Batch> batch) {
        std::unique_lock<std::mutex> lock(mutex_);
        room_.wait(lock, [this] { return items_.size() < 8; });
        items_.push_back(std::move(batch));
        ready_.notify_one();
    }

    void close() {
        std::lock_guard<std::mutex> lock(mutex_);
        closed_ = true;
        ready_.notify_one();
    }

    std::unique_ptr<Batch> pop() {  // null once closed and empty
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !items_.empty() || closed_; });
        if (items_.empty()) return nullptr;
        auto batch = std::move(items_.front());
        items_.pop_front();
        room_.notify_one();
        return batch;
    }

  private:
    std::mutex mutex_;
    std::condition_variable ready_, room_;
    std::deque<std::unique_ptr<Batch>> items_;
    bool closed_ = false;
};

// Feature ids, rows and the sorted tables. Parsing and SQLite's inserts run on two
// threads (the features, names and street nodes go to SQLite as the file is read);
// the boxes and tags are kept in memory and written sorted at the end.
class Writer {
  public:
    Writer(sqlite3* db, const Rules& rules)
        : db_(db), rules_(rules), batch_(std::make_unique<Batch>()) {
        thread_ = std::thread([this] { write_batches(); });
    }

    ~Writer() {
        if (thread_.joinable()) {
            queue_.close();
            thread_.join();
        }
    }

    std::int64_t feature(const char* type, std::int64_t osm_id, double lat, double lon,
                         const Box& box, const osmium::TagList& tags,
                         const std::vector<double>* geom) {
        const std::int64_t fid = next_id_++;
        const Pairs pairs = dict_of(tags);
        FeatureRow row{fid, osm_id, type, lat, lon, false, {}, tags_json(pairs), {}, box};
        if (const char* name = tags.get_value_by_key("name")) {
            row.has_name = true;
            row.name = name;
        }
        if (geom) row.geom = *geom;
        batch_->features.push_back(std::move(row));
        for (const auto& [key, value] : pairs) {
            if (std::strstr(key, "name") != nullptr) batch_->names.push_back({fid, key, value});
        }
        boxes_.push_back(BoxRow{cell_of(box), fid, box});
        extent_.south = std::min(extent_.south, box.south);
        extent_.west = std::min(extent_.west, box.west);
        extent_.north = std::max(extent_.north, box.north);
        extent_.east = std::max(extent_.east, box.east);
        std::string pair;
        for (const auto& [key, value] : pairs) {
            if (!rules_.indexed(key)) continue;
            pair.assign(key).push_back('\0');
            pair.append(value);
            const auto [it, added] = tag_ids_.try_emplace(pair, tag_ids_.size());
            if (added) tag_texts_.push_back(&it->first);
            tag_rows_.emplace_back(it->second, static_cast<std::uint32_t>(fid));
        }
        if (batch_->features.size() >= 4096) send();
        return fid;
    }

    void way_node(std::int64_t fid, int seq, std::int64_t ref, double lat, double lon) {
        batch_->way_nodes.push_back({fid, seq, ref, lat, lon});
    }

    // The rest of the rows, then the boxes and tags, sorted by their tables' keys and
    // appended in that order. Raises what the SQLite thread raised.
    void finish() {
        send();
        queue_.close();
        thread_.join();
        if (!error_.empty()) throw std::runtime_error(error_);
        write_boxes();
        write_tags();
    }

    Box extent() const { return extent_; }

  private:
    struct BoxRow {
        std::int64_t cell;
        std::int64_t fid;
        Box box;
    };

    void send() {
        queue_.push(std::move(batch_));
        batch_ = std::make_unique<Batch>();
    }

    void write_batches() {
        try {
            Statement features(db_,
                               "INSERT INTO features VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
            Statement names(db_, "INSERT INTO names_raw VALUES (?, ?, ?)");
            Statement way_nodes(db_, "INSERT INTO way_nodes VALUES (?, ?, ?, ?, ?)");
            while (auto batch = queue_.pop()) {
                for (const auto& r : batch->features) {
                    sqlite3_stmt* s = features.get();
                    sqlite3_bind_int64(s, 1, r.fid);
                    sqlite3_bind_text(s, 2, r.type, -1, SQLITE_STATIC);
                    sqlite3_bind_int64(s, 3, r.osm_id);
                    sqlite3_bind_double(s, 4, r.lat);
                    sqlite3_bind_double(s, 5, r.lon);
                    if (r.has_name) {
                        sqlite3_bind_text(s, 6, r.name.data(), static_cast<int>(r.name.size()),
                                          SQLITE_STATIC);
                    } else {
                        sqlite3_bind_null(s, 6);
                    }
                    sqlite3_bind_text(s, 7, r.json.data(), static_cast<int>(r.json.size()),
                                      SQLITE_STATIC);
                    if (!r.geom.empty()) {
                        sqlite3_bind_blob(s, 8, r.geom.data(),
                                          static_cast<int>(r.geom.size() * sizeof(double)),
                                          SQLITE_STATIC);
                    } else {
                        sqlite3_bind_null(s, 8);
                    }
                    sqlite3_bind_double(s, 9, r.box.south);
                    sqlite3_bind_double(s, 10, r.box.north);
                    sqlite3_bind_double(s, 11, r.box.west);
                    sqlite3_bind_double(s, 12, r.box.east);
                    features.run(db_);
                }
                for (const auto& r : batch->names) {
                    sqlite3_stmt* s = names.get();
                    sqlite3_bind_int64(s, 1, r.fid);
                    sqlite3_bind_text(s, 2, r.key.data(), static_cast<int>(r.key.size()),
                                      SQLITE_STATIC);
                    sqlite3_bind_text(s, 3, r.value.data(), static_cast<int>(r.value.size()),
                                      SQLITE_STATIC);
                    names.run(db_);
                }
                for (const auto& r : batch->way_nodes) {
                    sqlite3_stmt* s = way_nodes.get();
                    sqlite3_bind_int64(s, 1, r.fid);
                    sqlite3_bind_int(s, 2, r.seq);
                    sqlite3_bind_int64(s, 3, r.ref);
                    sqlite3_bind_double(s, 4, r.lat);
                    sqlite3_bind_double(s, 5, r.lon);
                    way_nodes.run(db_);
                }
            }
        } catch (const std::exception& exc) {
            error_ = exc.what();
            while (queue_.pop()) {
            }  // let the reader finish; finish() reports the error
        }
    }

    void write_boxes() {
        std::sort(boxes_.begin(), boxes_.end(), [](const BoxRow& a, const BoxRow& b) {
            return a.cell != b.cell ? a.cell < b.cell : a.fid < b.fid;
        });
        Statement boxes(db_, "INSERT INTO boxes VALUES (?, ?, ?, ?, ?, ?)");
        for (const auto& row : boxes_) {
            sqlite3_stmt* s = boxes.get();
            sqlite3_bind_int64(s, 1, row.cell);
            sqlite3_bind_int64(s, 2, row.fid);
            sqlite3_bind_double(s, 3, row.box.south);
            sqlite3_bind_double(s, 4, row.box.north);
            sqlite3_bind_double(s, 5, row.box.west);
            sqlite3_bind_double(s, 6, row.box.east);
            boxes.run(db_);
        }
        std::vector<BoxRow>().swap(boxes_);
    }

    void write_tags() {
        // Rank the distinct (key, value) pairs in SQLite's BINARY order, then the rows.
        std::vector<std::uint32_t> order(tag_texts_.size());
        for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [this](std::uint32_t a, std::uint32_t b) {
            return *tag_texts_[a] < *tag_texts_[b];  // "key\0value": by key, then value
        });
        std::vector<std::uint32_t> rank(order.size());
        for (std::uint32_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
        for (auto& row : tag_rows_) row.first = rank[row.first];
        std::sort(tag_rows_.begin(), tag_rows_.end());
        Statement tags(db_, "INSERT INTO tags VALUES (?, ?, ?)");
        Statement counts(db_, "INSERT INTO tag_counts VALUES (?, ?, ?)");
        // Rows come sorted by (key, value): count runs of one pair and of one key.
        std::string_view key_run;
        std::int64_t key_n = 0, pair_n = 0;
        const auto count = [&](std::string_view key, const char* value, std::int64_t n) {
            sqlite3_stmt* s = counts.get();
            sqlite3_bind_text(s, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
            if (value) {
                sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
            } else {
                sqlite3_bind_null(s, 2);
            }
            sqlite3_bind_int64(s, 3, n);
            counts.run(db_);
        };
        for (std::size_t i = 0; i < tag_rows_.size(); ++i) {
            const auto [pair, fid] = tag_rows_[i];
            const std::string& text = *tag_texts_[order[pair]];
            const std::size_t split = text.find('\0');
            const std::string_view key(text.data(), split);
            sqlite3_stmt* s = tags.get();
            sqlite3_bind_text(s, 1, text.data(), static_cast<int>(split), SQLITE_STATIC);
            sqlite3_bind_text(s, 2, text.data() + split + 1,
                              static_cast<int>(text.size() - split - 1), SQLITE_STATIC);
            sqlite3_bind_int64(s, 3, fid);
            tags.run(db_);
            ++key_n, ++pair_n;
            const bool last = i + 1 == tag_rows_.size();
            if (last || tag_rows_[i + 1].first != pair) {
                if (pair_n >= rules_.counted_pairs) count(key, text.data() + split + 1, pair_n);
                pair_n = 0;
                const std::string& next = last ? text : *tag_texts_[order[tag_rows_[i + 1].first]];
                if (last || std::string_view(next.data(), next.find('\0')) != key) {
                    count(key, nullptr, key_n);
                    key_n = 0;
                }
            }
        }
    }

    sqlite3* db_;
    const Rules& rules_;
    std::unique_ptr<Batch> batch_;
    BatchQueue queue_;
    std::thread thread_;
    std::string error_;
    std::int64_t next_id_ = 1;
    std::vector<BoxRow> boxes_;
    Box extent_{90, 180, -90, -180};
    std::unordered_map<std::string, std::uint32_t> tag_ids_;
    std::vector<const std::string*> tag_texts_;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> tag_rows_;
};

bool has_name_key(const osmium::TagList& tags) {
    for (const auto& tag : tags) {
        if (std::strstr(tag.key(), "name") != nullptr) return true;
    }
    return false;
}

class Importer : public osmium::handler::Handler {
  public:
    Importer(const Rules& rules, Writer& out, Index& locations,
             std::unordered_set<osmium::object_id_type> wanted)
        : rules_(rules), out_(out), locations_(locations), wanted_(std::move(wanted)) {}

    std::int64_t nodes = 0, ways = 0, relations = 0, seen = 0, kept_objects = 0;

    void node(const osmium::Node& n) {
        tick();
        const auto& tags = n.tags();
        if (tags.empty() || !rules_.interesting(tags) || !n.location().valid()) return;
        const double lat = n.location().lat_without_check();
        const double lon = n.location().lon_without_check();
        out_.feature("node", n.id(), lat, lon, Box{lat, lon, lat, lon}, tags, nullptr);
        ++nodes;
    }

    void way(const osmium::Way& w) {
        tick();
        const bool wanted = wanted_.count(w.id()) > 0;
        const auto& tags = w.tags();
        if (tags.empty() && !wanted) return;
        geom_.clear();
        Box box{90, 180, -90, -180};
        for (const auto& node : w.nodes()) {
            const auto& loc = node.location();
            if (!loc.valid()) continue;
            const double lat = loc.lat_without_check(), lon = loc.lon_without_check();
            geom_.push_back(lat);
            geom_.push_back(lon);
            box.south = std::min(box.south, lat);
            box.west = std::min(box.west, lon);
            box.north = std::max(box.north, lat);
            box.east = std::max(box.east, lon);
        }
        if (geom_.empty()) return;
        if (wanted) boxes_[w.id()] = box;  // relations need the extent of their member ways
        if (tags.empty() || !rules_.interesting(tags)) return;
        const double lat = (box.south + box.north) / 2, lon = (box.west + box.east) / 2;
        const std::int64_t fid = out_.feature("way", w.id(), lat, lon, box, tags, &geom_);
        ++ways;
        if (tags.has_key("highway") && has_name_key(tags)) {
            int seq = 0;
            for (const auto& node : w.nodes()) {
                const auto& loc = node.location();
                if (!loc.valid()) continue;
                out_.way_node(fid, seq++, node.ref(), loc.lat_without_check(),
                              loc.lon_without_check());
            }
        }
    }

    void relation(const osmium::Relation& r) {
        tick();
        const auto& tags = r.tags();
        if (!rules_.kept_relation(tags)) return;
        Box box{90, 180, -90, -180};
        bool found = false;
        for (const auto& member : r.members()) {
            Box part;
            if (member.type() == osmium::item_type::node) {
                const auto loc = locations_.get_noexcept(
                    static_cast<osmium::unsigned_object_id_type>(member.ref()));
                if (!loc.valid()) return;  // clipped by the extract: its centre would be wrong
                const double lat = loc.lat_without_check(), lon = loc.lon_without_check();
                part = Box{lat, lon, lat, lon};
            } else if (member.type() == osmium::item_type::way) {
                const auto it = boxes_.find(member.ref());
                if (it == boxes_.end()) return;  // incomplete, as above
                part = it->second;
            } else {
                continue;
            }
            found = true;
            box.south = std::min(box.south, part.south);
            box.west = std::min(box.west, part.west);
            box.north = std::max(box.north, part.north);
            box.east = std::max(box.east, part.east);
        }
        if (!found) return;  // only sub-relations: no geometry of its own
        const double lat = (box.south + box.north) / 2, lon = (box.west + box.east) / 2;
        out_.feature("relation", r.id(), lat, lon, box, tags, nullptr);
        ++relations;
    }

  private:
    void tick() {
        if ((++seen & 0xFFFFF) == 0 || seen == 1) {  // the first: it has started
            std::fprintf(stderr, "progress %lld %lld\n", static_cast<long long>(seen),
                         static_cast<long long>(nodes + ways + relations));
            std::fflush(stderr);
        }
    }

    const Rules& rules_;
    Writer& out_;
    Index& locations_;
    std::unordered_set<osmium::object_id_type> wanted_;
    std::unordered_map<osmium::object_id_type, Box> boxes_;
    std::vector<double> geom_;
};

// The ids of the ways that kept relations use: only their extents are remembered.
std::unordered_set<osmium::object_id_type> relation_members(const std::string& input,
                                                            const Rules& rules) {
    std::unordered_set<osmium::object_id_type> members;
    osmium::io::Reader reader{input, osmium::osm_entity_bits::relation};
    while (osmium::memory::Buffer buffer = reader.read()) {
        for (const auto& rel : buffer.select<osmium::Relation>()) {
            if (!rules.kept_relation(rel.tags())) continue;
            for (const auto& m : rel.members()) {
                if (m.type() == osmium::item_type::way) members.insert(m.ref());
            }
        }
    }
    reader.close();
    return members;
}

}  // namespace

int main(int argc, char* argv[]) {
    if (argc != 10) {
        std::cerr << "usage: gre-osm-import INPUT DB LOCATIONS BORING_KEYS BORING_PREFIXES"
                     " SKIPPED_RELATIONS UNINDEXED_KEYS UNINDEXED_PREFIXES COUNTED_PAIRS\n";
        return 2;
    }
    const std::string input = argv[1], db_path = argv[2], location_spec = argv[3];
    Rules rules;
    for (auto& k : split(argv[4])) rules.boring_keys.insert(k);
    rules.boring_prefixes = split(argv[5]);
    for (auto& k : split(argv[6])) rules.skipped_relations.insert(k);
    for (auto& k : split(argv[7])) rules.unindexed_keys.insert(k);
    rules.unindexed_prefixes = split(argv[8]);
    rules.counted_pairs = std::stoll(argv[9]);

    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
        std::cerr << "error: cannot open " << db_path << ": " << sqlite3_errmsg(db) << "\n";
        return 1;
    }
    try {
        exec(db,
             "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY;"
             " PRAGMA cache_size=-262144; PRAGMA locking_mode=EXCLUSIVE; BEGIN;");
        const auto& factory =
            osmium::index::MapFactory<osmium::unsigned_object_id_type, osmium::Location>::instance();
        std::unique_ptr<Index> locations = factory.create_map(location_spec);
        auto wanted = relation_members(input, rules);
        LocationHandler location_handler{*locations};
        location_handler.ignore_errors();  // a way's missing nodes are skipped, not fatal
        std::int64_t nodes = 0, ways = 0, relations = 0, seen = 0;
        Box extent{};
        {
            Writer out{db, rules};
            Importer importer{rules, out, *locations, std::move(wanted)};
            osmium::io::Reader reader{input};
            osmium::apply(reader, location_handler, importer);
            reader.close();
            locations.reset();  // its memory is needed for the sorts
            out.finish();
            nodes = importer.nodes, ways = importer.ways, relations = importer.relations;
            seen = importer.seen;
            extent = out.extent();
        }
        exec(db, "COMMIT;");
        sqlite3_close(db);
        if (nodes + ways + relations == 0) extent = Box{0, 0, 0, 0};
        std::printf(
            "{\"nodes\": %lld, \"ways\": %lld, \"relations\": %lld, \"seen\": %lld,"
            " \"extent\": [%.17g, %.17g, %.17g, %.17g]}\n",
            static_cast<long long>(nodes), static_cast<long long>(ways),
            static_cast<long long>(relations), static_cast<long long>(seen), extent.south,
            extent.west, extent.north, extent.east);
        return 0;
    } catch (const std::exception& exc) {
        std::cerr << "error: " << exc.what() << "\n";
        sqlite3_close(db);
        return 1;
    }
}
