# fcgend/: forged certificates for TLS interception.
$(eval $(call program,fcgend,fcgend,))
