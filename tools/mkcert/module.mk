# tools/mkcert: g3mkcert-compatible certificate maker (OpenSSL 3).
$(eval $(call program,mkcert,tools/mkcert,))
