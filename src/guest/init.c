// volant-guest-init: PID 1 of a Volant microVM guest (docs/guests.md).
//
// A small static program, the same in every guest. In the boot initramfs it
// mounts /dev, /proc and /sys, loads the kernel modules listed in
// /lib/modules/volant/order, and, when the kernel command line names a root
// disk (volant.root=/dev/vda), mounts it and switches into it. In the final
// root it sets the hostname and eth0 from the command line, builds the
// workload's environment (the image's /etc/volant/env, then volant.env=
// words, then VOLANT_VM_NAME and VOLANT_IP), writes /etc/resolv.conf when the
// command line names a resolver (volantd's DNS), mounts the volumes (ext4
// disks, volant.vol=DEV:PATH, PATH made if missing), runs the entrypoint of
// /etc/volant/argv as a child in its own session with the console as its
// stdio, and reaps every orphan. Its own lines on the console start with
// "volant-init: ".
//
// The workload's exit status leaves the guest on a channel of its own, the
// virtio serial port named volant.ctl ("exited STATUS" or "killed SIGNAL"),
// never on the console the workload writes to, so no output can fake it.
// A volume that does not mount is reported there as "failed mounting volume
// DEV at PATH: ERROR", and the workload does not run: its data must never
// land silently on the throw-away root.
// The ACPI power button (QMP system_powerdown), SIGTERM, SIGINT or SIGPWR stop
// the workload with SIGTERM to its process group, then SIGKILL after
// volant.grace seconds (default 10); then the guest powers off: whatever is
// left is killed, the volumes are synced and unmounted (their images are
// clean on the host), and the power goes.
//
// Command line (values percent-encoded: %20 for a space):
//   volant.name=VM volant.ip=A.B.C.D/N volant.gw=G.G.G.G volant.env=KEY=VALUE
//   volant.root=/dev/vda volant.grace=SECONDS volant.dns=D.D.D.D
//   volant.vol=/dev/vdb:PATH (one per volume, at most 16)

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/reboot.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { max_env = 512, max_argv = 256, max_text = 65536, max_volumes = 16 };

static char vm_name[256] = "volant";
static char vm_ip[64] = "";
static int vm_prefix = 24;
static char vm_gw[64] = "";
static char vm_dns[64] = "";
static char root_dev[128] = "";
static int grace_seconds = 10;
static char* cmd_env[max_env];
static int cmd_env_count = 0;
/// volant.vol= words: the device and the mount path of each volume, and
/// whether it is mounted (unmounted again at power-off).
static struct {
  char dev[64];
  char path[1024];
  int mounted;
} volumes[max_volumes];
static int volume_count = 0;
/// The control port (volant.ctl), once open.
static int ctl = -1;

static void say(const char* fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    fd = dup(2);
  dprintf(fd, "volant-init: %s\n", line);
  close(fd);
}

/// Percent-decodes `s` in place.
static void decode(char* s) {
  char* out = s;
  for (char* in = s; *in; ++in) {
    if (in[0] == '%' && in[1] && in[2]) {
      char hex[3] = {in[1], in[2], 0};
      char* end = NULL;
      long v = strtol(hex, &end, 16);
      if (end == hex + 2) {
        *out++ = (char)v;
        in += 2;
        continue;
      }
    }
    *out++ = *in;
  }
  *out = 0;
}

/// Reads a whole small file; NULL if it cannot. `len` gets its size.
static char* slurp(const char* path, size_t* len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char* buf = malloc(max_text + 1);
  size_t n = 0;
  ssize_t r;
  while (buf && n < max_text && (r = read(fd, buf + n, max_text - n)) > 0)
    n += (size_t)r;
  close(fd);
  if (buf)
    buf[n] = 0;
  if (len)
    *len = n;
  return buf;
}

