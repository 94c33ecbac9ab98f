/*
 * dotenv — reads `.env` files (KEY=VALUE lines, optional `export `,
 * single or double quotes, # comments) into the environment, never
 * replacing a variable that is already set.  See dotenv.c.
 */
#ifndef BL_DOTENV_H
#define BL_DOTENV_H

#include <stddef.h>

/* Sets each variable of the file not already in the environment.  A
 * missing file is 0.  Returns the number set, or -1 with err
 * ("PATH:LINE: what"; no value is ever quoted). */
int dotenv_load(const char *path, char *err, size_t errlen);

/* WORKSPACE/.env, then $BL_HOME/.env (DESIGN §5).  Call it before
 * config_load so that BL_MODEL, WORKER_TIMEOUT_* and LOG_* set there are
 * honoured like any other environment override.  The count, or -1. */
int dotenv_load_all(const char *workspace, char *err, size_t errlen);

#endif
