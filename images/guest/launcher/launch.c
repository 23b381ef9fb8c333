/*
 * forkd's container launcher: the first process of a container held ahead in
 * a ready-pool clone (services/agent/held.ts). crun has already set up the
 * container (namespaces, mounts, cgroup, user, capabilities, seccomp) and
 * exec'd this program from the agent's descriptor 3, so nothing of it is in
 * the container's filesystem. It waits on descriptor 4, a socket to the
 * agent, for the request's command, then becomes that command with execvp.
 * Both descriptors close on that exec: nothing of the launcher is left.
 *
 * The message, written once and followed by end-of-file:
 *   "forkd-launch-1\0" cwd "\0" argc "\0" argv[0] "\0" ... envc "\0" env[0] "\0" ...
 * No argument, variable or path can hold a NUL, so the framing is lossless.
 * The launcher finds the program first (argv[0] on the new PATH, as execvp
 * would, and as crun does before its exec), then answers
 *   "+"                      found: the exec comes next
 *   errno "\0" step "\0"     not found, not executable, or no such cwd
 * and in the second case exits 127 (not found) or 126, as a shell would. It
 * cannot wait for the exec's own end-of-file: crun's monitor process keeps a
 * copy of descriptor 4 for as long as the container runs. An exec that fails
 * after "+" (a bad ELF file, say) prints why on stderr and exits 126.
 *
 * HOME: crun sets it (from the container's /etc/passwd) when the spec's
 * environment lacks it; the request's environment gets the same.
 *
 * Built static (no loader or libc is taken from the image) by the guest image
 * build, installed as /opt/forkd/launch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BINARY_FD 3
#define CHANNEL_FD 4
/* The agent sends nothing bigger (held.ts LAUNCH_MESSAGE_MAX_BYTES): above the kernel's usual argument limit. */
#define MAX_MESSAGE (4 << 20)
#define MAGIC "forkd-launch-1"

extern char **environ;

static void fail(int err, const char *step) {
  char reply[64];
  int n = snprintf(reply, sizeof reply, "%d%c%s%c", err, 0, step, 0);
  if (n > 0) (void)!write(CHANNEL_FD, reply, (size_t)n);
  _exit(err == ENOENT ? 127 : 126);
}

/* The next NUL-terminated field at *pos, or NULL past the end. */
static char *field(char *buf, size_t len, size_t *pos) {
  if (*pos >= len) return NULL;
  char *start = buf + *pos;
  char *end = memchr(start, 0, len - *pos);
  if (!end) return NULL;
  *pos = (size_t)(end - buf) + 1;
  return start;
}

/* Whether `path` is a regular file we may execute: 0, or the errno execvp would give. */
static int executable(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return EACCES;
  return access(path, X_OK) == 0 ? 0 : errno;
}

/* argv0 as execvp finds it: as is when it has a slash, else the first executable on PATH. */
static char *find(const char *argv0, const char *path, int *err) {
  if (argv0[0] == 0) { *err = ENOENT; return NULL; }
  if (strchr(argv0, '/')) {
    *err = executable(argv0);
    return *err ? NULL : strdup(argv0);
  }
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int seen = ENOENT;
  for (const char *p = path;; ) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char *cand = malloc(n + strlen(argv0) + 2);
    if (!cand) { *err = ENOMEM; return NULL; }
    if (n == 0) sprintf(cand, "%s", argv0);
    else sprintf(cand, "%.*s/%s", (int)n, p, argv0);
    int e = executable(cand);
    if (e == 0) { *err = 0; return cand; }
    free(cand);
    /* As execvp: go on past what is not there; remember EACCES (it wins over ENOENT); stop at anything else. */
    if (e == EACCES) seen = EACCES;
    else if (e != ENOENT && e != ENOTDIR) { *err = e; return NULL; }
    if (!end) break;
    p = end + 1;
  }
  *err = seen;
  return NULL;
}

static char **list(char *buf, size_t len, size_t *pos, int extra) {
  char *count = field(buf, len, pos);
  if (!count) return NULL;
  long n = strtol(count, NULL, 10);
  if (n < 0 || n > 65536) return NULL;
  char **out = calloc((size_t)n + (size_t)extra + 1, sizeof *out);
  if (!out) return NULL;
  for (long i = 0; i < n; i++) {
    out[i] = field(buf, len, pos);
    if (!out[i]) return NULL;
  }
  return out;
}

int main(void) {
  char *buf = malloc(MAX_MESSAGE);
  if (!buf) _exit(126);
  size_t len = 0;
  for (;;) {
    ssize_t r = read(CHANNEL_FD, buf + len, MAX_MESSAGE - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) _exit(126);
    if (r == 0) break;
    len += (size_t)r;
    if (len == MAX_MESSAGE) fail(E2BIG, "read");
  }
  /* The agent closed without a command: the held container was given up. */
  if (len == 0) _exit(0);
  size_t pos = 0;
  char *magic = field(buf, len, &pos);
  if (!magic || strcmp(magic, MAGIC) != 0) fail(EPROTO, "message");
  char *cwd = field(buf, len, &pos);
  char **argv = list(buf, len, &pos, 0);
  char **env = list(buf, len, &pos, 1);
  if (!cwd || !argv || !argv[0] || !env) fail(EPROTO, "message");
  int hasHome = 0;
  for (char **e = env; *e; e++) if (strncmp(*e, "HOME=", 5) == 0) hasHome = 1;
  const char *home = getenv("HOME");
  if (!hasHome && home) {
    char **e = env;
    while (*e) e++;
    size_t n = strlen(home) + 6;
    *e = malloc(n);
    if (*e) snprintf(*e, n, "HOME=%s", home);
  }
  fcntl(BINARY_FD, F_SETFD, FD_CLOEXEC);
  fcntl(CHANNEL_FD, F_SETFD, FD_CLOEXEC);
  if (chdir(cwd) != 0) fail(errno, "chdir");
  environ = env;
  int err = 0;
  char *program = find(argv[0], getenv("PATH"), &err);
  if (!program) fail(err, "exec");
  if (write(CHANNEL_FD, "+", 1) != 1) _exit(126); /* the agent is gone */
  execv(program, argv);
  int e = errno;
  dprintf(2, "forkd-launch: exec %s: %s\n", argv[0], strerror(e));
  _exit(e == ENOENT ? 127 : 126);
}
