# iplocd/: IP location lookups from MaxMind .mmdb files, served over RPC.
# (The daemon's build rules are being added.)

# Naming the generated headers as prerequisites of an explicit target makes
# them files that "ought to exist" for make, so a build dir made before
# proto/iploc.proto existed still generates it before compiling control.pb-c.c.
$(LIBPROTO): | $(PROTO_H)
