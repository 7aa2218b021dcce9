# proto/: every *.proto is compiled by protoc-c into $(BUILD)/proto and
# archived into libproto.a. Generated files never enter the source tree.
PROTOS := $(wildcard proto/*.proto)
PROTO_C := $(PROTOS:%.proto=$(BUILD)/%.pb-c.c)
PROTO_H := $(PROTOS:%.proto=$(BUILD)/%.pb-c.h)
PROTO_OBJS := $(PROTO_C:%.c=%.o)
LIBPROTO := $(BUILD)/libproto.a

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)
	protoc-c --proto_path=. --c_out=$(BUILD) $<

$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c $(PROTO_H)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Naming the generated headers as prerequisites of an explicit target makes
# them files that "ought to exist" for make, so a build dir made before a new
# .proto appeared still generates its header before anything includes it.
$(LIBPROTO): $(PROTO_OBJS) | $(PROTO_H)
	rm -f $@ && $(AR) rcs $@ $^
