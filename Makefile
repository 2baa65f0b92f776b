# SPDX-License-Identifier: GPL-2.0
#
# dm-quorum: out-of-tree build, install, tests and checks.
#
#   make                 build dm-quorum.ko (running kernel, else every
#                        kernel with a build tree; KVER=<version> picks one)
#   make install         modules_install + depmod for the same kernels
#   make check           unit tests, then the VM suite on both LTS kernels,
#                        then CRASH_CYCLES crash cycles each (tests/crash)
#   make crash CYCLES=N  N crash cycles per kernel (KVER= or KERNEL=debug)
#   make lint            checkpatch --strict, sparse, W=1, cppcheck
#   make demo            a guided tour in a VM (6.1 by default)
#   make bench           dm-quorum against md raid1, dm-mirror, dm-linear
#                        and QEMU quorum in a VM (KVER= to pick a kernel)
#   make clean-cache     remove the debug kernel and the VM images the
#                        tests cache (nothing of them is outside the caches)
#
# Every kernel gets its own tree under build/<kver>/ made of symlinks to
# the sources, so builds for several kernels never clobber each other.

SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
SOURCES := Kbuild $(wildcard $(SRC)/dm-quorum*.[ch])

ifneq ($(KVER),)
KVERS := $(KVER)
else ifneq ($(wildcard /lib/modules/$(shell uname -r)/build),)
KVERS := $(shell uname -r)
else
KVERS := $(shell $(SRC)/scripts/kernels.sh all)
endif

KBUILD_FLAGS := W=1

# The debug kernel (scripts/debug-kernel.sh) lives in the project's cache,
# never in the host's /lib/modules: kdir <kver> is a kernel's build tree.
DEBUG_CACHE := $(or $(QUORUM_DEBUG_CACHE),/var/cache/dm-quorum)
kdir = $(if $(filter %-dmq-debug,$(1)),$(DEBUG_CACHE)/root)/lib/modules/$(1)/build

.PHONY: all modules install clean clean-cache check crash unit lint demo bench deps \
	have-kernels FORCE

all: modules

# Nothing to build for is an error, not an empty success.
have-kernels:
	@if [ -z "$(strip $(KVERS))" ]; then \
		echo "dm-quorum: no kernel build tree under /lib/modules/*/build." >&2; \
		echo "Install the headers of the kernel to build for: the running" >&2; \
		echo "one's (apt install linux-headers-$$(uname -r)) or Debian's" >&2; \
		echo "LTS kernels' (linux-headers-amd64, linux-headers-6.12-amd64;" >&2; \
		echo "scripts/install-deps.sh installs all make check needs)." >&2; \
		exit 1; \
	fi

modules: have-kernels $(foreach k,$(KVERS),build/$(k)/dm-quorum.ko)

build/%/dm-quorum.ko: FORCE
	@test -d $(call kdir,$*) || \
		{ echo "no build tree for kernel $* at $(call kdir,$*):" \
			"install linux-headers-$*" >&2; exit 1; }
	@mkdir -p build/$*
	@for f in $(notdir $(SOURCES)); do ln -sfn ../../$$f build/$*/$$f; done
	$(MAKE) -C $(call kdir,$*) M=$(SRC)/build/$* $(KBUILD_FLAGS) modules

# INSTALL_MOD_PATH=<dir> installs the module under <dir>, DESTDIR=<dir>
# the udev rules (packaging, tests).
UDEVDIR ?= /usr/lib/udev

install: have-kernels modules
	@for k in $(KVERS); do \
		$(MAKE) -C /lib/modules/$$k/build M=$(SRC)/build/$$k \
			modules_install && \
		depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $$k || \
			exit 1; \
	done
	install -D -m 644 tools/udev/11-dm-quorum.rules \
		$(DESTDIR)$(UDEVDIR)/rules.d/11-dm-quorum.rules
	install -D -m 755 tools/udev/dm-quorum-event \
		$(DESTDIR)$(UDEVDIR)/dm-quorum-event

deps:
	$(SRC)/scripts/install-deps.sh

unit:
	$(MAKE) -C tests/unit run

# Both LTS kernels, or KVER=<version>, or KERNEL=debug (the debug kernel,
# built once by scripts/debug-kernel.sh); CASES="010 031" runs a subset.
# The suite runs the unit tests too, so one closing line counts everything.
# Under KASAN and lockdep in TCG the whole suite is slow: KERNEL=debug runs
# DEBUG_CASES unless CASES says otherwise.
DEBUG_CASES := 010 031 061 110 121 131 134 137 138 141 143 150 151 152
# Crash cycles (tests/crash) after a whole make check, per kernel: six
# random kill points on the LTS kernels, one on the debug kernel.
CRASH_CYCLES := 3
DEBUG_CRASH_CYCLES := 1

check: deps
	@if [ "$(KERNEL)" = debug ]; then \
		kvers=$$($(SRC)/scripts/debug-kernel.sh) || exit 1; \
		cases="$(or $(CASES),$(DEBUG_CASES))"; \
	else \
		kvers="$(or $(KVER),$$($(SRC)/scripts/kernels.sh lts))"; \
		cases="$(CASES)"; \
	fi; \
	$(MAKE) --no-print-directory modules KVER= KVERS="$$kvers" && \
	$(SRC)/tests/run-suite.sh $$(printf -- '--kver %s ' $$kvers) $$cases && \
	if [ -z "$(CASES)" ]; then \
		cycles=$(CRASH_CYCLES); \
		[ "$(KERNEL)" != debug ] || cycles=$(DEBUG_CRASH_CYCLES); \
		$(SRC)/tests/crash/crash.sh $$(printf -- '--kver %s ' $$kvers) \
			--cycles $$cycles; \
	fi

# Crash cycles alone: CYCLES per kernel (5 by default).
crash: deps
	@if [ "$(KERNEL)" = debug ]; then \
		kvers=$$($(SRC)/scripts/debug-kernel.sh) || exit 1; \
	else \
		kvers="$(or $(KVER),$$($(SRC)/scripts/kernels.sh lts))"; \
	fi; \
	$(MAKE) --no-print-directory modules KVER= KVERS="$$kvers" && \
	$(SRC)/tests/crash/crash.sh $$(printf -- '--kver %s ' $$kvers) \
		--cycles $(or $(CYCLES),5)

lint: deps
	$(SRC)/scripts/lint.sh

demo: deps
	$(SRC)/tools/demo/run-demo.sh

bench: deps
	KVER=$(KVER) $(SRC)/tools/bench/run-bench.sh

clean:
	rm -rf build tests/unit/build tests/fuzz/build

# The debug kernel's tree and install root, and the VM harness's images.
clean-cache:
	rm -rf $(DEBUG_CACHE) $(SRC)/.cache/vm
