package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", for the SQLite fault
)

// backend is a store server the soak starts, breaks and restarts itself,
// on a free port of 127.0.0.1 and in a directory of its own (after
// .ci/services.sh, which starts servers it never kills).
type backend interface {
	start(dir string) error
	storeURL() string
	// kill makes the backend unavailable, returning once it is.
	kill() error
	// restart makes it available again, returning once it answers.
	restart() error
	stop()
	// cpu is the CPU time its processes used so far (0 when it runs
	// inside the soak).
	cpu() time.Duration
	// describe says what runs and how it is broken, for RELIABILITY.md.
	describe() string
	// networked reports whether an instance's store connections are
	// sockets (Redis, PostgreSQL) rather than files (SQLite).
	networked() bool
	// feedConns is how many store connections an instance's revocation
	// feed follower holds while the instance runs, in use but not leaked.
	feedConns() int
	// checkDown refuses an outage of length down that would break no
	// store call of instances whose calls have a deadline of storeTimeout.
	checkDown(down, storeTimeout time.Duration) error
}

func newBackend(name, redisFsync string) (backend, error) {
	switch name {
	case "redis":
		if redisFsync != "always" && redisFsync != "everysec" && redisFsync != "no" {
			return nil, fmt.Errorf("-redis-fsync %q: want always, everysec or no", redisFsync)
		}
		return &redisBackend{fsync: redisFsync}, nil
	case "postgres":
		return &pgBackend{}, nil
	case "sqlite":
		return &sqliteBackend{}, nil
	}
	return nil, fmt.Errorf("-backend %q: want redis, postgres or sqlite", name)
}

// freePort returns a port of 127.0.0.1 nothing listens on, below the
// kernel's ephemeral range (where an outgoing connection could take it
// between our check and the server's bind, or between a kill and the
// restart on the same port).
func freePort() (int, error) {
	lo, hi := 10000, 32767
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if eph, err := strconv.Atoi(f[0]); err == nil && eph > lo+1000 {
				hi = eph - 1
			}
		}
	}
	for range 200 {
		port := lo + rand.IntN(hi-lo+1)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port on 127.0.0.1")
}

// onFreePort sets *port to a free port and starts a server there; a port
// taken between the check and the bind gets another try, twice.
func onFreePort(port *int, start func() error) error {
	for try := 0; ; try++ {
		var err error
		if *port, err = freePort(); err != nil {
			return err
		}
		if err = start(); err == nil || try == 2 {
			return err
		}
	}
}

// waitFor calls ok every 50 ms until it reports true, or fails after d.
func waitFor(d time.Duration, what string, ok func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		done, err := ok()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("timed out")
			}
			return fmt.Errorf("%s after %v: %w", what, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisBackend is redis-server with append-only persistence, killed with
// SIGKILL (a crash: no shutdown, no final save) and restarted on the same
// port and directory, from its AOF.
type redisBackend struct {
	fsync   string
	dir     string
	port    int
	cmd     *exec.Cmd
	done    chan struct{}
	used    time.Duration
	version string
}

func (r *redisBackend) start(dir string) error {
	r.dir = dir
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return fmt.Errorf("redis-server: %w (install redis-server, as .ci/services.sh does)", err)
	}
	r.version = strings.TrimSpace(string(out))
	return onFreePort(&r.port, r.launch)
}

func (r *redisBackend) launch() error {
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--dir", r.dir, "--logfile", "redis.log", "--daemonize", "no", "--save", "",
		"--appendonly", "yes", "--appendfsync", r.fsync, "--maxmemory-policy", "noeviction")
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(r.done) }()
	return waitFor(30*time.Second, "redis-server answering PING", func() (bool, error) {
		select {
		case <-r.done:
			return false, errors.New("redis-server exited (see redis.log)")
		default:
		}
		return redisPing(r.port)
	})
}

// redisPing reports whether the server answers PONG (not LOADING).
func redisPing(port int) (bool, error) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(line) == "+PONG", errors.New(strings.TrimSpace(line))
}

