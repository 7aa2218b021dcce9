# proxyd/: the forward proxy daemon.
$(eval $(call program,proxyd,proxyd,-lhiredis))

# Tests find deploy/ and their fixtures through the source directory.
$(BUILD)/proxyd/test/%.o: CFLAGS += -DG3C_SRCDIR=\"$(CURDIR)\"
