# Installing workerpool like a C library. Included from the Makefile.
#
#   make install   PREFIX=/usr/local DESTDIR=   build (target/$(PROFILE), see the Makefile), then install
#   make uninstall PREFIX=/usr/local DESTDIR=   remove exactly the files install writes
#
# Installs, under $(DESTDIR):
#   $(INSTALL_INCDIR)/workerpool.h, workerpool.hpp
#   $(INSTALL_LIBDIR)/libworkerpool.so.MAJOR.MINOR.PATCH   the shared library, SONAME libworkerpool.so.MAJOR
#   $(INSTALL_LIBDIR)/libworkerpool.so.MAJOR -> libworkerpool.so.MAJOR.MINOR.PATCH
#   $(INSTALL_LIBDIR)/libworkerpool.so       -> libworkerpool.so.MAJOR
#   $(INSTALL_LIBDIR)/libworkerpool.a
#   $(INSTALL_PCDIR)/workerpool.pc                          (from workerpool.pc.in)
#   $(INSTALL_CMAKEDIR)/workerpoolConfig.cmake, workerpoolConfigVersion.cmake,
#                       workerpoolTargets.cmake              (from cmake/; find_package)
#
# The libraries are installed stripped ($(STRIP): --strip-unneeded for the
# shared library, --strip-debug for the archive); STRIP= (empty) installs
# them as built, e.g. with PROFILE=dist-debug for profiling.
#
# The .pc file names $(PREFIX), never $(DESTDIR): DESTDIR is for staging
# (packages); use PKG_CONFIG_SYSROOT_DIR=$(DESTDIR) to build against a
# staged tree. The version comes from Cargo.toml ([package] version).
#
# `sudo make install` runs cargo as root; to install what target/release
# already holds without running cargo, pass INSTALL_BUILD= (empty):
#   make && sudo make install INSTALL_BUILD=
#
# Overridable: PREFIX, DESTDIR, INSTALL_LIBDIR, INSTALL_INCDIR, INSTALL_PCDIR,
# INSTALL_CMAKEDIR, INSTALL (the install program), INSTALL_BUILD, STRIP.

PREFIX         ?= /usr/local
INSTALL_LIBDIR ?= $(PREFIX)/lib
INSTALL_INCDIR ?= $(PREFIX)/include
INSTALL_PCDIR  ?= $(INSTALL_LIBDIR)/pkgconfig
INSTALL_CMAKEDIR ?= $(INSTALL_LIBDIR)/cmake/workerpool
STRIP          ?= strip
INSTALL        ?= install
INSTALL_BUILD  ?= lib

WP_INSTALL_DIR  := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
WP_INSTALL_ROOT := $(abspath $(WP_INSTALL_DIR)/..)
WP_RELEASE      := $(WP_INSTALL_ROOT)/target/$(PROFILE)

# [package] version = "MAJOR.MINOR.PATCH" in Cargo.toml.
WP_VERSION := $(shell awk -F'"' '/^\[/ { pkg = ($$0 == "[package]") } pkg && /^version[ \t]*=/ { print $$2; exit }' $(WP_INSTALL_ROOT)/Cargo.toml)
WP_MAJOR   := $(word 1,$(subst ., ,$(WP_VERSION)))

WP_SONAME  := libworkerpool.so.$(WP_MAJOR)
WP_REALSO  := libworkerpool.so.$(WP_VERSION)

WP_HEADERS := workerpool.h workerpool.hpp
WP_CMAKE_FILES := workerpoolConfig.cmake workerpoolConfigVersion.cmake workerpoolTargets.cmake

# Paths under $(PREFIX) are written relative to ${prefix} in the .pc file,
# so that `pkg-config --define-prefix` can relocate the tree.
wp_pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

# install-check: the version was read, PREFIX is absolute.
.PHONY: install uninstall install-check-version