func (r *redisBackend) storeURL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisBackend) kill() error {
	if err := r.cmd.Process.Kill(); err != nil {
		return err
	}
	<-r.done
	r.used += r.cmd.ProcessState.UserTime() + r.cmd.ProcessState.SystemTime()
	return nil
}

func (r *redisBackend) restart() error { return r.launch() }

func (r *redisBackend) stop() {
	if r.cmd == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
	r.used += r.cmd.ProcessState.UserTime() + r.cmd.ProcessState.SystemTime()
}

func (r *redisBackend) cpu() time.Duration { return r.used }

func (r *redisBackend) networked() bool { return true }

// feedConns: the follower's blocking read (XREAD BLOCK) holds a
// connection most of the time.
func (r *redisBackend) feedConns() int { return 1 }

// checkDown: a dead server fails every call at once.
func (r *redisBackend) checkDown(time.Duration, time.Duration) error { return nil }

func (r *redisBackend) describe() string {
	return fmt.Sprintf("%s; appendonly yes, appendfsync %s; killed with SIGKILL, restarted from its AOF", r.version, r.fsync)
}

// pgBackend is a PostgreSQL cluster of its own (initdb), with fsync and
// synchronous_commit on (their defaults), stopped with pg_ctl stop -m
// immediate (every server process quits at once, without a checkpoint:
// a crash; the restart replays the WAL) and started again.
type pgBackend struct {
	dir     string
	bin     string
	port    int
	as      []string // runuser -u postgres -- when root: PostgreSQL refuses to run as root
	used    time.Duration
	version string
}

// pgBin is the newest PostgreSQL server's bin directory.
func pgBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	if len(dirs) == 0 {
		return "", errors.New("no PostgreSQL server under /usr/lib/postgresql (install postgresql, as .ci/services.sh does)")
	}
	return dirs[len(dirs)-1], nil
}

func (p *pgBackend) run(name string, args ...string) error {
	argv := append(append(append([]string{}, p.as...), filepath.Join(p.bin, name)), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (p *pgBackend) start(dir string) error {
	var err error
	if p.bin, err = pgBin(); err != nil {
		return err
	}
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
		p.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if out, err := exec.Command(filepath.Join(p.bin, "postgres"), "--version").Output(); err == nil {
		p.version = strings.TrimSpace(string(out))
	}
	if err := p.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return err
	}
	return onFreePort(&p.port, p.restart)
}

func (p *pgBackend) restart() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=on -c synchronous_commit=on",
		p.port, p.dir)
	return p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start")
}

func (p *pgBackend) storeURL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// postmasterCPU is the CPU time of the running postmaster and its
// processes: its own, its reaped children's, and its live children's.
func (p *pgBackend) postmasterCPU() time.Duration {
	b, err := os.ReadFile(filepath.Join(p.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		return 0
	}
	total := procCPU(pid, true)
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range procs {
		if st, ok := procStat(path); ok && st.ppid == pid {
			total += st.cpu
		}
	}
	return total
}

func (p *pgBackend) kill() error {
	p.used += p.postmasterCPU()
	return p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop")
}

func (p *pgBackend) stop() {
	p.used += p.postmasterCPU()
	p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "fast", "-w", "stop")
}

func (p *pgBackend) cpu() time.Duration { return p.used }

func (p *pgBackend) networked() bool { return true }

// feedConns: the follower's LISTEN connection, taken from the pool for as
// long as the instance runs.
func (p *pgBackend) feedConns() int { return 1 }

// checkDown: a stopped server fails every call at once.
func (p *pgBackend) checkDown(time.Duration, time.Duration) error { return nil }

func (p *pgBackend) describe() string {
	return p.version + "; fsync on, synchronous_commit on; stopped with pg_ctl stop -m immediate (a crash), started again with WAL recovery"
}

