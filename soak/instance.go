package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// instance is one example server process (go build ./example/backends), started
// with -debug-addr so that the soak can count its goroutines and store
// connections.
type instance struct {
	idx   int
	cmd   *exec.Cmd
	base  string // http://ADDR of the API
	debug string // http://ADDR of -debug-addr
	done  chan struct{}
	log   *os.File
}

// instStats are an instance's figures at one moment.
type instStats struct {
	Goroutines int        `json:"goroutines"`
	Pool       *poolStats `json:"store_pool"`
	FDs        int        `json:"fds"`         // open file descriptors (/proc/PID/fd)…
	Sockets    int        `json:"sockets"`     // … of which sockets
	StoreFiles int        `json:"store_files"` // … of which files of the backend's directory (SQLite's database)
}

// poolStats mirror the example's /debug/stats store_pool.
type poolStats struct {
	Open  int `json:"open"`
	InUse int `json:"in_use"`
	Idle  int `json:"idle"`
	Max   int `json:"max"`
}

// startInstance starts the example binary with args and JWTPAIR_SECRET,
// its stderr (the server's log) in dir/instance-N.log, and waits for the
// addresses it prints.
func startInstance(idx int, exe string, args []string, secret, dir string) (*instance, error) {
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("instance-%d.log", idx)))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "JWTPAIR_SECRET="+secret)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	in := &instance{idx: idx, cmd: cmd, done: make(chan struct{}), log: logf}
	addrs := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var debug string
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "debug on "); ok {
				debug = a
			}
			if a, ok := strings.CutPrefix(line, "listening on "); ok {
				addrs <- [2]string{a, debug}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(in.done) }()
	select {
	case a := <-addrs:
		in.base, in.debug = a[0], a[1]
	case <-in.done:
		logf.Close()
		return nil, fmt.Errorf("instance %d exited before listening (see %s)", idx, logf.Name())
	case <-time.After(60 * time.Second):
		in.kill()
		return nil, fmt.Errorf("instance %d did not listen within 60 s (see %s)", idx, logf.Name())
	}
	if in.debug == "" {
		in.kill()
		return nil, fmt.Errorf("instance %d printed no debug address: does the example take -debug-addr?", idx)
	}
	return in, nil
}

// stats reads the instance's goroutines and pool from -debug-addr and
// its descriptors from /proc; those naming a file under storeDir count as
// the store's files.
func (in *instance) stats(c *http.Client, storeDir string) (instStats, error) {
	var st instStats
	resp, err := c.Get(in.debug + "/debug/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("/debug/stats: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, err
	}
	dir := fmt.Sprintf("/proc/%d/fd", in.cmd.Process.Pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return st, err
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		st.FDs++
		switch {
		case strings.HasPrefix(target, "socket:"):
			st.Sockets++
		case strings.HasPrefix(target, storeDir+"/"):
			st.StoreFiles++
		}
	}
	return st, nil
}

// stop sends SIGTERM and waits for a clean exit; it kills after 20 s.
func (in *instance) stop() error {
	defer in.log.Close()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		in.kill()
		return errors.New("did not exit within 20 s of SIGTERM: killed")
	}
	if !in.cmd.ProcessState.Success() {
		return fmt.Errorf("exited with %v", in.cmd.ProcessState)
	}
	return nil
}

func (in *instance) kill() {
	in.cmd.Process.Kill()
	<-in.done
}

// cpu is the CPU time the instance used (once it has exited).
func (in *instance) cpu() time.Duration {
	if in.cmd.ProcessState == nil {
		return 0
	}
	return in.cmd.ProcessState.UserTime() + in.cmd.ProcessState.SystemTime()
}