install-check-version:
	@case "$(WP_VERSION)" in \
	  [0-9]*.[0-9]*.[0-9]*) ;; \
	  *) echo "install.mk: cannot read [package] version from Cargo.toml (got '$(WP_VERSION)')" >&2; exit 1 ;; \
	esac
	@case "$(PREFIX)" in \
	  /*) ;; \
	  *) echo "install.mk: PREFIX must be an absolute path (got '$(PREFIX)')" >&2; exit 1 ;; \
	esac

install: install-check-version $(INSTALL_BUILD)
	@for f in $(WP_RELEASE)/libworkerpool.so $(WP_RELEASE)/libworkerpool.a \
	          $(addprefix $(WP_INSTALL_ROOT)/include/,$(WP_HEADERS)); do \
	  [ -f "$$f" ] || { echo "install: $$f is missing: run make first" >&2; exit 1; }; \
	done
	@soname=$$(readelf -d $(WP_RELEASE)/libworkerpool.so 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p'); \
	if command -v readelf >/dev/null 2>&1 && [ "$$soname" != "$(WP_SONAME)" ]; then \
	  echo "install: $(WP_RELEASE)/libworkerpool.so has SONAME '$$soname', expected $(WP_SONAME) (set by build.rs): rebuild it" >&2; exit 1; \
	fi
	$(INSTALL) -d $(DESTDIR)$(INSTALL_INCDIR) $(DESTDIR)$(INSTALL_LIBDIR) $(DESTDIR)$(INSTALL_PCDIR) $(DESTDIR)$(INSTALL_CMAKEDIR)
	$(INSTALL) -m 644 $(addprefix $(WP_INSTALL_ROOT)/include/,$(WP_HEADERS)) $(DESTDIR)$(INSTALL_INCDIR)/
	$(INSTALL) -m 755 $(WP_RELEASE)/libworkerpool.so $(DESTDIR)$(INSTALL_LIBDIR)/$(WP_REALSO)
	ln -sf $(WP_REALSO) $(DESTDIR)$(INSTALL_LIBDIR)/$(WP_SONAME)
	ln -sf $(WP_SONAME) $(DESTDIR)$(INSTALL_LIBDIR)/libworkerpool.so
	$(INSTALL) -m 644 $(WP_RELEASE)/libworkerpool.a $(DESTDIR)$(INSTALL_LIBDIR)/libworkerpool.a
	$(if $(STRIP),$(STRIP) --strip-unneeded $(DESTDIR)$(INSTALL_LIBDIR)/$(WP_REALSO))
	$(if $(STRIP),$(STRIP) --strip-debug $(DESTDIR)$(INSTALL_LIBDIR)/libworkerpool.a)
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(call wp_pc_path,$(INSTALL_LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call wp_pc_path,$(INSTALL_INCDIR))|g' \
	    -e 's|@VERSION@|$(WP_VERSION)|g' \
	    $(WP_INSTALL_DIR)/workerpool.pc.in > $(DESTDIR)$(INSTALL_PCDIR)/workerpool.pc.tmp
	chmod 644 $(DESTDIR)$(INSTALL_PCDIR)/workerpool.pc.tmp
	mv -f $(DESTDIR)$(INSTALL_PCDIR)/workerpool.pc.tmp $(DESTDIR)$(INSTALL_PCDIR)/workerpool.pc
	@# The CMake files find the libraries and headers relative to their own
	@# directory, so that the installed tree can be moved.
	$(INSTALL) -m 644 $(WP_INSTALL_DIR)/cmake/workerpoolConfig.cmake $(DESTDIR)$(INSTALL_CMAKEDIR)/
	to_lib=$$(realpath -m --relative-to=$(INSTALL_CMAKEDIR) $(INSTALL_LIBDIR)); \
	to_inc=$$(realpath -m --relative-to=$(INSTALL_CMAKEDIR) $(INSTALL_INCDIR)); \
	for f in workerpoolTargets workerpoolConfigVersion; do \
	  sed -e "s|@CMAKE_TO_LIBDIR@|$$to_lib|g" -e "s|@CMAKE_TO_INCDIR@|$$to_inc|g" \
	      -e 's|@VERSION@|$(WP_VERSION)|g' -e 's|@MAJOR@|$(WP_MAJOR)|g' \
	      -e 's|@SONAME@|$(WP_SONAME)|g' -e 's|@REALSO@|$(WP_REALSO)|g' \
	      $(WP_INSTALL_DIR)/cmake/$$f.cmake.in > $(DESTDIR)$(INSTALL_CMAKEDIR)/$$f.cmake.tmp && \
	  chmod 644 $(DESTDIR)$(INSTALL_CMAKEDIR)/$$f.cmake.tmp && \
	  mv -f $(DESTDIR)$(INSTALL_CMAKEDIR)/$$f.cmake.tmp $(DESTDIR)$(INSTALL_CMAKEDIR)/$$f.cmake || exit 1; \
	done
	@echo "installed workerpool $(WP_VERSION) under $(DESTDIR)$(PREFIX)"

# Removes the files only: directories such as $(PREFIX)/lib may hold other
# things and are left in place.
uninstall: install-check-version
	rm -f $(addprefix $(DESTDIR)$(INSTALL_INCDIR)/,$(WP_HEADERS))
	rm -f $(DESTDIR)$(INSTALL_LIBDIR)/$(WP_REALSO) $(DESTDIR)$(INSTALL_LIBDIR)/$(WP_SONAME) \
	      $(DESTDIR)$(INSTALL_LIBDIR)/libworkerpool.so $(DESTDIR)$(INSTALL_LIBDIR)/libworkerpool.a
	rm -f $(DESTDIR)$(INSTALL_PCDIR)/workerpool.pc
	rm -f $(addprefix $(DESTDIR)$(INSTALL_CMAKEDIR)/,$(WP_CMAKE_FILES))
	@echo "uninstalled workerpool $(WP_VERSION) from $(DESTDIR)$(PREFIX)"