// sqliteBackend is a SQLite file the two instances share (WAL mode, a
// busy timeout of 5 s, as the example opens it). SQLite has no server to
// kill: its outage is the soak holding the file's write lock (BEGIN
// IMMEDIATE on a connection of its own) for the outage, as a stuck
// writer, a long migration or a backup tool would: every store write
// waits for the lock until its deadline (the instances' -store-timeout)
// and fails; the outage must outlast that deadline for any to fail.
type sqliteBackend struct {
	path string
	db   *sql.DB
	conn *sql.Conn
}

func (s *sqliteBackend) start(dir string) error {
	s.path = filepath.Join(dir, "auth.db")
	return nil
}

func (s *sqliteBackend) storeURL() string { return "sqlite:" + s.path }

func (s *sqliteBackend) kill() error {
	db, err := sql.Open("sqlite", "file:"+s.path+"?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	}
	if err != nil {
		db.Close()
		return fmt.Errorf("taking the write lock: %w", err)
	}
	s.db, s.conn = db, conn
	return nil
}

func (s *sqliteBackend) restart() error {
	_, err := s.conn.ExecContext(context.Background(), "ROLLBACK")
	s.conn.Close()
	s.db.Close()
	s.db, s.conn = nil, nil
	return err
}

func (s *sqliteBackend) stop() {
	if s.db != nil {
		s.restart()
	}
}

func (s *sqliteBackend) cpu() time.Duration { return 0 }

func (s *sqliteBackend) networked() bool { return false }

// feedConns: SQLite's feed polls, a query at a time, holding no
// connection between them.
func (s *sqliteBackend) feedConns() int { return 0 }

// checkDown: a write waits for the held lock until its deadline, the
// instances' store timeout, and then fails; only the writes begun in the
// outage's first down - storeTimeout reach it before the lock's release.
// The lock must outlast the store timeout by more than a second, so that
// at least a second of writes fails and the outage is one.
func (s *sqliteBackend) checkDown(down, storeTimeout time.Duration) error {
	if floor := storeTimeout + time.Second; down <= floor {
		return fmt.Errorf("-down %v: SQLite's outage is a held write lock, which a write waits for until its deadline "+
			"(-store-timeout %v): no write would fail; want -down over %v", down, storeTimeout, floor)
	}
	return nil
}

func (s *sqliteBackend) describe() string {
	return "SQLite (modernc.org/sqlite) file shared by both instances, WAL, busy_timeout 5 s; SQLite has no server to kill: " +
		"the outage is the soak holding the write lock (BEGIN IMMEDIATE), longer than the instances' store timeout, " +
		"so that writes waiting for it fail at their deadline with 503 (those sent in the last store timeout before " +
		"the lock's release get it and succeed); reads go on"
}

// procStatInfo is what the soak reads of /proc/PID/stat.
type procStatInfo struct {
	ppid int
	cpu  time.Duration // utime + stime
}

// clockTick is USER_HZ, 100 on every Linux the soak runs on.
const clockTick = time.Second / 100

// procStat reads the parent and CPU time of a process from its stat file.
func procStat(path string) (procStatInfo, bool) {
	f, ok := procFields(path)
	if !ok {
		return procStatInfo{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return procStatInfo{ppid: ppid, cpu: time.Duration(ut+st) * clockTick}, true
}

// procCPU is a process's CPU time, with its reaped children's when
// children is set.
func procCPU(pid int, children bool) time.Duration {
	f, ok := procFields(fmt.Sprintf("/proc/%d/stat", pid))
	if !ok {
		return 0
	}
	var total int64
	n := 2
	if children {
		n = 4
	}
	for _, v := range f[11 : 11+n] {
		x, _ := strconv.ParseInt(v, 10, 64)
		total += x
	}
	return time.Duration(total) * clockTick
}

// procFields splits /proc/PID/stat after the command name (which may
// hold spaces): field 3 (state) comes first.
func procFields(path string) ([]string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, false
	}
	return f, true
}