static void parse_cmdline(void) {
  char* text = slurp("/proc/cmdline", NULL);
  if (!text)
    return;
  for (char* save = NULL, *w = strtok_r(text, " \t\n", &save); w;
       w = strtok_r(NULL, " \t\n", &save)) {
    if (strncmp(w, "volant.name=", 12) == 0) {
      snprintf(vm_name, sizeof vm_name, "%s", w + 12);
      decode(vm_name);
    } else if (strncmp(w, "volant.ip=", 10) == 0) {
      snprintf(vm_ip, sizeof vm_ip, "%s", w + 10);
      char* slash = strchr(vm_ip, '/');
      if (slash) {
        *slash = 0;
        vm_prefix = atoi(slash + 1);
      }
    } else if (strncmp(w, "volant.gw=", 10) == 0) {
      snprintf(vm_gw, sizeof vm_gw, "%s", w + 10);
    } else if (strncmp(w, "volant.dns=", 11) == 0) {
      snprintf(vm_dns, sizeof vm_dns, "%s", w + 11);
    } else if (strncmp(w, "volant.root=", 12) == 0) {
      snprintf(root_dev, sizeof root_dev, "%s", w + 12);
    } else if (strncmp(w, "volant.vol=", 11) == 0) {
      // DEV:PATH; a device name has no ':', the (encoded) path may.
      char* colon = strchr(w + 11, ':');
      if (!colon || volume_count == max_volumes) {
        say("ignoring %s (not DEV:PATH, or more than %d volumes)", w,
            max_volumes);
        continue;
      }
      *colon = 0;
      snprintf(volumes[volume_count].dev, sizeof volumes[0].dev, "%s", w + 11);
      snprintf(volumes[volume_count].path, sizeof volumes[0].path, "%s",
               colon + 1);
      decode(volumes[volume_count].path);
      ++volume_count;
    } else if (strncmp(w, "volant.grace=", 13) == 0) {
      grace_seconds = atoi(w + 13);
    } else if (strncmp(w, "volant.env=", 11) == 0 && cmd_env_count < max_env) {
      // KEY=VALUE, each side encoded on its own.
      char* kv = strdup(w + 11);
      char* eq = strchr(kv, '=');
      if (!eq)
        continue;
      *eq = 0;
      decode(kv);
      decode(eq + 1);
      char* joined = NULL;
      if (asprintf(&joined, "%s=%s", kv, eq + 1) > 0)
        cmd_env[cmd_env_count++] = joined;
      free(kv);
    }
  }
  free(text);
}

static void mount_basics(void) {
  mkdir("/dev", 0755);
  mkdir("/proc", 0555);
  mkdir("/sys", 0555);
  if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") != 0 && errno != EBUSY)
    say("mount /dev: %s", strerror(errno));
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0
      && errno != EBUSY)
    say("mount /proc: %s", strerror(errno));
  if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0
      && errno != EBUSY)
    say("mount /sys: %s", strerror(errno));
}

