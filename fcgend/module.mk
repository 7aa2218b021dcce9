# fcgend/: forged certificates for TLS interception.
$(eval $(call program,fcgend,fcgend,))

# fcgen-load: the Forge client used by integration tests and speed runs
# (fcgend/test/fcgen_load.c is not a unit test: it has its own main).
$(BUILD)/bin/fcgen-load: $(BUILD)/fcgend/test/fcgen_load.o $(fcgend_LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(fcgend_LIBS) $(PKG_LIBS)
BINS += $(BUILD)/bin/fcgen-load
