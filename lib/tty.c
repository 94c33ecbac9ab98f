/*
 * tty — the terminal put back on every way out, and signals through a
 * self-pipe.  The contract is in tty.h.  The state the handlers read is
 * set before they are installed (the saved modes) or is a
 * sig_atomic_t (the child group), so a handler never sees it half
 * written.
 */
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "util.h"

static struct termios saved_tio;
static volatile sig_atomic_t have_tio, child_pgid;
static int sig_pipe[2] = {-1, -1};

/* Owner: the pipe is this module's, for the life of the process. */
int tty_signals_open(void)
{
	return pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK);
}

/* Owner: the fd stays the module's. */
int tty_signal_fd(void)
{
	return sig_pipe[0];
}

/* Owner: copies the modes into the module's state. */
int tty_save(int fd)
{
	if (tcgetattr(fd, &saved_tio) < 0)
		return -1;
	have_tio = 1;
	return 0;
}

/* Owner: nothing allocated; async-signal-safe. */
void tty_restore(void)
{
	static const char seq[] = "\033[0m\033[?25h\033[?2004l";
	if (have_tio) {
		tcsetattr(0, TCSANOW, &saved_tio);
		if (write(1, seq, sizeof seq - 1) < 0) {
			/* nothing more can be done for a gone terminal */
		}
	}
}

/* Owner: only records the id; the group stays the caller's. */
void tty_set_group(pid_t pgid)
{
	child_pgid = pgid;
}

static void on_signal(int sig)
{
	int e = errno;
	unsigned char c = (unsigned char)sig;
	if (write(sig_pipe[1], &c, 1) < 0) {
		/* the pipe is full: the loop is already awake */
	}
	errno = e;
}

/* SIGTERM, SIGHUP and crashes: the terminal back, the run told, and the
 * signal's own end (the handler was installed with SA_RESETHAND). */
static void on_fatal(int sig)
{
	tty_restore();
	if (child_pgid > 0)
		kill(-(pid_t)child_pgid, SIGTERM);
	raise(sig);
}

/* Owner: changes process-wide signal dispositions; nothing allocated. */
void tty_install_signals(int interactive)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	if (!interactive) {
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		return;
	}
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	int fatal[] = {SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT};
	for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
		sigaction(fatal[i], &sa, NULL);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

/* Owner: opens and closes its own fd for /dev/tty. */
int tty_reset(char *err, size_t errlen)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		fd = isatty(0) ? 0 : -1;
	if (fd < 0) {
		snprintf(err, errlen, "no terminal");
		return -1;
	}
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		t.c_iflag &= ~(tcflag_t)(IGNBRK | INLCR | IGNCR | IXOFF | IUCLC | IXANY);
		t.c_iflag |= BRKINT | ICRNL | IMAXBEL | IXON;
		t.c_oflag &= ~(tcflag_t)(OLCUC | OCRNL | ONOCR | ONLRET | OFILL | OFDEL | NLDLY |
		                         CRDLY | TABDLY | BSDLY | VTDLY | FFDLY);
		t.c_oflag |= OPOST | ONLCR;
		t.c_cflag |= CREAD;
		t.c_lflag &= ~(tcflag_t)(ECHONL | NOFLSH | XCASE | TOSTOP | ECHOPRT);
		t.c_lflag |= ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
		t.c_cc[VINTR] = 3, t.c_cc[VQUIT] = 28, t.c_cc[VERASE] = 127, t.c_cc[VKILL] = 21;
		t.c_cc[VEOF] = 4, t.c_cc[VSTART] = 17, t.c_cc[VSTOP] = 19, t.c_cc[VSUSP] = 26;
		t.c_cc[VREPRINT] = 18, t.c_cc[VWERASE] = 23, t.c_cc[VLNEXT] = 22;
		t.c_cc[VEOL] = 0, t.c_cc[VEOL2] = 0, t.c_cc[VMIN] = 1, t.c_cc[VTIME] = 0;
		tcsetattr(fd, TCSANOW, &t);
	}
	static const char seq[] = "\033[?1049l\033[?25h\033[0m\033[?2004l\033[?1000l\033[?1002l"
	                          "\033[?1003l\033[?1006l\033>\r\n";
	write_all(fd, seq, sizeof seq - 1);
	if (fd)
		close(fd);
	return 0;
}