/// Loads /lib/modules/volant/NAME.ko for each NAME of the order file.
static void load_modules(void) {
  char* order = slurp("/lib/modules/volant/order", NULL);
  if (!order)
    return;
  for (char* save = NULL, *m = strtok_r(order, " \n", &save); m;
       m = strtok_r(NULL, " \n", &save)) {
    char path[256];
    snprintf(path, sizeof path, "/lib/modules/volant/%s.ko", m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue; // built into this kernel
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
      say("loading module %s: %s", m, strerror(errno));
    close(fd);
  }
  free(order);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/// Mounts `root_dev` and makes it `/` (the initramfs stays underneath, unused).
static int switch_root(void) {
  for (int i = 0; i < 500 && access(root_dev, F_OK) != 0; ++i)
    sleep_ms(10);
  mkdir("/newroot", 0755);
  if (mount(root_dev, "/newroot", "ext4", 0, NULL) != 0) {
    say("mounting the root disk %s: %s", root_dev, strerror(errno));
    return -1;
  }
  const char* moved[] = {"/dev", "/proc", "/sys"};
  for (int i = 0; i < 3; ++i) {
    char target[64];
    snprintf(target, sizeof target, "/newroot%s", moved[i]);
    mkdir(target, 0755);
    if (mount(moved[i], target, NULL, MS_MOVE, NULL) != 0)
      say("moving %s: %s", moved[i], strerror(errno));
  }
  if (chdir("/newroot") != 0 || mount("/newroot", "/", NULL, MS_MOVE, NULL) != 0
      || chroot(".") != 0 || chdir("/") != 0) {
    say("switching to the root disk: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static void mount_runtime(void) {
  // What udev would make: programs open /dev/stdout and friends by name.
  symlink("/proc/self/fd", "/dev/fd");
  symlink("/proc/self/fd/0", "/dev/stdin");
  symlink("/proc/self/fd/1", "/dev/stdout");
  symlink("/proc/self/fd/2", "/dev/stderr");
  mkdir("/tmp", 01777);
  mkdir("/run", 0755);
  mkdir("/dev/pts", 0755);
  mkdir("/dev/shm", 01777);
  mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620");
}

static int ifreq_op(int sock, const char* dev, unsigned long op, struct ifreq* ifr) {
  snprintf(ifr->ifr_name, IFNAMSIZ, "%s", dev);
  return ioctl(sock, op, ifr);
}

static void link_up(int sock, const char* dev) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (ifreq_op(sock, dev, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ifreq_op(sock, dev, SIOCSIFFLAGS, &ifr) != 0)
      say("%s up: %s", dev, strerror(errno));
  }
}

static void set_addr(int sock, const char* dev, unsigned long op, in_addr_t addr) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  struct sockaddr_in* sin = (struct sockaddr_in*)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = addr;
  if (ifreq_op(sock, dev, op, &ifr) != 0)
    say("%s address: %s", dev, strerror(errno));
}

static void configure_network(void) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return;
  link_up(sock, "lo");
  if (vm_ip[0]) {
    for (int i = 0; i < 500 && access("/sys/class/net/eth0", F_OK) != 0; ++i)
      sleep_ms(10);
    struct in_addr ip;
    if (inet_pton(AF_INET, vm_ip, &ip) != 1) {
      say("bad volant.ip %s", vm_ip);
    } else if (access("/sys/class/net/eth0", F_OK) != 0) {
      say("no eth0");
    } else {
      set_addr(sock, "eth0", SIOCSIFADDR, ip.s_addr);
      in_addr_t mask = vm_prefix <= 0 ? 0 : htonl(~0u << (32 - vm_prefix));
      set_addr(sock, "eth0", SIOCSIFNETMASK, mask);
      link_up(sock, "eth0");
      struct in_addr gw;
      if (vm_gw[0] && inet_pton(AF_INET, vm_gw, &gw) == 1) {
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        struct sockaddr_in* dst = (struct sockaddr_in*)&rt.rt_dst;
        struct sockaddr_in* via = (struct sockaddr_in*)&rt.rt_gateway;
        struct sockaddr_in* msk = (struct sockaddr_in*)&rt.rt_genmask;
        dst->sin_family = via->sin_family = msk->sin_family = AF_INET;
        via->sin_addr = gw;
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        if (ioctl(sock, SIOCADDRT, &rt) != 0)
          say("default route via %s: %s", vm_gw, strerror(errno));
      }
    }
  }
  close(sock);
}

/// volantd's DNS as the guest's resolver: volant.local names from it, other
/// names forwarded by it to the host's resolvers. The root is writable (an
/// initramfs, or a root disk whose writes QEMU keeps apart).
static void write_resolv_conf(void) {
  struct in_addr ip;
  if (!vm_dns[0] || inet_pton(AF_INET, vm_dns, &ip) != 1)
    return;
  mkdir("/etc", 0755);
  unlink("/etc/resolv.conf"); // maybe a symlink into /run
  FILE* f = fopen("/etc/resolv.conf", "we");
  if (!f) {
    say("/etc/resolv.conf: %s", strerror(errno));
    return;
  }
  fprintf(f, "# Written by volant-init: volantd's DNS\nnameserver %s\nsearch volant.local\n",
          vm_dns);
  if (fclose(f) != 0)
    say("/etc/resolv.conf: %s", strerror(errno));
}

/// NUL-separated strings of a file into `out` (at most `max`); their count.
static int read_list(const char* path, char** out, int max) {
  size_t len = 0;
  char* text = slurp(path, &len);
  if (!text)
    return 0;
  int n = 0;
  for (size_t i = 0; i < len && n < max;) {
    size_t l = strlen(text + i);
    if (l > 0)
      out[n++] = text + i;
    i += l + 1;
  }
  return n;
}

/// Sets or replaces KEY=VALUE in `env`.
static void put_env(char** env, int* count, char* kv) {
  size_t key = strcspn(kv, "=");
  for (int i = 0; i < *count; ++i)
    if (strncmp(env[i], kv, key) == 0 && env[i][key] == '=') {
      env[i] = kv;
      return;
    }
  if (*count < max_env - 1)
    env[(*count)++] = kv;
}

static const char* get_env(char** env, int count, const char* key, size_t len) {
  for (int i = 0; i < count; ++i)
    if (strncmp(env[i], key, len) == 0 && env[i][len] == '=')
      return env[i] + len + 1;
  return "";
}

/// `${NAME}` in `arg` replaced by NAME's value in `env` (as the process
/// driver substitutes the entrypoint on the host).
static char* substitute(const char* arg, char** env, int count) {
  size_t cap = strlen(arg) + 1;
  char* out = malloc(cap);
  size_t n = 0;
  for (const char* p = arg; *p;) {
    const char* end = p[0] == '$' && p[1] == '{' ? strchr(p + 2, '}') : NULL;
    const char* piece = p;
    size_t len = 1;
    if (end) {
      piece = get_env(env, count, p + 2, (size_t)(end - p - 2));
      len = strlen(piece);
      p = end + 1;
    } else {
      ++p;
    }
    if (n + len + 1 > cap) {
      cap = (n + len + 1) * 2;
      out = realloc(out, cap);
    }
    memcpy(out + n, piece, len);
    n += len;
  }
  out[n] = 0;
  return out;
}

/// The control port's device (/dev/vportNpM named volant.ctl), or -1.
static int open_control(void) {
  DIR* dir = NULL;
  for (int i = 0; i < 300 && !(dir = opendir("/sys/class/virtio-ports")); ++i)
    sleep_ms(10);
  if (!dir)
    return -1;
  int fd = -1;
  for (int round = 0; round < 300 && fd < 0; ++round) {
    rewinddir(dir);
    struct dirent* e;
    while ((e = readdir(dir)) && fd < 0) {
      if (e->d_name[0] == '.')
        continue;
      char path[300];
      snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
      char* name = slurp(path, NULL);
      if (name && strncmp(name, "volant.ctl", 10) == 0) {
        snprintf(path, sizeof path, "/dev/%s", e->d_name);
        fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
      }
      free(name);
    }
    if (fd < 0)
      sleep_ms(10);
  }
  closedir(dir);
  return fd;
}

static void control(int fd, const char* fmt, ...) {
  if (fd < 0)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof line)
    n = (int)sizeof line - 1; // what fits
  if (n > 0 && write(fd, line, (size_t)n) < 0)
    say("control port: %s", strerror(errno));
  fsync(fd);
}

