# libsev: build, install and check the C library.  GNU make.
#
#   make                 release build: target/release/libsev.{so,a}, include/libsev.h, and
#                        build/bin/libsev-tool (built against a staged install, as a consumer),
#                        build/lib/libsev-preload.so (the LD_PRELOAD interposer, src/preload)
#   make demo            build and run the C demo against a staged install
#   make demo-es         the SEV-ES demo (Debian's OVMF, vCPUs on /dev/kvm, firmware model)
#   make demo-snp        the SEV-SNP demo: launch, report, the owner's verification (model)
#   make uninstalled     build/libsev-uninstalled.pc: build C programs against the build tree
#   make check           every test and check, in order, failing fast (see README.md)
#   make install         PREFIX=/usr/local DESTDIR= (the usual meanings)
#   make uninstall       remove what `make install` put there (same PREFIX/DESTDIR)
#   make header          regenerate include/libsev.h even if no source changed
#   make symbols         regenerate include/libsev.symbols from the built libsev.so
#   make bench           run the Rust and the C benchmarks (release; C through the staged install)
#   make bench-tool      libsev-tool measure against the Python sev-snp-measure (same run)
#   make fuzz            run every libFuzzer target for FUZZ_SECONDS (src/fuzz, SECURITY.md)
#   make soak            SOAK_CYCLES launches and frees on one platform (release)
#   make clean           remove build/ and cargo's target directory

# bash: the bench recipes read PIPESTATUS.
SHELL := /bin/bash

CARGO ?= cargo
ifeq ($(origin CC),default)
CC = gcc
endif
ifeq ($(origin CXX),default)
CXX = g++
endif

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
BINDIR ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# The version comes from Cargo.toml (the first `version = "..."` is the package's).
VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
MAJOR := $(word 1,$(subst ., ,$(VERSION)))
SONAME := libsev.so.$(MAJOR)

TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
REL := $(TARGET_DIR)/release
SO := $(REL)/libsev.so
STATIC_LIB := $(REL)/libsev.a

# The LD_PRELOAD interposer (src/preload, its own cargo workspace): a Rust static archive linked
# into a shared object that exports exactly the interposed libc functions.
PRELOAD_MANIFEST := src/preload/Cargo.toml
PRELOAD_A := $(REL)/libsev_preload.a
PRELOAD_EXPORTS := open open64 __open_2 __open64_2 openat openat64 __openat_2 __openat64_2 \
	ioctl close close_range dup dup2 dup3
comma := ,

# What a program linking libsev.a statically also needs; this is what
# `cargo rustc --release --lib --crate-type staticlib -- --print native-static-libs` reports
# (run `make native-static-libs` to see it again after changing dependencies).
LIBS_PRIVATE ?= -lgcc_s -lutil -lrt -lpthread -lm -ldl

# In the .pc file, directories under the prefix are written relative to ${prefix}.
pc_rel = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}/$(patsubst $(PREFIX)/%,%,$(1)),$(1))

BUILD := $(CURDIR)/build
STAGE := $(BUILD)/stage
STAGE_PREFIX := /usr
C_TESTS_OUT := $(BUILD)/c-tests
# pkg-config that sees only the staged libsev.pc, with -I/-L pointing into the stage.
STAGE_PKG_CONFIG := PKG_CONFIG_LIBDIR=$(STAGE)$(STAGE_PREFIX)/lib/pkgconfig PKG_CONFIG_PATH= \
	PKG_CONFIG_SYSROOT_DIR=$(STAGE) PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 \
	PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 pkg-config

# The shared test data sits beside the checkout (../shared/testdata/sev).
LIBSEV_TESTDATA ?= $(abspath $(CURDIR)/../shared/testdata/sev)
export LIBSEV_TESTDATA

# The main C demo: c-tests/demo.c once it exists; until then the smoke test stands in.
DEMO ?= $(firstword $(wildcard c-tests/demo.c) c-tests/smoke.c)

