# better-llm — build, test, install, demo, bench, deps.
#   make -j2            build everything (bins land beside their sources in bin/)
#   make test [SAN=1]   unit tests + bats suites; ends with "N passed, N failed"
#   make install PREFIX=/usr/local
#   make deps           install the Debian packages the build and tests need

PREFIX  ?= /usr/local
DATADIR  = $(PREFIX)/share/better-llm
MANDIR   = $(PREFIX)/share/man
CC      ?= cc

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	   -Ilib -MMD -MP -DBL_SRCDIR='"$(CURDIR)"' -DBL_DATADIR='"$(DATADIR)"'
LDLIBS   = -lcurl -lmicrohttpd -lz -lcrypto -lcmark -ledit -lm
ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

# Rebuild everything when the flags change (SAN=1 <-> plain, PREFIX).
FLAGS_NOW := $(CC) $(CFLAGS) $(LDFLAGS)
$(shell mkdir -p .obj && (echo '$(FLAGS_NOW)' | cmp -s - .obj/flags || echo '$(FLAGS_NOW)' > .obj/flags))

LIB_SRC  = $(wildcard lib/*.c)
LIB_OBJ  = $(patsubst lib/%.c,.obj/lib/%.o,$(LIB_SRC))
BINS     = $(patsubst %.c,%,$(wildcard bin/*.c))
UNITS    = $(patsubst tests/unit/%.c,.obj/tests/%,$(wildcard tests/unit/test_*.c))

DEPS_DEB = build-essential pkg-config libcurl4-openssl-dev libjsmn-dev zlib1g-dev \
	   libmicrohttpd-dev libssl-dev libcmark-dev libedit-dev jq bats bats-support bats-assert \
	   git tmux curl procps iproute2

.PHONY: all test unit install uninstall clean deps demo bench fuzz format
# Keep the objects of bin/ and tests/ (intermediates of the pattern rules).
.SECONDARY:
all: $(BINS) $(UNITS)

.obj/lib/%.o: lib/%.c .obj/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
.obj/bin/%.o: bin/%.c .obj/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<
.obj/tests/%.o: tests/unit/%.c .obj/flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -c -o $@ $<
.obj/libbl.a: $(LIB_OBJ)
	$(AR) rcs $@ $^
bin/%: .obj/bin/%.o .obj/libbl.a
	$(CC) $(LDFLAGS) -o $@ $< .obj/libbl.a $(LDLIBS)
.obj/tests/%: .obj/tests/%.o .obj/libbl.a
	$(CC) $(LDFLAGS) -o $@ $< .obj/libbl.a $(LDLIBS)

test: all
	@SAN=$(SAN) tests/run

unit: $(UNITS)
	@SAN=$(SAN) tests/run --unit

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(DATADIR)/prompts $(DESTDIR)$(DATADIR)/config \
		$(DESTDIR)$(DATADIR)/pipelines $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 prompts/*.txt $(DESTDIR)$(DATADIR)/prompts/
	install -m 644 config/*.json $(DESTDIR)$(DATADIR)/config/
	$(if $(wildcard pipelines/*),cp -R pipelines/. $(DESTDIR)$(DATADIR)/pipelines/)
	install -m 644 $(wildcard man/man1/*.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(wildcard man/man5/*.5) $(DESTDIR)$(MANDIR)/man5/
	$(if $(wildcard man/man7/*.7),install -m 644 $(wildcard man/man7/*.7) $(DESTDIR)$(MANDIR)/man7/)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(BINS))
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf .obj $(BINS) tests/fuzz/out

# Installs only what is missing; apt-get update first, sudo when not root.
deps:
	@missing=$$(for p in $(DEPS_DEB); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all present"; exit 0; fi; \
	sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	echo "deps: installing" $$missing; \
	$$sudo apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing

demo: all
	@if [ -x pipelines/demo/run ]; then pipelines/demo/run; \
	else echo "make demo: not yet — the offline demo arrives with bl-manager (see README)"; fi

bench: all
	@if [ -x tests/bench/run ]; then tests/bench/run; else echo "make bench: not yet"; fi

# Builds each tests/fuzz/fuzz_X.c (libFuzzer + ASan + UBSan) against an
# instrumented archive of lib/*.c into tests/fuzz/out/fuzz_X and runs it
# FUZZ_SECONDS; corpus in tests/fuzz/out/fuzz_X.corpus, seeds from
# tests/fuzz/corpus/X/ when present, crash inputs and logs written to
# tests/fuzz/out/.  Fails when any target crashes.
FUZZ_SECONDS ?= 20
FUZZ_CFLAGS   = -g -O1 -std=c11 -D_GNU_SOURCE -Ilib -MMD -MP -fsanitize=address,undefined \
		-fno-sanitize-recover=all -DBL_SRCDIR='"$(CURDIR)"' -DBL_DATADIR='"$(DATADIR)"'
FUZZ_BINS     = $(patsubst tests/fuzz/%.c,tests/fuzz/out/%,$(wildcard tests/fuzz/fuzz_*.c))
tests/fuzz/out/obj/%.o: lib/%.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
tests/fuzz/out/libbl.a: $(patsubst lib/%.c,tests/fuzz/out/obj/%.o,$(LIB_SRC))
	rm -f $@ && $(AR) rcs $@ $^
tests/fuzz/out/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/out/libbl.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< tests/fuzz/out/libbl.a $(LDLIBS)
fuzz: $(FUZZ_BINS)
	@fail=0; for t in $(FUZZ_BINS); do \
		n=$${t##*/}; seeds=tests/fuzz/corpus/$${n#fuzz_}; \
		mkdir -p $$t.corpus; \
		echo "fuzz: run $$n for $(FUZZ_SECONDS)s"; \
		if $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$$t- \
			$$t.corpus $$([ -d $$seeds ] && echo $$seeds) >$$t.log 2>&1; then \
			grep -E '^stat::number_of_executed_units' $$t.log | sed "s/^/  $$n: /"; \
		else \
			fail=1; echo "fuzz: $$n FAILED, see $$t.log"; \
			grep -E 'ERROR|SUMMARY|check failed|Test unit written' $$t.log | head -n 20; \
		fi; \
	done; exit $$fail

format:
	clang-format -i lib/*.[ch] bin/*.c tests/unit/*.[ch]

-include $(wildcard .obj/*/*.d tests/fuzz/out/*.d tests/fuzz/out/obj/*.d)