/// The ACPI power button's input device, or -1.
static int open_power_button(void) {
  DIR* dir = opendir("/sys/class/input");
  if (!dir)
    return -1;
  int fd = -1;
  struct dirent* e;
  while ((e = readdir(dir)) && fd < 0) {
    if (strncmp(e->d_name, "event", 5) != 0)
      continue;
    char path[300];
    snprintf(path, sizeof path, "/sys/class/input/%s/device/name", e->d_name);
    char* name = slurp(path, NULL);
    if (name && strcasestr(name, "power button")) {
      snprintf(path, sizeof path, "/dev/input/%s", e->d_name);
      fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    }
    free(name);
  }
  closedir(dir);
  return fd;
}

/// mkdir -p: `path` and its missing parents (mode 0755); 0 or -1 (errno).
static int make_dirs(const char* path) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", path);
  for (char* p = buf + 1;; ++p) {
    if (*p != '/' && *p != 0)
      continue;
    char end = *p;
    *p = 0;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return -1;
    *p = end;
    if (end == 0)
      return 0;
  }
}

/// Mounts every volume (ext4) at its path in the final root; on the first
/// that fails, says which and why, on the console and the control port, and
/// returns -1.
static int mount_volumes(void) {
  for (int i = 0; i < volume_count; ++i) {
    const char* dev = volumes[i].dev;
    const char* path = volumes[i].path;
    // The disk may still be probing.
    for (int t = 0; t < 500 && access(dev, F_OK) != 0; ++t)
      sleep_ms(10);
    int err = 0;
    if (path[0] != '/' || path[1] == 0)
      err = EINVAL;
    else if (make_dirs(path) != 0 || mount(dev, path, "ext4", 0, NULL) != 0)
      err = errno;
    if (err == 0) {
      volumes[i].mounted = 1;
      continue;
    }
    // The path is the deployment's: one line on the control port whatever
    // it holds.
    char shown[sizeof volumes[0].path];
    snprintf(shown, sizeof shown, "%s", path);
    for (char* c = shown; *c; ++c)
      if ((unsigned char)*c < 0x20 || *c == 0x7f)
        *c = '?';
    say("mounting volume %s at %s: %s", dev, shown, strerror(err));
    control(ctl, "failed mounting volume %.64s at %.200s: %s\n", dev, shown,
            strerror(err));
    return -1;
  }
  return 0;
}

