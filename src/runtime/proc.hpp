#pragma once

// Reading /proc: process identity (pid + start time survives pid reuse), trees,
// resource use.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace volant::runtime {

/// Field 22 of /proc/PID/stat (clock ticks after boot); nullopt if no such process.
std::optional<std::uint64_t> start_ticks(std::int64_t pid);

/// Whether `pid` runs and started at `ticks` (0: any start time). Zombies count as
/// not running.
bool process_alive(std::int64_t pid, std::uint64_t ticks);

/// `pid` and all its descendants.
std::vector<std::int64_t> process_tree(std::int64_t pid);

/// The command name (/proc/PID/comm) of `pid`; empty if gone.
std::string process_name(std::int64_t pid);

/// The whole of a small /proc file, read with read(2): a process may end while
/// it is read (ESRCH), and then this says nothing rather than throwing (as a
/// std::istreambuf_iterator over a filebuf does).
std::string read_proc_file(const std::string& path);

/// Summed user+system CPU seconds and RSS bytes over `pids`.
void process_usage(const std::vector<std::int64_t>& pids, double& cpu_seconds,
                   std::uint64_t& rss_bytes);

} // namespace volant::runtime
