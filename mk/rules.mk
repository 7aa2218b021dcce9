# Shared build rules. Each module.mk calls the functions below; nothing here
# names a particular daemon.

$(BUILD)/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/mk/fuzz_replay.o: mk/fuzz_replay.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Driver for a fuzz target: libFuzzer under FUZZ=1, the corpus replayer otherwise.
ifeq ($(FUZZ),1)
FUZZ_MAIN :=
FUZZ_LINK := -fsanitize=fuzzer
else
FUZZ_MAIN := $(BUILD)/mk/fuzz_replay.o
FUZZ_LINK :=
endif

# $(call unit_tests,PREFIX,DIR,LIBS[,LINK]): every DIR/test/test_NAME.c becomes
# $(BUILD)/test/PREFIX_NAME, rebuilt when the LIBS files change and linked with
# LINK (default LIBS; it may hold -l flags, which make cannot depend on) and cmocka.
define unit_tests
$(2)_TEST_NAMES := $$(patsubst $(2)/test/test_%.c,%,$$(wildcard $(2)/test/test_*.c))
UNIT_TESTS += $$(foreach t,$$($(2)_TEST_NAMES),$(BUILD)/test/$(1)_$$(t))
$(BUILD)/test/$(1)_%: $(BUILD)/$(2)/test/test_%.o $(3)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$< $(if $(4),$(4),$(3)) $$(CMOCKA_LIBS) $$(PKG_LIBS)
endef

# $(call fuzzers,PREFIX,DIR,LIBS[,LINK]): every DIR/fuzz/fuzz_NAME.c becomes
# $(BUILD)/fuzz/PREFIX_NAME with corpus DIR/fuzz/corpus/NAME.
define fuzzers
$(2)_FUZZ_NAMES := $$(patsubst $(2)/fuzz/fuzz_%.c,%,$$(wildcard $(2)/fuzz/fuzz_*.c))
FUZZERS += $$(foreach t,$$($(2)_FUZZ_NAMES),$(1)_$$(t))
$$(foreach t,$$($(2)_FUZZ_NAMES),$$(eval FUZZ_CORPUS_$(1)_$$(t) := $(2)/fuzz/corpus/$$(t)))
$(BUILD)/fuzz/$(1)_%: $(BUILD)/$(2)/fuzz/fuzz_%.o $$(FUZZ_MAIN) $(3)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) $$(FUZZ_LINK) -o $$@ $$< $$(FUZZ_MAIN) $(if $(4),$(4),$(3)) $$(PKG_LIBS)
endef

# $(call program,NAME,DIR,EXTRA_LINK): DIR/*.c (and DIR/*/*.c, tests and fuzzers
# excepted) minus main.c form $(BUILD)/lib$(NAME).a; main.c links into
# $(BUILD)/bin/NAME. Unit tests and fuzzers of DIR link the library too.
# EXTRA_LINK (e.g. -lmaxminddb) goes on link lines only, never into
# prerequisites. NAME_DEPS are the files to depend on, NAME_LIBS the link list.
define program
$(1)_SRCS := $$(filter-out $(2)/main.c $(2)/test/% $(2)/fuzz/%,\
	$$(wildcard $(2)/*.c $(2)/*/*.c))
$(1)_OBJS := $$($(1)_SRCS:%.c=$(BUILD)/%.o)
$(1)_LIB := $(BUILD)/lib$(1).a
$(1)_DEPS := $$($(1)_LIB) $(LIBCOMMON) $(LIBPROTO)
$(1)_LIBS := $$($(1)_LIB) $(3) $(LIBCOMMON) $(LIBPROTO)
$$($(1)_LIB): $$($(1)_OBJS)
	@mkdir -p $$(@D)
	rm -f $$@ && $$(AR) rcs $$@ $$^
$(BUILD)/bin/$(1): $(BUILD)/$(2)/main.o $$($(1)_DEPS)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$< $$($(1)_LIBS) $$(PKG_LIBS)
BINS += $(BUILD)/bin/$(1)
$$(eval $$(call unit_tests,$(1),$(2),$$($(1)_DEPS),$$($(1)_LIBS)))
$$(eval $$(call fuzzers,$(1),$(2),$$($(1)_DEPS),$$($(1)_LIBS)))
endef
