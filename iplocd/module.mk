# iplocd/: IP location lookups from MaxMind .mmdb files, served over RPC.
# libmaxminddb goes on the link lines through PKG_LIBS, not through the
# program's third argument: that one also lists prerequisites, and make's
# pattern rules (unit tests, fuzzers) cannot resolve a -lNAME prerequisite.
IPLOCD_LIBS := $(shell pkg-config --libs libmaxminddb 2>/dev/null || echo -lmaxminddb)
$(eval $(call program,iplocd,iplocd,))
$(BUILD)/bin/iplocd $(BUILD)/bin/iplocd-load $(BUILD)/test/iplocd_% $(BUILD)/fuzz/iplocd_%: \
	PKG_LIBS += $(IPLOCD_LIBS)

# Tests find the mmdb builder (deploy/mmdb) and their fixtures through the
# source directory.
$(BUILD)/iplocd/test/%.o $(BUILD)/iplocd/fuzz/%.o: CFLAGS += -DG3C_SRCDIR=\"$(CURDIR)\"

# iplocd-load: RPC and in-process lookup load for the integration tests and
# measurements (iplocd/test/iplocd_load.c; not a unit test).
$(BUILD)/bin/iplocd-load: $(BUILD)/iplocd/test/iplocd_load.o $(iplocd_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(iplocd_LIBS) $(PKG_LIBS)
BINS += $(BUILD)/bin/iplocd-load
