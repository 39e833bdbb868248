#pragma once

// Who a workload runs as and what it starts with. When volantd is root, a
// process-driver workload (and QEMU) runs as a dedicated unprivileged user
// (`volant-workload` by default): its supplementary groups, no capability but
// CAP_NET_BIND_SERVICE (ambient, so it can bind port 80 on its own IP; QEMU gets
// none), a bounding set of just that, no_new_privs (a setuid-root binary cannot
// make it root again), and none of the daemon's open descriptors or environment.
// When volantd is not root, workloads run as volantd itself: there is nobody to
// switch to. The run directories (`--run-dir`) are the only place the user
// reaches; the data directory, the token and the keys stay the daemon's.

#include "events/error.hpp"
#include "events/types.hpp"

#include <sys/types.h>

#include <string>
#include <vector>

namespace volant::runtime {

/// The user workloads run as.
struct workload_identity {
  bool switch_user = false;  ///< false: workloads run as volantd itself
  std::string name;          ///< the user's name
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups; ///< supplementary groups (incl. the primary one)
  int last_cap = 40;         ///< /proc/sys/kernel/cap_last_cap
};

/// The default `--workload-user`.
inline constexpr const char* default_workload_user = "volant-workload";

/// The identity of `user` when this process is root (an unknown user, or one
/// with uid 0, is an error naming what to do); this process's own identity,
/// without a switch, when it is not root.
expected<workload_identity> resolve_workload_user(const std::string& user);

/// In a forked child, just before exec: becomes `id` (when it switches): groups,
/// gid, uid, then capabilities (CAP_NET_BIND_SERVICE as the only ambient,
/// permitted, effective and bounding capability when `bind_service`, else none)
/// and no_new_privs. Marks every descriptor above 2 close-on-exec either way.
/// Only raw system calls on prepared data (async-signal-safe). Returns 0, or the
/// errno of the step that failed and sets `*step` to its name.
int become_workload(const workload_identity& id, bool bind_service,
                    const char** step) noexcept;

/// The fixed default before plugin, deployment and VOLANT_* variables.
inline constexpr const char* workload_path
  = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A workload's whole environment: PATH (workload_path), HOME (its run
/// directory `home`) and LANG=C.UTF-8, with `env` (plugin, deployment and
/// VOLANT_* variables, in that order of precedence already) over them. Nothing
/// of the daemon's own environment.
std::vector<std::string> workload_environment(const std::vector<env_var>& env,
                                              const std::string& home);

/// `command` as execvp would find it in `path` (a PATH value), looked up before
/// the fork: glibc's execvpe searches the caller's PATH (the daemon's), not the
/// workload's. A name with a slash, or one found nowhere, is returned as it is.
std::string resolve_command(const std::string& command, const std::string& path);

/// Whether `id` may open `path` for reading and writing, by its mode bits
/// (volantd, as root, cannot ask access(2) for another user).
bool may_read_write(const std::string& path, const workload_identity& id);

/// Makes `dir`, one VM's run directory, exist as a directory owned by the
/// workload user with mode 0700 (other VMs' workloads run as the same user, so
/// the mode keeps out other users, not other VMs: docs/security.md). A symlink
/// in its place is refused, never followed.
status prepare_run_dir(const std::string& dir, const workload_identity& id);

/// Removes the run directory `dir` and everything in it without following a
/// symlink anywhere: as root, and while workloads of the same user (other VMs)
/// could swap a subdirectory for a symlink to elsewhere. Gives up below 128
/// levels.
void remove_run_dir(const std::string& dir);

/// Makes `dir`, the directory of all run directories, exist: new, it is owned
/// by volantd with mode 0711 (0700 without a switch): a workload reaches its own
/// run directory but cannot list the others. Refused: one that a user other
/// than volantd owns or could write, and one the workload user cannot reach
/// (an ancestor it cannot traverse), naming the directory in the way.
status prepare_run_root(const std::string& dir, const workload_identity& id);

/// Takes an exclusive lock on `dir` (a POSIX lock of the file `.volantd.lock`
/// in it) for the life of this process (not of its children), so that two daemons never share a run directory (their
/// VMs' names would meet); `owner` (the data directory) is written into it and
/// named in the refusal another daemon gets.
status lock_run_root(const std::string& dir, const std::string& owner);

} // namespace volant::runtime