HEADER_CFLAGS := -std=c99 -Wall -Wextra -Wpedantic -Werror -Wstrict-prototypes -Wundef
HEADER_CXXFLAGS := -std=c++11 -Wall -Wextra -Wpedantic -Werror

.PHONY: all lib preload check-qemu tool check-tool bench-tool install uninstall header symbols bench demo demo-es demo-snp clean native-static-libs fuzz soak \
	check check-fmt check-clippy check-test check-build check-header-fresh \
	check-header-compile check-symbols check-soname stage check-c-tests uninstalled check-in-tree \
	bench-rust bench-c

all: lib tool preload

lib:
	$(CARGO) build --release --lib

preload:
	$(CARGO) build --release --manifest-path $(PRELOAD_MANIFEST) --target-dir $(abspath $(TARGET_DIR))
	@mkdir -p $(BUILD)/lib
	$(CC) -shared -o $(BUILD)/lib/libsev-preload.so -Wl,--version-script=src/preload/exports.map \
	    -Wl,-soname,libsev-preload.so -Wl,--gc-sections -Wl,-z,now \
	    $(addprefix -Wl$(comma)-u$(comma),$(PRELOAD_EXPORTS)) $(PRELOAD_A) $(LIBS_PRIVATE)

# ---------------------------------------------------------------------------------------------
# libsev-tool: a C program built like any consumer, against the staged install through
# pkg-config (so it sees only the installed header and library).

