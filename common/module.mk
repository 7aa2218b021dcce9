# common/: libcommon, its unit tests and fuzzers.
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/%.o)
LIBCOMMON := $(BUILD)/libcommon.a

$(LIBCOMMON): $(COMMON_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(eval $(call unit_tests,common,common,$(LIBCOMMON) $(LIBPROTO)))
$(eval $(call fuzzers,common,common,$(LIBCOMMON) $(LIBPROTO)))
