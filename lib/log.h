/*
 * log — structured log records (DESIGN §8).  A record carries time,
 * level, event, session, agent, program, file, function and line, plus
 * a free-text message; it is written as one JSON object per line
 * (LOG_FORMAT=json) or one readable line (console).
 *
 * Files under the log directory: better-llm.log (INFO and up; rotates at
 * 10 MB, 5 kept), better-llm-error.log (ERROR; 5 MB, 3 kept) and, when
 * the level is DEBUG, better-llm-debug.log (everything; 20 MB, 3 kept).
 * Several processes may log at once: each record is one O_APPEND write,
 * and rotation happens under an flock(2) on "<dir>/.lock", re-checking
 * the size after taking the lock.
 *
 * Logging never fails its caller: when the directory cannot be made or a
 * file cannot be opened, records are dropped (log_init returns -1 so
 * main can say so once).  Secrets must never be passed in messages.
 */
#ifndef BL_LOG_H
#define BL_LOG_H

enum log_level { BL_LOG_DEBUG, BL_LOG_INFO, BL_LOG_WARN, BL_LOG_ERROR };

/* dir NULL: $LOG_DIR, else $BL_HOME/logs.  level/format NULL: $LOG_LEVEL /
 * $LOG_FORMAT, else "INFO" / "json".  program: "bl-plan". 0 or -1/errno. */
int log_init(const char *dir, const char *level, const char *format, const char *program);
void log_set_session(const char *session);
void log_set_agent(const char *agent);
/* Also copy records at or above level to stderr in console form (-v). */
void log_set_stderr(enum log_level level);
void log_close(void);
/* Test hook (additive): every log file rotates past max_bytes and keeps
 * keep backups, instead of the limits above. */
void log_set_limits_for_test(long long max_bytes, int keep);

void log_write(enum log_level lvl, const char *file, int line, const char *func,
	       const char *event, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define log_debug(ev, ...) log_write(BL_LOG_DEBUG, __FILE__, __LINE__, __func__, ev, __VA_ARGS__)
#define log_info(ev, ...) log_write(BL_LOG_INFO, __FILE__, __LINE__, __func__, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_write(BL_LOG_WARN, __FILE__, __LINE__, __func__, ev, __VA_ARGS__)
#define log_error(ev, ...) log_write(BL_LOG_ERROR, __FILE__, __LINE__, __func__, ev, __VA_ARGS__)

#endif
