# tools/g3ctl: admin CLI for every daemon's control socket.
$(eval $(call program,g3ctl,tools/g3ctl,))
