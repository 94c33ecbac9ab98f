/*
 * testcmd — finds the command that runs a workspace's tests when
 * system_config.json sets no test_command (DESIGN §4).  The first rule
 * that fits wins:
 *
 *   1. a makefile (GNUmakefile, makefile or Makefile, the one make would
 *      read) with a rule for target "test"  -> make test
 *      ... else one for target "check"     -> make check
 *   2. package.json with a scripts.test that is not npm's placeholder
 *      ("Error: no test specified")        -> npm test
 *   3. pytest: pytest.ini, conftest.py, [tool.pytest...] in
 *      pyproject.toml, [tool:pytest] in setup.cfg, [pytest] in tox.ini,
 *      or test_*.py / *_test.py at the top or in tests/ or test/
 *                                          -> pytest
 *   4. Cargo.toml                          -> cargo test
 *   5. go.mod                              -> go test ./...
 *
 * Detection only reads files (never runs make or anything else), each
 * beneath the workspace (fsbeneath: a symlink that leaves it counts as
 * absent) and at most 1 MiB of each.  Makefile rules are found by
 * reading the rule lines themselves ("test:", "all test: deps",
 * "test::"), not assignments or recipes; targets that only come from an
 * included file or a pattern rule are not seen — set test_command then.
 */
#ifndef BL_TESTCMD_H
#define BL_TESTCMD_H

#include <stddef.h>

/* Detects the test command of the workspace open as rootfd
 * (fsb_open_root).  Returns it malloc'd (the caller frees it) with why
 * filled ("Makefile has a 'test' target"), or NULL when no rule fits. */
char *testcmd_detect(int rootfd, char *why, size_t whylen);

/* 1 when the makefile text (len bytes) has a rule for target; for tests. */
int testcmd_make_has_target(const char *text, size_t len, const char *target);

#endif