/// At power-off: nothing may keep writing, the volumes' data reaches their
/// disks and their filesystems are left clean.
static void unmount_volumes(void) {
  int any = 0;
  for (int i = 0; i < volume_count; ++i)
    any |= volumes[i].mounted;
  if (!any)
    return;
  // Whatever the workload left (daemons of other sessions included) would
  // hold the volumes busy: gone, and reaped, for a few seconds at most.
  kill(-1, SIGKILL);
  for (int t = 0; t < 300; ++t) {
    pid_t reaped = waitpid(-1, NULL, WNOHANG);
    if (reaped < 0)
      break; // no process left
    if (reaped == 0)
      sleep_ms(10);
  }
  sync();
  for (int i = volume_count - 1; i >= 0; --i) {
    if (!volumes[i].mounted)
      continue;
    if (umount2(volumes[i].path, 0) != 0) {
      say("unmounting volume %s: %s; detached", volumes[i].path,
          strerror(errno));
      umount2(volumes[i].path, MNT_DETACH);
    }
    volumes[i].mounted = 0;
  }
}

static pid_t start_workload(char** argv, char** env) {
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  int console = open("/dev/console", O_RDWR | O_NOCTTY);
  if (console >= 0) {
    dup2(console, 0);
    dup2(console, 1);
    dup2(console, 2);
    if (console > 2)
      close(console);
  }
  char* dir = slurp("/etc/volant/workdir", NULL);
  if (dir) {
    dir[strcspn(dir, "\n")] = 0;
    if (dir[0] && chdir(dir) != 0)
      say("workdir %s: %s", dir, strerror(errno));
  }
  environ = env;
  execvpe(argv[0], argv, env);
  say("cannot run %s: %s", argv[0], strerror(errno));
  _exit(127);
}

static void power_off(void) {
  unmount_volumes();
  sync();
  reboot(LINUX_REBOOT_CMD_POWER_OFF);
  for (;;)
    pause();
}

