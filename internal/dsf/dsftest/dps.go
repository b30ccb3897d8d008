package dsftest

import (
	"errors"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Process is a plugin process run the way DuetPluginService runs one (its Commands/StartPlugin.cs):
// started in its executable's directory, registered with DCS only after it
// is already running, reported as stopped (pid -1) when it exits, and
// stopped with SIGTERM to the process, then SIGKILL to its whole process
// group after StopTimeout.
type Process struct {
	// StopTimeout is DPS's StopTimeout (default 4 s).
	StopTimeout time.Duration

	t             *Twin
	cmd           *exec.Cmd
	registerDelay time.Duration
	done          chan struct{}
	err           error

	stopOnce      sync.Once
	stopErr       error
	stopRequested bool // guarded by t.mu
}

// StartPlugin starts cmd as DPS would and registers its pid with DCS after
// registerDelay, which reproduces the startup race (DCS finds a plugin by the pid DPS registered, in
// src/DuetControlServer/IPC/Connection.cs AssignPermissions; 0 registers
// as soon as the process runs). cmd.Dir defaults to the executable's
// directory. The twin's Close stops a plugin that is still running; Restart
// and Stop leave it alone (a test that wants DSF's behaviour, where a DCS
// restart also restarts the plugin, calls Stop and StartPlugin itself).
//
// When the manifest sets sbcAutoRestart, a plugin that exits while DCS
// counts it as running (not after Stop) is started again, with the same
// command, AutoRestartInterval later, as DCS's SetPluginProcess does, with
// no limit. Plugin returns the process started last.
func (t *Twin) StartPlugin(cmd *exec.Cmd, registerDelay time.Duration) (*Process, error) {
	if cmd.Dir == "" {
		cmd.Dir = filepath.Dir(cmd.Path)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Its own process group, so that leftovers can be killed as a tree.
	cmd.SysProcAttr.Setpgid = true
	if !t.enter() {
		return nil, errors.New("dsftest: twin is closed")
	}
	if err := cmd.Start(); err != nil {
		t.wg.Done()
		return nil, err
	}
	p := &Process{StopTimeout: 4 * time.Second, t: t, cmd: cmd, registerDelay: registerDelay, done: make(chan struct{})}
	t.mu.Lock()
	t.procs[p] = struct{}{}
	t.plugin = p
	t.mu.Unlock()
	go p.supervise()
	return p, nil
}

// supervise registers the pid after the delay and reports the exit.
func (p *Process) supervise() {
	t := p.t
	defer t.wg.Done()
	pid := p.cmd.Process.Pid
	exited := make(chan struct{})
	registered := make(chan struct{})
	go func() {
		defer close(registered)
		timer := time.NewTimer(p.registerDelay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-exited:
			// DPS sends SetPluginProcess right after the start; only DCS's
			// view of it is late. An exit is reported after it, never instead.
		}
		t.mu.Lock()
		// Stop may have set 0 meanwhile; a late registration must not undo it.
		if t.pid == -1 && !p.stopRequested {
			t.pid = pid
		}
		t.mu.Unlock()
	}()
	p.err = p.cmd.Wait()
	close(exited)
	<-registered
	// DPS reports the exit, then kills whatever the plugin left behind.
	t.mu.Lock()
	restart := t.man.autoRestart && t.pid == pid // > 0: not stopping
	if t.pid == pid || t.pid == 0 {
		t.pid = -1
	}
	delete(t.procs, p)
	t.mu.Unlock()
	syscall.Kill(-pid, syscall.SIGKILL)
	close(p.done)
	if restart {
		t.autoRestart(p)
	}
}

// autoRestart starts prev's command again after AutoRestartInterval,
// unless the twin is closed meanwhile.
func (t *Twin) autoRestart(prev *Process) {
	if err := t.sleep(t.opt.AutoRestartInterval); err != nil {
		return
	}
	old := prev.cmd
	cmd := exec.Command(old.Path)
	cmd.Args, cmd.Env, cmd.Dir = old.Args, old.Env, old.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = old.Stdin, old.Stdout, old.Stderr
	attr := *old.SysProcAttr
	cmd.SysProcAttr = &attr
	t.mu.Lock()
	t.autoRestarts++
	t.mu.Unlock()
	if _, err := t.StartPlugin(cmd, prev.registerDelay); err != nil {
		t.mu.Lock()
		t.autoRestartErr = err
		t.mu.Unlock()
	}
}

// Plugin is the plugin process started last (by StartPlugin or an
// automatic restart), nil if none was.
func (t *Twin) Plugin() *Process {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.plugin
}

// AutoRestarts counts the plugin starts that sbcAutoRestart made (or
// tried: err is the last one that failed, e.g. a command whose output was
// a pipe that cannot be reused).
func (t *Twin) AutoRestarts() (n int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.autoRestarts, t.autoRestartErr
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited and DCS was told.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the exit and returns cmd.Wait's result.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Stop is DSF's StopPlugin: pid 0 ("stopping"), SIGTERM to the process
// only, SIGKILL to the whole group after StopTimeout. It returns cmd.Wait's
// result (nil after a clean exit on SIGTERM).
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			p.stopErr = p.err
			return
		default:
		}
		p.t.mu.Lock()
		p.stopRequested = true
		if p.t.pid == p.Pid() {
			p.t.pid = 0
		}
		p.t.mu.Unlock()
		pid := p.Pid()
		syscall.Kill(pid, syscall.SIGTERM)
		timer := time.NewTimer(p.StopTimeout)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
			syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
		p.stopErr = p.err
	})
	return p.stopErr
}
