#pragma once

// Store tests' view of a journal's files behind its back: the database opened
// with plain RocksDB (journal closed), and the files of a kind in its
// directory.

#include <doctest/doctest.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace volant::test {

/// The database under a journal, opened with plain RocksDB (journal closed).
class raw_db {
public:
  explicit raw_db(const std::string& dir) {
    rocksdb::DBOptions opts;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "events", "snapshots", "meta"})
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
    rocksdb::DB* db = nullptr;
    auto s = rocksdb::DB::Open(opts, dir, cfs, &handles_, &db);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    db_.reset(db);
  }

  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;

  ~raw_db() {
    for (auto* h : handles_)
      db_->DestroyColumnFamilyHandle(h);
    db_->Close().PermitUncheckedError();
  }

  rocksdb::ColumnFamilyHandle* events() const { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* snapshots() const { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* meta() const { return handles_[3]; }

  std::string get(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    std::string value;
    auto s = db_->Get({}, cf, key, &value);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    return value;
  }

  void put(rocksdb::ColumnFamilyHandle* cf, const std::string& key,
           const std::string& value) {
    auto s = db_->Put({}, cf, key, value);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }

  void del(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    auto s = db_->Delete({}, cf, key);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }

  /// Moves everything into SST files, and the WAL out of the way.
  void compact() {
    auto s = db_->Flush({}, handles_);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    s = db_->CompactRange({}, events(), nullptr, nullptr);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }

private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

/// The files in `dir` whose names start with `prefix` and end with `suffix`,
/// sorted by name.
inline std::vector<std::filesystem::path>
files_named(const std::string& dir, const std::string& prefix,
            const std::string& suffix) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    auto name = e.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(suffix))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace volant::test
