# tools/bench: g3bench, the HTTP/1.1 and TLS-handshake load generator.
$(eval $(call program,g3bench,tools/bench,))