int main(void) {
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGCHLD);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGPWR);
  sigaddset(&handled, SIGUSR1);
  sigprocmask(SIG_BLOCK, &handled, NULL);
  int sigfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);

  mount_basics();
  parse_cmdline();
  load_modules();
  if (root_dev[0] && switch_root() != 0)
    power_off();
  mount_runtime();
  sethostname(vm_name, strlen(vm_name));
  configure_network();
  write_resolv_conf();

  // The environment: PATH and HOME, the image's, the deployment's, Volant's.
  char* env[max_env];
  int env_count = 0;
  put_env(env, &env_count, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  put_env(env, &env_count, "HOME=/root");
  char* image_env[max_env];
  int image_env_count = read_list("/etc/volant/env", image_env, max_env);
  for (int i = 0; i < image_env_count; ++i)
    put_env(env, &env_count, image_env[i]);
  for (int i = 0; i < cmd_env_count; ++i)
    put_env(env, &env_count, cmd_env[i]);
  char* extra = NULL;
  if (asprintf(&extra, "VOLANT_VM_NAME=%s", vm_name) > 0)
    put_env(env, &env_count, extra);
  if (asprintf(&extra, "VOLANT_IP=%s", vm_ip) > 0)
    put_env(env, &env_count, extra);
  env[env_count] = NULL;

  char* raw[max_argv];
  int argc = read_list("/etc/volant/argv", raw, max_argv - 1);
  char* argv[max_argv];
  for (int i = 0; i < argc; ++i)
    argv[i] = substitute(raw[i], env, env_count);
  argv[argc] = NULL;

  ctl = open_control();
  if (ctl < 0)
    say("no control port volant.ctl: the workload's exit status cannot be reported");
  if (argc == 0) {
    say("no entrypoint in /etc/volant/argv");
    control(ctl, "exited 127\n");
    power_off();
  }
  if (mount_volumes() != 0)
    power_off();
  int button = open_power_button();
  pid_t workload = start_workload(argv, env);
  say("started %s (pid %d)", argv[0], (int)workload);
  control(ctl, "started %d\n", (int)workload);
  printf("VOLANT-READY %s %s\n", vm_name, vm_ip);
  fflush(stdout);

  int stopping = 0;
  struct timespec kill_at = {0, 0};
  for (;;) {
    struct pollfd fds[2] = {{sigfd, POLLIN, 0}, {button, POLLIN, 0}};
    int timeout = -1;
    if (stopping) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long left = (kill_at.tv_sec - now.tv_sec) * 1000 + (kill_at.tv_nsec - now.tv_nsec) / 1000000;
      timeout = left > 0 ? (int)left : 0;
    }
    int ready = poll(fds, button >= 0 ? 2 : 1, timeout);
    int stop = 0;
    if (ready == 0 && stopping) {
      say("the workload did not stop within %d s: SIGKILL", grace_seconds);
      kill(-workload, SIGKILL);
      kill(workload, SIGKILL);
      stopping = 2;
      kill_at.tv_sec += 3600;
    }
    if (button >= 0 && (fds[1].revents & POLLIN)) {
      struct input_event ev;
      while (read(button, &ev, sizeof ev) == (ssize_t)sizeof ev)
        if (ev.type == EV_KEY && ev.value == 1)
          stop = 1;
    }
    struct signalfd_siginfo si;
    while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
      if (si.ssi_signo != SIGCHLD)
        stop = 1;
    if (stop && !stopping) {
      say("stopping the workload (SIGTERM, %d s grace)", grace_seconds);
      stopping = 1;
      kill(-workload, SIGTERM);
      kill(workload, SIGTERM);
      clock_gettime(CLOCK_MONOTONIC, &kill_at);
      kill_at.tv_sec += grace_seconds;
    }
    // Reap everything; the workload's end ends the guest.
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != workload)
        continue;
      if (WIFEXITED(status)) {
        say("the workload exited with status %d", WEXITSTATUS(status));
        control(ctl, "exited %d\n", WEXITSTATUS(status));
      } else if (WIFSIGNALED(status)) {
        say("the workload was killed by signal %d", WTERMSIG(status));
        control(ctl, "killed %d\n", WTERMSIG(status));
      }
      kill(-workload, SIGKILL); // what it left behind in its session
      printf("VOLANT-STOPPED %s\n", vm_name);
      fflush(stdout);
      power_off();
    }
  }
}
