/*
 * tty — a terminal program's safety on every way out, and its signals
 * as bytes on a self-pipe (bl's front end; STYLE §5).
 *
 *	tty_signals_open()            before anything can be signalled
 *	tty_save(0)                   the modes to put back (interactive only)
 *	tty_install_signals(1)        handlers, see below
 *	tty_set_group(pid) ...        the child group told on a fatal signal
 *	poll tty_signal_fd(): each byte read is a signal number
 *	tty_restore()                 on the normal way out
 *
 * Guarantees: the terminal modes saved by tty_save() are put back by
 * tty_restore() and, with interactive handlers, on SIGTERM, SIGHUP and
 * the crash signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT),
 * whose handlers call only tcsetattr(3), write(2), kill(2) and raise(3):
 * the terminal back, SIGTERM to the group set by tty_set_group() (so a
 * child writes its end), then the signal's own end (SA_RESETHAND).
 * Handlers that only write to the self-pipe save and restore errno.
 * tty_reset() is `stty sane` and more for a terminal left broken by
 * anything else.  Nothing here prints or exits.
 */
#ifndef BL_TTY_H
#define BL_TTY_H

#include <stddef.h>
#include <sys/types.h>

/* Creates the self-pipe (both ends close-on-exec, non-blocking); owned
 * by this module for the life of the process.  0, or -1 with errno. */
int tty_signals_open(void);

/* The self-pipe's read end (the module's: do not close it); each byte
 * read from it is the number of a signal caught. */
int tty_signal_fd(void);

/* Routes SIGCHLD, SIGINT and SIGWINCH to the self-pipe.  Not
 * interactive: SIGTERM and SIGHUP too.  Interactive: SIGTERM, SIGHUP
 * and the crash signals restore the terminal and end us (see above);
 * SIGTSTP (a stopped program would leave the terminal raw) and SIGPIPE
 * are ignored. */
void tty_install_signals(int interactive);

/* Saves fd's terminal modes for tty_restore().  0, or -1 with errno
 * (not a terminal: tty_restore() then does nothing). */
int tty_save(int fd);

/* Puts the saved modes back on fd 0 and shows the cursor, attributes and
 * bracketed paste off on fd 1; only async-signal-safe calls. */
void tty_restore(void);

/* The process group a fatal signal sends SIGTERM to; 0: none. */
void tty_set_group(pid_t pgid);

/* Repairs the controlling terminal (/dev/tty, else fd 0 when a
 * terminal): sane modes, the cursor shown, the alternate screen left,
 * attributes, bracketed paste and mouse reporting off.  0, or -1 with
 * err ("no terminal"). */
int tty_reset(char *err, size_t errlen);

#endif