TOOL_SRC := $(wildcard src/tool/*.c)
TOOL_HDR := $(wildcard src/tool/*.h)
TOOL := $(BUILD)/bin/libsev-tool
TOOL_CFLAGS ?= -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
# The installed tool finds libsev.so in LIBDIR (the loader's path if LIBDIR is a system one).
TOOL_RPATH ?= -Wl,-rpath,$(LIBDIR)

tool: stage
	@mkdir -p $(BUILD)/bin
	$(CC) $(TOOL_CFLAGS) $(TOOL_SRC) -o $(TOOL) \
	    $$($(STAGE_PKG_CONFIG) --cflags libsev) $$($(STAGE_PKG_CONFIG) --libs libsev)
	@echo "built $(TOOL) (run it with LD_LIBRARY_PATH=$(STAGE)$(STAGE_PREFIX)/lib before installing)"

# ---------------------------------------------------------------------------------------------
# install

install: lib install-lib
	@if [ -z "$(NO_TOOL)" ]; then $(MAKE) --no-print-directory install-tool; fi

# The tool is linked (against the stage) with the final LIBDIR as its run path.
install-tool: stage
	@mkdir -p $(BUILD)/install
	$(CC) $(TOOL_CFLAGS) $(TOOL_SRC) -o $(BUILD)/install/libsev-tool \
	    $$($(STAGE_PKG_CONFIG) --cflags libsev) $$($(STAGE_PKG_CONFIG) --libs libsev) \
	    $(TOOL_RPATH)
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/install/libsev-tool $(DESTDIR)$(BINDIR)/libsev-tool

install-lib: preload
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(SO) $(DESTDIR)$(LIBDIR)/libsev.so.$(VERSION)
	ln -sf libsev.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libsev.so
	install -m 0644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/libsev.a
	install -m 0755 $(BUILD)/lib/libsev-preload.so $(DESTDIR)$(LIBDIR)/libsev-preload.so
	install -m 0644 include/libsev.h $(DESTDIR)$(INCLUDEDIR)/libsev.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|g' \
	    pkgconfig/libsev.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/libsev.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/libsev.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libsev.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libsev.so $(DESTDIR)$(LIBDIR)/libsev.a \
	      $(DESTDIR)$(LIBDIR)/libsev-preload.so \
	      $(DESTDIR)$(INCLUDEDIR)/libsev.h $(DESTDIR)$(PKGCONFIGDIR)/libsev.pc \
	      $(DESTDIR)$(BINDIR)/libsev-tool

native-static-libs:
	$(CARGO) rustc --release --lib --crate-type staticlib -- --print native-static-libs

# ---------------------------------------------------------------------------------------------
# in-tree use: build and run C programs against the build tree, without installing

# build/uninstalled/lib holds links to cargo's output under the names a linker and the loader
# look for (libsev.so, the soname libsev.so.0, libsev.a); the .pc file points there and at
# include/, and links with an rpath so the program runs without LD_LIBRARY_PATH.
UNINST_LIB := $(BUILD)/uninstalled/lib

uninstalled: lib
	@mkdir -p $(UNINST_LIB)
	ln -sfn $(abspath $(SO)) $(UNINST_LIB)/libsev.so
	ln -sfn $(abspath $(SO)) $(UNINST_LIB)/$(SONAME)
	ln -sfn $(abspath $(STATIC_LIB)) $(UNINST_LIB)/libsev.a
	sed -e 's|@TREE@|$(CURDIR)|g' -e 's|@LIBDIR@|$(UNINST_LIB)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|g' \
	    pkgconfig/libsev-uninstalled.pc.in > $(BUILD)/libsev-uninstalled.pc
	@echo "build/libsev-uninstalled.pc: PKG_CONFIG_PATH=$(BUILD) pkg-config --cflags --libs libsev"

# One C test built through build/libsev-uninstalled.pc and run with no LD_LIBRARY_PATH: it
# must load the build tree's libsev.so.0 (found through the rpath).
check-in-tree: uninstalled
	@echo "== a C program built and run against the build tree (no install)"
	@mkdir -p $(BUILD)/in-tree
	$(CC) -std=c99 -Wall -Wextra -Werror -g c-tests/smoke.c -o $(BUILD)/in-tree/smoke \
	    $$(PKG_CONFIG_PATH=$(BUILD) PKG_CONFIG_LIBDIR=$(BUILD) pkg-config --cflags --libs libsev)
	@lib=$$(env -u LD_LIBRARY_PATH ldd $(BUILD)/in-tree/smoke | awk '/libsev\.so/ { print $$3 }'); \
	    case "$$lib" in $(UNINST_LIB)/$(SONAME)) ;; \
	    *) echo "the program loads libsev from '$$lib', not $(UNINST_LIB)"; exit 1 ;; esac
	env -u LD_LIBRARY_PATH $(BUILD)/in-tree/smoke
	@echo ok

# ---------------------------------------------------------------------------------------------
# generated files

# build.rs rewrites the header whenever a file under src/ changes; this forces it.
header:
	touch build.rs
	$(CARGO) build --release --lib

symbols: lib
	nm -D --defined-only $(SO) | awk '{ print $$NF }' | LC_ALL=C sort > include/libsev.symbols
	@echo "include/libsev.symbols: $$(wc -l < include/libsev.symbols) symbols"

# ---------------------------------------------------------------------------------------------
# demo and benchmarks

demo: stage
	@mkdir -p $(BUILD)/demo
	@if [ "$(DEMO)" = c-tests/smoke.c ]; then \
	    echo "demo: c-tests/demo.c does not exist yet; running c-tests/smoke.c instead"; fi
	$(CC) -std=gnu11 -Wall -Wextra -Werror -g -O1 $(DEMO) -o $(BUILD)/demo/demo \
	    $$($(STAGE_PKG_CONFIG) --cflags --libs libsev)
	LD_LIBRARY_PATH=$(STAGE)$(STAGE_PREFIX)/lib $(BUILD)/demo/demo

# The SEV-ES demo: Debian's OVMF and real vCPUs on /dev/kvm, launched on the firmware model.
demo-es: stage
	@mkdir -p $(BUILD)/demo
	$(CC) -std=gnu11 -Wall -Wextra -Werror -g -O1 c-tests/demo_es.c -o $(BUILD)/demo/demo-es \
	    $$($(STAGE_PKG_CONFIG) --cflags --libs libsev)
	LD_LIBRARY_PATH=$(STAGE)$(STAGE_PREFIX)/lib $(BUILD)/demo/demo-es

# The SEV-SNP demo: Debian's OVMF launched on the firmware model, its report verified by the owner.
demo-snp: stage
	@mkdir -p $(BUILD)/demo
	$(CC) -std=gnu11 -Wall -Wextra -Werror -g -O1 c-tests/demo_snp.c -o $(BUILD)/demo/demo-snp \
	    $$($(STAGE_PKG_CONFIG) --cflags --libs libsev)
	LD_LIBRARY_PATH=$(STAGE)$(STAGE_PREFIX)/lib $(BUILD)/demo/demo-snp

# `make bench`: the Rust benchmarks (src/benches, through the Rust API), then the same figures
# from C programs (c-tests/bench) built against the staged install through pkg-config, then
# both same-run ratios side by side (c-tests/bench/compare.sh). LIBSEV_BENCH_MIB sets the size
# (1024 MiB by default) for both.
BENCH_OUT := $(BUILD)/bench
BENCH_C := model migration snp
BENCH_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O2 -g

bench: bench-rust bench-c
	@bash c-tests/bench/compare.sh $(BENCH_OUT)/rust.txt $(BENCH_OUT)/c.txt

bench-rust:
	@mkdir -p $(BENCH_OUT)
	@echo "== Rust benchmarks (src/benches)"
	$(CARGO) bench 2>&1 | tee $(BENCH_OUT)/rust.txt; test $${PIPESTATUS[0]} -eq 0

bench-c: stage
	@mkdir -p $(BENCH_OUT)
	@echo "== C benchmarks (c-tests/bench) against the staged install"
	@rm -f $(BENCH_OUT)/c.txt
	@for b in $(BENCH_C); do \
	    $(CC) $(BENCH_CFLAGS) c-tests/bench/$$b.c -o $(BENCH_OUT)/$$b \
	        $$($(STAGE_PKG_CONFIG) --cflags --libs libsev) || exit 1; \
	    LD_LIBRARY_PATH=$(STAGE)$(STAGE_PREFIX)/lib $(BENCH_OUT)/$$b | tee -a $(BENCH_OUT)/c.txt; \
	    test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# Fuzzing (not part of `check`): cargo-fuzz with the stable toolchain via RUSTC_BOOTSTRAP=1
# (see src/fuzz/run.sh). Seeds are generated from the shared test data at run time.
FUZZ_SECONDS ?= 60
# Parse-only targets (no signature or ECDH per input) first, then the end-to-end ones.
FUZZ_TARGETS ?= parse_certs parse_chain parse_session parse_owner_state parse_report \
	parse_state_file snp_cert snp_report chain launch_start launch_secret receive_update \
	ffi_lengths dbg

fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	bash src/fuzz/run.sh $(FUZZ_SECONDS) $(LIBSEV_TESTDATA) $(BUILD)/fuzz \
	    $(abspath $(TARGET_DIR))/fuzz $(FUZZ_TARGETS)

# Soak: thousands of launch/free cycles on one platform; RSS, fds and ASIDs must stay flat.
SOAK_CYCLES ?= 5000

soak:
	SOAK_CYCLES=$(SOAK_CYCLES) $(CARGO) test --release --test soak -- --nocapture --test-threads=1

clean:
	rm -rf $(BUILD)
	$(CARGO) clean

# ---------------------------------------------------------------------------------------------
# check: every step in order; the first failure stops it

check:
	@$(MAKE) --no-print-directory check-fmt
	@$(MAKE) --no-print-directory check-clippy
	@$(MAKE) --no-print-directory check-test
	@$(MAKE) --no-print-directory check-build
	@$(MAKE) --no-print-directory check-header-fresh
	@$(MAKE) --no-print-directory check-header-compile
	@$(MAKE) --no-print-directory check-symbols
	@$(MAKE) --no-print-directory check-soname
	@$(MAKE) --no-print-directory check-in-tree
	@$(MAKE) --no-print-directory stage
	@$(MAKE) --no-print-directory check-c-tests
	@$(MAKE) --no-print-directory check-tool
	@$(MAKE) --no-print-directory check-qemu

check-fmt:
	@echo "== cargo fmt --check"
	$(CARGO) fmt --check
	$(CARGO) fmt --check --manifest-path $(PRELOAD_MANIFEST)

check-clippy:
	@echo "== cargo clippy --all-targets -- -D warnings"
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --manifest-path $(PRELOAD_MANIFEST) --target-dir $(abspath $(TARGET_DIR)) \
	    --all-targets -- -D warnings

check-test:
	@echo "== cargo test"
	$(CARGO) test
	$(CARGO) test --manifest-path $(PRELOAD_MANIFEST) --target-dir $(abspath $(TARGET_DIR))

check-build:
	@echo "== release build"
	$(CARGO) build --release --lib

# The build regenerated include/libsev.h; it must equal the committed one.
check-header-fresh:
	@echo "== include/libsev.h is up to date"
	@if [ "$$(git -C $(CURDIR) rev-parse --show-toplevel 2>/dev/null)" != "$(CURDIR)" ]; then \
	    echo "not a git checkout: skipping the comparison with the committed header"; \
	elif [ -n "$$(git status --porcelain -- include/libsev.h)" ]; then \
	    git --no-pager diff -- include/libsev.h | head -n 200; \
	    git status --short -- include/libsev.h; \
	    echo "include/libsev.h changed when it was regenerated (or is not committed):"; \
	    echo "commit the regenerated header together with the source change"; \
	    exit 1; \
	else \
	    echo "ok"; \
	fi

# The header compiles alone as C99 and as C++.
check-header-compile:
	@echo "== include/libsev.h compiles alone as C99 and as C++11"
	@mkdir -p $(BUILD)/header
	printf '#include "libsev.h"\n' > $(BUILD)/header/alone.c
	$(CC) $(HEADER_CFLAGS) -Iinclude -c $(BUILD)/header/alone.c -o $(BUILD)/header/alone.o
	$(CXX) $(HEADER_CXXFLAGS) -Iinclude -c c-tests/header_cxx.cpp -o $(BUILD)/header/cxx.o

# libsev.so exports exactly include/libsev.symbols, all of them libsev_*, and the header
# declares exactly those functions.
check-symbols:
	@echo "== exported symbols = include/libsev.symbols = functions in include/libsev.h"
	@mkdir -p $(BUILD)/symbols
	nm -D --defined-only $(SO) | awk '{ print $$NF }' | LC_ALL=C sort > $(BUILD)/symbols/exported
	@if grep -v '^libsev_' $(BUILD)/symbols/exported; then \
	    echo "^ libsev.so exports symbols without the libsev_ prefix"; exit 1; fi
	@if ! diff -u include/libsev.symbols $(BUILD)/symbols/exported; then \
	    echo "libsev.so's exports differ from include/libsev.symbols (- listed, + exported)."; \
	    echo "If the API change is intended, run 'make symbols' and commit include/libsev.symbols."; \
	    exit 1; fi
	$(CC) -E -P -std=c99 include/libsev.h | grep -o '\blibsev_[A-Za-z0-9_]*[[:space:]]*(' \
	    | tr -d '( \t' | LC_ALL=C sort -u > $(BUILD)/symbols/declared
	@if ! diff -u $(BUILD)/symbols/declared $(BUILD)/symbols/exported; then \
	    echo "include/libsev.h declares (-) other functions than libsev.so exports (+)"; \
	    exit 1; fi
	@echo "ok: $$(wc -l < $(BUILD)/symbols/exported) symbols"

check-soname:
	@echo "== soname is $(SONAME)"
	@readelf -d $(SO) | grep -q 'SONAME.*\[$(SONAME)\]' || \
	    { readelf -d $(SO) | grep -i soname; echo "expected soname $(SONAME)"; exit 1; }
	@echo ok

# Install into build/stage (DESTDIR) with PREFIX=/usr and check what landed there.
stage: lib
	@echo "== make install DESTDIR=$(STAGE) PREFIX=$(STAGE_PREFIX)"
	rm -rf $(STAGE)
	@$(MAKE) --no-print-directory install-lib DESTDIR=$(STAGE) PREFIX=$(STAGE_PREFIX) \
	    LIBDIR=$(STAGE_PREFIX)/lib INCLUDEDIR=$(STAGE_PREFIX)/include \
	    PKGCONFIGDIR=$(STAGE_PREFIX)/lib/pkgconfig >/dev/null
	@cd $(STAGE)$(STAGE_PREFIX)/lib && \
	    test -f libsev.so.$(VERSION) && test -f libsev.a && test -f libsev-preload.so && \
	    test "$$(readlink $(SONAME))" = libsev.so.$(VERSION) && \
	    test "$$(readlink libsev.so)" = $(SONAME) && \
	    test -f pkgconfig/libsev.pc && test -f ../include/libsev.h || \
	    { echo "the staged install is incomplete:"; find $(STAGE); exit 1; }
	@echo "ok: $$(cd $(STAGE) && find . -type f -o -type l | LC_ALL=C sort | tr '\n' ' ')"

check-c-tests:
	@echo "== C tests against the staged install (pkg-config; ASan+UBSan, static, valgrind)"
	CC=$(CC) CXX=$(CXX) bash c-tests/run.sh $(STAGE) $(STAGE_PREFIX) $(C_TESTS_OUT)

# libsev-tool's shell test: a whole legacy launch between the tool (the guest owner) and a
# file-driven C hypervisor on the firmware model, plus the error paths. The tool and the
# hypervisor are built against the staged install; the test runs the tool under ASan+UBSan.
check-tool: tool
	@echo "== libsev-tool: launch with a file-driven hypervisor on the model, error paths"
	@mkdir -p $(BUILD)/tool-test
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -fno-omit-frame-pointer \
	    -fno-sanitize-recover=undefined $(TOOL_SRC) -o $(BUILD)/tool-test/libsev-tool.asan \
	    $$($(STAGE_PKG_CONFIG) --cflags libsev) $$($(STAGE_PKG_CONFIG) --libs libsev)
	$(CC) $(TOOL_CFLAGS) c-tests/tool/hv.c -o $(BUILD)/tool-test/hv \
	    $$($(STAGE_PKG_CONFIG) --cflags libsev) $$($(STAGE_PKG_CONFIG) --libs libsev)
	$(CC) $(TOOL_CFLAGS) c-tests/tool/snp_guest.c -o $(BUILD)/tool-test/snp_guest \
	    $$($(STAGE_PKG_CONFIG) --cflags libsev) $$($(STAGE_PKG_CONFIG) --libs libsev)
	LD_LIBRARY_PATH=$(STAGE)$(STAGE_PREFIX)/lib bash c-tests/tool/launch.sh \
	    $(BUILD)/tool-test/libsev-tool.asan $(BUILD)/tool-test/hv $(BUILD)/tool-test/run

# Benchmark (not a test): libsev-tool measure against the Python sev-snp-measure on a 4 MiB
# OVMF, in the same run (needs `pip install sev-snp-measure`).
BENCH_OVMF ?= /usr/share/OVMF/OVMF_CODE_4M.fd
bench-tool: tool
	LD_LIBRARY_PATH=$(STAGE)$(STAGE_PREFIX)/lib bash c-tests/tool/bench.sh $(TOOL) $(BENCH_OVMF)

# Debian's unmodified QEMU runs its SEV launch on the model through libsev-preload.so (README.md,
# "Run QEMU's SEV path on the model"); skips, saying why, where QEMU cannot start (no /dev/kvm).
check-qemu: stage
	@echo "== QEMU's SEV path on the model (LD_PRELOAD=libsev-preload.so, c-tests/qemu/sev.sh)"
	@CC=$(CC) bash c-tests/qemu/sev.sh $(STAGE) $(STAGE_PREFIX) $(BUILD)/qemu; rc=$$?; \
	    if [ $$rc -eq 77 ]; then echo "check-qemu: skipped"; elif [ $$rc -ne 0 ]; then exit $$rc; fi
